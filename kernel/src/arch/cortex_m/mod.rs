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
pub mod image;
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
pub const MACHINE: &str = "Cortex-M4 kernel (privileged) + user image (unprivileged), PMSAv7 MPU";

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

/// Where the protection probe library reads: kernel data (the start of
/// `.data`, privileged only).
pub const PROBE_KERNEL_ADDR: u64 = 0x2000_0000;

/// The user pool: the user image, its libraries, heap and stack.
pub const USER_SPACE: core::ops::Range<u64> = mem::USER_POOL_START..mem::USER_POOL_END;

/// This machine's own boot checks: the MPU plan and the built-in
/// unprivileged tasks.
pub fn boot_checks(checks: &mut crate::checks::Checks) {
    probes::run(checks);
}

/// Granules in use in the module and user pools.
pub fn pages_in_use() -> u64 {
    let (modules, user) = mem::used();
    (modules + user) as u64
}

/// Prints how the pools and the MPU are used.
pub fn report_memory() {
    let (modules, user) = mem::used();
    crate::kprintln!(
        "memory: module pool {modules} of 8 granules of 128 KiB in use, user pool {user} of 15; MPU regions enabled: {} of {}",
        mpu::enabled(),
        mpu_regions()
    );
}

/// Prints the most user memory the last task held, and the MPU regions
/// enabled at that moment.
pub fn report_task_memory() {
    let (granules, regions) = mem::user_peak();
    crate::kprintln!(
        "  user pool: at most {granules} granules ({} KiB) in use, {regions} MPU regions enabled",
        granules * 128
    );
}

/// The number of MPU regions the processor reported.
pub fn mpu_regions() -> u32 {
    MPU_REGIONS.load(Ordering::Relaxed)
}
