//! Relocation tables, one file per machine. Everything machine-specific about
//! relocations lives below this module: formulas, field encodings, overflow
//! checks, which types need a GOT slot or a range-extension stub, and the
//! stub code itself. The loaders call only the functions here.
//!
//! Most relocations are independent of each other. A few machines pair
//! relocations of one section (RISC-V's `PCREL_LO12` finds its `PCREL_HI20`
//! through the label it points at; `SET_ULEB128` is applied together with
//! the `SUB_ULEB128` that follows it): the ET_REL loader therefore builds
//! every [`Fixup`] of a section first, lets [`pair_section`] fill in each
//! one's [`Partner`], and only then applies them.

use crate::machine::Machine;

pub(crate) mod aarch64;
// Wired in by the Machine::Arm dispatch.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod arm;
mod field;
pub(crate) mod riscv64;
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
    /// What [`pair_section`] found for this relocation among the others of
    /// its section.
    pub partner: Partner,
}

/// Context a relocation takes from another relocation of the same section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Partner {
    /// Nothing (the relocation stands alone, or its partner was not found).
    #[default]
    None,
    /// The value its partner computes: for a low-part relocation, the full
    /// offset its high part encodes (or why that could not be computed);
    /// for the first of a set/subtract pair, the value to subtract.
    Value(Result<u64, RelocFault>),
    /// The partner applies this relocation as well; nothing is left to do.
    Applied,
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
    /// A relocation that needs a partner (see [`Partner`]) has none.
    Unpaired,
    /// Only linker relaxation (deleting bytes) could satisfy the relocation.
    NeedsRelaxation,
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
    /// A `JUMP_SLOT`: symbolic, and only ever called through the PLT, so a
    /// lazily bound object may leave it unresolved.
    JumpSlot,
    /// The TLS module id of the symbol's object (`DTPMOD`): 64-bit word.
    TlsModule,
    /// S + A as an offset into the symbol's TLS block (`DTPOFF`/`DTPREL`):
    /// 64-bit word.
    TlsOffset,
    /// An offset from the thread pointer into static TLS (`TPOFF`/`TPREL`,
    /// the initial-exec model), which a loaded object cannot have.
    TlsStatic,
    /// A TLS descriptor (`TLSDESC`).
    TlsDescriptor,
    /// Any other TLS type (static-link types that never appear here).
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
        Machine::Aarch64 => aarch64::needs(r_type),
        Machine::Riscv64 => riscv64::needs(r_type),
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
        Machine::Aarch64 => aarch64::apply(fix, bytes, offset),
        Machine::Riscv64 => riscv64::apply(fix, bytes, offset),
    }
}

/// The machine's `TLS_DTV_OFFSET` (see [`crate::tls_dtv_offset`]).
pub(crate) const fn tls_dtv_offset(machine: Machine) -> u64 {
    match machine {
        Machine::X86_64 => x86_64::TLS_DTV_OFFSET,
        Machine::Aarch64 => aarch64::TLS_DTV_OFFSET,
        Machine::Riscv64 => riscv64::TLS_DTV_OFFSET,
    }
}

/// Classifies a relocation found in a shared object's dynamic tables.
pub(crate) fn dynamic_class(machine: Machine, r_type: u32) -> DynamicClass {
    match machine {
        Machine::X86_64 => x86_64::dynamic_class(r_type),
        Machine::Aarch64 => aarch64::dynamic_class(r_type),
        Machine::Riscv64 => riscv64::dynamic_class(r_type),
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
        // Both use RELA only; a REL entry has no defined addend.
        Machine::Aarch64 | Machine::Riscv64 => Err(RelocFault::Unsupported),
    }
}

/// Bytes one range-extension stub takes (0: the machine needs none).
pub(crate) fn stub_size(machine: Machine) -> usize {
    match machine {
        Machine::X86_64 => x86_64::STUB_SIZE,
        Machine::Aarch64 => aarch64::STUB_SIZE,
        Machine::Riscv64 => riscv64::STUB_SIZE,
    }
}

/// Writes a stub at `bytes[..stub_size]`, placed at `at`, that jumps to `target`.
pub(crate) fn write_stub(machine: Machine, bytes: &mut [u8], at: u64, target: u64) {
    match machine {
        Machine::X86_64 => x86_64::write_stub(bytes, at, target),
        Machine::Aarch64 => aarch64::write_stub(bytes, target),
        Machine::Riscv64 => riscv64::write_stub(bytes, target),
    }
}

