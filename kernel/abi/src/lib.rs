//! The system call interface between the kernel and the user image: call
//! numbers, the error value, and the permission codes of `PROTECT`.
//!
//! riscv64: `ecall`, number in `a7`, arguments in `a0`..`a3`, result in
//! `a0`. Arm (Cortex-M): `svc #0`, number in `r12`, arguments in
//! `r0`..`r3`, result in `r0`; the call clobbers what a C call does. The
//! argument names below (`a0`...) are the riscv64 registers, `r0`... on Arm.
#![no_std]

/// Writes `a1` bytes at `a0` to the console.
pub const WRITE: u64 = 0;
/// Ends the task with status `a0`.
pub const EXIT: u64 = 1;
/// Opens the ramfs file whose path is `a1` bytes at `a0`; returns a descriptor.
pub const OPEN: u64 = 2;
/// Reads from descriptor `a0` at offset `a1` into `a3` bytes at `a2`.
pub const READ: u64 = 3;
/// Size of the file behind descriptor `a0`.
pub const SIZE: u64 = 4;
/// Reserves `a0` bytes of user address space aligned to `a1`.
pub const RESERVE: u64 = 5;
/// Commits `a1` bytes at `a0` of a reservation read-write, zeroed.
pub const COMMIT: u64 = 6;
/// Sets `a1` bytes at `a0` to permission `a2` (see [`PROT_READ`]...).
pub const PROTECT: u64 = 7;
/// Releases the reservation of `a1` bytes at `a0`.
pub const RELEASE: u64 = 8;
/// Reads minor `a0` of the `chardev` kernel module into `a2` bytes at `a1`.
pub const DEV_READ: u64 = 9;
/// Copies the name of ramfs file number `a0` into `a2` bytes at `a1`.
pub const LIST: u64 = 10;

/// What a failed call returns.
pub const ERR: u64 = u64::MAX;

/// `PROTECT` permission: read-only.
pub const PROT_READ: u64 = 1;
/// `PROTECT` permission: read-write.
pub const PROT_READ_WRITE: u64 = 2;
/// `PROTECT` permission: read-execute.
pub const PROT_READ_EXECUTE: u64 = 3;
