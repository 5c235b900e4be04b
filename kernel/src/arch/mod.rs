//! Machine code, one directory per machine, chosen by the target. Each
//! provides the same small interface to the shared kernel:
//!
//! - `init()`: boot-time setup (traps or exceptions, heap, memory
//!   protection, timers), called first by `kmain`; `MACHINE` names it;
//! - `console::put(byte)`, `exit::exit(code)`, `clock::micros()`;
//! - `Mem`, the [`MemoryProtection`](crate::protect::MemoryProtection) of
//!   the module and user pools (paging on riscv64, MPU on Cortex-M);
//! - `user::UserContext` (`take_syscall`, `set_syscall_result`, `pc`) and
//!   `user::run_user`, which enters unprivileged mode and comes back with
//!   the [`Stop`](crate::task::Stop) that ended the run;
//! - `image::start(args)`: the user image placed and given its stack;
//! - for the boot script: `boot_checks` (the machine's own), `pages_in_use`,
//!   `report_memory`, `report_task_memory`, and where the probes aim
//!   (`PROBE_KERNEL_ADDR`, `USER_SPACE`).

#[cfg(target_arch = "riscv64")]
mod riscv64;
#[cfg(target_arch = "riscv64")]
pub use riscv64::*;

#[cfg(target_arch = "arm")]
mod cortex_m;
#[cfg(target_arch = "arm")]
pub use cortex_m::*;
