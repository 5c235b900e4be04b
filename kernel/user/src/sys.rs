//! System calls into the kernel (`ecall`, number in `a7`); the numbers
//! are the kernel's own, from `sysabi`.

pub use sysabi::*;

/// Issues system call `nr`.
pub fn call(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let ret: u64;
    // SAFETY: `ecall` traps to the kernel, which validates every argument
    // and only writes user memory it has checked is ours.
    unsafe {
        core::arch::asm!("ecall", inlateout("a0") a0 => ret, in("a1") a1, in("a2") a2, in("a3") a3, in("a7") nr);
    }
    ret
}

/// Writes to the console.
pub fn write(bytes: &[u8]) {
    call(WRITE, bytes.as_ptr() as u64, bytes.len() as u64, 0, 0);
}

/// Ends the task with `status`.
pub fn exit(status: i32) -> ! {
    call(EXIT, status as u64, 0, 0, 0);
    unreachable!("the kernel does not return from exit")
}
