//! RISC-V relocations (RISC-V ELF psABI, "Relocations" and "Code
//! Relaxation"), for RV64GC and RV32 (IMAC, ilp32/ilp32f) objects and shared
//! objects from gcc and clang in every code model, PIC or not. RV32 shares
//! every formula: its values are taken modulo 2^32 before range checks (an
//! RV32 `auipc`/`lui` pair reaches the whole address space), its word-sized
//! types are 32 bits wide and the 64-bit ones do not exist.
//!
//! Notation: S symbol, A addend, P place, B load bias, G+GOT the symbol's
//! slot. The loader does not relax code: `RELAX` marks are ignored, call
//! pairs stay `auipc`+`jalr`, and `ALIGN` is accepted only where the padding
//! the assembler left is already exactly right (see [`align`]).
//!
//! `PCREL_LO12_I`/`_S` point at the `auipc` that carries the matching
//! `PCREL_HI20` or `GOT_HI20`, and encode the low bits of the offset *that*
//! relocation computes; [`pair_section`] links them before anything is
//! applied. `SET_ULEB128` is applied together with the `SUB_ULEB128` that
//! must follow it at the same place.

use elf::abi::{
    R_RISCV_32, R_RISCV_32_PCREL, R_RISCV_64, R_RISCV_ADD16, R_RISCV_ADD32, R_RISCV_ADD64,
    R_RISCV_ADD8, R_RISCV_ALIGN, R_RISCV_BRANCH, R_RISCV_CALL, R_RISCV_CALL_PLT, R_RISCV_COPY,
    R_RISCV_GOT_HI20, R_RISCV_HI20, R_RISCV_IRELATIVE, R_RISCV_JAL, R_RISCV_JUMP_SLOT,
    R_RISCV_LO12_I, R_RISCV_LO12_S, R_RISCV_NONE, R_RISCV_PCREL_HI20, R_RISCV_PCREL_LO12_I,
    R_RISCV_PCREL_LO12_S, R_RISCV_RELATIVE, R_RISCV_RELAX, R_RISCV_RVC_BRANCH, R_RISCV_RVC_JUMP,
    R_RISCV_RVC_LUI, R_RISCV_SET16, R_RISCV_SET32, R_RISCV_SET6, R_RISCV_SET8, R_RISCV_SUB16,
    R_RISCV_SUB32, R_RISCV_SUB6, R_RISCV_SUB64, R_RISCV_SUB8, R_RISCV_TLS_DTPMOD32,
    R_RISCV_TLS_DTPMOD64, R_RISCV_TLS_DTPREL32, R_RISCV_TLS_DTPREL64, R_RISCV_TLS_TPREL32,
    R_RISCV_TLS_TPREL64,
};

use super::field::{any32, fits_signed, get, patch16, patch32, put, signed32};
use super::fixup::{reach, DynamicClass, Fixup, Needs, Partner, RelocFault};

/// `S + A - P` through the PLT, as a 32-bit field (psABI 59).
pub(crate) const R_RISCV_PLT32: u32 = 59;
/// Sets a ULEB128 field; paired with the `SUB_ULEB128` that follows (60).
pub(crate) const R_RISCV_SET_ULEB128: u32 = 60;
/// Subtracts from a ULEB128 field; follows its `SET_ULEB128` (61).
pub(crate) const R_RISCV_SUB_ULEB128: u32 = 61;

/// What `__tls_get_addr` adds to the offset it is given, and `DTPREL`
/// values have subtracted (the psABI's `TLS_DTV_OFFSET`): 0x800, so that 12-bit signed offsets reach 4 KiB of the block.
pub(crate) const TLS_DTV_OFFSET: u64 = 0x800;

/// `auipc t3, 0; ld t3, 16(t3); jr t3; nop` followed by the 64-bit target.
/// `t3` is a temporary the psABI lets PLT-like stubs clobber.
pub(crate) const STUB_SIZE: usize = 24;
const STUB_CODE: [u32; 4] = [0x0000_0e17, 0x010e_3e03, 0x000e_0067, 0x0000_0013];
/// RV32: `auipc t3, 0; lw t3, 12(t3); jr t3` followed by the 32-bit target.
pub(crate) const STUB_SIZE_RV32: usize = 16;
const STUB_CODE_RV32: [u32; 3] = [0x0000_0e17, 0x00ce_2e03, 0x000e_0067];

/// Bits of each instruction format's immediate.
const U_MASK: u32 = 0xffff_f000;
const I_MASK: u32 = 0xfff0_0000;
const S_MASK: u32 = 0xfe00_0f80;
const B_MASK: u32 = 0xfe00_0f80;
const J_MASK: u32 = 0xffff_f000;
const CB_MASK: u16 = 0x1c7c;
const CJ_MASK: u16 = 0x1ffc;
const CI_LUI_MASK: u16 = 0x107c;

pub(crate) fn needs(r_type: u32) -> Needs {
    match r_type {
        R_RISCV_GOT_HI20 => Needs {
            got_slot: true,
            got_base: false,
            stub: false,
        },
        R_RISCV_CALL | R_RISCV_CALL_PLT | R_RISCV_JAL | R_RISCV_PLT32 => Needs {
            got_slot: false,
            got_base: false,
            stub: true,
        },
        _ => Needs::default(),
    }
}

