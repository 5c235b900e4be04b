//! What the RISC-V suites (`diff_riscv64.rs`, `diff_riscv32.rs`) compare by
//! meaning rather than by bytes: far calls and jumps, and GOT loads.

use elf::abi::{
    R_RISCV_CALL, R_RISCV_CALL_PLT, R_RISCV_GOT_HI20, R_RISCV_JAL, R_RISCV_PCREL_LO12_I,
    R_RISCV_PCREL_LO12_S,
};

use super::{sext, word_at, Image, Reach, Rel, Semantic};

/// Immediate bits of each instruction format.
pub const U_MASK: u32 = 0xffff_f000;
pub const I_MASK: u32 = 0xfff0_0000;
pub const S_MASK: u32 = 0xfe00_0f80;
pub const J_MASK: u32 = 0xffff_f000;

/// The immediate of a U-type instruction.
pub fn dec_u(insn: u32) -> i64 {
    i64::from((insn & U_MASK) as i32)
}

/// The immediate of an I-type instruction.
pub fn dec_i(insn: u32) -> i64 {
    i64::from((insn as i32) >> 20)
}

/// The immediate of an S-type instruction.
pub fn dec_s(insn: u32) -> i64 {
    i64::from(((insn & 0xfe00_0000) as i32) >> 20) | i64::from((insn >> 7) & 0x1f)
}

/// The offset of a `jal`.
pub fn dec_j(insn: u32) -> i64 {
    let v = ((insn >> 31) << 20)
        | (((insn >> 12) & 0xff) << 12)
        | (((insn >> 20) & 1) << 11)
        | (((insn >> 21) & 0x3ff) << 1);
    sext(u64::from(v), 21)
}

fn is_lo12(t: u32) -> bool {
    t == R_RISCV_PCREL_LO12_I || t == R_RISCV_PCREL_LO12_S
}

/// How relocation `i` of a section is compared, if not by bytes; addresses
/// are taken modulo `max + 1` (the class's address space).
pub fn semantic(rels: &[Rel], i: usize, image: &dyn Image, max: u64) -> Option<Semantic> {
    let r = &rels[i];
    let p = r.place;
    let at = |off: i64| p.wrapping_add(off as u64) & max;
    match r.r_type {
        R_RISCV_CALL | R_RISCV_CALL_PLT if r.far => {
            let (auipc, jalr) = (word_at(image, p)?, word_at(image, p + 4)?);
            Some(Semantic {
                words: vec![(p, U_MASK), (p + 4, I_MASK)],
                reach: Some(Reach::Branch(at(dec_u(auipc) + dec_i(jalr)))),
            })
        }
        R_RISCV_JAL if r.far => Some(Semantic {
            words: vec![(p, J_MASK)],
            reach: Some(Reach::Branch(at(dec_j(word_at(image, p)?)))),
        }),
        R_RISCV_GOT_HI20 => {
            // The low part is the PCREL_LO12 whose label is this auipc.
            let lo = rels
                .iter()
                .find(|l| is_lo12(l.r_type) && l.value.wrapping_add(l.addend as u64) == p)?;
            let insn = word_at(image, lo.place)?;
            let low = if lo.r_type == R_RISCV_PCREL_LO12_I {
                dec_i(insn)
            } else {
                dec_s(insn)
            };
            Some(Semantic {
                words: vec![(p, U_MASK)],
                reach: Some(Reach::Slot(at(dec_u(word_at(image, p)?) + low))),
            })
        }
        t if is_lo12(t) => {
            let label = r.value.wrapping_add(r.addend as u64);
            let of_got = rels
                .iter()
                .any(|h| h.r_type == R_RISCV_GOT_HI20 && h.place == label);
            let mask = if t == R_RISCV_PCREL_LO12_I {
                I_MASK
            } else {
                S_MASK
            };
            of_got.then(|| Semantic {
                words: vec![(p, mask)],
                reach: None,
            })
        }
        _ => None,
    }
}
