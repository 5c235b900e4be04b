//! Relocation tables, one file per machine. Everything machine-specific about
//! relocations lives below this module: formulas, field encodings, overflow
//! checks, which types need a GOT slot or a range-extension stub, and the
//! stub code itself. The loaders call only the functions here.

use crate::machine::Machine;

mod field;
pub(crate) mod x86_64;

/// The values a relocation formula may use, all as run-time addresses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fixup {
    /// Relocation type.
    pub r_type: u32,
    /// P: address of the place being relocated.
    pub place: u64,
    /// S: value of the symbol.
    pub symbol: u64,
    /// Z: size of the symbol.
    pub size: u64,
    /// A: addend.
    pub addend: i64,
    /// B: load bias of a shared object (0 for relocatable objects).
    pub base: u64,
    /// GOT: address of the global offset table (0 if there is none).
    pub got: u64,
    /// G + GOT: address of this symbol's GOT slot, if it has one.
    pub got_slot: Option<u64>,
    /// Address of this symbol's range-extension stub, if it has one.
    pub stub: Option<u64>,
}

/// Why a relocation could not be applied; the loader adds the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelocFault {
    /// The type is not in the machine's table.
    Unsupported,
    /// The value does not fit the field.
    Overflow,
    /// The field lies outside the target bytes.
    OutOfBounds,
}

/// What a relocation type needs the loader to synthesise in the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// A GOT slot holding the symbol's address.
    pub got_slot: bool,
    /// The GOT base address (GOT-relative types).
    pub got_base: bool,
    /// A stub to reach the symbol when it is out of branch range.
    pub stub: bool,
}

/// How a dynamic (ET_DYN) relocation type is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DynamicClass {
    /// No operation.
    None,
    /// B + A, no symbol.
    Relative,
    /// The value is the result of calling the resolver at B + A.
    IRelative,
    /// Needs the symbol's value; applied through [`apply`].
    Symbolic,
    /// Thread-local storage.
    Tls,
    /// `COPY`: only valid in executables.
    Copy,
    /// Not in the table.
    Unknown,
}

/// What the machine's relocations need synthesised.
pub(crate) fn needs(machine: Machine, r_type: u32) -> Needs {
    match machine {
        Machine::X86_64 => x86_64::needs(r_type),
        Machine::Aarch64 | Machine::Riscv64 => Needs::default(),
    }
}

/// Applies one relocation to the field at `offset` of `bytes`.
pub(crate) fn apply(
    machine: Machine,
    fix: &Fixup,
    bytes: &mut [u8],
    offset: usize,
) -> Result<(), RelocFault> {
    match machine {
        Machine::X86_64 => x86_64::apply(fix, bytes, offset),
        Machine::Aarch64 | Machine::Riscv64 => Err(RelocFault::Unsupported),
    }
}

/// Classifies a relocation found in a shared object's dynamic tables.
pub(crate) fn dynamic_class(machine: Machine, r_type: u32) -> DynamicClass {
    match machine {
        Machine::X86_64 => x86_64::dynamic_class(r_type),
        Machine::Aarch64 | Machine::Riscv64 => DynamicClass::Unknown,
    }
}

/// The implicit addend of a `REL` (not `RELA`) relocation, read from its field.
pub(crate) fn implicit_addend(
    machine: Machine,
    r_type: u32,
    bytes: &[u8],
    offset: usize,
) -> Result<i64, RelocFault> {
    match machine {
        Machine::X86_64 => x86_64::implicit_addend(r_type, bytes, offset),
        Machine::Aarch64 | Machine::Riscv64 => Err(RelocFault::Unsupported),
    }
}

/// Bytes one range-extension stub takes (0: the machine needs none).
pub(crate) fn stub_size(machine: Machine) -> usize {
    match machine {
        Machine::X86_64 => x86_64::STUB_SIZE,
        Machine::Aarch64 | Machine::Riscv64 => 0,
    }
}

/// Writes a stub at `bytes[..stub_size]`, placed at `at`, that jumps to `target`.
pub(crate) fn write_stub(machine: Machine, bytes: &mut [u8], at: u64, target: u64) {
    match machine {
        Machine::X86_64 => x86_64::write_stub(bytes, at, target),
        Machine::Aarch64 | Machine::Riscv64 => {}
    }
}
