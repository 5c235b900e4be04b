//! The plain types the loader's layers share, below all of them: what kind
//! of object it is, what a shared object says about itself, what a loaded
//! image took from outside and where its parts lie.

use alloc::string::String;
use alloc::vec::Vec;

use crate::memory::Protection;
use crate::symbol::ProviderId;

/// The two object types the loader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `ET_REL`: a relocatable object (`.o`, `.ko`, `ld -r` output).
    Relocatable,
    /// `ET_DYN`: a shared object or position-independent executable.
    Shared,
}

/// A committed range of the image and its final permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Run-time start address (page-aligned).
    pub addr: u64,
    /// Size in bytes (whole pages).
    pub size: usize,
    /// Final permissions.
    pub protection: Protection,
}

/// A symbol the image took from outside, and who provided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Symbol name.
    pub name: String,
    /// Version asked for, if any.
    pub version: Option<String>,
    /// Address it was bound to (0 for an unresolved weak reference).
    pub address: u64,
    /// The resolver that answered; `None` for an unresolved weak reference.
    pub provider: Option<ProviderId>,
}

/// A call through the PLT that lazy binding left to the lazy handler,
/// because nothing defined its function when the object was loaded: the
/// host may bind it later (when an object that defines it arrives) by
/// storing the function's address in `slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedCall {
    /// Run-time address of the `JUMP_SLOT` (a writable 64-bit word).
    pub slot: u64,
    /// The function's name.
    pub name: String,
    /// The version asked for, if any.
    pub version: Option<String>,
}

/// A shared object's thread-local storage (`PT_TLS`): what each thread's
/// block of it starts as, and the module id its code passes to
/// `__tls_get_addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadLocal {
    /// Run-time address of the initialisation image (`.tdata`).
    pub init: u64,
    /// Bytes of the initialisation image; the rest of a block is zero.
    pub init_size: usize,
    /// Bytes of a block (`.tdata` then `.tbss`).
    pub size: usize,
    /// Alignment of a block (a power of two).
    pub align: usize,
    /// The module id the host gave the object (0 before it gives one).
    pub module: u64,
}

/// What a shared object says about its place among others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicInfo {
    /// `DT_NEEDED` names, in order.
    pub needed: Vec<String>,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_RUNPATH` (or, if absent, `DT_RPATH`) entries, unexpanded.
    pub runpath: Vec<String>,
    /// Whether the search path came from `DT_RPATH` rather than `DT_RUNPATH`.
    pub runpath_is_rpath: bool,
    /// Program headers, as in the file (addresses unbiased).
    pub program_headers: Vec<ProgramHeader>,
}

impl DynamicInfo {
    /// The exception index program header of type `index_type` (the
    /// machine's: Arm's `PT_ARM_EXIDX`), at its run-time address for load
    /// bias `base`.
    pub(crate) fn exception_index(
        &self,
        index_type: Option<u32>,
        base: u64,
    ) -> Option<(u64, usize)> {
        let index_type = index_type?;
        self.program_headers
            .iter()
            .find(|p| p.p_type == index_type)
            .map(|p| (base.wrapping_add(p.p_vaddr), p.p_memsz as usize))
    }
}

/// One program header of a shared object, whatever its class (ELF32
/// values zero-extended), with addresses as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    /// `p_type` (`PT_LOAD`, `PT_DYNAMIC`...).
    pub p_type: u32,
    /// `p_flags` (`PF_R`, `PF_W`, `PF_X`).
    pub p_flags: u32,
    /// `p_offset`: where its bytes start in the file.
    pub p_offset: u64,
    /// `p_vaddr`: its (unbiased) address.
    pub p_vaddr: u64,
    /// `p_paddr`.
    pub p_paddr: u64,
    /// `p_filesz`: bytes in the file.
    pub p_filesz: u64,
    /// `p_memsz`: bytes in memory.
    pub p_memsz: u64,
    /// `p_align`.
    pub p_align: u64,
}

impl From<&elf::segment::ProgramHeader> for ProgramHeader {
    fn from(h: &elf::segment::ProgramHeader) -> Self {
        ProgramHeader {
            p_type: h.p_type,
            p_flags: h.p_flags,
            p_offset: h.p_offset,
            p_vaddr: h.p_vaddr,
            p_paddr: h.p_paddr,
            p_filesz: h.p_filesz,
            p_memsz: h.p_memsz,
            p_align: h.p_align,
        }
    }
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
