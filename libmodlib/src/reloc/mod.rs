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

pub(crate) use fixup::{DynamicClass, Fixup, Needs, Partner, RelocFault};

use crate::class::Class;
use crate::machine::Machine;
use crate::ArmAbi;

#[cfg(feature = "aarch64")]
pub(crate) mod aarch64;
#[cfg(feature = "arm")]
pub(crate) mod arm;
mod field;
mod fixup;
#[cfg(any(feature = "riscv64", feature = "riscv32"))]
pub(crate) mod riscv64;
#[cfg(feature = "x86_64")]
pub(crate) mod x86_64;

/// What the machine's relocations need synthesised (`arm`: how Arm
/// objects are read).
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn needs(machine: Machine, arm: ArmAbi, r_type: u32) -> Needs {
    let _ = arm;
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::needs(r_type),
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::needs(r_type),
        #[cfg(feature = "riscv64")]
        Machine::Riscv64 => riscv64::needs(r_type),
        #[cfg(feature = "riscv32")]
        Machine::Riscv32 => riscv64::needs(r_type),
        #[cfg(feature = "arm")]
        Machine::Arm => arm::needs(r_type, arm),
        _ => Needs::default(),
    }
}

/// Applies one relocation to the field at `offset` of `bytes` (`arm`: how
/// Arm objects are read).
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn apply(
    machine: Machine,
    arm: ArmAbi,
    fix: &Fixup,
    bytes: &mut [u8],
    offset: usize,
) -> Result<(), RelocFault> {
    let _ = arm;
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::apply(fix, bytes, offset),
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::apply(fix, bytes, offset),
        #[cfg(feature = "riscv64")]
        Machine::Riscv64 => riscv64::apply(fix, bytes, offset),
        #[cfg(feature = "riscv32")]
        Machine::Riscv32 => riscv64::apply_rv32(fix, bytes, offset),
        #[cfg(feature = "arm")]
        Machine::Arm => arm::apply(fix, bytes, offset, arm),
        _ => Err(RelocFault::Unsupported),
    }
}

/// The machine's `TLS_DTV_OFFSET` (see [`crate::tls_dtv_offset`]).
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) const fn tls_dtv_offset(machine: Machine) -> u64 {
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::TLS_DTV_OFFSET,
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::TLS_DTV_OFFSET,
        #[cfg(any(feature = "riscv64", feature = "riscv32"))]
        Machine::Riscv64 | Machine::Riscv32 => riscv64::TLS_DTV_OFFSET,
        #[cfg(feature = "arm")]
        Machine::Arm => arm::TLS_DTV_OFFSET,
        _ => 0,
    }
}

/// The section and program header type of the machine's exception index
/// table (Arm's `.ARM.exidx`), if it has one. The value is
/// processor-specific: other machines use it for other things (x86_64's
/// `.eh_frame` is `SHT_X86_64_UNWIND`, the same number).
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) const fn exception_index_type(machine: Machine) -> Option<u32> {
    match machine {
        #[cfg(feature = "arm")]
        Machine::Arm => Some(arm::EXCEPTION_INDEX_TYPE),
        _ => None,
    }
}

/// Whether an allocated section of the processor-specific type `sh_type`
/// is one the machine's objects load as data (unwind tables).
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn loadable_section_type(machine: Machine, sh_type: u32) -> bool {
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => sh_type == x86_64::UNWIND_SECTION_TYPE,
        _ => Some(sh_type) == exception_index_type(machine),
    }
}

/// How a machine lays out a TLS descriptor (`TLSDESC`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DescriptorLayout {
    /// The pair is (argument, function) rather than (function, argument).
    pub argument_first: bool,
    /// A descriptor may be in a `REL` table, its addend then read from the
    /// place ([`implicit_addend`]).
    pub rel_addend: bool,
}

/// The machine's TLS descriptor layout.
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) const fn descriptor_layout(machine: Machine) -> DescriptorLayout {
    match machine {
        #[cfg(feature = "arm")]
        Machine::Arm => arm::TLS_DESCRIPTOR,
        _ => DescriptorLayout {
            argument_first: false,
            rel_addend: false,
        },
    }
}

/// `addr` as an address of code: a function's value with the machine's
/// instruction-set bit (Arm's Thumb bit) cleared.
pub(crate) const fn code_address(machine: Machine, addr: u64) -> u64 {
    match machine {
        Machine::Arm => addr & !1,
        _ => addr,
    }
}

/// Classifies a relocation found in a shared object's dynamic tables.
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn dynamic_class(machine: Machine, r_type: u32) -> DynamicClass {
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::dynamic_class(r_type),
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::dynamic_class(r_type),
        #[cfg(feature = "riscv64")]
        Machine::Riscv64 => riscv64::dynamic_class(r_type),
        #[cfg(feature = "riscv32")]
        Machine::Riscv32 => riscv64::dynamic_class_rv32(r_type),
        #[cfg(feature = "arm")]
        Machine::Arm => arm::dynamic_class(r_type),
        _ => DynamicClass::Unknown,
    }
}

/// Whether a dynamic `RELA` relocation of `machine` is a symbol's address
/// in a machine word: `Some(true)` for `S + A`, `Some(false)` for `S`,
/// `None` for anything else (which takes the general path). Arm's tables
/// are `REL`, whose addends are read in place, and have no such case.
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn symbol_word(machine: Machine, r_type: u32) -> Option<bool> {
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::symbol_word(r_type),
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::symbol_word(r_type),
        #[cfg(feature = "riscv64")]
        Machine::Riscv64 => riscv64::symbol_word::<false>(r_type),
        #[cfg(feature = "riscv32")]
        Machine::Riscv32 => riscv64::symbol_word::<true>(r_type),
        _ => None,
    }
}