/// The offset a high-part relocation encodes (before splitting into
/// 20 + 12 bits): what its `PCREL_LO12` partners take the low bits of.
fn high_part(fix: &Fixup) -> Result<u64, RelocFault> {
    let a = fix.addend as u64;
    match fix.r_type {
        // An undefined weak symbol is 0, absolute: the `auipc` becomes a
        // `lui` (see `apply`), so the pair encodes S + A itself.
        R_RISCV_PCREL_HI20 if fix.undefined_weak => Ok(fix.symbol.wrapping_add(a)),
        R_RISCV_PCREL_HI20 => Ok(fix.symbol.wrapping_add(a).wrapping_sub(fix.place)),
        R_RISCV_GOT_HI20 => Ok(fix
            .got_slot
            .ok_or(RelocFault::Unsupported)?
            .wrapping_add(a)
            .wrapping_sub(fix.place)),
        _ => Err(RelocFault::Unsupported),
    }
}

/// Links each `PCREL_LO12_I`/`_S` to the high part at its label, and each
/// `SET_ULEB128` to the `SUB_ULEB128` right after it.
pub(crate) fn pair_section(fixups: &mut [Fixup]) {
    let mut highs: alloc::vec::Vec<(u64, Result<u64, RelocFault>)> = fixups
        .iter()
        .filter(|f| matches!(f.r_type, R_RISCV_PCREL_HI20 | R_RISCV_GOT_HI20))
        .map(|f| (f.place, high_part(f)))
        .collect();
    crate::sort::sort_by_key(&mut highs, |&(place, _)| place);
    for i in 0..fixups.len() {
        let fix = fixups[i];
        match fix.r_type {
            R_RISCV_PCREL_LO12_I | R_RISCV_PCREL_LO12_S => {
                let label = fix.symbol.wrapping_add(fix.addend as u64);
                if let Ok(at) = highs.binary_search_by_key(&label, |&(place, _)| place) {
                    fixups[i].partner = Partner::Value(highs[at].1);
                }
            }
            R_RISCV_SET_ULEB128 => {
                if let Some(next) = fixups.get(i + 1).copied() {
                    if next.r_type == R_RISCV_SUB_ULEB128 && next.place == fix.place {
                        let subtrahend = next.symbol.wrapping_add(next.addend as u64);
                        fixups[i].partner = Partner::Value(Ok(subtrahend));
                        fixups[i + 1].partner = Partner::Applied;
                    }
                }
            }
            _ => {}
        }
    }
}

/// `value` as the machine sees it: unchanged on RV64, its low 32 bits
/// sign-extended on RV32 (where addresses and offsets wrap at 2^32).
fn narrow<const RV32: bool>(value: u64) -> u64 {
    if RV32 {
        i64::from(value as u32 as i32) as u64
    } else {
        value
    }
}

/// `value` split for `auipc`/`lui` (upper 20 bits, rounded so that the
/// sign-extended low 12 bits add back to it) and the low 12 bits. On RV64
/// the value must lie within ±2 GiB (as RV64 sign-extends both halves); on
/// RV32 every value is reachable.
fn hi_lo<const RV32: bool>(value: u64) -> Result<(u32, u32), RelocFault> {
    let value = narrow::<RV32>(value);
    let rounded = (value as i64).wrapping_add(0x800);
    if !RV32 && !fits_signed(rounded, 32) {
        return Err(RelocFault::Overflow);
    }
    Ok(((rounded as u32) & U_MASK, value as u32 & 0xfff))
}

fn i_imm(lo12: u32) -> u32 {
    lo12 << 20
}

fn s_imm(lo12: u32) -> u32 {
    ((lo12 >> 5) << 25) | ((lo12 & 0x1f) << 7)
}

/// Whether a displacement fits a signed field of `bits` bits.
fn signed_bits(bits: u32) -> impl Fn(i64) -> bool {
    move |v| fits_signed(v, bits)
}

fn b_imm(v: u32) -> u32 {
    (((v >> 12) & 1) << 31)
        | (((v >> 5) & 0x3f) << 25)
        | (((v >> 1) & 0xf) << 8)
        | (((v >> 11) & 1) << 7)
}

fn j_imm(v: u32) -> u32 {
    (((v >> 20) & 1) << 31)
        | (((v >> 1) & 0x3ff) << 21)
        | (((v >> 11) & 1) << 20)
        | (((v >> 12) & 0xff) << 12)
}

fn cb_imm(v: u16) -> u16 {
    (((v >> 8) & 1) << 12)
        | (((v >> 3) & 3) << 10)
        | (((v >> 6) & 3) << 5)
        | (((v >> 1) & 3) << 3)
        | (((v >> 5) & 1) << 2)
}

fn cj_imm(v: u16) -> u16 {
    (((v >> 11) & 1) << 12)
        | (((v >> 4) & 1) << 11)
        | (((v >> 8) & 3) << 9)
        | (((v >> 10) & 1) << 8)
        | (((v >> 6) & 1) << 7)
        | (((v >> 7) & 1) << 6)
        | (((v >> 1) & 7) << 3)
        | (((v >> 5) & 1) << 2)
}

/// The low-part value from the partner high part.
fn partner_low(fix: &Fixup) -> Result<u32, RelocFault> {
    match fix.partner {
        Partner::Value(value) => Ok(value? as u32 & 0xfff),
        Partner::None | Partner::Applied => Err(RelocFault::Unpaired),
    }
}

