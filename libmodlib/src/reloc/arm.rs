//! Arm relocations (ELF for the Arm Architecture, AAELF32, "Relocation
//! codes"), for objects and shared objects built for Thumb-2 on M-profile
//! cores (v6-M, v7-M, v8-M) and for Arm or Thumb state on A-profile cores.
//! This file owns the formulas, the instruction field encodings, the
//! overflow checks, the implicit (`REL`) addends, which types need a GOT
//! slot or a range-extension veneer, and the veneer code.
//!
//! Notation: S symbol, A addend, P place, Pa = P with its low two bits
//! cleared, B load bias, GOT_ORG the GOT address ([`Fixup::got`]), GOT(S)
//! the symbol's slot, T the Thumb bit of a function symbol. Every result is
//! computed modulo 2^32, as on the 32-bit target: a 32-bit data field takes
//! the low 32 bits of the value, and every range check looks at the 32-bit
//! result read as signed, wherever the image happens to lie.
//!
//! # The Thumb bit
//!
//! [`Fixup::symbol`] is the symbol's value with bit 0 as in `st_value`: set
//! for a Thumb function. It is used as it is (`S|T`) in every formula but
//! the branches: `(S + A) | T` is `S|T + A` for every even addend, and for
//! a symbol that is not a Thumb function bit 0 is simply an address bit
//! (an odd `char`, say), which must not be dropped. The `S + A` formulas
//! (`MOVT`, literal loads) take the same value: for a Thumb function the
//! two differ only with an odd addend.
//!
//! Branches take bit 0 as the target's instruction set: 1 Thumb, 0 Arm.
//! A label that is not a function ([`Fixup::function`] false: an untyped
//! label, a section) is no interworking target, so for such a symbol bit 0
//! is set to the *calling* code's state (see [`branch_view`]): Thumb for
//! the Thumb branch types, Arm for `CALL` and `JUMP24`. Interworking follows
//! AAELF32's call and jump rules:
//!
//! * `THM_CALL` to an Arm target becomes `BLX` (bit 12 of the second
//!   halfword clear, offset from Pa), and back to `BL` for a Thumb target;
//!   `CALL` to a Thumb target becomes `BLX imm` (with the H bit), and back
//!   to `BL` for an Arm target. `BLX` exists on A-profile (v5T and later)
//!   only: the caller refuses Arm-state targets on M-profile.
//! * `THM_JUMP24`, `THM_JUMP19` and `JUMP24` cannot change state; to a
//!   target of the other state they go through the symbol's veneer, whose
//!   final load of `pc` switches state, or fail with `Overflow` when the
//!   symbol has no veneer (the loader gives veneers to undefined and
//!   absolute symbols) or the branch has an addend other than the pc bias.
//!
//! # Veneers
//!
//! One veneer per symbol serves both states; it clobbers no register (not
//! even ip) and relies only on 8 bytes of stack, which AAELF32 lets M-profile
//! veneers assume:
//!
//! ```text
//!  +0  b403      push {r0, r1}        Thumb entry: Thumb branches go here
//!  +2  4801      ldr  r0, [pc, #4]    the literal at +8
//!  +4  9001      str  r0, [sp, #4]    over the saved r1
//!  +6  bd01      pop  {r0, pc}        restores r0, jumps (and interworks)
//!  +8  target    literal, with the target's Thumb bit
//! +12  e51ff00c  ldr  pc, [pc, #-12]  Arm entry: Arm branches go here
//! ```
//!
//! The Thumb entry uses only 16-bit Thumb-1 instructions, so it runs on
//! v6-M (Cortex-M0/M0+/M23, which lack the 32-bit `ldr.w pc, [pc]` form)
//! as well as on v7-M, v8-M and A-profile Thumb; a load into `pc` takes the
//! state from bit 0 of the literal on every one of them. The shorter
//! `ldr.w pc, [pc, #0]` + word would only be valid on some of the cores
//! this table cannot tell apart, so it is not offered. The Arm entry
//! serves `CALL` and `JUMP24` on A-profile and costs M-profile 4 bytes.
//!
//! # `TARGET1` and `TARGET2`
//!
//! `TARGET1` is taken as `ABS32`, the usual platform choice (it only
//! appears in init and fini arrays). `TARGET2` is platform-defined: `REL32`
//! on bare metal (`arm-none-eabi`), `GOT_PREL` on Arm Linux; the load
//! options say which ([`ArmAbi::target2_got_relative`]).
//!
//! # M-profile
//!
//! A core without Arm state ([`ArmAbi::arm_state`] false: Cortex-M) cannot
//! take a branch into Arm code, nor run Arm code at all: any branch whose
//! caller or target is in Arm state is refused (`Interworking`).
//!
//! # Dynamic relocations
//!
//! `GLOB_DAT` takes its `REL` addend from the field, as AAELF32 defines it;
//! `JUMP_SLOT`'s field holds the lazy-binding entry instead, and its addend
//! is always 0. `TLS_DESC` names a two-word descriptor whose first word is
//! the argument its function receives (through the descriptor's address)
//! and whose second is that function, the reverse of the aarch64 and
//! x86_64 order; without a symbol, the first word holds the addend (the
//! offset in the object's TLS block). For a named symbol GNU ld leaves
//! `0x8000_0000 | symbol index` there instead (for lazy resolution), which
//! is no addend: the loader takes 0, as glibc's does.

use elf::abi::{
    R_ARM_ABS16, R_ARM_ABS32, R_ARM_ABS8, R_ARM_BASE_PREL, R_ARM_CALL, R_ARM_COPY, R_ARM_GLOB_DAT,
    R_ARM_GOTOFF32, R_ARM_GOT_PREL, R_ARM_IRELATIVE, R_ARM_JUMP24, R_ARM_JUMP_SLOT, R_ARM_MOVT_ABS,
    R_ARM_MOVW_ABS_NC, R_ARM_NONE, R_ARM_PREL31, R_ARM_REL32, R_ARM_RELATIVE, R_ARM_TARGET1,
    R_ARM_TARGET2, R_ARM_THM_ALU_PREL_11_0, R_ARM_THM_CALL, R_ARM_THM_JUMP11, R_ARM_THM_JUMP19,
    R_ARM_THM_JUMP24, R_ARM_THM_JUMP8, R_ARM_THM_MOVT_ABS, R_ARM_THM_MOVT_PREL,
    R_ARM_THM_MOVW_ABS_NC, R_ARM_THM_MOVW_PREL_NC, R_ARM_THM_PC12, R_ARM_THM_PC8, R_ARM_TLS_DESC,
    R_ARM_TLS_DTPMOD32, R_ARM_TLS_DTPOFF32, R_ARM_TLS_GD32, R_ARM_TLS_IE32, R_ARM_TLS_LDM32,
    R_ARM_TLS_LDO32, R_ARM_TLS_LE32, R_ARM_TLS_TPOFF32, R_ARM_V4BX,
};

use super::field::{any16, any8, fits_signed, get, put};
use crate::ArmAbi;

use super::fixup::{reach, DynamicClass, Fixup, Needs, RelocFault};

/// `GOT(S) + A - GOT_ORG`: the slot's offset from the GOT (AAELF32 code 26;
/// the `elf` crate names it by its withdrawn name, `R_ARM_BASE_BREL`).
pub(crate) const R_ARM_GOT_BREL: u32 = 26;

/// What `__tls_get_addr` adds to the offset it is given, and `DTPOFF`
/// values have subtracted (the psABI's `TLS_DTV_OFFSET`): none.
pub(crate) const TLS_DTV_OFFSET: u64 = 0;

/// The section type (`SHT_ARM_EXIDX`) and program header type
/// (`PT_ARM_EXIDX`) of the EHABI exception index table: both 0x7000_0001.
pub(crate) const EXCEPTION_INDEX_TYPE: u32 = 0x7000_0001;

/// A TLS descriptor is (argument, function), the reverse of x86_64's and
/// aarch64's, and may sit in a `REL` table with its addend in the first
/// word (when it names no symbol).
pub(crate) const TLS_DESCRIPTOR: super::DescriptorLayout = super::DescriptorLayout {
    argument_first: true,
    rel_addend: true,
};

/// Bytes of one veneer (see the top of this file): a Thumb entry, the
/// literal and an Arm entry. Veneers must start 4-byte aligned; at this
/// size, packed from a 16-byte aligned start, each one is.
pub(crate) const STUB_SIZE: usize = 16;
/// `push {r0, r1}; ldr r0, [pc, #4]; str r0, [sp, #4]; pop {r0, pc}`.
const STUB_THUMB: [u16; 4] = [0xb403, 0x4801, 0x9001, 0xbd01];
/// Offset of the literal in a veneer.
const STUB_LITERAL: usize = 8;
/// Offset of the Arm entry in a veneer.
const STUB_ARM_ENTRY: u64 = 12;
/// `ldr pc, [pc, #-12]`: the literal, from the Arm entry.
const STUB_ARM: u32 = 0xe51f_f00c;

/// How far ahead of a branch the pc it adds its offset to is, in each
/// state: the pc bias a `REL` branch addend carries as `-bias`.
const THUMB_BIAS: u64 = 4;
const ARM_BIAS: u64 = 8;

/// Immediate bits of each Thumb-32 form, with the first halfword in the
/// upper 16 bits (see [`thumb32`]). `BL`, `BLX` and `B.W` share S, imm10,
/// J1, J2 and imm11.
const T_B24_MASK: u32 = 0x07ff_2fff;
/// Bit 12 of the second halfword: set in `BL`, clear in `BLX`.
const T_BL_BIT: u32 = 0x0000_1000;
/// `B<cond>.W`: S, imm6, J1, J2 and imm11.
const T_B19_MASK: u32 = 0x043f_2fff;
/// `MOVW`/`MOVT`: imm4, i, imm3 and imm8.
const T_IMM16_MASK: u32 = 0x040f_70ff;
/// `ADDW`/`SUBW` (`ADR.W`): i, imm3 and imm8.
const T_IMM12_MASK: u32 = 0x0400_70ff;
/// The bits that turn `ADDW` (op 00000) into `SUBW` (op 01010).
const T_SUBW_BITS: u32 = 0x00a0_0000;
/// `LDR` (literal): the U (add) bit.
const T_U_BIT: u32 = 0x0080_0000;
/// `LDR` (literal): imm12.
const T_LDR_IMM12_MASK: u32 = 0x0000_0fff;
/// Thumb-16 `B`: imm11.
const T_B11_MASK: u16 = 0x07ff;
/// Thumb-16 `B<cond>`: imm8; also `LDR` (literal) and `ADR`.
const T_IMM8_MASK: u16 = 0x00ff;

