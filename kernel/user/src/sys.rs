//! System calls into the kernel (`ecall`, number in `a7`).

/// Writes bytes to the console.
pub const WRITE: u64 = 0;
/// Ends the task.
pub const EXIT: u64 = 1;
/// Opens a ramfs file by path; returns its descriptor.
pub const OPEN: u64 = 2;
/// Reads `len` bytes at `offset` of a file.
pub const READ: u64 = 3;
/// Size of a file.
pub const SIZE: u64 = 4;
/// Reserves user address space.
pub const RESERVE: u64 = 5;
/// Commits reserved pages read-write, zeroed.
pub const COMMIT: u64 = 6;
/// Sets page permissions (1 R, 2 RW, 3 RX).
pub const PROTECT: u64 = 7;
/// Releases a reservation.
pub const RELEASE: u64 = 8;
/// Reads a character device of the kernel's `chardev` module.
pub const DEV_READ: u64 = 9;
/// Name of the ramfs file at an index.
pub const LIST: u64 = 10;

/// The error return value.
pub const ERR: u64 = u64::MAX;

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