/// `R_RISCV_ALIGN`: the assembler left `A` bytes of `nop`s at P, the most
/// that could be needed, for the linker to shrink so that the code after
/// them is aligned to the smallest power of two above `A`. This loader never
/// deletes bytes (that would move every later instruction, symbol and
/// relocation of the section), so the padding stays as it is: executing the
/// extra `nop`s is harmless, but the code after them would be misaligned,
/// and alignment the author asked for (a trap vector, a table of fixed-size
/// entries) may matter. Sections are placed at their own alignment, which is
/// at least this one, so whether the padding is already exactly right
/// depends only on the object, not on where it loads: accept it then, and
/// otherwise refuse the object; built with `-mno-relax` it carries exact
/// padding and no `ALIGN` at all.
fn align(fix: &Fixup) -> Result<(), RelocFault> {
    let padding = fix.addend as u64;
    if padding == 0 {
        return Ok(());
    }
    let alignment = padding
        .checked_add(1)
        .and_then(u64::checked_next_power_of_two)
        .ok_or(RelocFault::NeedsRelaxation)?;
    if fix.place.wrapping_add(padding) % alignment == 0 {
        Ok(())
    } else {
        Err(RelocFault::NeedsRelaxation)
    }
}

/// Length of the ULEB128 field at `offset` (up to the byte without the
/// continuation bit).
fn uleb_len(bytes: &[u8], offset: usize) -> Result<usize, RelocFault> {
    let field = bytes.get(offset..).ok_or(RelocFault::OutOfBounds)?;
    field
        .iter()
        .take(10)
        .position(|&b| b & 0x80 == 0)
        .map(|i| i + 1)
        .ok_or(RelocFault::OutOfBounds)
}

/// Rewrites the ULEB128 field at `offset` with `value`, keeping its length.
fn write_uleb(bytes: &mut [u8], offset: usize, value: u64) -> Result<(), RelocFault> {
    let len = uleb_len(bytes, offset)?;
    let bits = 7 * len as u32;
    if bits < 64 && value >> bits != 0 {
        return Err(RelocFault::Overflow);
    }
    for (i, byte) in bytes[offset..offset + len].iter_mut().enumerate() {
        let chunk = (value >> (7 * i)) as u8 & 0x7f;
        *byte = if i + 1 < len { chunk | 0x80 } else { chunk };
    }
    Ok(())
}

/// `*P op= value` on an `N`-byte little-endian field.
fn modify<const N: usize>(
    bytes: &mut [u8],
    offset: usize,
    op: impl Fn(u64) -> u64,
) -> Result<(), RelocFault> {
    let old = get::<N>(bytes, offset)?;
    let mut wide = [0u8; 8];
    wide[..N].copy_from_slice(&old);
    let new = op(u64::from_le_bytes(wide)).to_le_bytes();
    let mut out = [0u8; N];
    out.copy_from_slice(&new[..N]);
    put(bytes, offset, out)
}

/// Applies one RV64 relocation.
pub(crate) fn apply(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    apply_xlen::<false>(fix, bytes, offset)
}

/// Applies one RV32 relocation.
pub(crate) fn apply_rv32(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    apply_xlen::<true>(fix, bytes, offset)
}

/// A machine word (`XLEN` bits) holding `value`; on RV32 a value that needs
/// more than 32 bits is an overflow, never truncated.
fn xword<const RV32: bool>(bytes: &mut [u8], offset: usize, value: u64) -> Result<(), RelocFault> {
    if RV32 {
        put(bytes, offset, super::field::unsigned32(value)?)
    } else {
        put(bytes, offset, value.to_le_bytes())
    }
}

