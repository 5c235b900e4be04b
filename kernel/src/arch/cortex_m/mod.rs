//! Cortex-M4 (Armv7-M with the PMSAv7 MPU) on QEMU `mps2-an386`: vector
//! table and reset, exceptions and the switch to and from unprivileged
//! thread mode, the MPU's region plan and the pools behind it, SysTick,
//! the CMSDK UART console and semihosting exit. Nothing outside `arch`
//! knows register addresses or instruction encodings.

pub mod boot;
pub mod clock;
pub mod console;
pub mod exceptions;
pub mod exit;
pub mod mem;
pub mod mpu;
pub mod pool;
pub mod probes;
pub mod reg;
pub mod user;
pub mod usertasks;

use core::sync::atomic::{AtomicU32, Ordering};

pub use mem::Mem;

/// The machine, for the banner.
pub const MACHINE: &str = "Cortex-M4 kernel (privileged) + unprivileged tasks, PMSAv7 MPU";

/// The kernel heap: the first half of the board's 16 MiB RAM (the user
/// pool follows it).
const HEAP_START: usize = 0x2100_0000;
const HEAP_SIZE: usize = 8 << 20;

static MPU_REGIONS: AtomicU32 = AtomicU32::new(0);

/// Brings the machine up: console, fault handlers, heap, MPU and pools,
/// SysTick.
pub fn init() {
    console::init();
    exceptions::init();
    // SAFETY: the first half of the RAM at 0x2100_0000 is used by nothing
    // else (the linker script places nothing there) and region 1 grants
    // the kernel read-write access to it.
    unsafe { crate::heap::init(HEAP_START, HEAP_SIZE) };
    MPU_REGIONS.store(mpu::init(), Ordering::Relaxed);
    mem::init();
    clock::init();
}

/// The number of MPU regions the processor reported.
pub fn mpu_regions() -> u32 {
    MPU_REGIONS.load(Ordering::Relaxed)
}
