//! AArch64 relocations (ELF for the Arm 64-bit Architecture, AAELF64,
//! "Relocation codes"), for objects and shared objects from gcc and clang in
//! the tiny, small and large code models, PIC (`-fpic`, `-fPIC`) or not.
//!
//! Notation: S symbol, A addend, P place, B load bias, GOT table address,
//! G(S) the symbol's slot, Page(x) = x with its low 12 bits cleared. Fields
//! that drop low bits (branches, scaled loads and stores) check alignment as
//! well as range; every check failure is an overflow.

use elf::abi::{
    R_AARCH64_ABS16, R_AARCH64_ABS32, R_AARCH64_ABS64, R_AARCH64_ADD_ABS_LO12_NC,
    R_AARCH64_ADR_GOT_PAGE, R_AARCH64_ADR_PREL_LO21, R_AARCH64_ADR_PREL_PG_HI21,
    R_AARCH64_ADR_PREL_PG_HI21_NC, R_AARCH64_CALL26, R_AARCH64_CONDBR19, R_AARCH64_COPY,
    R_AARCH64_GLOB_DAT, R_AARCH64_GOTREL32, R_AARCH64_GOTREL64, R_AARCH64_GOT_LD_PREL19,
    R_AARCH64_IRELATIVE, R_AARCH64_JUMP26, R_AARCH64_JUMP_SLOT, R_AARCH64_LD64_GOTPAGE_LO15,
    R_AARCH64_LD64_GOT_LO12_NC, R_AARCH64_LDST128_ABS_LO12_NC, R_AARCH64_LDST16_ABS_LO12_NC,
    R_AARCH64_LDST32_ABS_LO12_NC, R_AARCH64_LDST64_ABS_LO12_NC, R_AARCH64_LDST8_ABS_LO12_NC,
    R_AARCH64_LD_PREL_LO19, R_AARCH64_MOVW_PREL_G0, R_AARCH64_MOVW_PREL_G0_NC,
    R_AARCH64_MOVW_PREL_G1, R_AARCH64_MOVW_PREL_G1_NC, R_AARCH64_MOVW_PREL_G2,
    R_AARCH64_MOVW_PREL_G2_NC, R_AARCH64_MOVW_PREL_G3, R_AARCH64_MOVW_SABS_G0,
    R_AARCH64_MOVW_SABS_G1, R_AARCH64_MOVW_SABS_G2, R_AARCH64_MOVW_UABS_G0,
    R_AARCH64_MOVW_UABS_G0_NC, R_AARCH64_MOVW_UABS_G1, R_AARCH64_MOVW_UABS_G1_NC,
    R_AARCH64_MOVW_UABS_G2, R_AARCH64_MOVW_UABS_G2_NC, R_AARCH64_MOVW_UABS_G3, R_AARCH64_NONE,
    R_AARCH64_PREL16, R_AARCH64_PREL32, R_AARCH64_PREL64, R_AARCH64_RELATIVE, R_AARCH64_TLSDESC,
    R_AARCH64_TLS_DTPMOD, R_AARCH64_TLS_DTPREL, R_AARCH64_TLS_TPREL, R_AARCH64_TSTBR14,
};

use super::field::{any16, any32, fits_signed, patch32, put};
use super::fixup::{reach, DynamicClass, Fixup, Needs, RelocFault};

/// The withdrawn second "no relocation" code, still accepted by linkers.
const R_AARCH64_NONE_OLD: u32 = 256;

/// What `__tls_get_addr` adds to the offset it is given, and `DTPREL`
/// values have subtracted (the psABI's `TLS_DTV_OFFSET`): none.
pub(crate) const TLS_DTV_OFFSET: u64 = 0;

/// `ldr x16, #8; br x16` followed by the 64-bit target: reaches any address
/// and clobbers only IP0, which AAPCS64 reserves for veneers.
pub(crate) const STUB_SIZE: usize = 16;
const STUB_CODE: [u32; 2] = [0x5800_0050, 0xd61f_0200];

/// Immediate bits of each instruction class.
const ADR_MASK: u32 = 0x60ff_ffe0;
const IMM12_MASK: u32 = 0x003f_fc00;
const B26_MASK: u32 = 0x03ff_ffff;
const IMM19_MASK: u32 = 0x00ff_ffe0;
const IMM14_MASK: u32 = 0x0007_ffe0;
const IMM16_MASK: u32 = 0x001f_ffe0;
/// The `opc` field choosing between MOVN (00) and MOVZ (10).
const MOV_OPC_MASK: u32 = 0x6000_0000;
const MOVZ: u32 = 0x4000_0000;
const MOVN: u32 = 0;
/// `MOVZ Xd, #0`, and the destination register field every form shares.
const MOVZ_X: u32 = 0xd280_0000;
const RD_MASK: u32 = 0x1f;

