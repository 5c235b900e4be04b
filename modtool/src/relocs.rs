//! Names of the relocation types modules commonly carry, per machine; a
//! type not listed is shown by number.

use elf::abi;
use modlib::Machine;

macro_rules! names {
    ($($name:ident),* $(,)?) => {
        &[$((abi::$name, stringify!($name))),*]
    };
}

const X86_64: &[(u32, &str)] = names![
    R_X86_64_NONE,
    R_X86_64_64,
    R_X86_64_PC32,
    R_X86_64_GOT32,
    R_X86_64_PLT32,
    R_X86_64_GOTPCREL,
    R_X86_64_32,
    R_X86_64_32S,
    R_X86_64_16,
    R_X86_64_PC16,
    R_X86_64_8,
    R_X86_64_PC8,
    R_X86_64_PC64,
    R_X86_64_GOTOFF64,
    R_X86_64_GOTPC32,
    R_X86_64_GOTPCRELX,
    R_X86_64_REX_GOTPCRELX,
    R_X86_64_TLSGD,
    R_X86_64_GOTTPOFF,
    R_X86_64_TPOFF32,
];

const AARCH64: &[(u32, &str)] = names![
    R_AARCH64_NONE,
    R_AARCH64_ABS64,
    R_AARCH64_ABS32,
    R_AARCH64_PREL64,
    R_AARCH64_PREL32,
    R_AARCH64_ADR_PREL_LO21,
    R_AARCH64_ADR_PREL_PG_HI21,
    R_AARCH64_ADD_ABS_LO12_NC,
    R_AARCH64_LDST8_ABS_LO12_NC,
    R_AARCH64_LDST16_ABS_LO12_NC,
    R_AARCH64_LDST32_ABS_LO12_NC,
    R_AARCH64_LDST64_ABS_LO12_NC,
    R_AARCH64_LDST128_ABS_LO12_NC,
    R_AARCH64_TSTBR14,
    R_AARCH64_CONDBR19,
    R_AARCH64_JUMP26,
    R_AARCH64_CALL26,
    R_AARCH64_ADR_GOT_PAGE,
    R_AARCH64_LD64_GOT_LO12_NC,
    R_AARCH64_MOVW_UABS_G0_NC,
    R_AARCH64_MOVW_UABS_G1_NC,
    R_AARCH64_MOVW_UABS_G2_NC,
    R_AARCH64_MOVW_UABS_G3,
];

const RISCV: &[(u32, &str)] = names![
    R_RISCV_NONE,
    R_RISCV_32,
    R_RISCV_64,
    R_RISCV_BRANCH,
    R_RISCV_JAL,
    R_RISCV_CALL,
    R_RISCV_CALL_PLT,
    R_RISCV_GOT_HI20,
    R_RISCV_PCREL_HI20,
    R_RISCV_PCREL_LO12_I,
    R_RISCV_PCREL_LO12_S,
    R_RISCV_HI20,
    R_RISCV_LO12_I,
    R_RISCV_LO12_S,
    R_RISCV_ADD32,
    R_RISCV_SUB32,
    R_RISCV_ADD64,
    R_RISCV_SUB64,
    R_RISCV_ALIGN,
    R_RISCV_RVC_BRANCH,
    R_RISCV_RVC_JUMP,
    R_RISCV_RELAX,
    R_RISCV_SET6,
    R_RISCV_SUB6,
    R_RISCV_SET8,
    R_RISCV_SUB8,
    R_RISCV_SET16,
    R_RISCV_SUB16,
    R_RISCV_SET32,
    R_RISCV_32_PCREL,
];

const ARM: &[(u32, &str)] = names![
    R_ARM_NONE,
    R_ARM_ABS32,
    R_ARM_REL32,
    R_ARM_CALL,
    R_ARM_JUMP24,
    R_ARM_THM_CALL,
    R_ARM_THM_JUMP24,
    R_ARM_THM_JUMP19,
    R_ARM_THM_JUMP11,
    R_ARM_THM_JUMP8,
    R_ARM_MOVW_ABS_NC,
    R_ARM_MOVT_ABS,
    R_ARM_THM_MOVW_ABS_NC,
    R_ARM_THM_MOVT_ABS,
    R_ARM_MOVW_PREL_NC,
    R_ARM_MOVT_PREL,
    R_ARM_THM_MOVW_PREL_NC,
    R_ARM_THM_MOVT_PREL,
    R_ARM_GOT_PREL,
    R_ARM_GOTOFF32,
    R_ARM_BASE_PREL,
    R_ARM_PREL31,
    R_ARM_TARGET1,
    R_ARM_TARGET2,
    R_ARM_V4BX,
];

/// The name of relocation type `r_type` of `machine`, or `type N`.
pub fn name(machine: Machine, r_type: u32) -> String {
    let table = match machine {
        Machine::X86_64 => X86_64,
        Machine::Aarch64 => AARCH64,
        Machine::Riscv64 | Machine::Riscv32 => RISCV,
        Machine::Arm => ARM,
    };
    table
        .iter()
        .find(|&&(t, _)| t == r_type)
        .map_or_else(|| format!("type {r_type}"), |&(_, n)| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_known_types_and_numbers_others() {
        assert_eq!(name(Machine::X86_64, 4), "R_X86_64_PLT32");
        assert_eq!(name(Machine::Riscv32, 19), "R_RISCV_CALL_PLT");
        assert_eq!(name(Machine::Arm, 10), "R_ARM_THM_CALL");
        assert_eq!(name(Machine::Aarch64, 283), "R_AARCH64_CALL26");
        assert_eq!(name(Machine::X86_64, 9999), "type 9999");
    }
}