/// The implicit addend of a `REL` (not `RELA`) relocation, read from its field.
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn implicit_addend(
    machine: Machine,
    r_type: u32,
    bytes: &[u8],
    offset: usize,
) -> Result<i64, RelocFault> {
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::implicit_addend(r_type, bytes, offset),
        #[cfg(feature = "arm")]
        Machine::Arm => arm::implicit_addend(r_type, bytes, offset),
        // The others use RELA only; a REL entry has no defined addend.
        _ => Err(RelocFault::Unsupported),
    }
}

/// Bytes one range-extension stub takes (0: the machine needs none).
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn stub_size(machine: Machine) -> usize {
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::STUB_SIZE,
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::STUB_SIZE,
        #[cfg(feature = "riscv64")]
        Machine::Riscv64 => riscv64::STUB_SIZE,
        #[cfg(feature = "riscv32")]
        Machine::Riscv32 => riscv64::STUB_SIZE_RV32,
        #[cfg(feature = "arm")]
        Machine::Arm => arm::STUB_SIZE,
        _ => 0,
    }
}

/// Writes a stub at `bytes[..stub_size]`, placed at `at`, that jumps to `target`.
#[allow(unreachable_patterns)] // every machine compiled in
pub(crate) fn write_stub(machine: Machine, bytes: &mut [u8], at: u64, target: u64) {
    let _ = (&bytes, at, target);
    match machine {
        #[cfg(feature = "x86_64")]
        Machine::X86_64 => x86_64::write_stub(bytes, at, target),
        #[cfg(feature = "aarch64")]
        Machine::Aarch64 => aarch64::write_stub(bytes, target),
        #[cfg(feature = "riscv64")]
        Machine::Riscv64 => riscv64::write_stub(bytes, target),
        #[cfg(feature = "riscv32")]
        Machine::Riscv32 => riscv64::write_stub_rv32(bytes, target),
        #[cfg(feature = "arm")]
        Machine::Arm => arm::write_stub(bytes, at, target),
        _ => {}
    }
}

/// Fills in the [`Partner`] of every relocation of one section that needs
/// one. `fixups` are the section's relocations in table order, with every
/// other field already set.
pub(crate) fn pair_section(machine: Machine, fixups: &mut [Fixup]) {
    match machine {
        #[cfg(any(feature = "riscv64", feature = "riscv32"))]
        Machine::Riscv64 | Machine::Riscv32 => riscv64::pair_section(fixups),
        _ => {}
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
    #[cfg(all(target_arch = "aarch64", feature = "aarch64"))]
    // SAFETY: per this function's contract.
    return unsafe { aarch64::call_ifunc_resolver(addr, caps) };
    #[cfg(all(target_arch = "riscv64", feature = "riscv64"))]
    // SAFETY: per this function's contract.
    return unsafe { riscv64::call_ifunc_resolver(addr, caps) };
    #[cfg(target_arch = "arm")]
    {
        // SAFETY: per this function's contract; glibc's Arm resolvers take
        // the `AT_HWCAP` word and return the chosen address.
        let f =
            unsafe { core::mem::transmute::<usize, extern "C" fn(usize) -> usize>(addr as usize) };
        f(caps.hwcap as usize) as u64
    }
    #[cfg(not(any(
        all(target_arch = "aarch64", feature = "aarch64"),
        all(target_arch = "riscv64", feature = "riscv64"),
        target_arch = "arm"
    )))]
    {
        let _ = caps;
        // SAFETY: per this function's contract; resolvers of this machine
        // take no arguments and return the chosen address.
        let f = unsafe { core::mem::transmute::<usize, extern "C" fn() -> usize>(addr as usize) };
        f() as u64
    }
}

/// One entry of a little-endian relocation table of either class:
/// `r_offset`, `r_info` split into symbol index and type, and, for `RELA`,
/// `r_addend`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawEntry {
    pub offset: u64,
    sym: u32,
    r_type: u32,
    pub addend: Option<i64>,
}

impl RawEntry {
    /// The symbol index.
    pub(crate) fn sym(&self) -> u32 {
        self.sym
    }

    /// The relocation type.
    pub(crate) fn r_type(&self) -> u32 {
        self.r_type
    }
}

/// The entries of relocation table `table` of class `class` (`RELA` when
/// `rela`, else `REL`), read straight from its bytes; a partial entry at
/// the end is ignored. ELF64 packs `r_info` as symbol << 32 | type,
/// ELF32 as symbol << 8 | type.
#[inline]
pub(crate) fn entries(
    table: &[u8],
    rela: bool,
    class: Class,
) -> impl Iterator<Item = RawEntry> + '_ {
    let word = class.word();
    table.chunks_exact(class.rel_size(rela)).map(move |e| {
        let info = class.word_at(e, word).unwrap_or_default();
        let (sym, r_type) = match class {
            Class::Elf32 => ((info >> 8) as u32, (info & 0xff) as u32),
            Class::Elf64 => ((info >> 32) as u32, info as u32),
        };
        RawEntry {
            offset: class.word_at(e, 0).unwrap_or_default(),
            sym,
            r_type,
            addend: rela.then(|| class.signed_at(e, 2 * word).unwrap_or_default()),
        }
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