pub(crate) fn needs(r_type: u32) -> Needs {
    match r_type {
        R_AARCH64_ADR_GOT_PAGE | R_AARCH64_LD64_GOT_LO12_NC | R_AARCH64_GOT_LD_PREL19 => Needs {
            got_slot: true,
            got_base: false,
            stub: false,
        },
        R_AARCH64_LD64_GOTPAGE_LO15 => Needs {
            got_slot: true,
            got_base: true,
            stub: false,
        },
        R_AARCH64_GOTREL64 | R_AARCH64_GOTREL32 => Needs {
            got_slot: false,
            got_base: true,
            stub: false,
        },
        R_AARCH64_CALL26 | R_AARCH64_JUMP26 => Needs {
            got_slot: false,
            got_base: false,
            stub: true,
        },
        _ => Needs::default(),
    }
}

fn page(x: u64) -> u64 {
    x & !0xfff
}

fn slot(fix: &Fixup) -> Result<u64, RelocFault> {
    fix.got_slot
        .map(|s| s.wrapping_add(fix.addend as u64))
        .ok_or(RelocFault::Unsupported)
}

/// ADR/ADRP immediate: `imm` split into immlo (bits 30:29) and immhi (23:5).
fn adr_imm(imm: u64) -> u32 {
    let imm = imm as u32;
    ((imm & 3) << 29) | (((imm >> 2) & 0x7_ffff) << 5)
}

/// ADRP to the page of `target`, checked to ±4 GiB unless `nc`.
fn adrp(
    bytes: &mut [u8],
    offset: usize,
    target: u64,
    place: u64,
    nc: bool,
) -> Result<(), RelocFault> {
    let delta = page(target).wrapping_sub(page(place));
    if !nc && !fits_signed(delta as i64, 33) {
        return Err(RelocFault::Overflow);
    }
    patch32(bytes, offset, ADR_MASK, adr_imm(delta >> 12))
}

/// A 12-bit unsigned offset of a load/store of `1 << scale` bytes.
fn lo12(bytes: &mut [u8], offset: usize, value: u64, scale: u32) -> Result<(), RelocFault> {
    let lo = value & 0xfff;
    if lo & ((1 << scale) - 1) != 0 {
        return Err(RelocFault::Overflow);
    }
    patch32(bytes, offset, IMM12_MASK, ((lo >> scale) as u32) << 10)
}

/// A word-aligned pc-relative displacement in a signed field of `bits` bits
/// (counting the two dropped low bits) at bit 5.
fn pcrel_words(
    bytes: &mut [u8],
    offset: usize,
    delta: u64,
    bits: u32,
    mask: u32,
) -> Result<(), RelocFault> {
    if delta % 4 != 0 || !fits_signed(delta as i64, bits) {
        return Err(RelocFault::Overflow);
    }
    patch32(bytes, offset, mask, ((delta >> 2) as u32) << 5)
}

/// MOVZ/MOVK immediate: bits `16*group ..` of `value`, checked to fit in
/// `16*(group+1)` bits unsigned unless `nc`.
fn movw_unsigned(
    bytes: &mut [u8],
    offset: usize,
    value: u64,
    group: u32,
    nc: bool,
) -> Result<(), RelocFault> {
    let top = 16 * (group + 1);
    if !nc && top < 64 && value >> top != 0 {
        return Err(RelocFault::Overflow);
    }
    let imm = (value >> (16 * group)) as u32 & 0xffff;
    patch32(bytes, offset, IMM16_MASK, imm << 5)
}

/// A signed group: MOVZ of the bits for a non-negative value, MOVN of the
/// inverted bits for a negative one; checked unless `group` is 3.
fn movw_signed(bytes: &mut [u8], offset: usize, value: u64, group: u32) -> Result<(), RelocFault> {
    let v = value as i64;
    if group < 3 && !fits_signed(v, 16 * (group + 1) + 1) {
        return Err(RelocFault::Overflow);
    }
    let (opc, bits) = if v < 0 { (MOVN, !value) } else { (MOVZ, value) };
    let imm = (bits >> (16 * group)) as u32 & 0xffff;
    patch32(bytes, offset, IMM16_MASK | MOV_OPC_MASK, (imm << 5) | opc)
}