/// Arm `B`/`BL`/`BLX`: imm24.
const A_B24_MASK: u32 = 0x00ff_ffff;
/// Arm `BL` (condition always).
const A_BL: u32 = 0xeb00_0000;
/// Arm `BLX` (immediate); bit 24 is H.
const A_BLX: u32 = 0xfa00_0000;
/// Arm `MOVW`/`MOVT`: imm4 and imm12.
const A_IMM16_MASK: u32 = 0x000f_0fff;

/// What a relocation type needs synthesised, with `TARGET2` read as `abi`
/// says.
pub(crate) fn needs(r_type: u32, abi: ArmAbi) -> Needs {
    let none = Needs::default();
    match r_type {
        R_ARM_GOT_BREL => Needs {
            got_slot: true,
            got_base: true,
            ..none
        },
        R_ARM_GOT_PREL => Needs {
            got_slot: true,
            ..none
        },
        R_ARM_TARGET2 if abi.target2_got_relative => Needs {
            got_slot: true,
            ..none
        },
        R_ARM_GOTOFF32 | R_ARM_BASE_PREL => Needs {
            got_base: true,
            ..none
        },
        R_ARM_THM_CALL | R_ARM_THM_JUMP24 | R_ARM_THM_JUMP19 | R_ARM_CALL | R_ARM_JUMP24 => {
            Needs { stub: true, ..none }
        }
        _ => none,
    }
}

/// A value's low 32 bits read as signed: the 32-bit result AAELF32's
/// formulas compute.
fn x32(value: u64) -> i64 {
    i64::from(value as u32 as i32)
}

/// `v` sign-extended from its low `bits` bits.
fn sext(v: u32, bits: u32) -> i64 {
    i64::from(((v << (32 - bits)) as i32) >> (32 - bits))
}

/// Writes the low 32 bits of `value` at `offset`.
fn word32(bytes: &mut [u8], offset: usize, value: u64) -> Result<(), RelocFault> {
    put(bytes, offset, (value as u32).to_le_bytes())
}

/// The 32-bit word at `offset`.
fn read32(bytes: &[u8], offset: usize) -> Result<u32, RelocFault> {
    get::<4>(bytes, offset).map(u32::from_le_bytes)
}

/// The 16-bit halfword at `offset`.
fn read16(bytes: &[u8], offset: usize) -> Result<u16, RelocFault> {
    get::<2>(bytes, offset).map(u16::from_le_bytes)
}

/// The Thumb-32 instruction at `offset`: two little-endian halfwords, the
/// first (at the lower address) in the upper 16 bits, so that bit numbers
/// match AAELF32's `insn[n]`.
fn thumb32(bytes: &[u8], offset: usize) -> Result<u32, RelocFault> {
    let first = read16(bytes, offset)?;
    let second = read16(bytes, offset.checked_add(2).ok_or(RelocFault::OutOfBounds)?)?;
    Ok((u32::from(first) << 16) | u32::from(second))
}

/// Replaces the bits of `mask` in the Thumb-32 instruction at `offset`.
fn patch_thumb32(bytes: &mut [u8], offset: usize, mask: u32, bits: u32) -> Result<(), RelocFault> {
    let insn = (thumb32(bytes, offset)? & !mask) | (bits & mask);
    let mut field = [0u8; 4];
    field[..2].copy_from_slice(&((insn >> 16) as u16).to_le_bytes());
    field[2..].copy_from_slice(&(insn as u16).to_le_bytes());
    put(bytes, offset, field)
}

/// Replaces the bits of `mask` in the Thumb-16 instruction at `offset`.
fn patch_thumb16(bytes: &mut [u8], offset: usize, mask: u16, bits: u16) -> Result<(), RelocFault> {
    let insn = (read16(bytes, offset)? & !mask) | (bits & mask);
    put(bytes, offset, insn.to_le_bytes())
}

/// Replaces the bits of `mask` in the Arm instruction at `offset`.
fn patch_arm(bytes: &mut [u8], offset: usize, mask: u32, bits: u32) -> Result<(), RelocFault> {
    let insn = (read32(bytes, offset)? & !mask) | (bits & mask);
    put(bytes, offset, insn.to_le_bytes())
}

/// `BL`/`BLX`/`B.W` fields of displacement `d` (bit 0 dropped): S, imm10,
/// J1 = NOT(I1 XOR S), J2 = NOT(I2 XOR S), imm11.
fn t_b24(d: u32) -> u32 {
    let s = (d >> 24) & 1;
    let j1 = !(((d >> 23) & 1) ^ s) & 1;
    let j2 = !(((d >> 22) & 1) ^ s) & 1;
    (s << 26) | (((d >> 12) & 0x3ff) << 16) | (j1 << 13) | (j2 << 11) | ((d >> 1) & 0x7ff)
}

/// The displacement in `BL`/`BLX`/`B.W` fields (for `BLX`, H reads as
/// bit 1, which it must leave 0).
fn t_b24_value(insn: u32) -> i64 {
    let s = (insn >> 26) & 1;
    let i1 = !(((insn >> 13) & 1) ^ s) & 1;
    let i2 = !(((insn >> 11) & 1) ^ s) & 1;
    let v = (s << 24)
        | (i1 << 23)
        | (i2 << 22)
        | (((insn >> 16) & 0x3ff) << 12)
        | ((insn & 0x7ff) << 1);
    sext(v, 25)
}

/// `B<cond>.W` fields of displacement `d`: S, J2, J1, imm6, imm11 (no
/// inversion, unlike [`t_b24`]).
fn t_b19(d: u32) -> u32 {
    let s = (d >> 20) & 1;
    let j2 = (d >> 19) & 1;
    let j1 = (d >> 18) & 1;
    (s << 26) | (((d >> 12) & 0x3f) << 16) | (j1 << 13) | (j2 << 11) | ((d >> 1) & 0x7ff)
}

/// The displacement in `B<cond>.W` fields.
fn t_b19_value(insn: u32) -> i64 {
    let v = (((insn >> 26) & 1) << 20)
        | (((insn >> 11) & 1) << 19)
        | (((insn >> 13) & 1) << 18)
        | (((insn >> 16) & 0x3f) << 12)
        | ((insn & 0x7ff) << 1);
    sext(v, 21)
}

/// Thumb `MOVW`/`MOVT` fields of `imm16`: imm4, i, imm3, imm8.
fn t_imm16(imm16: u32) -> u32 {
    (((imm16 >> 12) & 0xf) << 16)
        | (((imm16 >> 11) & 1) << 26)
        | (((imm16 >> 8) & 7) << 12)
        | (imm16 & 0xff)
}

/// The imm16 of a Thumb `MOVW`/`MOVT`.
fn t_imm16_value(insn: u32) -> u32 {
    (((insn >> 16) & 0xf) << 12)
        | (((insn >> 26) & 1) << 11)
        | (((insn >> 12) & 7) << 8)
        | (insn & 0xff)
}

/// Thumb `ADDW`/`SUBW` fields of `imm12`: i, imm3, imm8.
fn t_imm12(imm12: u32) -> u32 {
    (((imm12 >> 11) & 1) << 26) | (((imm12 >> 8) & 7) << 12) | (imm12 & 0xff)
}

/// The imm12 of a Thumb `ADDW`/`SUBW`.
fn t_imm12_value(insn: u32) -> u32 {
    (((insn >> 26) & 1) << 11) | (((insn >> 12) & 7) << 8) | (insn & 0xff)
}

/// Arm `MOVW`/`MOVT` fields of `imm16`: imm4, imm12.
fn a_imm16(imm16: u32) -> u32 {
    ((imm16 >> 12) << 16) | (imm16 & 0xfff)
}

/// The imm16 of an Arm `MOVW`/`MOVT`.
fn a_imm16_value(insn: u32) -> u32 {
    (((insn >> 16) & 0xf) << 12) | (insn & 0xfff)
}

/// Whether a displacement's 32-bit value fits a signed field of `bits` bits.
fn fits(bits: u32) -> impl Fn(i64) -> bool {
    move |v| fits_signed(x32(v as u64), bits)
}

/// The displacement of a branch at `fix.place` from `pc` (the value its
/// offset is added to: the place plus `bias`) to `dest`, or to the
/// symbol's veneer entry `entry` when `dest` is out of range or, unless
/// `direct`, in every case. The veneer jumps to the symbol itself, so it
/// serves only a branch whose addend is just the pc bias.
fn route(
    fix: &Fixup,
    bias: u64,
    dest: u64,
    direct: bool,
    entry: u64,
    bits: u32,
    align: u64,
) -> Result<u64, RelocFault> {
    let stub = fix
        .stub
        .filter(|_| fix.addend as u64 == bias.wrapping_neg())
        .map(|s| s.wrapping_add(entry));
    let pc = fix.place.wrapping_add(bias);
    let probe = if direct {
        Fixup {
            place: pc,
            symbol: dest,
            stub,
            ..Fixup::default()
        }
    } else {
        Fixup {
            place: pc,
            symbol: stub.ok_or(RelocFault::Overflow)?,
            ..Fixup::default()
        }
    };
    reach(&probe, fits(bits), align)
}

/// The destination of a branch (`S + A` plus the pc bias the addend
/// carries, Thumb bit dropped) and whether it is in Thumb state.
fn branch_target(fix: &Fixup, bias: u64) -> (u64, bool) {
    let dest = (fix.symbol & !1)
        .wrapping_add(fix.addend as u64)
        .wrapping_add(bias);
    (dest, fix.symbol & 1 == 1)
}

/// `THM_CALL`: `BL` to a Thumb target or the veneer, `BLX` to an Arm one.
fn thm_call(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    let (dest, thumb) = branch_target(fix, THUMB_BIAS);
    if !thumb {
        // BLX adds its offset to Align(pc, 4).
        let pc = (fix.place & !3).wrapping_add(THUMB_BIAS);
        let d = dest.wrapping_sub(pc);
        if d % 4 == 0 && fits(25)(d as i64) {
            return patch_thumb32(bytes, offset, T_B24_MASK | T_BL_BIT, t_b24(d as u32));
        }
    }
    let d = route(fix, THUMB_BIAS, dest, thumb, 0, 25, 2)?;
    patch_thumb32(
        bytes,
        offset,
        T_B24_MASK | T_BL_BIT,
        t_b24(d as u32) | T_BL_BIT,
    )
}