/// Fills in the [`Partner`] of every relocation of one section that needs
/// one. `fixups` are the section's relocations in table order, with every
/// other field already set.
pub(crate) fn pair_section(machine: Machine, fixups: &mut [Fixup]) {
    match machine {
        Machine::Riscv64 => riscv64::pair_section(fixups),
        Machine::X86_64 | Machine::Aarch64 => {}
    }
}

/// A branch displacement to the symbol, or through its range-extension stub
/// when the symbol is out of reach. `fits` says whether a displacement is
/// encodable; `align` is the alignment the encoding needs (its dropped low
/// bits). Only a target with no addend can go through the stub, which
/// jumps to the symbol itself.
pub(crate) fn reach(
    fix: &Fixup,
    fits: impl Fn(i64) -> bool,
    align: u64,
) -> Result<u64, RelocFault> {
    let target = fix.symbol.wrapping_add(fix.addend as u64);
    let direct = target.wrapping_sub(fix.place);
    if direct % align != 0 {
        return Err(RelocFault::Overflow);
    }
    if fits(direct as i64) {
        return Ok(direct);
    }
    match fix.stub {
        Some(stub) if fix.addend == 0 => {
            let via = stub.wrapping_sub(fix.place);
            if via % align == 0 && fits(via as i64) {
                Ok(via)
            } else {
                Err(RelocFault::Overflow)
            }
        }
        _ => Err(RelocFault::Overflow),
    }
}

/// Calls the IFUNC resolver at `addr` with the arguments the host
/// machine's glibc passes (`elf_ifunc_invoke`) and returns the address it
/// chose: none on x86_64 (resolvers there query the CPU themselves), the
/// hardware capabilities on aarch64 and riscv64.
///
/// # Safety
/// `addr` must be an IFUNC resolver of the host machine in executable
/// memory whose own relocations are already applied.
pub(crate) unsafe fn call_ifunc_resolver(addr: u64, caps: crate::HwCaps) -> u64 {
    #[cfg(target_arch = "aarch64")]
    // SAFETY: per this function's contract.
    return unsafe { aarch64::call_ifunc_resolver(addr, caps) };
    #[cfg(target_arch = "riscv64")]
    // SAFETY: per this function's contract.
    return unsafe { riscv64::call_ifunc_resolver(addr, caps) };
    #[cfg(not(any(target_arch = "aarch64", target_arch = "riscv64")))]
    {
        let _ = caps;
        // SAFETY: per this function's contract; resolvers of this machine
        // take no arguments and return the chosen address.
        let f = unsafe { core::mem::transmute::<usize, extern "C" fn() -> usize>(addr as usize) };
        f() as u64
    }
}

/// One entry of an ELF64 little-endian relocation table: `r_offset`,
/// `r_info` (symbol index above, type below) and, for `RELA`, `r_addend`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEntry {
    pub offset: u64,
    pub info: u64,
    pub addend: Option<i64>,
}

impl RawEntry {
    /// The symbol index.
    pub(crate) fn sym(&self) -> u32 {
        (self.info >> 32) as u32
    }

    /// The relocation type.
    pub(crate) fn r_type(&self) -> u32 {
        self.info as u32
    }
}

/// The entries of relocation table `table` (`RELA` when `rela`, else
/// `REL`), read straight from its bytes; a partial entry at the end is
/// ignored.
#[inline]
pub(crate) fn entries(table: &[u8], rela: bool) -> impl Iterator<Item = RawEntry> + '_ {
    let word = |e: &[u8], at: usize| {
        e.get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    table
        .chunks_exact(if rela { 24 } else { 16 })
        .map(move |e| RawEntry {
            offset: word(e, 0),
            info: word(e, 8),
            addend: rela.then(|| word(e, 16) as i64),
        })
}

/// Helpers the machines' relocation tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Fixup, RelocFault};

    /// A fixup of `r_type` at `place` against `symbol` with `addend`.
    pub(crate) fn fixup(place: u64, r_type: u32, symbol: u64, addend: i64) -> Fixup {
        Fixup {
            r_type,
            place,
            symbol,
            addend,
            ..Fixup::default()
        }
    }

    /// Instruction `insn` after `apply` relocated it with `f`.
    pub(crate) fn apply_to_word(
        apply: fn(&Fixup, &mut [u8], usize) -> Result<(), RelocFault>,
        f: &Fixup,
        insn: u32,
    ) -> Result<u32, RelocFault> {
        let mut bytes = insn.to_le_bytes();
        apply(f, &mut bytes, 0)?;
        Ok(u32::from_le_bytes(bytes))
    }
}
