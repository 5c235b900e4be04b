//! The user image of the QEMU systems: runs unprivileged (U-mode on
//! riscv64, thread mode on Cortex-M), reaches the kernel only through
//! system calls (`ecall`, `svc`), and loads shared libraries and program
//! modules with libdl (`dl-core`) against the user symbol table.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod console;
#[cfg(target_arch = "arm")]
mod cxx;
mod dlfcn;
mod heap;
mod lazy;
mod platform;
mod sys;
mod table;
mod tasks;
mod tls;

use alloc::vec::Vec;
use core::ffi::{c_char, CStr};

/// Called by the C runtime's `exit`.
#[no_mangle]
extern "C" fn rt_exit(status: i32) -> ! {
    sys::exit(status)
}

/// Called by the C runtime for all output.
///
/// # Safety
/// `buf` must point to `len` readable bytes.
#[no_mangle]
unsafe extern "C" fn rt_write(buf: *const u8, len: usize) {
    // SAFETY: per the contract.
    sys::write(unsafe { core::slice::from_raw_parts(buf, len) });
}

#[no_mangle]
extern "C" fn user_main(argc: usize, argv: *const *const c_char) -> ! {
    heap::init();
    #[cfg(target_arch = "arm")]
    cxx::init();
    let args: Vec<&str> = (0..argc)
        .map(|i| {
            // SAFETY: the kernel put `argc` NUL-terminated strings on our stack.
            unsafe { CStr::from_ptr(*argv.add(i)) }
                .to_str()
                .unwrap_or("")
        })
        .collect();
    let status = match args.get(1).copied() {
        Some("sotest") => tasks::run_program("sotest", &["sotest", "/lib"]),
        Some("plugins") => tasks::plugins("Hello, protected world"),
        Some("device") => tasks::device(),
        Some("lazy") => tasks::lazy(),
        #[cfg(target_arch = "arm")]
        Some("cxx") => cxx::run(),
        Some("run") if args.len() > 2 => tasks::run_program(args[2], &args[2..]),
        Some("fault-kernel") => tasks::fault("fault_read_kernel", 0),
        Some("fault-wx") => tasks::fault("fault_write_text", 0),
        Some("fault-exec") => tasks::fault("fault_exec_data", 0),
        Some("fault-module") if args.len() > 2 => {
            let hex = args[2].trim_start_matches("0x");
            tasks::fault("fault_call", usize::from_str_radix(hex, 16).unwrap_or(0))
        }
        _ => {
            println!(
                "user: unknown task {:?} ({} runtime symbols)",
                args.get(1),
                table::len()
            );
            2
        }
    };
    sys::exit(status)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("user panic: {info}");
    sys::exit(101)
}