/// `CALL`: `BL` to an Arm target or the veneer, `BLX` to a Thumb one.
fn arm_call(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    let (dest, thumb) = branch_target(fix, ARM_BIAS);
    if thumb {
        let d = dest.wrapping_sub(fix.place.wrapping_add(ARM_BIAS));
        if d % 2 == 0 && fits(26)(d as i64) {
            let h = ((d as u32 >> 1) & 1) << 24;
            return patch_arm(
                bytes,
                offset,
                !0,
                A_BLX | h | ((d as u32 >> 2) & A_B24_MASK),
            );
        }
    }
    let d = route(fix, ARM_BIAS, dest, !thumb, STUB_ARM_ENTRY, 26, 4)?;
    patch_arm(bytes, offset, !0, A_BL | ((d as u32 >> 2) & A_B24_MASK))
}

/// The Thumb-32 jumps (`B.W`, `B<cond>.W`): direct to a Thumb target,
/// through the veneer when out of range or to an Arm target.
fn thm_jump(fix: &Fixup, bits: u32) -> Result<u32, RelocFault> {
    let (dest, thumb) = branch_target(fix, THUMB_BIAS);
    route(fix, THUMB_BIAS, dest, thumb, 0, bits, 2).map(|d| d as u32)
}

/// A Thumb-16 branch (`B`, `B<cond>`): `S + A - P`, direct only.
fn thm_short(fix: &Fixup, bits: u32) -> Result<u16, RelocFault> {
    let d = (fix.symbol & !1)
        .wrapping_add(fix.addend as u64)
        .wrapping_sub(fix.place);
    if d % 2 != 0 || !fits(bits)(d as i64) {
        return Err(RelocFault::Overflow);
    }
    Ok((d >> 1) as u16)
}

/// `ADDW`/`SUBW` `pc` (`ADR.W`) with `value` as the signed offset.
fn thm_adr(bytes: &mut [u8], offset: usize, value: u64) -> Result<(), RelocFault> {
    let v = x32(value);
    let (op, magnitude) = if v < 0 { (T_SUBW_BITS, -v) } else { (0, v) };
    if magnitude > 0xfff {
        return Err(RelocFault::Overflow);
    }
    patch_thumb32(
        bytes,
        offset,
        T_IMM12_MASK | T_SUBW_BITS,
        t_imm12(magnitude as u32) | op,
    )
}

/// The GOT slot of the symbol.
fn slot(fix: &Fixup) -> Result<u64, RelocFault> {
    fix.got_slot.ok_or(RelocFault::Unsupported)
}

/// Whether a branch type's code is Thumb (`Some(true)`) or Arm
/// (`Some(false)`); `None` for the other types.
fn branch_state(r_type: u32) -> Option<bool> {
    match r_type {
        R_ARM_THM_CALL | R_ARM_THM_JUMP24 | R_ARM_THM_JUMP19 => Some(true),
        R_ARM_CALL | R_ARM_JUMP24 => Some(false),
        _ => None,
    }
}

/// `fix` as a branch of the calling state `thumb` sees it: a function's
/// bit 0 is its state; any other symbol is taken to be in the caller's.
fn branch_view(fix: &Fixup, thumb: bool) -> Fixup {
    let mut view = *fix;
    if !fix.function {
        view.symbol = (fix.symbol & !1) | u64::from(thumb);
    }
    view
}

/// A PC-relative relocation against an undefined weak symbol as AAELF32
/// ("Weak References", "Call and Jump relocations") resolves it: a branch
/// goes to the next instruction in the caller's state (a call becomes a
/// no-op; `BLX` becomes `BL`), any other PC-relative type takes the place
/// as the symbol's value. `None` for the types that are not PC-relative.
fn undefined_weak_view(fix: &Fixup, abi: ArmAbi) -> Option<Fixup> {
    let at = |symbol: u64, addend: i64| Fixup {
        symbol,
        addend,
        function: true,
        stub: None,
        undefined_weak: false,
        ..*fix
    };
    let next = |length: u64| fix.place.wrapping_add(length);
    match fix.r_type {
        R_ARM_THM_CALL | R_ARM_THM_JUMP24 | R_ARM_THM_JUMP19 => {
            Some(at(next(4) | 1, -(THUMB_BIAS as i64)))
        }
        R_ARM_THM_JUMP11 | R_ARM_THM_JUMP8 => Some(at(next(2) | 1, -(THUMB_BIAS as i64))),
        R_ARM_CALL | R_ARM_JUMP24 => Some(at(next(4), -(ARM_BIAS as i64))),
        R_ARM_TARGET2 if abi.target2_got_relative => None,
        R_ARM_REL32
        | R_ARM_TARGET2
        | R_ARM_PREL31
        | R_ARM_THM_MOVW_PREL_NC
        | R_ARM_THM_MOVT_PREL
        | R_ARM_THM_PC8
        | R_ARM_THM_PC12
        | R_ARM_THM_ALU_PREL_11_0 => Some(Fixup {
            function: fix.function,
            ..at(fix.place, fix.addend)
        }),
        _ => None,
    }
}

/// Applies one relocation to the field at `offset` of `bytes`, with
/// `TARGET2` and interworking as `abi` says.
pub(crate) fn apply(
    fix: &Fixup,
    bytes: &mut [u8],
    offset: usize,
    abi: ArmAbi,
) -> Result<(), RelocFault> {
    let weak_view;
    let fix = match undefined_weak_view(fix, abi) {
        Some(v) if fix.undefined_weak => {
            weak_view = v;
            &weak_view
        }
        _ => fix,
    };
    let view;
    let fix = match branch_state(fix.r_type) {
        Some(thumb) => {
            view = branch_view(fix, thumb);
            let thumb_to_thumb = thumb && view.symbol & 1 == 1;
            if !(abi.arm_state || thumb_to_thumb) {
                return Err(RelocFault::Interworking);
            }
            &view
        }
        None => fix,
    };
    let (a, p) = (fix.addend as u64, fix.place);
    // `S|T + A`: see the top of the file.
    let sa = fix.symbol.wrapping_add(a);
    let prel = sa.wrapping_sub(p);
    let pa = p & !3;
    match fix.r_type {
        R_ARM_NONE | R_ARM_V4BX => Ok(()),
        R_ARM_ABS32 | R_ARM_TARGET1 | R_ARM_GLOB_DAT | R_ARM_JUMP_SLOT => word32(bytes, offset, sa),
        R_ARM_RELATIVE => word32(bytes, offset, fix.base.wrapping_add(a)),
        R_ARM_TARGET2 if abi.target2_got_relative => {
            word32(bytes, offset, slot(fix)?.wrapping_add(a).wrapping_sub(p))
        }
        // `TARGET2` as `REL32` unless the platform reads it as `GOT_PREL`.
        R_ARM_REL32 | R_ARM_TARGET2 => word32(bytes, offset, prel),
        R_ARM_GOT_PREL => word32(bytes, offset, slot(fix)?.wrapping_add(a).wrapping_sub(p)),
        R_ARM_GOT_BREL => word32(
            bytes,
            offset,
            slot(fix)?.wrapping_add(a).wrapping_sub(fix.got),
        ),
        R_ARM_GOTOFF32 => word32(bytes, offset, sa.wrapping_sub(fix.got)),
        R_ARM_BASE_PREL => word32(bytes, offset, fix.got.wrapping_add(a).wrapping_sub(p)),
        R_ARM_ABS16 => put(bytes, offset, any16(x32(sa) as u64)?),
        R_ARM_ABS8 => put(bytes, offset, any8(x32(sa) as u64)?),
        R_ARM_PREL31 => {
            if !fits_signed(x32(prel), 31) {
                return Err(RelocFault::Overflow);
            }
            patch_arm(bytes, offset, 0x7fff_ffff, prel as u32)
        }
        R_ARM_THM_CALL => thm_call(fix, bytes, offset),
        R_ARM_THM_JUMP24 => {
            let d = thm_jump(fix, 25)?;
            patch_thumb32(bytes, offset, T_B24_MASK, t_b24(d))
        }
        R_ARM_THM_JUMP19 => {
            let d = thm_jump(fix, 21)?;
            patch_thumb32(bytes, offset, T_B19_MASK, t_b19(d))
        }
        R_ARM_THM_JUMP11 => patch_thumb16(bytes, offset, T_B11_MASK, thm_short(fix, 12)?),
        R_ARM_THM_JUMP8 => patch_thumb16(bytes, offset, T_IMM8_MASK, thm_short(fix, 9)?),
        R_ARM_THM_MOVW_ABS_NC => patch_thumb32(bytes, offset, T_IMM16_MASK, t_imm16(sa as u32)),
        R_ARM_THM_MOVT_ABS => patch_thumb32(bytes, offset, T_IMM16_MASK, t_imm16(sa as u32 >> 16)),
        R_ARM_THM_MOVW_PREL_NC => patch_thumb32(bytes, offset, T_IMM16_MASK, t_imm16(prel as u32)),
        R_ARM_THM_MOVT_PREL => {
            patch_thumb32(bytes, offset, T_IMM16_MASK, t_imm16(prel as u32 >> 16))
        }
        R_ARM_MOVW_ABS_NC => patch_arm(bytes, offset, A_IMM16_MASK, a_imm16(sa as u32 & 0xffff)),
        R_ARM_MOVT_ABS => patch_arm(bytes, offset, A_IMM16_MASK, a_imm16(sa as u32 >> 16)),
        R_ARM_THM_PC8 => {
            let x = x32(sa.wrapping_sub(pa));
            if !(0..=0x3fc).contains(&x) || x % 4 != 0 {
                return Err(RelocFault::Overflow);
            }
            patch_thumb16(bytes, offset, T_IMM8_MASK, (x >> 2) as u16)
        }
        R_ARM_THM_PC12 => {
            let x = x32(sa.wrapping_sub(pa));
            if x.unsigned_abs() > 0xfff {
                return Err(RelocFault::Overflow);
            }
            let u = if x >= 0 { T_U_BIT } else { 0 };
            patch_thumb32(
                bytes,
                offset,
                T_U_BIT | T_LDR_IMM12_MASK,
                u | x.unsigned_abs() as u32,
            )
        }
        R_ARM_THM_ALU_PREL_11_0 => thm_adr(bytes, offset, sa.wrapping_sub(pa)),
        R_ARM_CALL => arm_call(fix, bytes, offset),
        R_ARM_JUMP24 => {
            let (dest, thumb) = branch_target(fix, ARM_BIAS);
            let d = route(fix, ARM_BIAS, dest, !thumb, STUB_ARM_ENTRY, 26, 4)?;
            patch_arm(bytes, offset, A_B24_MASK, d as u32 >> 2)
        }
        _ => Err(RelocFault::Unsupported),
    }
}

