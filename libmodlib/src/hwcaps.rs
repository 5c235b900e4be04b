//! The CPU's hardware capabilities, which IFUNC resolvers are told. They
//! come with each load ([`crate::LoadOptions::hwcaps`]), not from a global.

/// The hardware capabilities of the machine the loaded code runs on, as
/// Linux reports them in the auxiliary vector (`AT_HWCAP`, `AT_HWCAP2`).
/// IFUNC resolvers receive them (on aarch64, riscv64 and 32-bit Arm) to
/// pick an implementation the CPU supports; the default, none, makes them
/// choose baseline implementations, which every CPU of the architecture
/// runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HwCaps {
    /// `AT_HWCAP`.
    pub hwcap: u64,
    /// `AT_HWCAP2`.
    pub hwcap2: u64,
}
