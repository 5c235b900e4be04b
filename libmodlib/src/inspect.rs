//! Reading an object without loading it: a named section's bytes and its
//! `.modinfo`, for callers that decide before loading (ABI checks,
//! dependency resolution, export lists), and where a load would place a
//! relocatable object's sections (for debuggers and cross-checks).

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::LoadError;
use crate::machine::Machine;
use crate::modinfo::ModInfo;
use crate::object::Object;

/// The file bytes of the section called `name`, if the object has one
/// ([`Object::section`] after parsing it).
pub fn section<'a>(
    bytes: &'a [u8],
    machine: Machine,
    name: &str,
) -> Result<Option<&'a [u8]>, LoadError> {
    Object::parse(bytes, machine)?.section(name)
}

/// The object's `.modinfo` metadata (empty if it has none).
pub fn modinfo(bytes: &[u8], machine: Machine) -> Result<ModInfo, LoadError> {
    Object::parse(bytes, machine)?.modinfo()
}

/// Dependencies (`DT_NEEDED`), `DT_SONAME`, search path and program headers
/// of a shared object, without loading it.
pub fn dynamic(bytes: &[u8], machine: Machine) -> Result<crate::DynamicInfo, LoadError> {
    Object::parse(bytes, machine)?.dynamic()
}

/// Where [`crate::load`] places the parts of a relocatable object: offsets
/// from the start of its reservation (add [`crate::LoadedImage::start`] for
/// run-time addresses), e.g. for a debugger's `add-symbol-file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocatableLayout {
    /// The loaded (`SHF_ALLOC`, non-empty) sections, in section order.
    pub sections: Vec<PlacedSection>,
    /// Offset and size of the GOT the loader synthesises, if any.
    pub got: Option<(usize, usize)>,
    /// Offset of each GOT slot, by the name of the symbol it holds.
    pub got_entries: Vec<(String, usize)>,
    /// Offset and size of the range-extension stubs, if any.
    pub stubs: Option<(usize, usize)>,
    /// Offset of each stub, by the name of the symbol it jumps to.
    pub stub_entries: Vec<(String, usize)>,
    /// Size of the whole reservation.
    pub size: usize,
}

/// One loaded section of a relocatable object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedSection {
    /// Index in the section header table.
    pub index: usize,
    /// Section name.
    pub name: String,
    /// Offset from the start of the reservation.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// Where [`crate::load`] would place the sections, GOT and stubs of the
/// relocatable object in `bytes`, given memory with pages of `page_size`.
pub fn relocatable_layout(
    bytes: &[u8],
    machine: Machine,
    page_size: usize,
) -> Result<RelocatableLayout, LoadError> {
    Object::parse(bytes, machine)?.relocatable_layout(page_size)
}