/// The addend of a `REL` relocation, read from its field as AAELF32's
/// "Addends and PC-bias compensation" and instruction tables define it.
pub(crate) fn implicit_addend(r_type: u32, bytes: &[u8], offset: usize) -> Result<i64, RelocFault> {
    let word = || read32(bytes, offset);
    match r_type {
        R_ARM_NONE | R_ARM_V4BX => Ok(0),
        R_ARM_ABS32 | R_ARM_REL32 | R_ARM_TARGET1 | R_ARM_TARGET2 | R_ARM_GOT_BREL
        | R_ARM_GOT_PREL | R_ARM_BASE_PREL | R_ARM_GOTOFF32 | R_ARM_RELATIVE | R_ARM_GLOB_DAT
        | R_ARM_IRELATIVE | R_ARM_TLS_DTPMOD32 | R_ARM_TLS_DTPOFF32 | R_ARM_TLS_TPOFF32 => {
            Ok(i64::from(word()? as i32))
        }
        // The field holds the lazy-binding entry, not an addend.
        R_ARM_JUMP_SLOT => word().map(|_| 0),
        // The descriptor's first word (its argument), of a pair that must
        // fit.
        R_ARM_TLS_DESC => {
            let second = offset.checked_add(4).ok_or(RelocFault::OutOfBounds)?;
            read32(bytes, second)?;
            Ok(i64::from(word()? as i32))
        }
        R_ARM_ABS16 => Ok(i64::from(read16(bytes, offset)? as i16)),
        R_ARM_ABS8 => Ok(i64::from(get::<1>(bytes, offset)?[0] as i8)),
        R_ARM_PREL31 => Ok(sext(word()?, 31)),
        R_ARM_THM_CALL | R_ARM_THM_JUMP24 => Ok(t_b24_value(thumb32(bytes, offset)?)),
        R_ARM_THM_JUMP19 => Ok(t_b19_value(thumb32(bytes, offset)?)),
        R_ARM_THM_JUMP11 => Ok(sext(
            u32::from(read16(bytes, offset)? & T_B11_MASK) << 1,
            12,
        )),
        R_ARM_THM_JUMP8 => Ok(sext(
            u32::from(read16(bytes, offset)? & T_IMM8_MASK) << 1,
            9,
        )),
        // The 16-bit field read as signed, for MOVT as for MOVW.
        R_ARM_THM_MOVW_ABS_NC
        | R_ARM_THM_MOVT_ABS
        | R_ARM_THM_MOVW_PREL_NC
        | R_ARM_THM_MOVT_PREL => Ok(sext(t_imm16_value(thumb32(bytes, offset)?), 16)),
        R_ARM_MOVW_ABS_NC | R_ARM_MOVT_ABS => Ok(sext(a_imm16_value(word()?), 16)),
        R_ARM_CALL | R_ARM_JUMP24 => Ok(sext((word()? & A_B24_MASK) << 2, 26)),
        R_ARM_THM_PC8 => {
            let imm = i64::from(read16(bytes, offset)? & T_IMM8_MASK) << 2;
            Ok(((imm + 4) & 0x3ff) - 4)
        }
        R_ARM_THM_PC12 => {
            let insn = thumb32(bytes, offset)?;
            let imm = i64::from(insn & T_LDR_IMM12_MASK);
            Ok(if insn & T_U_BIT != 0 { imm } else { -imm })
        }
        R_ARM_THM_ALU_PREL_11_0 => {
            let insn = thumb32(bytes, offset)?;
            let imm = i64::from(t_imm12_value(insn));
            Ok(if insn & T_SUBW_BITS == T_SUBW_BITS {
                -imm
            } else {
                imm
            })
        }
        _ => Err(RelocFault::Unsupported),
    }
}

/// Classifies a relocation found in a shared object's dynamic tables.
pub(crate) fn dynamic_class(r_type: u32) -> DynamicClass {
    match r_type {
        R_ARM_NONE => DynamicClass::None,
        R_ARM_RELATIVE => DynamicClass::Relative,
        R_ARM_IRELATIVE => DynamicClass::IRelative,
        R_ARM_ABS32 | R_ARM_GLOB_DAT => DynamicClass::Symbolic,
        R_ARM_JUMP_SLOT => DynamicClass::JumpSlot,
        R_ARM_TLS_DTPMOD32 => DynamicClass::TlsModule,
        R_ARM_TLS_DTPOFF32 => DynamicClass::TlsOffset,
        R_ARM_TLS_TPOFF32 => DynamicClass::TlsStatic,
        R_ARM_TLS_DESC => DynamicClass::TlsDescriptor,
        R_ARM_TLS_GD32 | R_ARM_TLS_LDM32 | R_ARM_TLS_LDO32 | R_ARM_TLS_IE32 | R_ARM_TLS_LE32 => {
            DynamicClass::Tls
        }
        R_ARM_COPY => DynamicClass::Copy,
        _ => DynamicClass::Unknown,
    }
}

