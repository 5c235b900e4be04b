//! Time since boot, from the `time` counter (10 MHz on QEMU virt).

use super::csr;

/// Microseconds since boot.
pub fn micros() -> u64 {
    csr::time() / csr::TICKS_PER_US
}
