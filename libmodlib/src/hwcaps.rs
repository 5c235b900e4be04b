//! The CPU's hardware capabilities, one setting for the whole program,
//! which IFUNC resolvers are told.

use core::sync::atomic::{AtomicUsize, Ordering};

/// The hardware capabilities of the machine the loaded code runs on, as
/// Linux reports them in the auxiliary vector (`AT_HWCAP`, `AT_HWCAP2`).
/// IFUNC resolvers receive them (on aarch64 and riscv64) to pick an
/// implementation the CPU supports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HwCaps {
    /// `AT_HWCAP`.
    pub hwcap: u64,
    /// `AT_HWCAP2`.
    pub hwcap2: u64,
}

// Word-sized: 32-bit hosts have no 64-bit atomics, and their kernels
// report 32-bit capability words.
static HWCAP: AtomicUsize = AtomicUsize::new(0);
static HWCAP2: AtomicUsize = AtomicUsize::new(0);

/// Sets the capabilities every IFUNC resolver is told from now on. They
/// describe the CPU, so they are one setting for the whole program, made
/// by the platform layer before it loads anything (libdl's hosted platform
/// passes the process's `getauxval` values). Until then resolvers are told
/// of no optional feature, so they choose baseline implementations, which
/// every CPU of the architecture runs.
pub fn set_hwcaps(caps: HwCaps) {
    HWCAP.store(caps.hwcap as usize, Ordering::Relaxed);
    HWCAP2.store(caps.hwcap2 as usize, Ordering::Relaxed);
}

/// The capabilities set by [`set_hwcaps`] (none until it is called).
pub fn hwcaps() -> HwCaps {
    HwCaps {
        hwcap: HWCAP.load(Ordering::Relaxed) as u64,
        hwcap2: HWCAP2.load(Ordering::Relaxed) as u64,
    }
}
