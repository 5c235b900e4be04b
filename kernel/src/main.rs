//! A small protected-mode kernel for two machines: riscv64 QEMU `virt`
//! (S-mode kernel, U-mode tasks, Sv39 paging) and Cortex-M4 QEMU
//! `mps2-an386` (privileged kernel, unprivileged tasks, PMSAv7 MPU). The
//! kernel loads kernel modules with `kmod` against its own symbol table;
//! user tasks load shared libraries with `libdl` against the user symbol
//! table. Everything that differs between the machines lives in `arch`.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod checks;
mod console;
mod demo;
mod heap;
mod modules;
mod protect;
mod ramfs;
mod syscall;
mod task;

use checks::Checks;

/// The kernel's entry after the machine's boot code: bring the machine up,
/// run the boot script, exit with its verdict.
#[no_mangle]
extern "C" fn kmain() -> ! {
    arch::init();
    kprintln!();
    kprintln!("=== modlib protected-mode demo: {} ===", arch::MACHINE);
    let mut checks = Checks::default();
    demo::run(&mut checks);
    checks.finish()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("KERNEL PANIC: {info}");
    arch::exit::exit(2)
}