fn apply_xlen<const RV32: bool>(
    fix: &Fixup,
    bytes: &mut [u8],
    offset: usize,
) -> Result<(), RelocFault> {
    let (s, a, p) = (fix.symbol, fix.addend as u64, fix.place);
    let sa = s.wrapping_add(a);
    let wrap = narrow::<RV32>;
    match fix.r_type {
        R_RISCV_NONE | R_RISCV_RELAX => Ok(()),
        R_RISCV_ALIGN => align(fix),
        R_RISCV_64 | R_RISCV_ADD64 | R_RISCV_SUB64 if RV32 => Err(RelocFault::Unsupported),
        R_RISCV_64 => put(bytes, offset, sa.to_le_bytes()),
        R_RISCV_32 => put(bytes, offset, any32(wrap(sa))?),
        R_RISCV_JUMP_SLOT => xword::<RV32>(bytes, offset, s),
        R_RISCV_RELATIVE => xword::<RV32>(bytes, offset, fix.base.wrapping_add(a)),
        R_RISCV_32_PCREL => put(bytes, offset, signed32(wrap(sa.wrapping_sub(p)))?),
        R_RISCV_PLT32 => put(
            bytes,
            offset,
            signed32(wrap(reach(
                fix,
                |v| fits_signed(wrap(v as u64) as i64, 32),
                1,
            )?))?,
        ),
        R_RISCV_HI20 => patch32(bytes, offset, U_MASK, hi_lo::<RV32>(sa)?.0),
        R_RISCV_LO12_I => patch32(bytes, offset, I_MASK, i_imm(sa as u32 & 0xfff)),
        R_RISCV_LO12_S => patch32(bytes, offset, S_MASK, s_imm(sa as u32 & 0xfff)),
        // `auipc rd, %pcrel_hi(weak)` against an undefined weak symbol
        // becomes `lui rd, %hi(weak)`: the same U-type fields, opcode 0x37
        // instead of 0x17, so the value is absolute (0 may be beyond
        // PC-relative reach, as GNU ld also rewrites it).
        R_RISCV_PCREL_HI20 if fix.undefined_weak => patch32(
            bytes,
            offset,
            U_MASK | 0x7f,
            hi_lo::<RV32>(high_part(fix)?)?.0 | 0x37,
        ),
        R_RISCV_PCREL_HI20 | R_RISCV_GOT_HI20 => {
            patch32(bytes, offset, U_MASK, hi_lo::<RV32>(high_part(fix)?)?.0)
        }
        R_RISCV_PCREL_LO12_I => patch32(bytes, offset, I_MASK, i_imm(partner_low(fix)?)),
        R_RISCV_PCREL_LO12_S => patch32(bytes, offset, S_MASK, s_imm(partner_low(fix)?)),
        R_RISCV_CALL | R_RISCV_CALL_PLT => {
            let fits = |v: i64| RV32 || fits_signed(v.wrapping_add(0x800), 32);
            let (hi, lo) = hi_lo::<RV32>(reach(fix, fits, 2)?)?;
            // Check both words before writing either.
            super::field::word(bytes, offset + 4)?;
            patch32(bytes, offset, U_MASK, hi)?;
            patch32(bytes, offset + 4, I_MASK, i_imm(lo))
        }
        R_RISCV_JAL => {
            let v = reach(fix, |v| signed_bits(21)(wrap(v as u64) as i64), 2)?;
            patch32(bytes, offset, J_MASK, j_imm(v as u32))
        }
        R_RISCV_BRANCH => {
            let v = wrap(sa.wrapping_sub(p));
            if v % 2 != 0 || !fits_signed(v as i64, 13) {
                return Err(RelocFault::Overflow);
            }
            patch32(bytes, offset, B_MASK, b_imm(v as u32))
        }
        R_RISCV_RVC_BRANCH => {
            let v = wrap(sa.wrapping_sub(p));
            if v % 2 != 0 || !fits_signed(v as i64, 9) {
                return Err(RelocFault::Overflow);
            }
            patch16(bytes, offset, CB_MASK, cb_imm(v as u16))
        }
        R_RISCV_RVC_JUMP => {
            let v = wrap(sa.wrapping_sub(p));
            if v % 2 != 0 || !fits_signed(v as i64, 12) {
                return Err(RelocFault::Overflow);
            }
            patch16(bytes, offset, CJ_MASK, cj_imm(v as u16))
        }
        R_RISCV_RVC_LUI => {
            let hi = (wrap(sa) as i64).wrapping_add(0x800) >> 12;
            if hi == 0 {
                // `c.lui rd, 0` is reserved: load the zero with `c.li rd, 0`.
                patch16(bytes, offset, 0xf07c, 0x4000)
            } else if fits_signed(hi, 6) {
                let imm = hi as u16;
                patch16(
                    bytes,
                    offset,
                    CI_LUI_MASK,
                    ((imm & 0x20) << 7) | ((imm & 0x1f) << 2),
                )
            } else {
                Err(RelocFault::Overflow)
            }
        }
        R_RISCV_ADD8 => modify::<1>(bytes, offset, |v| v.wrapping_add(sa)),
        R_RISCV_ADD16 => modify::<2>(bytes, offset, |v| v.wrapping_add(sa)),
        R_RISCV_ADD32 => modify::<4>(bytes, offset, |v| v.wrapping_add(sa)),
        R_RISCV_ADD64 => modify::<8>(bytes, offset, |v| v.wrapping_add(sa)),
        R_RISCV_SUB6 => modify::<1>(bytes, offset, |v| (v & 0xc0) | (v.wrapping_sub(sa) & 0x3f)),
        R_RISCV_SUB8 => modify::<1>(bytes, offset, |v| v.wrapping_sub(sa)),
        R_RISCV_SUB16 => modify::<2>(bytes, offset, |v| v.wrapping_sub(sa)),
        R_RISCV_SUB32 => modify::<4>(bytes, offset, |v| v.wrapping_sub(sa)),
        R_RISCV_SUB64 => modify::<8>(bytes, offset, |v| v.wrapping_sub(sa)),
        R_RISCV_SET6 => modify::<1>(bytes, offset, |v| (v & 0xc0) | (sa & 0x3f)),
        R_RISCV_SET8 => put(bytes, offset, [sa as u8]),
        R_RISCV_SET16 => put(bytes, offset, (sa as u16).to_le_bytes()),
        R_RISCV_SET32 => put(bytes, offset, (sa as u32).to_le_bytes()),
        R_RISCV_SET_ULEB128 => match fix.partner {
            Partner::Value(subtrahend) => write_uleb(bytes, offset, sa.wrapping_sub(subtrahend?)),
            Partner::None | Partner::Applied => Err(RelocFault::Unpaired),
        },
        R_RISCV_SUB_ULEB128 => match fix.partner {
            Partner::Applied => Ok(()),
            Partner::None | Partner::Value(_) => Err(RelocFault::Unpaired),
        },
        _ => Err(RelocFault::Unsupported),
    }
}