/// A PC-relative relocation against an undefined weak symbol, as AAELF64
/// ("Weak References", "Call and Jump relocations", "Relocation
/// optimization") has it: a branch goes to the next instruction (a call
/// becomes a no-op); `ADRP` and `ADR` become `MOVZ` of the absolute value,
/// so with its absolute `LO12` partner the address is S + A (null); any
/// other PC-relative type takes the place as the symbol's value. `None`
/// for the types that are not PC-relative.
fn undefined_weak(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Option<Result<(), RelocFault>> {
    let a = fix.addend as u64;
    let movz = |bytes: &mut [u8], value: u64| {
        if value > 0xffff {
            return Err(RelocFault::Overflow);
        }
        patch32(bytes, offset, !RD_MASK, MOVZ_X | ((value as u32) << 5))
    };
    let next = Fixup {
        symbol: fix.place.wrapping_add(4),
        addend: 0,
        stub: None,
        undefined_weak: false,
        ..*fix
    };
    let at_place = Fixup {
        symbol: fix.place,
        undefined_weak: false,
        ..*fix
    };
    Some(match fix.r_type {
        R_AARCH64_CALL26 | R_AARCH64_JUMP26 | R_AARCH64_CONDBR19 | R_AARCH64_TSTBR14 => {
            apply(&next, bytes, offset)
        }
        R_AARCH64_ADR_PREL_PG_HI21 | R_AARCH64_ADR_PREL_PG_HI21_NC => {
            movz(bytes, page(fix.symbol.wrapping_add(a)))
        }
        R_AARCH64_ADR_PREL_LO21 => movz(bytes, fix.symbol.wrapping_add(a)),
        R_AARCH64_PREL64
        | R_AARCH64_PREL32
        | R_AARCH64_PREL16
        | R_AARCH64_LD_PREL_LO19
        | R_AARCH64_MOVW_PREL_G0
        | R_AARCH64_MOVW_PREL_G0_NC
        | R_AARCH64_MOVW_PREL_G1
        | R_AARCH64_MOVW_PREL_G1_NC
        | R_AARCH64_MOVW_PREL_G2
        | R_AARCH64_MOVW_PREL_G2_NC
        | R_AARCH64_MOVW_PREL_G3 => apply(&at_place, bytes, offset),
        _ => return None,
    })
}

pub(crate) fn apply(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    if fix.undefined_weak {
        if let Some(done) = undefined_weak(fix, bytes, offset) {
            return done;
        }
    }
    let (s, a, p) = (fix.symbol, fix.addend as u64, fix.place);
    let sa = s.wrapping_add(a);
    let prel = sa.wrapping_sub(p);
    match fix.r_type {
        R_AARCH64_NONE | R_AARCH64_NONE_OLD => Ok(()),
        R_AARCH64_ABS64 | R_AARCH64_GLOB_DAT | R_AARCH64_JUMP_SLOT => {
            put(bytes, offset, sa.to_le_bytes())
        }
        R_AARCH64_RELATIVE => put(bytes, offset, fix.base.wrapping_add(a).to_le_bytes()),
        R_AARCH64_ABS32 => put(bytes, offset, any32(sa)?),
        R_AARCH64_ABS16 => put(bytes, offset, any16(sa)?),
        R_AARCH64_PREL64 => put(bytes, offset, prel.to_le_bytes()),
        R_AARCH64_PREL32 => put(bytes, offset, any32(prel)?),
        R_AARCH64_PREL16 => put(bytes, offset, any16(prel)?),
        R_AARCH64_GOTREL64 => put(bytes, offset, sa.wrapping_sub(fix.got).to_le_bytes()),
        R_AARCH64_GOTREL32 => put(bytes, offset, any32(sa.wrapping_sub(fix.got))?),
        R_AARCH64_ADR_PREL_PG_HI21 => adrp(bytes, offset, sa, p, false),
        R_AARCH64_ADR_PREL_PG_HI21_NC => adrp(bytes, offset, sa, p, true),
        R_AARCH64_ADR_PREL_LO21 => {
            if !fits_signed(prel as i64, 21) {
                return Err(RelocFault::Overflow);
            }
            patch32(bytes, offset, ADR_MASK, adr_imm(prel))
        }
        R_AARCH64_ADD_ABS_LO12_NC | R_AARCH64_LDST8_ABS_LO12_NC => lo12(bytes, offset, sa, 0),
        R_AARCH64_LDST16_ABS_LO12_NC => lo12(bytes, offset, sa, 1),
        R_AARCH64_LDST32_ABS_LO12_NC => lo12(bytes, offset, sa, 2),
        R_AARCH64_LDST64_ABS_LO12_NC => lo12(bytes, offset, sa, 3),
        R_AARCH64_LDST128_ABS_LO12_NC => lo12(bytes, offset, sa, 4),
        R_AARCH64_CALL26 | R_AARCH64_JUMP26 => {
            let delta = reach(fix, |v| fits_signed(v, 28), 4)?;
            patch32(bytes, offset, B26_MASK, (delta >> 2) as u32)
        }
        R_AARCH64_CONDBR19 | R_AARCH64_LD_PREL_LO19 => {
            pcrel_words(bytes, offset, prel, 21, IMM19_MASK)
        }
        R_AARCH64_TSTBR14 => pcrel_words(bytes, offset, prel, 16, IMM14_MASK),
        R_AARCH64_MOVW_UABS_G0 => movw_unsigned(bytes, offset, sa, 0, false),
        R_AARCH64_MOVW_UABS_G0_NC => movw_unsigned(bytes, offset, sa, 0, true),
        R_AARCH64_MOVW_UABS_G1 => movw_unsigned(bytes, offset, sa, 1, false),
        R_AARCH64_MOVW_UABS_G1_NC => movw_unsigned(bytes, offset, sa, 1, true),
        R_AARCH64_MOVW_UABS_G2 => movw_unsigned(bytes, offset, sa, 2, false),
        R_AARCH64_MOVW_UABS_G2_NC => movw_unsigned(bytes, offset, sa, 2, true),
        R_AARCH64_MOVW_UABS_G3 => movw_unsigned(bytes, offset, sa, 3, true),
        R_AARCH64_MOVW_SABS_G0 => movw_signed(bytes, offset, sa, 0),
        R_AARCH64_MOVW_SABS_G1 => movw_signed(bytes, offset, sa, 1),
        R_AARCH64_MOVW_SABS_G2 => movw_signed(bytes, offset, sa, 2),
        R_AARCH64_MOVW_PREL_G0 => movw_signed(bytes, offset, prel, 0),
        R_AARCH64_MOVW_PREL_G1 => movw_signed(bytes, offset, prel, 1),
        R_AARCH64_MOVW_PREL_G2 => movw_signed(bytes, offset, prel, 2),
        R_AARCH64_MOVW_PREL_G3 => movw_signed(bytes, offset, prel, 3),
        R_AARCH64_MOVW_PREL_G0_NC => movw_unsigned(bytes, offset, prel, 0, true),
        R_AARCH64_MOVW_PREL_G1_NC => movw_unsigned(bytes, offset, prel, 1, true),
        R_AARCH64_MOVW_PREL_G2_NC => movw_unsigned(bytes, offset, prel, 2, true),
        R_AARCH64_ADR_GOT_PAGE => adrp(bytes, offset, slot(fix)?, p, false),
        R_AARCH64_LD64_GOT_LO12_NC => lo12(bytes, offset, slot(fix)?, 3),
        R_AARCH64_LD64_GOTPAGE_LO15 => {
            let from_page = slot(fix)?.wrapping_sub(page(fix.got));
            if from_page >= 1 << 15 || from_page % 8 != 0 {
                return Err(RelocFault::Overflow);
            }
            patch32(bytes, offset, IMM12_MASK, ((from_page >> 3) as u32) << 10)
        }
        R_AARCH64_GOT_LD_PREL19 => {
            let delta = slot(fix)?.wrapping_sub(p);
            pcrel_words(bytes, offset, delta, 21, IMM19_MASK)
        }
        _ => Err(RelocFault::Unsupported),
    }
}

/// Whether a dynamic relocation is a symbol's address in a machine word:
/// `Some(true)` for `S + A`, `Some(false)` for `S`.
pub(crate) fn symbol_word(r_type: u32) -> Option<bool> {
    match r_type {
        R_AARCH64_ABS64 | R_AARCH64_GLOB_DAT | R_AARCH64_JUMP_SLOT => Some(true),
        _ => None,
    }
}

pub(crate) fn dynamic_class(r_type: u32) -> DynamicClass {
    match r_type {
        R_AARCH64_NONE | R_AARCH64_NONE_OLD => DynamicClass::None,
        R_AARCH64_RELATIVE => DynamicClass::Relative,
        R_AARCH64_IRELATIVE => DynamicClass::IRelative,
        R_AARCH64_JUMP_SLOT => DynamicClass::JumpSlot,
        R_AARCH64_ABS64 | R_AARCH64_ABS32 | R_AARCH64_PREL64 | R_AARCH64_PREL32
        | R_AARCH64_GLOB_DAT => DynamicClass::Symbolic,
        R_AARCH64_TLS_DTPMOD => DynamicClass::TlsModule,
        R_AARCH64_TLS_DTPREL => DynamicClass::TlsOffset,
        R_AARCH64_TLS_TPREL => DynamicClass::TlsStatic,
        R_AARCH64_TLSDESC => DynamicClass::TlsDescriptor,
        R_AARCH64_COPY => DynamicClass::Copy,
        _ => DynamicClass::Unknown,
    }
}

pub(crate) fn write_stub(bytes: &mut [u8], target: u64) {
    super::field::literal_stub(bytes, &STUB_CODE, target);
}

/// Calls an IFUNC resolver as glibc does on aarch64:
/// `(hwcap | _IFUNC_ARG_HWCAP, &__ifunc_arg_t { size, hwcap, hwcap2 })`.
///
/// # Safety
/// `addr` must be a relocated aarch64 IFUNC resolver in executable memory.
#[cfg(target_arch = "aarch64")]
pub(crate) unsafe fn call_ifunc_resolver(addr: u64, caps: crate::HwCaps) -> u64 {
    /// `__ifunc_arg_t` of `<sys/ifunc.h>`.
    #[repr(C)]
    struct IfuncArg {
        size: u64,
        hwcap: u64,
        hwcap2: u64,
    }
    /// Set in the first argument when the second points to an
    /// `__ifunc_arg_t`.
    const IFUNC_ARG_HWCAP: u64 = 1 << 62;
    type Resolver = extern "C" fn(u64, *const IfuncArg) -> usize;
    let arg = IfuncArg {
        size: core::mem::size_of::<IfuncArg>() as u64,
        hwcap: caps.hwcap,
        hwcap2: caps.hwcap2,
    };
    // SAFETY: per the contract; a resolver takes these two arguments (or
    // fewer, which the calling convention makes harmless), and `arg`
    // outlives the call.
    let f = unsafe { core::mem::transmute::<usize, Resolver>(addr as usize) };
    f(caps.hwcap | IFUNC_ARG_HWCAP, &raw const arg) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLACE: u64 = 0x4000_1000;

    fn fix(r_type: u32, symbol: u64, addend: i64) -> Fixup {
        crate::reloc::testing::fixup(PLACE, r_type, symbol, addend)
    }

    fn run(f: &Fixup, insn: u32) -> Result<u32, RelocFault> {
        crate::reloc::testing::apply_to_word(apply, f, insn)
    }

    fn sext(v: u32, bits: u32) -> i64 {
        i64::from(((v << (32 - bits)) as i32) >> (32 - bits))
    }

    fn dec_adr(insn: u32) -> i64 {
        sext((((insn >> 5) & 0x7_ffff) << 2) | ((insn >> 29) & 3), 21)
    }

    #[test]
    fn undefined_weak_references() {
        // 64 GiB from address 0: out of reach of every PC-relative form.
        let far = 0x10_0000_0000u64;
        let weak = |r_type, addend| {
            let mut f = crate::reloc::testing::fixup(far, r_type, 0, addend);
            f.undefined_weak = true;
            f.stub = Some(far + 0x1000);
            f
        };
        // Branches go to the next instruction, never through the stub.
        let bl = run(&weak(R_AARCH64_CALL26, 0), 0x9400_0000).unwrap();
        assert_eq!(bl, 0x9400_0001);
        assert_eq!(
            run(&weak(R_AARCH64_JUMP26, 0), 0x1400_0000).unwrap(),
            0x1400_0001
        );
        let b_cond = run(&weak(R_AARCH64_CONDBR19, 0), 0x5400_0000).unwrap();
        assert_eq!(b_cond, 0x5400_0020);
        // `adrp x3, weak` and `adr x3, weak` become `mov x3, #0`; with an
        // addend the pair still gives S + A.
        let movz = run(&weak(R_AARCH64_ADR_PREL_PG_HI21, 0), 0x9000_0003).unwrap();
        assert_eq!(movz, 0xd280_0003);
        let movz = run(&weak(R_AARCH64_ADR_PREL_PG_HI21, 0x1008), 0x9000_0003).unwrap();
        assert_eq!(movz, 0xd280_0003 | (0x1000 << 5));
        let add = run(&weak(R_AARCH64_ADD_ABS_LO12_NC, 0x1008), 0x9100_0063).unwrap();
        assert_eq!((add >> 10) & 0xfff, 8);
        assert_eq!(
            run(&weak(R_AARCH64_ADR_PREL_LO21, 0), 0x1000_0003).unwrap(),
            0xd280_0003
        );
        assert_eq!(
            run(&weak(R_AARCH64_ADR_PREL_PG_HI21, 0x1_0000), 0x9000_0003),
            Err(RelocFault::Overflow)
        );
        // Other PC-relative types take the place as the symbol's value.
        let mut word = [0xff; 4];
        apply(&weak(R_AARCH64_PREL32, 8), &mut word, 0).unwrap();
        assert_eq!(u32::from_le_bytes(word), 8);
        // A defined symbol at 0 is out of reach.
        let mut plain = weak(R_AARCH64_ADR_PREL_PG_HI21, 0);
        plain.undefined_weak = false;
        assert_eq!(run(&plain, 0x9000_0003), Err(RelocFault::Overflow));
    }

    #[test]
    fn adrp_and_low_parts() {
        let target = PLACE + 0x1234_5678;
        let adrp = run(&fix(R_AARCH64_ADR_PREL_PG_HI21, target, 0), 0x9000_0000).unwrap();
        assert_eq!(dec_adr(adrp) << 12, (page(target) - page(PLACE)) as i64);
        assert_eq!(adrp & !ADR_MASK, 0x9000_0000);
        let add = run(&fix(R_AARCH64_ADD_ABS_LO12_NC, target, 0), 0x9100_0000).unwrap();
        assert_eq!((add >> 10) & 0xfff, 0x678);
        let ldr = run(&fix(R_AARCH64_LDST64_ABS_LO12_NC, target, 4), 0xf940_0000);
        assert_eq!(ldr, Err(RelocFault::Overflow), "0x...67c is not 8-aligned");
        let ldr = run(
            &fix(R_AARCH64_LDST64_ABS_LO12_NC, target, 0x10),
            0xf940_0000,
        )
        .unwrap();
        assert_eq!((ldr >> 10) & 0xfff, 0x688 >> 3);
        let q = run(
            &fix(R_AARCH64_LDST128_ABS_LO12_NC, PLACE + 0xff0, 0),
            0x3dc0_0000,
        )
        .unwrap();
        assert_eq!((q >> 10) & 0xfff, 0xff);
        let h = run(
            &fix(R_AARCH64_LDST16_ABS_LO12_NC, PLACE + 0x2, 0),
            0x7940_0000,
        )
        .unwrap();
        assert_eq!((h >> 10) & 0xfff, 1);
        let w = run(
            &fix(R_AARCH64_LDST32_ABS_LO12_NC, PLACE + 0x8, 0),
            0xb940_0000,
        )
        .unwrap();
        assert_eq!((w >> 10) & 0xfff, 2);
        let b = run(
            &fix(R_AARCH64_LDST8_ABS_LO12_NC, PLACE + 0x7, 0),
            0x3940_0000,
        )
        .unwrap();
        assert_eq!((b >> 10) & 0xfff, 7);
        // ±4 GiB.
        let far = PLACE + (1 << 32);
        assert_eq!(
            run(&fix(R_AARCH64_ADR_PREL_PG_HI21, far, 0), 0x9000_0000),
            Err(RelocFault::Overflow)
        );
        run(&fix(R_AARCH64_ADR_PREL_PG_HI21_NC, far, 0), 0x9000_0000).unwrap();
        let adr = run(
            &fix(R_AARCH64_ADR_PREL_LO21, PLACE - 0x1_0001, 0),
            0x1000_0000,
        )
        .unwrap();
        assert_eq!(dec_adr(adr), -0x1_0001);
        assert_eq!(
            run(
                &fix(R_AARCH64_ADR_PREL_LO21, PLACE + (1 << 20), 0),
                0x1000_0000
            ),
            Err(RelocFault::Overflow)
        );
    }

    #[test]
    fn branches_and_veneers() {
        let bl = 0x9400_0000;
        let out = run(&fix(R_AARCH64_CALL26, PLACE - 0x800_0000, 0), bl).unwrap();
        assert_eq!(sext(out & B26_MASK, 26) << 2, -0x800_0000);
        assert_eq!(out & !B26_MASK, bl);
        let mut far = fix(R_AARCH64_JUMP26, PLACE + 0x800_0000, 0);
        assert_eq!(run(&far, 0x1400_0000), Err(RelocFault::Overflow));
        far.stub = Some(PLACE + 0x40);
        let out = run(&far, 0x1400_0000).unwrap();
        assert_eq!(sext(out & B26_MASK, 26) << 2, 0x40);
        assert_eq!(
            run(&fix(R_AARCH64_CALL26, PLACE + 2, 0), bl),
            Err(RelocFault::Overflow)
        );
        let b_cond = run(&fix(R_AARCH64_CONDBR19, PLACE - 0x10_0000, 0), 0x5400_0000).unwrap();
        assert_eq!(sext((b_cond >> 5) & 0x7_ffff, 19) << 2, -0x10_0000);
        assert_eq!(
            run(&fix(R_AARCH64_CONDBR19, PLACE + 0x10_0000, 0), 0x5400_0000),
            Err(RelocFault::Overflow)
        );
        let tbz = run(&fix(R_AARCH64_TSTBR14, PLACE + 0x7ffc, 0), 0x3618_0000).unwrap();
        assert_eq!(sext((tbz >> 5) & 0x3fff, 14) << 2, 0x7ffc);
        assert_eq!(tbz & !IMM14_MASK, 0x3618_0000);
        assert_eq!(
            run(&fix(R_AARCH64_TSTBR14, PLACE + 0x8000, 0), 0x3618_0000),
            Err(RelocFault::Overflow)
        );
        let mut v = [0u8; STUB_SIZE];
        write_stub(&mut v, 0xaabb_ccdd_eeff_0011);
        assert_eq!(&v[8..], &0xaabb_ccdd_eeff_0011u64.to_le_bytes());
    }

    #[test]
    fn movw_groups() {
        let movz = 0xd280_0000;
        let movk = 0xf280_0000;
        let imm = |i: u32| (i >> 5) & 0xffff;
        let value = 0x1234_5678_9abc_def0u64;
        for (t, group) in [
            (R_AARCH64_MOVW_UABS_G0_NC, 0),
            (R_AARCH64_MOVW_UABS_G1_NC, 1),
            (R_AARCH64_MOVW_UABS_G2_NC, 2),
            (R_AARCH64_MOVW_UABS_G3, 3),
        ] {
            let out = run(&fix(t, value, 0), movk).unwrap();
            assert_eq!(u64::from(imm(out)), (value >> (16 * group)) & 0xffff);
            assert_eq!(out & !IMM16_MASK, movk);
        }
        assert_eq!(
            imm(run(&fix(R_AARCH64_MOVW_UABS_G0, 0xffff, 0), movz).unwrap()),
            0xffff
        );
        assert!(run(&fix(R_AARCH64_MOVW_UABS_G0, 0x1_0000, 0), movz).is_err());
        assert_eq!(
            imm(run(&fix(R_AARCH64_MOVW_UABS_G1, 0xffff_0000, 0), movz).unwrap()),
            0xffff
        );
        assert!(run(&fix(R_AARCH64_MOVW_UABS_G1, 1 << 32, 0), movz).is_err());
        assert_eq!(
            imm(run(&fix(R_AARCH64_MOVW_UABS_G2, 1 << 47, 0), movz).unwrap()),
            0x8000
        );
        assert!(run(&fix(R_AARCH64_MOVW_UABS_G2, 1 << 48, 0), movz).is_err());
        // Signed: negative values become MOVN of the inverted bits.
        let neg = run(&fix(R_AARCH64_MOVW_SABS_G0, (-5i64) as u64, 0), movz).unwrap();
        assert_eq!(neg & MOV_OPC_MASK, MOVN);
        assert_eq!(imm(neg), 4);
        let pos = run(&fix(R_AARCH64_MOVW_SABS_G1, 0x2_0000, 0), 0x9280_0000).unwrap();
        assert_eq!(pos & MOV_OPC_MASK, MOVZ);
        assert_eq!(imm(pos), 2);
        assert!(run(&fix(R_AARCH64_MOVW_SABS_G0, 0x1_0000, 0), movz).is_err());
        assert!(run(&fix(R_AARCH64_MOVW_SABS_G2, 1 << 48, 0), movz).is_err());
        let prel = run(&fix(R_AARCH64_MOVW_PREL_G0, PLACE - 0x10, 0), movz).unwrap();
        assert_eq!((prel & MOV_OPC_MASK, imm(prel)), (MOVN, 0xf));
        let prel = run(&fix(R_AARCH64_MOVW_PREL_G1_NC, PLACE + 0x3_0000, 0), movk).unwrap();
        assert_eq!((prel & !IMM16_MASK, imm(prel)), (movk, 3));
        assert!(run(&fix(R_AARCH64_MOVW_PREL_G1, PLACE + (1 << 32), 0), movz).is_err());
        run(&fix(R_AARCH64_MOVW_PREL_G2, PLACE + (1 << 32), 0), movz).unwrap();
        run(&fix(R_AARCH64_MOVW_PREL_G2_NC, 0, 0), movk).unwrap();
        run(&fix(R_AARCH64_MOVW_PREL_G0_NC, 0, 0), movk).unwrap();
        let g3 = run(&fix(R_AARCH64_MOVW_PREL_G3, 0, 0), movz).unwrap();
        assert_eq!((g3 & MOV_OPC_MASK, imm(g3)), (MOVN, 0));
    }

    #[test]
    fn got_forms() {
        let mut f = fix(R_AARCH64_ADR_GOT_PAGE, 0x7777_0000_0000, 0);
        assert_eq!(run(&f, 0x9000_0000), Err(RelocFault::Unsupported));
        f.got_slot = Some(PLACE + 0x2_1008);
        f.got = PLACE + 0x2_1000;
        let adrp = run(&f, 0x9000_0000).unwrap();
        assert_eq!(dec_adr(adrp), 0x21);
        f.r_type = R_AARCH64_LD64_GOT_LO12_NC;
        assert_eq!((run(&f, 0xf940_0000).unwrap() >> 10) & 0xfff, 1);
        f.r_type = R_AARCH64_LD64_GOTPAGE_LO15;
        assert_eq!((run(&f, 0xf940_0000).unwrap() >> 10) & 0xfff, 1);
        f.got_slot = Some(PLACE + 0x2_1000 + 0x8000);
        assert_eq!(run(&f, 0xf940_0000), Err(RelocFault::Overflow));
        f.r_type = R_AARCH64_GOT_LD_PREL19;
        f.got_slot = Some(PLACE + 0x8);
        assert_eq!((run(&f, 0x5800_0000).unwrap() >> 5) & 0x7_ffff, 2);
        f.got_slot = Some(PLACE + 0x10_0000);
        assert_eq!(run(&f, 0x5800_0000), Err(RelocFault::Overflow));
    }

    #[test]
    fn data_fields() {
        let mut b = [0u8; 8];
        apply(&fix(R_AARCH64_ABS32, 0xffff_ffff, 0), &mut b, 0).unwrap();
        assert!(apply(&fix(R_AARCH64_ABS32, 1 << 32, 0), &mut b, 0).is_err());
        apply(&fix(R_AARCH64_ABS16, (-0x8000i64) as u64, 0), &mut b, 0).unwrap();
        assert!(apply(&fix(R_AARCH64_ABS16, 0x1_0000, 0), &mut b, 0).is_err());
        apply(&fix(R_AARCH64_PREL16, PLACE - 0x8000, 0), &mut b, 0).unwrap();
        assert!(apply(&fix(R_AARCH64_PREL16, PLACE - 0x8001, 0), &mut b, 0).is_err());
        apply(&fix(R_AARCH64_PREL32, PLACE + 0xffff_ffff, 0), &mut b, 0).unwrap();
        assert!(apply(
            &fix(R_AARCH64_PREL32, PLACE.wrapping_sub(0x8000_0001), 0),
            &mut b,
            0
        )
        .is_err());
        apply(&fix(R_AARCH64_PREL64, 0, 0), &mut b, 0).unwrap();
        assert_eq!(u64::from_le_bytes(b), PLACE.wrapping_neg());
        apply(&fix(R_AARCH64_GLOB_DAT, 0x1000, 8), &mut b, 0).unwrap();
        assert_eq!(u64::from_le_bytes(b), 0x1008);
        assert_eq!(
            apply(
                &fix(elf::abi::R_AARCH64_TLSLE_ADD_TPREL_HI12, 0, 0),
                &mut b,
                0
            ),
            Err(RelocFault::Unsupported)
        );
    }
}
