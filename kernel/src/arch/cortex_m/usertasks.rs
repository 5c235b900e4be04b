//! The kernel's built-in unprivileged tasks, which prove the protection
//! by touching what they may not. They are linked into the user pool's
//! first granule (sections `.user_text`, `.user_rodata`), reach the kernel
//! only through `svc`, and call nothing outside their sections: every
//! helper here is inlined into them.

use sysabi as sys;

const HELLO: usize = 34;

#[link_section = ".user_rodata"]
static HELLO_TEXT: [u8; HELLO] = *b"  hello from an unprivileged task\n";

/// Thumb `movs r0, #42; bx lr`.
const RETURN_42: [u16; 2] = [0x202a, 0x4770];

#[inline(always)]
fn syscall(nr: u64, a0: u32, a1: u32, a2: u32) -> u32 {
    let result;
    // SAFETY: `svc #0` enters the kernel, which reads the call from the
    // stacked registers and writes only `r0`; the kernel may use the
    // caller-saved registers meanwhile, so they are clobbered as by a C
    // call (`r1`-`r3`, `r12`, `s0`-`s15`).
    unsafe {
        core::arch::asm!(
            "svc #0",
            inout("r0") a0 => result,
            inout("r1") a1 => _,
            inout("r2") a2 => _,
            inout("r12") nr as u32 => _,
            out("r3") _,
            out("d0") _,
            out("d1") _,
            out("d2") _,
            out("d3") _,
            out("d4") _,
            out("d5") _,
            out("d6") _,
            out("d7") _,
        );
    }
    result
}

#[inline(always)]
fn exit(code: u32) -> ! {
    syscall(sys::EXIT, code, 0, 0);
    loop {
        core::hint::spin_loop();
    }
}

const FAILED: u32 = sys::ERR as u32;

/// Writes a greeting, after checking that the kernel refuses to print
/// from kernel memory at `kernel_addr`; exits 0.
#[link_section = ".user_text.hello"]
pub extern "C" fn hello(kernel_addr: u32, _: u32) -> ! {
    let refused = syscall(sys::WRITE, kernel_addr, 4, 0) == FAILED;
    let written = syscall(sys::WRITE, HELLO_TEXT.as_ptr() as u32, HELLO as u32, 0);
    exit(if refused && written == HELLO as u32 {
        0
    } else {
        1
    })
}

/// Reads the kernel word at `addr`.
#[link_section = ".user_text.read_kernel"]
pub extern "C" fn read_kernel(addr: u32, _: u32) -> ! {
    // SAFETY: none for the task: the MPU refuses the read and the kernel
    // ends the task. The read is the point.
    let value = unsafe { core::ptr::read_volatile(addr as *const u32) };
    exit(value)
}

/// Writes a byte of its own (read-only) code.
#[link_section = ".user_text.write_text"]
pub extern "C" fn write_text(_: u32, _: u32) -> ! {
    let own = (write_text as *const () as usize & !1) as *mut u8;
    // SAFETY: as in `read_kernel`: the MPU refuses the write.
    unsafe { core::ptr::write_volatile(own, 0) };
    exit(0)
}

/// Reserves and commits a granule of `granule` bytes: read-write data.
#[inline(always)]
fn data_granule(granule: u32) -> u32 {
    let at = syscall(sys::RESERVE, granule, granule, 0);
    if at == FAILED || syscall(sys::COMMIT, at, granule, 0) == FAILED {
        exit(100);
    }
    // SAFETY: the granule is committed read-write for the task.
    unsafe { core::ptr::copy_nonoverlapping(RETURN_42.as_ptr(), at as *mut u16, 2) };
    at
}

#[inline(always)]
fn call(at: u32) -> u32 {
    // SAFETY: for the task, `at` holds `RETURN_42`, a complete Thumb
    // function; whether it may run there is the MPU's decision.
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute((at | 1) as usize) };
    f()
}

/// Loads code the proper way: writes it to a data granule, makes the
/// granule read-execute, calls it; exits with what it returned (42).
#[link_section = ".user_text.load_code"]
pub extern "C" fn load_code(granule: u32, _: u32) -> ! {
    let at = data_granule(granule);
    if syscall(sys::PROTECT, at, granule, sys::PROT_READ_EXECUTE as u32) == FAILED {
        exit(101);
    }
    exit(call(at))
}

/// Writes code to a data granule and calls it there.
#[link_section = ".user_text.exec_data"]
pub extern "C" fn exec_data(granule: u32, _: u32) -> ! {
    let at = data_granule(granule);
    exit(call(at))
}

/// Points its stack at `addr` and makes a system call, so the processor
/// must stack the call's frame there.
#[link_section = ".user_text.bad_stack"]
pub extern "C" fn bad_stack(addr: u32, _: u32) -> ! {
    // SAFETY: none for the task: stacking the `svc` frame below `addr`
    // faults and the kernel ends the task; nothing returns here.
    unsafe { core::arch::asm!("mov sp, {0}", "svc #0", in(reg) addr, options(noreturn)) }
}
