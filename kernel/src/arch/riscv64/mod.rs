//! riscv64 on QEMU `virt`, started in S-mode by OpenSBI: boot entry,
//! control registers, Sv39 page tables and the frames behind them, traps
//! and the switch to and from U-mode, the 16550 console and the SiFive
//! test device. Nothing outside `arch` knows instruction encodings or CSR
//! numbers.

pub mod boot;
pub mod clock;
pub mod console;
pub mod csr;
pub mod exit;
pub mod frames;
pub mod image;
pub mod mem;
pub mod paging;
pub mod trap;
pub mod user;
pub mod vm;

pub use mem::Mem;

/// The machine, for the banner.
pub const MACHINE: &str = "riscv64 kernel (S-mode) + user image (U-mode)";

/// End of RAM with `-m 256M`.
pub const RAM_END: u64 = 0x9000_0000;

/// Size of the kernel heap.
const HEAP_SIZE: usize = 32 << 20;

extern "C" {
    static _end: u8;
}

/// Brings the machine up: floating point, the trap vector, the kernel heap
/// after the image, the frame pool after the heap, and paging.
pub fn init() {
    csr::init();
    trap::init();
    let heap_start = &raw const _end as usize;
    // SAFETY: the RAM after the image is unused, and identity-mapped
    // read-write once paging is on (`vm::init` maps up to the heap's end).
    unsafe { crate::heap::init(heap_start, HEAP_SIZE) };
    let heap_end = (heap_start + HEAP_SIZE) as u64;
    frames::init(heap_end, RAM_END);
    vm::init(heap_end);
}

/// Where the protection probe library reads: the kernel's first page.
pub const PROBE_KERNEL_ADDR: u64 = 0x8020_0000;

/// The user address space (image, libraries, stack).
pub const USER_SPACE: core::ops::Range<u64> = vm::USER_BASE..vm::USER_STACK_TOP;

/// This machine's own boot checks: none beyond the shared script.
pub fn boot_checks(_checks: &mut crate::checks::Checks) {}

/// Frames in use for modules and user memory.
pub fn pages_in_use() -> u64 {
    frames::used()
}

/// Prints the most user memory the last task held: not tracked here.
pub fn report_task_memory() {}

/// Prints how memory is used.
pub fn report_memory() {
    crate::kprintln!(
        "memory: {} frames of 4 KiB in use for modules, user space and page tables",
        frames::used()
    );
}
