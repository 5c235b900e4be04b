//! Reading an object without loading it: a named section's bytes and its
//! `.modinfo`, for callers that decide before loading (ABI checks,
//! dependency resolution, export lists), and where a load would place a
//! relocatable object's sections (for debuggers and cross-checks).

use crate::error::LoadError;
use crate::kinds::DynamicInfo;
use crate::machine::Machine;
use crate::modinfo::ModInfo;
use crate::object::Object;

pub use crate::kinds::{PlacedSection, RelocatableLayout};

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
pub fn dynamic(bytes: &[u8], machine: Machine) -> Result<DynamicInfo, LoadError> {
    Object::parse(bytes, machine)?.dynamic()
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