/// Whether a dynamic relocation is a symbol's address in a machine word
/// (`RV32`: 32-bit words): `Some(true)` for `S + A`, `Some(false)` for `S`.
pub(crate) fn symbol_word<const RV32: bool>(r_type: u32) -> Option<bool> {
    match r_type {
        R_RISCV_64 if !RV32 => Some(true),
        R_RISCV_32 if RV32 => Some(true),
        R_RISCV_JUMP_SLOT => Some(false),
        _ => None,
    }
}

pub(crate) fn dynamic_class(r_type: u32) -> DynamicClass {
    match r_type {
        R_RISCV_NONE => DynamicClass::None,
        R_RISCV_RELATIVE => DynamicClass::Relative,
        R_RISCV_IRELATIVE => DynamicClass::IRelative,
        R_RISCV_JUMP_SLOT => DynamicClass::JumpSlot,
        R_RISCV_64 | R_RISCV_32 => DynamicClass::Symbolic,
        R_RISCV_TLS_DTPMOD64 => DynamicClass::TlsModule,
        R_RISCV_TLS_DTPREL64 => DynamicClass::TlsOffset,
        R_RISCV_TLS_TPREL64 => DynamicClass::TlsStatic,
        // The 32-bit forms belong to RV32 objects.
        R_RISCV_TLS_DTPMOD32 | R_RISCV_TLS_DTPREL32 | R_RISCV_TLS_TPREL32 => DynamicClass::Tls,
        R_RISCV_COPY => DynamicClass::Copy,
        _ => DynamicClass::Unknown,
    }
}

/// [`dynamic_class`] for RV32 shared objects: 32-bit words and TLS types.
pub(crate) fn dynamic_class_rv32(r_type: u32) -> DynamicClass {
    match r_type {
        R_RISCV_32 => DynamicClass::Symbolic,
        R_RISCV_TLS_DTPMOD32 => DynamicClass::TlsModule,
        R_RISCV_TLS_DTPREL32 => DynamicClass::TlsOffset,
        R_RISCV_TLS_TPREL32 => DynamicClass::TlsStatic,
        R_RISCV_64 | R_RISCV_TLS_DTPMOD64 | R_RISCV_TLS_DTPREL64 | R_RISCV_TLS_TPREL64 => {
            DynamicClass::Unknown
        }
        other => dynamic_class(other),
    }
}

/// Writes an RV64 range-extension stub.
pub(crate) fn write_stub(bytes: &mut [u8], target: u64) {
    super::field::literal_stub(bytes, &STUB_CODE, target);
}

/// Writes an RV32 range-extension stub.
pub(crate) fn write_stub_rv32(bytes: &mut [u8], target: u64) {
    super::field::literal_stub(bytes, &STUB_CODE_RV32, target);
}