/// Writes the veneer described at the top of this file into
/// `bytes[..STUB_SIZE]`, placed at `at` (4-byte aligned), jumping to
/// `target` in the state its bit 0 names.
pub(crate) fn write_stub(bytes: &mut [u8], at: u64, target: u64) {
    debug_assert!(
        at % 4 == 0,
        "veneer literal loads need a word-aligned veneer"
    );
    let stub = &mut bytes[..STUB_SIZE];
    for (slot, insn) in stub.chunks_exact_mut(2).zip(STUB_THUMB) {
        slot.copy_from_slice(&insn.to_le_bytes());
    }
    stub[STUB_LITERAL..STUB_LITERAL + 4].copy_from_slice(&(target as u32).to_le_bytes());
    stub[STUB_ARM_ENTRY as usize..].copy_from_slice(&STUB_ARM.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reloc::testing::{apply_to_word, fixup};
    use elf::abi::{R_ARM_ABS12, R_ARM_THM_JUMP6};

    /// Where the images of these tests start: the assembler's offset 0.
    const BASE: u64 = 0x2000_0000;
    /// An image origin a hosted test might see, above 4 GiB.
    const HIGH: u64 = 0x7f12_3456_0000;

    /// Bare-metal A-profile reading: `TARGET2` as `REL32`, Arm state runs.
    const BARE: ArmAbi = ArmAbi {
        target2_got_relative: false,
        arm_state: true,
    };
    /// Arm Linux: `TARGET2` as `GOT_PREL`.
    const LINUX: ArmAbi = ArmAbi {
        target2_got_relative: true,
        arm_state: true,
    };
    /// A Cortex-M: no Arm state.
    const M_PROFILE: ArmAbi = ArmAbi {
        target2_got_relative: false,
        arm_state: false,
    };

    fn apply_bare(f: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
        apply(f, bytes, offset, BARE)
    }

    /// A fixup against a function symbol (bit 0 of `symbol` is its state).
    fn fix(place: u64, r_type: u32, symbol: u64, addend: i64) -> Fixup {
        Fixup {
            function: true,
            ..fixup(place, r_type, symbol, addend)
        }
    }

    #[test]
    fn undefined_weak_calls_go_to_the_next_instruction() {
        let weak = |place, r_type, addend| Fixup {
            undefined_weak: true,
            stub: Some(place + 0x1000),
            ..fix(place, r_type, 0, addend)
        };
        // Far from address 0 (beyond BL's 16 MiB): `bl` / `blx` become
        // `bl` to the next instruction, offset 0 from the Thumb pc.
        for insn in [[0xf7ff, 0xfffe], [0xf7ff, 0xeffe]] {
            let bl = thumb(&weak(HIGH, R_ARM_THM_CALL, -4), insn).unwrap();
            assert_eq!(bl, [0xf000, 0xf800], "{insn:x?}");
        }
        let b_w = thumb(&weak(HIGH, R_ARM_THM_JUMP24, -4), [0xf7ff, 0xbffe]).unwrap();
        assert_eq!(b_w, [0xf000, 0xb800]);
        // The 16-bit `b` and `b<cond>`: offset -2 to the next halfword.
        for (r_type, insn, out) in [
            (R_ARM_THM_JUMP11, 0xe7fe_u16, 0xe7ff_u16),
            (R_ARM_THM_JUMP8, 0xd0fe, 0xd0ff),
        ] {
            let mut bytes = insn.to_le_bytes();
            apply_bare(&weak(HIGH, r_type, -4), &mut bytes, 0).unwrap();
            assert_eq!(u16::from_le_bytes(bytes), out, "{r_type}");
        }
        // Arm state: offset -4 from the pc (P + 8); `blx` becomes `bl`.
        let bl = arm(&weak(HIGH, R_ARM_CALL, -8), 0xebff_fffe).unwrap();
        assert_eq!(bl, 0xebff_ffff);
        let bl = arm(&weak(HIGH, R_ARM_CALL, -8), 0xfaff_fffe).unwrap();
        assert_eq!(bl, 0xebff_ffff);
        // A data word relative to the place holds the addend.
        let mut word = [0xff; 4];
        apply_bare(&weak(HIGH, R_ARM_REL32, 12), &mut word, 0).unwrap();
        assert_eq!(u32::from_le_bytes(word), 12);
        // On M-profile too: the call stays in Thumb state.
        let mut bytes = [0xff, 0xf7, 0xfe, 0xff];
        apply(&weak(HIGH, R_ARM_THM_CALL, -4), &mut bytes, 0, M_PROFILE).unwrap();
    }

    #[test]
    fn labels_take_the_callers_state_and_m_profile_refuses_arm_state() {
        // `bl` to an even, untyped label stays `bl` (no BLX into Arm).
        let mut label = fix(BASE, R_ARM_THM_CALL, BASE + 0x100, -4);
        label.function = false;
        let bl = thumb(&label, [0xf7ff, 0xfffe]).unwrap();
        assert_eq!(bl[1] & 0x1000, 0x1000, "BL, not BLX");
        // The same target as an Arm-state function: BLX on A-profile ...
        let arm_fn = fix(BASE, R_ARM_THM_CALL, BASE + 0x100, -4);
        let blx = thumb(&arm_fn, [0xf7ff, 0xfffe]).unwrap();
        assert_eq!(blx[1] & 0x1000, 0, "BLX");
        // ... refused on M-profile, as is any Arm-state branch.
        let mut bytes = [0u8; 4];
        assert_eq!(
            apply(&arm_fn, &mut bytes, 0, M_PROFILE),
            Err(RelocFault::Interworking)
        );
        let arm_call = fix(BASE, R_ARM_CALL, BASE + 0x101, -8);
        assert_eq!(
            apply(&arm_call, &mut bytes, 0, M_PROFILE),
            Err(RelocFault::Interworking)
        );
        // A Thumb function and a label are fine on M-profile.
        let thumb_fn = fix(BASE, R_ARM_THM_CALL, BASE + 0x101, -4);
        let mut bytes = [0xff, 0xf7, 0xfe, 0xff];
        apply(&thumb_fn, &mut bytes, 0, M_PROFILE).unwrap();
        let mut bytes = [0xff, 0xf7, 0xfe, 0xff];
        apply(&label, &mut bytes, 0, M_PROFILE).unwrap();
    }

    /// The Thumb-32 instruction `insn` (halfwords in address order) after
    /// `apply` relocated it with `f`.
    fn thumb(f: &Fixup, insn: [u16; 2]) -> Result<[u16; 2], RelocFault> {
        let mut bytes = [0u8; 4];
        bytes[..2].copy_from_slice(&insn[0].to_le_bytes());
        bytes[2..].copy_from_slice(&insn[1].to_le_bytes());
        apply_bare(f, &mut bytes, 0)?;
        Ok([
            u16::from_le_bytes([bytes[0], bytes[1]]),
            u16::from_le_bytes([bytes[2], bytes[3]]),
        ])
    }

    /// The Thumb-16 instruction `insn` after `apply` relocated it with `f`.
    fn thumb16(f: &Fixup, insn: u16) -> Result<u16, RelocFault> {
        let mut bytes = insn.to_le_bytes();
        apply_bare(f, &mut bytes, 0)?;
        Ok(u16::from_le_bytes(bytes))
    }

    /// The Arm instruction `insn` after `apply` relocated it with `f`.
    fn arm(f: &Fixup, insn: u32) -> Result<u32, RelocFault> {
        apply_to_word(apply_bare, f, insn)
    }

    /// The implicit addend of a Thumb-32 instruction.
    fn addend_t32(r_type: u32, insn: [u16; 2]) -> i64 {
        let mut bytes = [0u8; 4];
        bytes[..2].copy_from_slice(&insn[0].to_le_bytes());
        bytes[2..].copy_from_slice(&insn[1].to_le_bytes());
        implicit_addend(r_type, &bytes, 0).unwrap()
    }

    /// The implicit addend of a Thumb-16 instruction.
    fn addend_t16(r_type: u32, insn: u16) -> i64 {
        implicit_addend(r_type, &insn.to_le_bytes(), 0).unwrap()
    }

    /// The implicit addend of a 32-bit word (Arm instruction or data).
    fn addend_a32(r_type: u32, insn: u32) -> i64 {
        implicit_addend(r_type, &insn.to_le_bytes(), 0).unwrap()
    }

    /// A Thumb-32 fixup at assembler offset `at` of an image at `origin`,
    /// to `target` (a Thumb function when `thumb_fn`), with the addend
    /// read from the unrelocated instruction, as the ET_REL loader does.
    fn t32_fix(
        origin: u64,
        r_type: u32,
        at: u64,
        target: u64,
        thumb_fn: bool,
        insn: [u16; 2],
    ) -> Fixup {
        let symbol = origin + target + u64::from(thumb_fn);
        fix(origin + at, r_type, symbol, addend_t32(r_type, insn))
    }

    /// Branch encodings the assembler produced for the same distances.
    #[test]
    fn thumb_branches_match_the_assembler() {
        let bl = [0xf7ff, 0xfffe];
        let blx = [0xf7ff, 0xeffe];
        let bw = [0xf7ff, 0xbffe];
        let beqw = [0xf43f, 0xaffe];
        let bnew = [0xf47f, 0xaffe];
        let bmiw = [0xf53f, 0xaffe];
        for origin in [BASE, HIGH] {
            let cases = [
                (R_ARM_THM_CALL, 0x0, 0x12_3458, true, bl, [0xf123, 0xfa2a]),
                (R_ARM_THM_CALL, 0x4, 0x12_5c74, true, bl, [0xf125, 0xfe36]),
                (R_ARM_THM_CALL, 0xf0c, 0x4, true, bl, [0xf7ff, 0xf87a]),
                // I1 and I2 differ.
                (R_ARM_THM_CALL, 0x0, 0x45_6788, true, bl, [0xf056, 0xf3c2]),
                (R_ARM_THM_JUMP24, 0x4, 0x7f_678a, true, bw, [0xf3f6, 0xb3c1]),
                // BLX written back to BL for a Thumb target.
                (R_ARM_THM_CALL, 0xf0c, 0x4, true, blx, [0xf7ff, 0xf87a]),
                // BL to an Arm function becomes BLX, offset from Align(P, 4).
                (R_ARM_THM_CALL, 0x10, 0x12_345c, false, bl, [0xf123, 0xea24]),
                (R_ARM_THM_CALL, 0xf20, 0x0, false, bl, [0xf7ff, 0xe86e]),
                (R_ARM_THM_CALL, 0xf20, 0x0, false, blx, [0xf7ff, 0xe86e]),
                (R_ARM_THM_JUMP24, 0x8, 0x12_3458, true, bw, [0xf123, 0xba26]),
                (R_ARM_THM_JUMP24, 0xf14, 0x4, true, bw, [0xf7ff, 0xb876]),
                (
                    R_ARM_THM_JUMP19,
                    0xc,
                    0x3_f02c,
                    true,
                    bnew,
                    [0xf07f, 0x800e],
                ),
                (R_ARM_THM_JUMP19, 0xf10, 0x4, true, beqw, [0xf43f, 0xa878]),
                // J1 and J2 differ (they are not swapped like BL's).
                (
                    R_ARM_THM_JUMP19,
                    0x4_5678,
                    0x0,
                    true,
                    beqw,
                    [0xf43a, 0x8cc2],
                ),
                (
                    R_ARM_THM_JUMP19,
                    0x4_567c,
                    0x8_68b0,
                    true,
                    bmiw,
                    [0xf101, 0xa118],
                ),
            ];
            for (r_type, at, target, thumb_fn, insn, want) in cases {
                let f = t32_fix(origin, r_type, at, target, thumb_fn, insn);
                assert_eq!(thumb(&f, insn), Ok(want), "type {r_type} at {at:#x}");
            }
            // Thumb-16 branches: the assembler's `b.n`/`b<cond>.n`.
            for (r_type, at, target, insn, want) in [
                (R_ARM_THM_JUMP11, 0x14, 0x24, 0xe7fe, 0xe006),
                (R_ARM_THM_JUMP11, 0xf24, 0xf0c, 0xe7fe, 0xe7f2),
                (R_ARM_THM_JUMP8, 0x16, 0x24, 0xdcfe, 0xdc05),
                (R_ARM_THM_JUMP8, 0xf26, 0xf0c, 0xdbfe, 0xdbf1),
            ] {
                let f = fix(
                    origin + at,
                    r_type,
                    origin + target,
                    addend_t16(r_type, insn),
                );
                assert_eq!(thumb16(&f, insn), Ok(want), "type {r_type} at {at:#x}");
            }
        }
    }

    #[test]
    fn arm_branches_match_the_assembler() {
        for origin in [BASE, HIGH] {
            for (r_type, at, target, insn, want) in [
                (R_ARM_CALL, 0x6_0f28, 0x0, 0xebff_fffe, 0xebfe_7c34),
                // BL to a Thumb function becomes BLX; H carries bit 1.
                (R_ARM_CALL, 0x6_0f2c, 0x5, 0xebff_fffe, 0xfafe_7c34),
                (R_ARM_CALL, 0x12_345c, 0x12_3c73, 0xebff_fffe, 0xfb00_0203),
                (R_ARM_CALL, 0x12_3460, 0x12_3c71, 0xebff_fffe, 0xfa00_0202),
                // BLX written back to BL for an Arm target.
                (R_ARM_CALL, 0x6_0f28, 0x0, 0xfaff_fffe, 0xebfe_7c34),
                // The condition of a conditional branch is kept.
                (R_ARM_JUMP24, 0x6_0f30, 0x0, 0xcaff_fffe, 0xcafe_7c32),
                (R_ARM_JUMP24, 0x12_3468, 0x12_3c6c, 0xeaff_fffe, 0xea00_01ff),
            ] {
                let f = fix(
                    origin + at,
                    r_type,
                    origin + target,
                    addend_a32(r_type, insn),
                );
                assert_eq!(arm(&f, insn), Ok(want), "type {r_type} at {at:#x}");
            }
        }
    }

    #[test]
    fn implicit_addends() {
        // The assembler's unrelocated instructions: the pc bias.
        assert_eq!(addend_t32(R_ARM_THM_CALL, [0xf7ff, 0xfffe]), -4);
        assert_eq!(addend_t32(R_ARM_THM_CALL, [0xf7ff, 0xeffe]), -4);
        assert_eq!(addend_t32(R_ARM_THM_JUMP24, [0xf7ff, 0xbffe]), -4);
        assert_eq!(addend_t32(R_ARM_THM_JUMP19, [0xf43f, 0xaffe]), -4);
        assert_eq!(addend_t16(R_ARM_THM_JUMP11, 0xe7fe), -4);
        assert_eq!(addend_t16(R_ARM_THM_JUMP8, 0xd0fe), -4);
        assert_eq!(addend_a32(R_ARM_CALL, 0xebff_fffe), -8);
        assert_eq!(addend_a32(R_ARM_JUMP24, 0x0aff_fffe), -8);
        assert_eq!(addend_t16(R_ARM_THM_PC8, 0x49ff), -4);
        assert_eq!(addend_t32(R_ARM_THM_PC12, [0xf85f, 0x1004]), -4);
        assert_eq!(addend_t32(R_ARM_THM_PC12, [0xf8df, 0x3008]), 8);
        assert_eq!(addend_t32(R_ARM_THM_ALU_PREL_11_0, [0xf2af, 0x0404]), -4);
        assert_eq!(addend_t32(R_ARM_THM_ALU_PREL_11_0, [0xf20f, 0x040c]), 12);
        // Resolved instructions give back their displacement.
        assert_eq!(addend_t32(R_ARM_THM_CALL, [0xf123, 0xfa2a]), 0x12_3454);
        assert_eq!(addend_t32(R_ARM_THM_CALL, [0xf7ff, 0xf87a]), -0xf0c);
        assert_eq!(addend_t32(R_ARM_THM_CALL, [0xf123, 0xea24]), 0x12_3448);
        assert_eq!(addend_t32(R_ARM_THM_CALL, [0xf056, 0xf3c2]), 0x45_6784);
        assert_eq!(addend_t32(R_ARM_THM_JUMP24, [0xf3f6, 0xb3c1]), 0x7f_6782);
        assert_eq!(addend_t32(R_ARM_THM_JUMP19, [0xf07f, 0x800e]), 0x3_f01c);
        assert_eq!(addend_t32(R_ARM_THM_JUMP19, [0xf43f, 0xa878]), -0xf10);
        assert_eq!(addend_t32(R_ARM_THM_JUMP19, [0xf43a, 0x8cc2]), -0x4_567c);
        assert_eq!(addend_t32(R_ARM_THM_JUMP19, [0xf101, 0xa118]), 0x4_1230);
        assert_eq!(addend_a32(R_ARM_CALL, 0xebfe_7c34), -0x6_0f30);
        // MOVW/MOVT: the 16-bit field read as signed, MOVT not shifted.
        assert_eq!(addend_t32(R_ARM_THM_MOVW_ABS_NC, [0xf240, 0x0000]), 0);
        assert_eq!(addend_t32(R_ARM_THM_MOVT_ABS, [0xf64f, 0x70ff]), -1);
        assert_eq!(addend_t32(R_ARM_THM_MOVW_PREL_NC, [0xf241, 0x2034]), 0x1234);
        assert_eq!(addend_t32(R_ARM_THM_MOVT_PREL, [0xf2c8, 0x0000]), -0x8000);
        assert_eq!(addend_a32(R_ARM_MOVW_ABS_NC, 0xe301_0234), 0x1234);
        assert_eq!(addend_a32(R_ARM_MOVT_ABS, 0xe348_3000), -0x8000);
        // Data.
        assert_eq!(addend_a32(R_ARM_PREL31, 0x8000_0004), 4);
        assert_eq!(addend_a32(R_ARM_PREL31, 0x7fff_fffc), -4);
        assert_eq!(addend_a32(R_ARM_ABS32, 0xffff_fff0), -16);
        assert_eq!(addend_a32(R_ARM_GOT_PREL, 8), 8);
        assert_eq!(implicit_addend(R_ARM_ABS16, &[0xf0, 0xff], 0), Ok(-16));
        assert_eq!(implicit_addend(R_ARM_ABS8, &[0xf0], 0), Ok(-16));
        // A lazy JUMP_SLOT holds the PLT entry, not an addend.
        assert_eq!(addend_a32(R_ARM_JUMP_SLOT, 0x1_0400), 0);
        // A TLS descriptor keeps its addend in the first word (the second
        // is its function).
        let desc = [0x10, 0, 0, 0, 0x20, 0, 0, 0];
        assert_eq!(implicit_addend(R_ARM_TLS_DESC, &desc, 0), Ok(0x10));
        assert_eq!(
            implicit_addend(R_ARM_TLS_DESC, &desc[..4], 0),
            Err(RelocFault::OutOfBounds)
        );
        assert_eq!(
            implicit_addend(R_ARM_THM_CALL, &[0xff, 0xf7], 0),
            Err(RelocFault::OutOfBounds)
        );
        assert_eq!(
            implicit_addend(R_ARM_THM_JUMP6, &[0, 0], 0),
            Err(RelocFault::Unsupported)
        );
    }

    /// A branch's target, decoded back: the state it enters and its address.
    fn thumb_dest(place: u64, insn: [u16; 2]) -> (bool, u64) {
        let value = (u32::from(insn[0]) << 16) | u32::from(insn[1]);
        let d = t_b24_value(value) as u64;
        if value & T_BL_BIT != 0 {
            (true, place.wrapping_add(4).wrapping_add(d))
        } else {
            (false, (place & !3).wrapping_add(4).wrapping_add(d))
        }
    }

    #[test]
    fn thumb_call_range_and_veneer() {
        let bl = [0xf7ff, 0xfffe];
        let place = BASE + 0x100_0002;
        let call = |target: u64| fix(place, R_ARM_THM_CALL, target, -4);
        // ±16 MiB from P + 4.
        let far = place + 4 + 0xff_fffe;
        let out = thumb(&call(far | 1), bl).unwrap();
        assert_eq!(thumb_dest(place, out), (true, far));
        assert_eq!(thumb(&call((far + 2) | 1), bl), Err(RelocFault::Overflow));
        let near = place + 4 - 0x100_0000;
        assert_eq!(
            thumb_dest(place, thumb(&call(near | 1), bl).unwrap()),
            (true, near)
        );
        assert_eq!(thumb(&call((near - 2) | 1), bl), Err(RelocFault::Overflow));
        // Beyond reach: BL to the veneer's Thumb entry.
        let mut f = call((far + 2) | 1);
        f.stub = Some(BASE + 0x40);
        assert_eq!(
            thumb_dest(place, thumb(&f, bl).unwrap()),
            (true, BASE + 0x40)
        );
        // Only a branch to the symbol itself may use the veneer.
        f.addend = 0;
        assert_eq!(thumb(&f, bl), Err(RelocFault::Overflow));
        // BLX to an Arm function: from Align(P, 4), to ±16 MiB.
        let arm_far = (place & !3) + 4 + 0xff_fffc;
        let out = thumb(&call(arm_far), bl).unwrap();
        assert_eq!(thumb_dest(place, out), (false, arm_far));
        assert_eq!(out[1] & 1, 0, "H is 0 in BLX");
        let mut f = call(arm_far + 4);
        assert_eq!(thumb(&f, bl), Err(RelocFault::Overflow));
        // Out of BLX range: BL to the veneer, which changes state.
        f.stub = Some(BASE + 0x40);
        assert_eq!(
            thumb_dest(place, thumb(&f, bl).unwrap()),
            (true, BASE + 0x40)
        );
        // The 32-bit address space wraps, as the pc does.
        let low = fix(0x10, R_ARM_THM_CALL, 0xffff_f001, -4);
        let (thumb_state, dest) = thumb_dest(0x10, thumb(&low, bl).unwrap());
        assert_eq!((thumb_state, dest as u32), (true, 0xffff_f000));
    }

    #[test]
    fn thumb_jumps_change_state_only_through_the_veneer() {
        let bw = [0xf7ff, 0xbffe];
        let beqw = [0xf43f, 0xaffe];
        let place = HIGH + 0x20_0000;
        let decode24 = |insn: [u16; 2]| {
            let d = t_b24_value((u32::from(insn[0]) << 16) | u32::from(insn[1]));
            place.wrapping_add(4).wrapping_add(d as u64)
        };
        let decode19 = |insn: [u16; 2]| {
            let d = t_b19_value((u32::from(insn[0]) << 16) | u32::from(insn[1]));
            place.wrapping_add(4).wrapping_add(d as u64)
        };
        // B.W: ±16 MiB.
        let far = place + 4 + 0xff_fffe;
        let out = thumb(&fix(place, R_ARM_THM_JUMP24, far | 1, -4), bw).unwrap();
        assert_eq!(decode24(out), far);
        assert_eq!(out[1] & 0xd000, 0x9000, "still B.W");
        let mut f = fix(place, R_ARM_THM_JUMP24, (far + 2) | 1, -4);
        assert_eq!(thumb(&f, bw), Err(RelocFault::Overflow));
        f.stub = Some(place - 0x1000);
        assert_eq!(decode24(thumb(&f, bw).unwrap()), place - 0x1000);
        // B<cond>.W: ±1 MiB; the condition is kept.
        let far = place + 4 + 0xf_fffe;
        let out = thumb(&fix(place, R_ARM_THM_JUMP19, far | 1, -4), beqw).unwrap();
        assert_eq!(decode19(out), far);
        assert_eq!(out[0] & 0xfbc0, 0xf000, "still BEQ.W");
        let back = place + 4 - 0x10_0000;
        let out = thumb(&fix(place, R_ARM_THM_JUMP19, back | 1, -4), beqw).unwrap();
        assert_eq!(decode19(out), back);
        let mut f = fix(place, R_ARM_THM_JUMP19, (back - 2) | 1, -4);
        assert_eq!(thumb(&f, beqw), Err(RelocFault::Overflow));
        f.stub = Some(place + 0x100);
        assert_eq!(decode19(thumb(&f, beqw).unwrap()), place + 0x100);
        // To an Arm function, near or not: only through the veneer.
        let mut f = fix(place, R_ARM_THM_JUMP24, place + 0x100, -4);
        assert_eq!(thumb(&f, bw), Err(RelocFault::Overflow));
        f.stub = Some(place + 0x40);
        assert_eq!(decode24(thumb(&f, bw).unwrap()), place + 0x40);
        let mut f = fix(place, R_ARM_THM_JUMP19, place + 0x100, -4);
        assert_eq!(thumb(&f, beqw), Err(RelocFault::Overflow));
        f.stub = Some(place + 0x40);
        assert_eq!(decode19(thumb(&f, beqw).unwrap()), place + 0x40);
    }

    #[test]
    fn thumb16_branch_ranges() {
        let place = BASE + 0x1000;
        let b = |target: u64| thumb16(&fix(place, R_ARM_THM_JUMP11, target, -4), 0xe7fe);
        assert_eq!(b(place + 4 + 2046), Ok(0xe000 | 0x3ff));
        assert_eq!(b(place + 4 - 2048), Ok(0xe400));
        assert_eq!(b(place + 4 + 2048), Err(RelocFault::Overflow));
        assert_eq!(b(place + 4 - 2050), Err(RelocFault::Overflow));
        // A Thumb function's bit 0 is not part of the offset.
        assert_eq!(b((place + 8) | 1), Ok(0xe002));
        let bc = |target: u64| thumb16(&fix(place, R_ARM_THM_JUMP8, target, -4), 0xd1fe);
        assert_eq!(bc(place + 4 + 254), Ok(0xd17f));
        assert_eq!(bc(place + 4 - 256), Ok(0xd180));
        assert_eq!(bc(place + 4 + 256), Err(RelocFault::Overflow));
        assert_eq!(bc(place + 4 - 258), Err(RelocFault::Overflow));
    }

    #[test]
    fn arm_branch_range_and_veneer() {
        let place = BASE + 0x400_0000;
        let bl = 0xebff_fffe;
        let b = 0xeaff_fffe;
        let dest = |insn: u32| {
            let d = sext((insn & A_B24_MASK) << 2, 26) as u64;
            let h = if insn >> 25 == 0x7d {
                u64::from((insn >> 23) & 2)
            } else {
                0
            };
            place.wrapping_add(8).wrapping_add(d).wrapping_add(h)
        };
        // ±32 MiB from P + 8.
        let far = place + 8 + 0x1ff_fffc;
        assert_eq!(
            dest(arm(&fix(place, R_ARM_CALL, far, -8), bl).unwrap()),
            far
        );
        let mut f = fix(place, R_ARM_CALL, far + 4, -8);
        assert_eq!(arm(&f, bl), Err(RelocFault::Overflow));
        // Beyond reach: BL to the veneer's Arm entry.
        f.stub = Some(place - 0x40);
        let out = arm(&f, bl).unwrap();
        assert_eq!(
            (out >> 24, dest(out)),
            (0xeb, place - 0x40 + STUB_ARM_ENTRY)
        );
        let back = place + 8 - 0x200_0000;
        assert_eq!(
            dest(arm(&fix(place, R_ARM_JUMP24, back, -8), b).unwrap()),
            back
        );
        let mut f = fix(place, R_ARM_JUMP24, back - 4, -8);
        assert_eq!(arm(&f, b), Err(RelocFault::Overflow));
        f.stub = Some(place + 0x80);
        assert_eq!(dest(arm(&f, b).unwrap()), place + 0x80 + STUB_ARM_ENTRY);
        // BLX to a Thumb function at an odd halfword: H set.
        let out = arm(&fix(place, R_ARM_CALL, (place + 8 + 0x102) | 1, -8), bl).unwrap();
        assert_eq!((out >> 24, dest(out)), (0xfb, place + 8 + 0x102));
        // JUMP24 to a Thumb function: only through the veneer.
        let mut f = fix(place, R_ARM_JUMP24, (place + 0x100) | 1, -8);
        assert_eq!(arm(&f, b), Err(RelocFault::Overflow));
        f.stub = Some(place + 0x80);
        assert_eq!(dest(arm(&f, b).unwrap()), place + 0x80 + STUB_ARM_ENTRY);
        // Misaligned Arm target.
        assert_eq!(
            arm(&fix(place, R_ARM_JUMP24, place + 0x102, -8), b),
            Err(RelocFault::Overflow)
        );
    }

    #[test]
    fn movw_movt_pairs() {
        let movw = [0xf240, 0x0000];
        let movt = [0xf2c0, 0x0000];
        for origin in [BASE, HIGH] {
            let place = origin + 0x10;
            let abs = |t, s| {
                thumb(
                    &fix(place, t, s, 0),
                    if t == R_ARM_THM_MOVW_ABS_NC {
                        movw
                    } else {
                        movt
                    },
                )
            };
            // The assembler's `movw/movt r0, #0x1234/#0x5678` and `#0xffff/#0x8000`.
            assert_eq!(
                abs(R_ARM_THM_MOVW_ABS_NC, 0x5678_1234),
                Ok([0xf241, 0x2034])
            );
            assert_eq!(abs(R_ARM_THM_MOVT_ABS, 0x5678_1234), Ok([0xf2c5, 0x6078]));
            assert_eq!(
                abs(R_ARM_THM_MOVW_ABS_NC, 0x8000_ffff),
                Ok([0xf64f, 0x70ff])
            );
            assert_eq!(abs(R_ARM_THM_MOVT_ABS, 0x8000_ffff), Ok([0xf2c8, 0x0000]));
            // A Thumb function keeps its bit in MOVW.
            assert_eq!(
                abs(R_ARM_THM_MOVW_ABS_NC, 0x5678_1235),
                Ok([0xf241, 0x2035])
            );
            // PC-relative: the pair's places differ by 4.
            let target = place + 0x1_2345_6789;
            let lo = thumb(&fix(place, R_ARM_THM_MOVW_PREL_NC, target, 0), movw).unwrap();
            let hi = thumb(&fix(place + 4, R_ARM_THM_MOVT_PREL, target, 4), movt).unwrap();
            let value =
                |insn: [u16; 2]| t_imm16_value((u32::from(insn[0]) << 16) | u32::from(insn[1]));
            assert_eq!((value(hi) << 16) | value(lo), 0x2345_6789);
            let back = thumb(&fix(place, R_ARM_THM_MOVT_PREL, place - 0x10, 0), movt).unwrap();
            assert_eq!(value(back), 0xffff);
            // Arm state: the assembler's encodings.
            let movw_a = 0xe300_3000;
            let movt_a = 0xe340_3000;
            assert_eq!(
                arm(&fix(place, R_ARM_MOVW_ABS_NC, 0x8000_ffff, 0), movw_a),
                Ok(0xe30f_3fff)
            );
            assert_eq!(
                arm(&fix(place, R_ARM_MOVT_ABS, 0x8000_ffff, 0), movt_a),
                Ok(0xe348_3000)
            );
            assert_eq!(
                arm(&fix(place, R_ARM_MOVW_ABS_NC, 0x5678_1234, 0), 0xe300_0000),
                Ok(0xe301_0234)
            );
            assert_eq!(
                arm(&fix(place, R_ARM_MOVT_ABS, 0x5678_1234, 0), 0xe340_0000),
                Ok(0xe345_0678)
            );
        }
        // A REL addend read from MOVT is added before taking the high half.
        let movt_m1 = [0xf6cf, 0x70ff];
        let a = addend_t32(R_ARM_THM_MOVT_ABS, movt_m1);
        assert_eq!(a, -1);
        let out = thumb(&fix(BASE, R_ARM_THM_MOVT_ABS, 0x1_0000, a), movt_m1).unwrap();
        assert_eq!(out, [0xf2c0, 0x0000]);
    }

    #[test]
    fn pc_relative_loads_and_adr() {
        for origin in [BASE, HIGH] {
            // The assembler's `addw r4, pc, #12`, `subw r2, pc, #3864`,
            // `ldr.w r5, [pc, #8]`, `ldr.w r1, [pc, #-3860]`, `ldr r6, [pc, #4]`.
            let cases = [
                (
                    R_ARM_THM_ALU_PREL_11_0,
                    0x18,
                    0x28,
                    [0xf2af, 0x0404],
                    [0xf20f, 0x040c],
                ),
                (
                    R_ARM_THM_ALU_PREL_11_0,
                    0xf1c,
                    0x8,
                    [0xf2af, 0x0204],
                    [0xf6af, 0x7218],
                ),
                (
                    R_ARM_THM_PC12,
                    0x1c,
                    0x28,
                    [0xf85f, 0x5004],
                    [0xf8df, 0x5008],
                ),
                (
                    R_ARM_THM_PC12,
                    0xf18,
                    0x8,
                    [0xf85f, 0x1004],
                    [0xf85f, 0x1f14],
                ),
            ];
            for (r_type, at, target, insn, want) in cases {
                let f = t32_fix(origin, r_type, at, target, false, insn);
                assert_eq!(thumb(&f, insn), Ok(want), "type {r_type} at {at:#x}");
            }
            let f = fix(
                origin + 0x20,
                R_ARM_THM_PC8,
                origin + 0x28,
                addend_t16(R_ARM_THM_PC8, 0x4eff),
            );
            assert_eq!(thumb16(&f, 0x4eff), Ok(0x4e01));
        }
        let place = BASE + 0x102;
        let pa = BASE + 0x100;
        // LDR (literal), narrow: 0..=1020 from Pa + 4, word aligned.
        let pc8 = |target: u64| thumb16(&fix(place, R_ARM_THM_PC8, target, -4), 0x4800);
        assert_eq!(pc8(pa + 4 + 1020), Ok(0x48ff));
        assert_eq!(pc8(pa + 4), Ok(0x4800));
        assert_eq!(pc8(pa + 4 + 1024), Err(RelocFault::Overflow));
        assert_eq!(pc8(pa), Err(RelocFault::Overflow));
        assert_eq!(pc8(pa + 6), Err(RelocFault::Overflow));
        // LDR.W (literal): ±4095 with the U bit.
        let pc12 = |target: u64| thumb(&fix(place, R_ARM_THM_PC12, target, -4), [0xf8df, 0x0000]);
        assert_eq!(pc12(pa + 4 + 4095), Ok([0xf8df, 0x0fff]));
        assert_eq!(pc12(pa + 4 - 4095), Ok([0xf85f, 0x0fff]));
        assert_eq!(pc12(pa + 4 + 4096), Err(RelocFault::Overflow));
        assert_eq!(pc12(pa + 4 - 4096), Err(RelocFault::Overflow));
        // ADR.W: ADDW or SUBW, ±4095; a Thumb function keeps its bit.
        let adr = |target: u64| {
            thumb(
                &fix(place, R_ARM_THM_ALU_PREL_11_0, target, -4),
                [0xf20f, 0x0300],
            )
        };
        assert_eq!(adr((pa + 4 + 0x800) | 1), Ok([0xf60f, 0x0301]));
        assert_eq!(adr(pa + 4 - 4095), Ok([0xf6af, 0x73ff]));
        assert_eq!(adr(pa + 4 + 4096), Err(RelocFault::Overflow));
        assert_eq!(adr(pa + 4 - 4096), Err(RelocFault::Overflow));
    }

    /// `value` applied as `r_type` to a 4-byte field holding `initial`.
    fn data(
        r_type: u32,
        place: u64,
        symbol: u64,
        addend: i64,
        initial: u32,
    ) -> Result<u32, RelocFault> {
        apply_to_word(apply_bare, &fix(place, r_type, symbol, addend), initial)
    }

    #[test]
    fn data_fields() {
        let place = HIGH + 0x100;
        // 32-bit words hold the low 32 bits; a Thumb function keeps bit 0.
        assert_eq!(
            data(R_ARM_ABS32, place, HIGH + 0x1235, 4, 0),
            Ok(0x3456_1239)
        );
        assert_eq!(data(R_ARM_TARGET1, place, 0x8001, 0, 0), Ok(0x8001));
        assert_eq!(
            data(R_ARM_REL32, place, place - 0x10, 0, 0),
            Ok(0xffff_fff0)
        );
        assert_eq!(data(R_ARM_TARGET2, place, place + 0x11, 0, 0), Ok(0x11));
        assert_eq!(
            data(R_ARM_GLOB_DAT, place, 0x2000_0101, 0, 0),
            Ok(0x2000_0101)
        );
        assert_eq!(
            data(R_ARM_JUMP_SLOT, place, HIGH + 0x2001, 0, 0),
            Ok(0x3456_2001)
        );
        let mut f = fix(place, R_ARM_RELATIVE, 0, 0x1234);
        f.base = HIGH;
        assert_eq!(apply_to_word(apply_bare, &f, 0), Ok(0x3456_1234));
        // PREL31: 31-bit signed, bit 31 of the place kept.
        assert_eq!(
            data(R_ARM_PREL31, place, place + 0x3fff_ffff, 0, 0x8000_0000),
            Ok(0xbfff_ffff)
        );
        assert_eq!(
            data(R_ARM_PREL31, place, place - 0x4000_0000, 0, 0),
            Ok(0x4000_0000)
        );
        assert_eq!(
            data(R_ARM_PREL31, place, place + 0x4000_0000, 0, 0),
            Err(RelocFault::Overflow)
        );
        assert_eq!(
            data(R_ARM_PREL31, place, place - 0x4000_0001, 0, 0),
            Err(RelocFault::Overflow)
        );
        // ABS16 and ABS8: signed or unsigned results.
        let mut b = [0u8; 2];
        apply_bare(&fix(place, R_ARM_ABS16, 0xffff, 0), &mut b, 0).unwrap();
        assert_eq!(b, [0xff, 0xff]);
        apply_bare(&fix(place, R_ARM_ABS16, 0, -0x8000), &mut b, 0).unwrap();
        assert_eq!(b, [0x00, 0x80]);
        assert_eq!(
            apply_bare(&fix(place, R_ARM_ABS16, 0x1_0000, 0), &mut b, 0),
            Err(RelocFault::Overflow)
        );
        assert_eq!(
            apply_bare(&fix(place, R_ARM_ABS16, 0, -0x8001), &mut b, 0),
            Err(RelocFault::Overflow)
        );
        apply_bare(&fix(place, R_ARM_ABS8, 0x80, 0x7f), &mut b, 0).unwrap();
        assert_eq!(b[0], 0xff);
        apply_bare(&fix(place, R_ARM_ABS8, 0, -0x80), &mut b, 1).unwrap();
        assert_eq!(b[1], 0x80);
        assert_eq!(
            apply_bare(&fix(place, R_ARM_ABS8, 0x100, 0), &mut b, 0),
            Err(RelocFault::Overflow)
        );
        assert_eq!(
            apply_bare(&fix(place, R_ARM_ABS8, 0, -0x81), &mut b, 0),
            Err(RelocFault::Overflow)
        );
        // Checked on the 32-bit result: 0xffff_ff80 is -128.
        apply_bare(&fix(place, R_ARM_ABS8, 0xffff_ff80, 0), &mut b, 0).unwrap();
        assert_eq!(b[0], 0x80);
        // V4BX and NONE leave the place alone.
        assert_eq!(data(R_ARM_V4BX, place, 0, 0, 0xe12f_ff1e), Ok(0xe12f_ff1e));
        assert_eq!(
            data(R_ARM_NONE, place, 0x1234, 0, 0xdead_beef),
            Ok(0xdead_beef)
        );
        assert_eq!(
            data(R_ARM_ABS12, place, 0, 0, 0),
            Err(RelocFault::Unsupported)
        );
        assert_eq!(
            data(R_ARM_TLS_DTPOFF32, place, 0, 0, 0),
            Err(RelocFault::Unsupported)
        );
        assert_eq!(
            apply_bare(&fix(place, R_ARM_ABS32, 0, 0), &mut b, 0),
            Err(RelocFault::OutOfBounds)
        );
    }

    #[test]
    fn got_forms_and_target2() {
        let place = HIGH + 0x100;
        let mut f = fix(place, R_ARM_GOT_PREL, 0x1001, 0);
        assert_eq!(
            apply_to_word(apply_bare, &f, 0),
            Err(RelocFault::Unsupported)
        );
        f.got = HIGH + 0x2_0000;
        f.got_slot = Some(HIGH + 0x2_0010);
        assert_eq!(apply_to_word(apply_bare, &f, 0), Ok(0x1_ff10));
        f.r_type = R_ARM_GOT_BREL;
        f.addend = 4;
        assert_eq!(apply_to_word(apply_bare, &f, 0), Ok(0x14));
        f.r_type = R_ARM_GOTOFF32;
        assert_eq!(
            apply_to_word(apply_bare, &f, 0),
            Ok((0x1005u64.wrapping_sub(HIGH + 0x2_0000)) as u32)
        );
        f.r_type = R_ARM_BASE_PREL;
        f.addend = 0;
        assert_eq!(apply_to_word(apply_bare, &f, 0), Ok(0x1_ff00));
        // TARGET2: REL32 by default, GOT_PREL when the platform says so.
        f.r_type = R_ARM_TARGET2;
        assert_eq!(
            apply_to_word(apply_bare, &f, 0),
            Ok((0x1001u64.wrapping_sub(place)) as u32)
        );
        let mut bytes = [0u8; 4];
        apply(&f, &mut bytes, 0, LINUX).unwrap();
        assert_eq!(u32::from_le_bytes(bytes), 0x1_ff10);
        assert!(!needs(R_ARM_TARGET2, BARE).got_slot);
        assert!(needs(R_ARM_TARGET2, LINUX).got_slot);
    }

    #[test]
    fn needs_table() {
        let n = |slot, base, stub| Needs {
            got_slot: slot,
            got_base: base,
            stub,
        };
        assert_eq!(needs(R_ARM_GOT_BREL, BARE), n(true, true, false));
        assert_eq!(needs(R_ARM_GOT_PREL, BARE), n(true, false, false));
        assert_eq!(needs(R_ARM_GOTOFF32, BARE), n(false, true, false));
        assert_eq!(needs(R_ARM_BASE_PREL, BARE), n(false, true, false));
        for t in [
            R_ARM_THM_CALL,
            R_ARM_THM_JUMP24,
            R_ARM_THM_JUMP19,
            R_ARM_CALL,
            R_ARM_JUMP24,
        ] {
            assert_eq!(needs(t, BARE), n(false, false, true));
        }
        for t in [
            R_ARM_THM_JUMP11,
            R_ARM_THM_JUMP8,
            R_ARM_ABS32,
            R_ARM_REL32,
            R_ARM_TARGET2,
        ] {
            assert_eq!(needs(t, BARE), Needs::default());
        }
    }

    #[test]
    fn dynamic_classes() {
        for (t, class) in [
            (R_ARM_NONE, DynamicClass::None),
            (R_ARM_RELATIVE, DynamicClass::Relative),
            (R_ARM_IRELATIVE, DynamicClass::IRelative),
            (R_ARM_ABS32, DynamicClass::Symbolic),
            (R_ARM_GLOB_DAT, DynamicClass::Symbolic),
            (R_ARM_JUMP_SLOT, DynamicClass::JumpSlot),
            (R_ARM_TLS_DTPMOD32, DynamicClass::TlsModule),
            (R_ARM_TLS_DTPOFF32, DynamicClass::TlsOffset),
            (R_ARM_TLS_TPOFF32, DynamicClass::TlsStatic),
            (R_ARM_TLS_DESC, DynamicClass::TlsDescriptor),
            (R_ARM_TLS_IE32, DynamicClass::Tls),
            (R_ARM_COPY, DynamicClass::Copy),
            (R_ARM_THM_CALL, DynamicClass::Unknown),
        ] {
            assert_eq!(dynamic_class(t), class, "type {t}");
        }
        // DTPOFF32 values are plain offsets into the block.
        assert_eq!(TLS_DTV_OFFSET, 0);
    }

    #[test]
    fn veneer() {
        let at = BASE + 0x1_0000;
        let target = 0x0800_1235;
        let mut v = [0u8; STUB_SIZE + 4];
        write_stub(&mut v, at, target);
        let half = |i: usize| u16::from_le_bytes([v[i], v[i + 1]]);
        // The assembler's `push {r0, r1}; ldr r0, [pc, #4]; str r0, [sp, #4];
        // pop {r0, pc}` and `ldr pc, [pc, #-12]`.
        assert_eq!(
            [half(0), half(2), half(4), half(6)],
            [0xb403, 0x4801, 0x9001, 0xbd01]
        );
        let literal = u32::from_le_bytes(v[8..12].try_into().unwrap());
        assert_eq!(literal, 0x0800_1235, "the target with its Thumb bit");
        let arm_entry = u32::from_le_bytes(v[12..16].try_into().unwrap());
        assert_eq!(arm_entry, 0xe51f_f00c);
        assert_eq!(&v[16..], &[0; 4], "nothing past the veneer");
        // Decoded: both loads read the literal.
        let thumb_load = (at + 2 + 4) & !3;
        assert_eq!(thumb_load + u64::from(half(2) & 0xff) * 4, at + 8);
        let arm_load = at + STUB_ARM_ENTRY + 8;
        assert_eq!(arm_entry & (1 << 23), 0, "subtracts");
        assert_eq!(arm_load - u64::from(arm_entry & 0xfff), at + 8);
        // The Thumb entry restores r0 and r1: it pushes both and pops r0 with pc.
        assert_eq!(half(0) & 0x1ff, 0b11);
        assert_eq!(half(6) & 0x1ff, 0x101);
        // The str overwrites the saved r1 (at sp + 4) with the literal in r0.
        assert_eq!((half(4) >> 8) & 7, 0);
        assert_eq!(half(4) & 0xff, 1);
        // An Arm target: bit 0 clear, so the load enters Arm state.
        write_stub(&mut v, at, 0x0800_1000);
        assert_eq!(
            u32::from_le_bytes(v[8..12].try_into().unwrap()),
            0x0800_1000
        );
    }
}
