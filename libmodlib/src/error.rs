//! The one error type of the loader core. Every variant names what is wrong
//! and, where the file is at fault, where.

use alloc::string::String;

use crate::machine::Machine;
use crate::memory::MemoryError;

/// Why a load failed. Every failed load has already released all memory it took.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The bytes do not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// ELF class other than ELFCLASS32 or ELFCLASS64.
    #[error("unsupported ELF class {class} (only ELFCLASS32 and ELFCLASS64 objects are loaded)")]
    UnsupportedClass {
        /// `EI_CLASS` from the identification bytes.
        class: u8,
    },
    /// Big-endian or unknown data encoding.
    #[error("unsupported ELF data encoding {encoding} (only little-endian objects are loaded)")]
    UnsupportedEncoding {
        /// `EI_DATA` from the identification bytes.
        encoding: u8,
    },
    /// The object is for another machine than the loader was asked to load for.
    #[error("object is for machine {found:#x}, expected {expected}")]
    WrongMachine {
        /// The machine the loader was configured for.
        expected: Machine,
        /// `e_machine` of the object.
        found: u16,
    },
    /// The object's class is not its machine's (an ELFCLASS64 Arm object,
    /// an ELFCLASS32 object for a 64-bit machine).
    #[error("object is ELF class {class}, but {machine} objects are ELFCLASS{}", machine.word_size() * 8)]
    WrongClass {
        /// The machine the loader was configured for.
        machine: Machine,
        /// `EI_CLASS` of the object.
        class: u8,
    },
    /// This build of the loader has no relocation table for the machine
    /// (its cargo feature is off).
    #[error("this loader was built without support for {machine} objects")]
    MachineNotBuilt {
        /// The machine asked for.
        machine: Machine,
    },
    /// The image would lie at addresses its class cannot name (an ELFCLASS32
    /// object placed above 4 GiB): the host's memory must place it lower.
    #[error("an ELFCLASS32 object cannot be placed at {addr:#x} ({size} bytes): it must lie below 4 GiB")]
    AddressBeyondClass {
        /// Where the host's memory placed the image.
        addr: u64,
        /// The image's size.
        size: usize,
    },
    /// A symbol a 32-bit object refers to lies at an address its words
    /// cannot hold.
    #[error("symbol `{name}` is at {address:#x}, beyond the 4 GiB a 32-bit object can address")]
    SymbolBeyondClass {
        /// The symbol.
        name: String,
        /// Its address.
        address: u64,
    },
    /// A branch between Thumb and Arm state where the core has no Arm state
    /// (M-profile), or Arm-state code in an object for such a core.
    #[error("branch to or from Arm-state code at {section}+{offset:#x} (against `{symbol}`): this core runs Thumb code only")]
    Interworking {
        /// The branch target.
        symbol: String,
        /// The relocation section.
        section: String,
        /// Offset of the branch in its section.
        offset: u64,
    },
    /// An allocated section of a type the loader does not give its meaning
    /// (it would be loaded and then ignored).
    #[error("section `{section}` has type {sh_type:#x}, which this loader does not handle in a relocatable object")]
    UnsupportedSection {
        /// The section's name.
        section: String,
        /// Its `sh_type`.
        sh_type: u32,
    },
    /// A relocatable object defines the same global symbol twice.
    #[error("symbol `{name}` is defined twice in the object")]
    DuplicateDefinition {
        /// The symbol.
        name: String,
    },
    /// Neither `ET_REL` nor `ET_DYN`.
    #[error("unsupported ELF type {e_type} (only ET_REL and ET_DYN are loaded)")]
    UnsupportedType {
        /// `e_type` of the object.
        e_type: u16,
    },
    /// A structure of the file is inconsistent or points outside the file.
    #[error("malformed object: {what} (at offset {offset:#x})")]
    Malformed {
        /// What is wrong.
        what: &'static str,
        /// File offset (or address, for dynamic objects) of the offending item.
        offset: u64,
    },
    /// A non-weak undefined symbol was not found by any resolver.
    #[error("undefined symbol `{name}`{}", version.as_ref().map(|v| alloc::format!(" (version {v})")).unwrap_or_default())]
    UndefinedSymbol {
        /// Symbol name.
        name: String,
        /// Required version, if the reference is versioned.
        version: Option<String>,
    },
    /// A relocation type this machine's table does not know.
    #[error("unsupported {machine} relocation type {r_type} in {section} at offset {offset:#x}")]
    UnsupportedRelocation {
        /// Machine of the object.
        machine: Machine,
        /// Relocation type number.
        r_type: u32,
        /// Name of the relocation section (or dynamic table) holding it.
        section: String,
        /// Offset of the relocated place within its section (or image address).
        offset: u64,
    },
    /// A relocated value does not fit in its field.
    #[error(
        "relocation type {r_type} against `{symbol}` at offset {offset:#x} overflows its field \
         (the target is out of the instruction's reach: build the object position-independent, \
         -fPIC, or for a larger code model, e.g. -mcmodel=large on x86_64 or medany on riscv64)"
    )]
    RelocationOverflow {
        /// Relocation type number.
        r_type: u32,
        /// Symbol the relocation refers to.
        symbol: String,
        /// Offset of the relocated place within its section (or image address).
        offset: u64,
    },
    /// A relocation only linker relaxation could satisfy (RISC-V `ALIGN`
    /// padding that would have to shrink); this loader never deletes bytes.
    #[error(
        "relocation type {r_type} in {section} at offset {offset:#x} needs linker relaxation, \
         which this loader does not do: rebuild the object with -mno-relax"
    )]
    RelaxationRequired {
        /// Relocation type number.
        r_type: u32,
        /// Name of the relocation section holding it.
        section: String,
        /// Offset of the relocated place within its section.
        offset: u64,
    },
    /// A shared object without `DT_TEXTREL` relocates a place in a segment
    /// that is not writable (its text or read-only data).
    #[error(
        "relocation at offset {offset:#x} in {section} writes to a read-only segment \
         (the object has no DT_TEXTREL)"
    )]
    RelocationInReadOnly {
        /// Name of the relocation table.
        section: String,
        /// Unbiased address of the relocated place.
        offset: u64,
    },
    /// A relocated place lies outside the section or segment it belongs to.
    #[error("relocation at offset {offset:#x} in {section} lies outside its target")]
    RelocationOutOfBounds {
        /// Name of the relocation section.
        section: String,
        /// Offset of the relocated place.
        offset: u64,
    },
    /// A feature the object needs that this loader does not provide.
    #[error("unsupported feature: {what}")]
    Unsupported {
        /// What is missing.
        what: &'static str,
    },
    /// The object uses thread-local storage in a way this loader (or its
    /// host) does not provide, and is refused rather than loaded
    /// half-working.
    #[error("unsupported thread-local storage: {what}")]
    ThreadLocalStorage {
        /// What in the object needs it.
        what: &'static str,
    },
    /// A reference binds to an IFUNC of another object that was still not
    /// relocated when this image was finished, so its resolver cannot run.
    #[error("`{name}` is an IFUNC of an object that is not relocated yet")]
    UnrelocatedIfunc {
        /// The symbol.
        name: String,
    },
    /// A pointer the loader would call (an init or fini array entry,
    /// `DT_INIT`, `DT_FINI`, the entry point, an IFUNC resolver) lies
    /// outside the object's executable memory and is no function it
    /// imports: refused at load time, before anything is called.
    #[error("{what} points at {address:#x}, outside the object's code")]
    CodeOutsideObject {
        /// What holds the pointer: a section (`.init_array`), a dynamic
        /// tag (`DT_INIT`, `DT_FINI_ARRAY`), `e_entry` or `IFUNC resolver`.
        what: String,
        /// The pointer: its run-time address once relocated, or for what
        /// is checked from the file before the object is placed (`DT_INIT`,
        /// `DT_FINI`, `e_entry`, a shared object's IFUNC symbols), its
        /// address in the file.
        address: u64,
    },
    /// The image would take more address space than the load allows
    /// ([`crate::LoadOptions::max_image_size`]) or than the host can
    /// address; refused before any memory is reserved.
    #[error("the image needs {size} bytes of memory, more than the limit of {limit}")]
    ImageTooLarge {
        /// Bytes the image would take (its whole reservation).
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The platform could not provide memory.
    #[error("out of memory reserving {size} bytes")]
    OutOfMemory {
        /// Size of the failed request.
        size: usize,
    },
    /// The platform refused a memory operation.
    #[error("memory operation failed: {0}")]
    Memory(#[from] MemoryError),
}

impl LoadError {
    /// Shorthand for [`LoadError::Malformed`].
    pub(crate) fn malformed(what: &'static str, offset: u64) -> Self {
        LoadError::Malformed { what, offset }
    }
}

/// The name errors use for an item that has none readable: `what` and its
/// index ("symbol 7"), written without the formatting machinery, which a
/// kernel that never prints should not have to carry.
pub(crate) fn numbered(what: &str, index: usize) -> String {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = index;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let mut name = String::from(what);
    name.push(' ');
    name.push_str(core::str::from_utf8(&digits[at..]).unwrap_or_default());
    name
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn numbered_names_write_the_index_in_decimal() {
        assert_eq!(numbered("symbol", 0), "symbol 0");
        assert_eq!(numbered("section", 4096), "section 4096");
        assert_eq!(
            numbered("symbol", usize::MAX),
            alloc::format!("symbol {}", usize::MAX)
        );
    }
}
