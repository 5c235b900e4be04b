//! Machine specifics of the user image: the entry point, the system call
//! instruction, instruction-cache sync, and the unit of user memory.

#[cfg(target_arch = "arm")]
mod arm;
#[cfg(target_arch = "riscv64")]
mod riscv64;

#[cfg(target_arch = "arm")]
pub use arm::{fence_i, syscall, MACHINE, PAGE_SIZE};
#[cfg(target_arch = "riscv64")]
pub use riscv64::{fence_i, syscall, MACHINE, PAGE_SIZE};
