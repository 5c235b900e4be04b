//! The machines the loader knows, their ELF class, which ones this build
//! has relocation tables for (cargo features), and which one it runs on.

use core::fmt;

use crate::class::Class;

/// A target machine (`e_machine` and class) with a relocation table in
/// `reloc/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Machine {
    /// AMD64 (`EM_X86_64`, ELFCLASS64).
    X86_64,
    /// Arm 64-bit (`EM_AARCH64`, ELFCLASS64).
    Aarch64,
    /// RISC-V 64-bit (`EM_RISCV`, ELFCLASS64).
    Riscv64,
    /// Arm 32-bit (`EM_ARM`, ELFCLASS32): Thumb-2 (Cortex-M) and Arm state.
    Arm,
    /// RISC-V 32-bit (`EM_RISCV`, ELFCLASS32).
    Riscv32,
}

impl Machine {
    /// Every machine the loader knows, compiled in or not.
    pub const ALL: [Machine; 5] = [
        Machine::X86_64,
        Machine::Aarch64,
        Machine::Riscv64,
        Machine::Arm,
        Machine::Riscv32,
    ];

    /// The machine this code was compiled for, if the loader supports it.
    pub const fn host() -> Option<Machine> {
        if cfg!(target_arch = "x86_64") {
            Some(Machine::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Machine::Aarch64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Machine::Riscv64)
        } else if cfg!(target_arch = "arm") {
            Some(Machine::Arm)
        } else if cfg!(target_arch = "riscv32") {
            Some(Machine::Riscv32)
        } else {
            None
        }
    }

    /// The machine loads default to: the host's when it is supported and
    /// compiled in, else the first machine this build has.
    pub fn default_for_host() -> Machine {
        Machine::host()
            .filter(|m| m.compiled_in())
            .or_else(|| Machine::ALL.into_iter().find(|m| m.compiled_in()))
            .unwrap_or(Machine::X86_64)
    }

    /// Whether this build has the machine's relocation table (its cargo
    /// feature: `x86_64`, `aarch64`, `riscv64`, `arm`, `riscv32`).
    pub const fn compiled_in(self) -> bool {
        match self {
            Machine::X86_64 => cfg!(feature = "x86_64"),
            Machine::Aarch64 => cfg!(feature = "aarch64"),
            Machine::Riscv64 => cfg!(feature = "riscv64"),
            Machine::Arm => cfg!(feature = "arm"),
            Machine::Riscv32 => cfg!(feature = "riscv32"),
        }
    }

    /// The `e_machine` value of this machine.
    pub const fn e_machine(self) -> u16 {
        match self {
            Machine::X86_64 => elf::abi::EM_X86_64,
            Machine::Aarch64 => elf::abi::EM_AARCH64,
            Machine::Riscv64 | Machine::Riscv32 => elf::abi::EM_RISCV,
            Machine::Arm => elf::abi::EM_ARM,
        }
    }

    /// The `EI_CLASS` value of this machine's objects.
    pub const fn elf_class(self) -> u8 {
        match self.class() {
            Class::Elf32 => elf::abi::ELFCLASS32,
            Class::Elf64 => elf::abi::ELFCLASS64,
        }
    }

    /// Bytes in an address of this machine (4 or 8).
    pub const fn word_size(self) -> usize {
        self.class().word()
    }

    pub(crate) const fn class(self) -> Class {
        match self {
            Machine::X86_64 | Machine::Aarch64 | Machine::Riscv64 => Class::Elf64,
            Machine::Arm | Machine::Riscv32 => Class::Elf32,
        }
    }

    /// The machine with this `e_machine` and `EI_CLASS` value.
    pub const fn from_header(e_machine: u16, class: u8) -> Option<Machine> {
        let wide = class == elf::abi::ELFCLASS64;
        match (e_machine, wide) {
            (elf::abi::EM_X86_64, true) => Some(Machine::X86_64),
            (elf::abi::EM_AARCH64, true) => Some(Machine::Aarch64),
            (elf::abi::EM_RISCV, true) => Some(Machine::Riscv64),
            (elf::abi::EM_RISCV, false) => Some(Machine::Riscv32),
            (elf::abi::EM_ARM, false) => Some(Machine::Arm),
            _ => None,
        }
    }

    /// The machine's name as `module.h` and ABI tags spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Machine::X86_64 => "x86_64",
            Machine::Aarch64 => "aarch64",
            Machine::Riscv64 => "riscv64",
            Machine::Arm => "arm",
            Machine::Riscv32 => "riscv32",
        }
    }
}

impl fmt::Display for Machine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