/// Calls an IFUNC resolver as glibc does on riscv64: `(hwcap, NULL, NULL)`
/// (the second argument is `__riscv_hwprobe` in newer glibc, where
/// resolvers must accept NULL).
///
/// # Safety
/// `addr` must be a relocated riscv64 IFUNC resolver in executable memory.
#[cfg(target_arch = "riscv64")]
pub(crate) unsafe fn call_ifunc_resolver(addr: u64, caps: crate::HwCaps) -> u64 {
    type Resolver = extern "C" fn(u64, *const (), *const ()) -> usize;
    // SAFETY: per the contract; a resolver takes these arguments (or fewer,
    // which the calling convention makes harmless).
    let f = unsafe { core::mem::transmute::<usize, Resolver>(addr as usize) };
    f(caps.hwcap, core::ptr::null(), core::ptr::null()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLACE: u64 = 0x1000_0000;

    fn fix(r_type: u32, symbol: u64, addend: i64) -> Fixup {
        crate::reloc::testing::fixup(PLACE, r_type, symbol, addend)
    }

    fn run(f: &Fixup, insn: u32) -> Result<u32, RelocFault> {
        crate::reloc::testing::apply_to_word(apply, f, insn)
    }

    /// Sign-extended immediates decoded back from the formats.
    fn dec_u(insn: u32) -> i64 {
        i64::from((insn & U_MASK) as i32)
    }
    fn dec_i(insn: u32) -> i64 {
        i64::from((insn as i32) >> 20)
    }
    fn dec_s(insn: u32) -> i64 {
        i64::from(((insn & 0xfe00_0000) as i32) >> 20) | i64::from((insn >> 7) & 0x1f)
    }
    fn dec_b(insn: u32) -> i64 {
        let v = ((insn >> 31) << 12)
            | (((insn >> 7) & 1) << 11)
            | (((insn >> 25) & 0x3f) << 5)
            | (((insn >> 8) & 0xf) << 1);
        i64::from(((v << 19) as i32) >> 19)
    }
    fn dec_j(insn: u32) -> i64 {
        let v = ((insn >> 31) << 20)
            | (((insn >> 12) & 0xff) << 12)
            | (((insn >> 20) & 1) << 11)
            | (((insn >> 21) & 0x3ff) << 1);
        i64::from(((v << 11) as i32) >> 11)
    }

    #[test]
    fn hi20_lo12_round_trip_and_range() {
        for target in [
            0u64,
            0x7ff,
            0x800,
            0x1234_5678,
            0x7fff_f7ff,
            (-0x8000_0800i64) as u64,
        ] {
            let lui = run(&fix(R_RISCV_HI20, target, 0), 0x0000_0537).unwrap();
            let addi = run(&fix(R_RISCV_LO12_I, target, 0), 0x0005_0513).unwrap();
            let sw = run(&fix(R_RISCV_LO12_S, target, 0), 0x00b5_2023).unwrap();
            assert_eq!(dec_u(lui) + dec_i(addi), target as i64, "{target:#x}");
            assert_eq!(dec_u(lui) + dec_s(sw), target as i64, "{target:#x}");
            assert_eq!(lui & 0xfff, 0x537);
            assert_eq!(addi & 0xfffff, 0x50513);
            assert_eq!(sw & !S_MASK, 0x00b5_2023 & !S_MASK);
        }
        for target in [0x7fff_f800u64, 0x8000_0000, (-0x8000_0801i64) as u64] {
            assert_eq!(
                run(&fix(R_RISCV_HI20, target, 0), 0x537),
                Err(RelocFault::Overflow),
                "{target:#x}"
            );
        }
    }

    #[test]
    fn undefined_weak_pcrel_becomes_absolute_zero() {
        // `auipc a0, %pcrel_hi(weak); addi a0, a0, %pcrel_lo(1b)` far from
        // address 0: `lui a0, 0; addi a0, a0, 0`.
        let far = 0x40_0000_0000u64;
        let mut hi = crate::reloc::testing::fixup(far, R_RISCV_PCREL_HI20, 0, 0);
        hi.undefined_weak = true;
        let mut lo = crate::reloc::testing::fixup(far + 4, R_RISCV_PCREL_LO12_I, far, 0);
        let mut all = [hi, lo];
        pair_section(&mut all);
        lo = all[1];
        let lui = run(&all[0], 0x0000_0517).unwrap();
        assert_eq!(lui, 0x0000_0537, "auipc a0 became lui a0, 0");
        let addi = run(&lo, 0x0005_0513).unwrap();
        assert_eq!(dec_u(lui) + dec_i(addi), 0);
        // With an addend the pair encodes it, absolutely.
        let mut hi = crate::reloc::testing::fixup(far, R_RISCV_PCREL_HI20, 0, 0x1234);
        hi.undefined_weak = true;
        let lui = run(&hi, 0x0000_0517).unwrap();
        assert_eq!(lui & 0x7f, 0x37);
        assert_eq!(dec_u(lui), 0x1000);
        // The same place against a defined symbol at 0 stays PC-relative,
        // and is out of reach.
        let plain = crate::reloc::testing::fixup(far, R_RISCV_PCREL_HI20, 0, 0);
        assert_eq!(run(&plain, 0x0000_0517), Err(RelocFault::Overflow));
    }

    #[test]
    fn pcrel_lo12_takes_its_high_part_through_the_label() {
        let target = PLACE + 0x1234_5ffc;
        let hi = fix(R_RISCV_PCREL_HI20, target, 4);
        let mut lo_i = fix(R_RISCV_PCREL_LO12_I, PLACE, 0);
        lo_i.place = PLACE + 8;
        let mut lo_s = fix(R_RISCV_PCREL_LO12_S, PLACE - 4, 4);
        lo_s.place = PLACE + 12;
        let mut stray = fix(R_RISCV_PCREL_LO12_I, PLACE + 4, 0);
        stray.place = PLACE + 16;
        let mut all = [lo_i, hi, lo_s, stray];
        pair_section(&mut all);
        let auipc = run(&all[1], 0x0000_0517).unwrap();
        let addi = run(&all[0], 0x0005_0513).unwrap();
        let sd = run(&all[2], 0x00b5_3023).unwrap();
        assert_eq!(dec_u(auipc) + dec_i(addi), 0x1234_6000);
        assert_eq!(dec_u(auipc) + dec_s(sd), 0x1234_6000);
        assert_eq!(run(&all[3], 0x0005_0513), Err(RelocFault::Unpaired));
    }

    #[test]
    fn got_hi20_goes_through_the_slot() {
        let mut hi = fix(R_RISCV_GOT_HI20, 0xdead_0000_0000, 0);
        hi.got_slot = Some(PLACE + 0x3008);
        let mut lo = fix(R_RISCV_PCREL_LO12_I, PLACE, 0);
        lo.place = PLACE + 4;
        let mut all = [hi, lo];
        pair_section(&mut all);
        let auipc = run(&all[0], 0x0000_0517).unwrap();
        let ld = run(&all[1], 0x0005_3503).unwrap();
        assert_eq!(dec_u(auipc) + dec_i(ld), 0x3008);
        assert_eq!(
            run(&fix(R_RISCV_GOT_HI20, 0, 0), 0x517),
            Err(RelocFault::Unsupported)
        );
    }

    #[test]
    fn calls_go_direct_or_through_the_stub() {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&0x0000_0097u32.to_le_bytes());
        bytes[4..].copy_from_slice(&0x0000_80e7u32.to_le_bytes());
        let decode = |b: &[u8; 8]| {
            let auipc = u32::from_le_bytes(b[..4].try_into().unwrap());
            let jalr = u32::from_le_bytes(b[4..].try_into().unwrap());
            assert_eq!(auipc & 0xfff, 0x097);
            assert_eq!(jalr & 0xfffff, 0x080e7);
            dec_u(auipc) + dec_i(jalr)
        };
        let mut b = bytes;
        apply(
            &fix(R_RISCV_CALL_PLT, PLACE.wrapping_sub(0x7654_3210), 0),
            &mut b,
            0,
        )
        .unwrap();
        assert_eq!(decode(&b), -0x7654_3210);
        let mut far = fix(R_RISCV_CALL, 0x20_0000_0000, 0);
        let mut b = bytes;
        assert_eq!(apply(&far, &mut b, 0), Err(RelocFault::Overflow));
        far.stub = Some(PLACE + 0x2000);
        apply(&far, &mut b, 0).unwrap();
        assert_eq!(decode(&b), 0x2000);
        far.addend = 8;
        assert_eq!(apply(&far, &mut b, 0), Err(RelocFault::Overflow));
        let mut short = bytes;
        assert_eq!(
            apply(&fix(R_RISCV_CALL, PLACE, 0), &mut short[..6], 0),
            Err(RelocFault::OutOfBounds)
        );
    }

    #[test]
    fn branches_check_range_and_alignment() {
        let beq = 0x00b5_0063;
        for v in [-4096i64, -2, 2, 4094, 0x7fe] {
            let out = run(&fix(R_RISCV_BRANCH, PLACE.wrapping_add(v as u64), 0), beq).unwrap();
            assert_eq!(dec_b(out), v);
            assert_eq!(out & !B_MASK, beq);
        }
        for v in [4096i64, -4098, 3] {
            assert_eq!(
                run(&fix(R_RISCV_BRANCH, PLACE.wrapping_add(v as u64), 0), beq),
                Err(RelocFault::Overflow)
            );
        }
        let jal = 0x0000_00ef;
        for v in [-(1i64 << 20), 2, (1 << 20) - 2] {
            let out = run(&fix(R_RISCV_JAL, PLACE.wrapping_add(v as u64), 0), jal).unwrap();
            assert_eq!(dec_j(out), v);
        }
        assert_eq!(
            run(&fix(R_RISCV_JAL, PLACE + (1 << 20), 0), jal),
            Err(RelocFault::Overflow)
        );
        assert_eq!(
            run(&fix(R_RISCV_JAL, PLACE + 1, 0), jal),
            Err(RelocFault::Overflow)
        );
    }

    #[test]
    fn compressed_branches_and_jumps() {
        let run16 = |f: &Fixup, insn: u16| {
            let mut b = insn.to_le_bytes();
            apply(f, &mut b, 0).map(|()| u16::from_le_bytes(b))
        };
        let dec_cb = |i: u16| {
            let v = (((i >> 12) & 1) << 8)
                | (((i >> 5) & 3) << 6)
                | (((i >> 2) & 1) << 5)
                | (((i >> 10) & 3) << 3)
                | (((i >> 3) & 3) << 1);
            i64::from(((v << 7) as i16) >> 7)
        };
        let dec_cj = |i: u16| {
            let v = (((i >> 12) & 1) << 11)
                | (((i >> 8) & 1) << 10)
                | (((i >> 9) & 3) << 8)
                | (((i >> 6) & 1) << 7)
                | (((i >> 7) & 1) << 6)
                | (((i >> 2) & 1) << 5)
                | (((i >> 11) & 1) << 4)
                | (((i >> 3) & 7) << 1);
            i64::from(((v << 4) as i16) >> 4)
        };
        for v in [-256i64, -2, 6, 254] {
            let out = run16(
                &fix(R_RISCV_RVC_BRANCH, PLACE.wrapping_add(v as u64), 0),
                0xc101,
            )
            .unwrap();
            assert_eq!(dec_cb(out), v);
            assert_eq!(out & !CB_MASK, 0xc101 & !CB_MASK);
        }
        assert!(run16(&fix(R_RISCV_RVC_BRANCH, PLACE + 256, 0), 0xc101).is_err());
        for v in [-2048i64, -2, 10, 2046] {
            let out = run16(
                &fix(R_RISCV_RVC_JUMP, PLACE.wrapping_add(v as u64), 0),
                0xa001,
            )
            .unwrap();
            assert_eq!(dec_cj(out), v);
        }
        assert!(run16(&fix(R_RISCV_RVC_JUMP, PLACE + 2048, 0), 0xa001).is_err());
        assert!(run16(&fix(R_RISCV_RVC_JUMP, PLACE + 1, 0), 0xa001).is_err());
        // c.lui a0, hi; zero becomes c.li a0, 0.
        let lui = run16(&fix(R_RISCV_RVC_LUI, 0x1f000, 0), 0x6501).unwrap();
        assert_eq!(lui, 0x6501 & !CI_LUI_MASK | (0x1f << 2));
        assert_eq!(
            run16(&fix(R_RISCV_RVC_LUI, 0x10, 0), 0x6501).unwrap(),
            0x4501
        );
        assert!(run16(&fix(R_RISCV_RVC_LUI, 0x40000, 0), 0x6501).is_err());
    }

    #[test]
    fn add_sub_set_arithmetic() {
        let mut b = [0x11u8, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
        apply(&fix(R_RISCV_ADD32, 0x100, 1), &mut b, 0).unwrap();
        apply(&fix(R_RISCV_SUB32, 0x80, 0), &mut b, 0).unwrap();
        assert_eq!(
            u32::from_le_bytes(b[..4].try_into().unwrap()),
            0x4433_2211 + 0x81
        );
        apply(&fix(R_RISCV_ADD64, 5, 0), &mut b, 0).unwrap();
        apply(&fix(R_RISCV_SUB64, 0, 7), &mut b, 0).unwrap();
        assert_eq!(u64::from_le_bytes(b), 0x8877_6655_4433_2211 + 0x81 - 2);
        let mut c = [0xc5u8];
        apply(&fix(R_RISCV_SET6, 0x47, 0), &mut c, 0).unwrap();
        assert_eq!(c[0], 0xc7);
        apply(&fix(R_RISCV_SUB6, 0x9, 0), &mut c, 0).unwrap();
        assert_eq!(c[0], 0xfe);
        apply(&fix(R_RISCV_ADD8, 3, 0), &mut c, 0).unwrap();
        assert_eq!(c[0], 0x01);
        apply(&fix(R_RISCV_SUB8, 2, 0), &mut c, 0).unwrap();
        assert_eq!(c[0], 0xff);
        let mut d = [0u8; 4];
        apply(&fix(R_RISCV_SET16, 0x1_2345, 0), &mut d, 0).unwrap();
        apply(&fix(R_RISCV_ADD16, 1, 0), &mut d, 0).unwrap();
        apply(&fix(R_RISCV_SUB16, 2, 0), &mut d, 0).unwrap();
        assert_eq!(d, [0x44, 0x23, 0, 0]);
        apply(&fix(R_RISCV_SET32, 0x1_2345_6789, 0), &mut d, 0).unwrap();
        assert_eq!(d, 0x2345_6789u32.to_le_bytes());
        apply(&fix(R_RISCV_SET8, 0x1ff, 0), &mut d, 0).unwrap();
        assert_eq!(d[0], 0xff);
    }

    #[test]
    fn uleb128_pairs() {
        let set = fix(R_RISCV_SET_ULEB128, 0x1000_0300, 0);
        let sub = fix(R_RISCV_SUB_ULEB128, 0x1000_0100, 0);
        let mut both = [set, sub];
        pair_section(&mut both);
        let mut field = [0x80u8, 0x00, 0xaa];
        apply(&both[0], &mut field, 0).unwrap();
        apply(&both[1], &mut field, 0).unwrap();
        assert_eq!(field, [0x80, 0x04, 0xaa]);
        let mut small = [0x00u8];
        assert_eq!(apply(&both[0], &mut small, 0), Err(RelocFault::Overflow));
        assert_eq!(apply(&set, &mut field, 0), Err(RelocFault::Unpaired));
        assert_eq!(apply(&sub, &mut field, 0), Err(RelocFault::Unpaired));
        let mut unterminated = [0x80u8, 0x80];
        assert_eq!(
            apply(&both[0], &mut unterminated, 0),
            Err(RelocFault::OutOfBounds)
        );
    }

    #[test]
    fn align_is_accepted_only_when_the_padding_is_exact() {
        let mut b = [0u8; 8];
        // 6 bytes of padding for 8-byte alignment.
        let mut f = fix(R_RISCV_ALIGN, 0, 6);
        f.place = PLACE + 2;
        assert_eq!(apply(&f, &mut b, 0), Ok(()));
        f.place = PLACE + 4;
        assert_eq!(apply(&f, &mut b, 0), Err(RelocFault::NeedsRelaxation));
        f.addend = 0;
        assert_eq!(apply(&f, &mut b, 0), Ok(()));
    }

    #[test]
    fn data_fields_check_their_range() {
        let mut b = [0u8; 8];
        apply(&fix(R_RISCV_32, 0xffff_fff0, 0xf), &mut b, 0).unwrap();
        assert_eq!(
            apply(&fix(R_RISCV_32, 0x1_0000_0000, 0), &mut b, 0),
            Err(RelocFault::Overflow)
        );
        apply(
            &fix(R_RISCV_32_PCREL, PLACE.wrapping_sub(0x8000_0000), 0),
            &mut b,
            0,
        )
        .unwrap();
        assert_eq!(
            apply(&fix(R_RISCV_32_PCREL, PLACE + 0x8000_0000, 0), &mut b, 0),
            Err(RelocFault::Overflow)
        );
        apply(&fix(R_RISCV_64, 0x1234, -0x34), &mut b, 0).unwrap();
        assert_eq!(u64::from_le_bytes(b), 0x1200);
        let mut rel = fix(R_RISCV_RELATIVE, 0, 0x40);
        rel.base = 0x5000;
        apply(&rel, &mut b, 0).unwrap();
        assert_eq!(u64::from_le_bytes(b), 0x5040);
        assert_eq!(
            apply(&fix(elf::abi::R_RISCV_TPREL_HI20, 0, 0), &mut b, 0),
            Err(RelocFault::Unsupported)
        );
    }

    #[test]
    fn stub_loads_and_jumps() {
        let mut b = [0u8; STUB_SIZE];
        write_stub(&mut b, 0x1122_3344_5566_7788);
        assert_eq!(&b[16..], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()) >> 20, 16);
    }
}
