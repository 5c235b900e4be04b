//! Machine specifics of the user image (only riscv64 so far): the entry
//! point, the system call instruction, instruction-cache sync.

mod riscv64;

pub use riscv64::{fence_i, syscall, MACHINE};
