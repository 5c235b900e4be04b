//! The machines the loader knows, and which one a build runs on.

use core::fmt;

/// A target machine (`e_machine`) with a relocation table in `reloc/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Machine {
    /// AMD64 (`EM_X86_64`).
    X86_64,
    /// Arm 64-bit (`EM_AARCH64`).
    Aarch64,
    /// RISC-V 64-bit (`EM_RISCV`, ELFCLASS64).
    Riscv64,
}

impl Machine {
    /// The machine this code was compiled for, if the loader supports it.
    pub const fn host() -> Option<Machine> {
        if cfg!(target_arch = "x86_64") {
            Some(Machine::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Machine::Aarch64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Machine::Riscv64)
        } else {
            None
        }
    }

    /// The `e_machine` value of this machine.
    pub const fn e_machine(self) -> u16 {
        match self {
            Machine::X86_64 => elf::abi::EM_X86_64,
            Machine::Aarch64 => elf::abi::EM_AARCH64,
            Machine::Riscv64 => elf::abi::EM_RISCV,
        }
    }

    /// The machine with this `e_machine` value.
    pub const fn from_e_machine(e_machine: u16) -> Option<Machine> {
        match e_machine {
            elf::abi::EM_X86_64 => Some(Machine::X86_64),
            elf::abi::EM_AARCH64 => Some(Machine::Aarch64),
            elf::abi::EM_RISCV => Some(Machine::Riscv64),
            _ => None,
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
            Machine::Riscv64 => "riscv64",
        })
    }
}
