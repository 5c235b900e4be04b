//! Entering U-mode: a task runs until its next trap, which says whether
//! it made a system call or faulted.

pub use super::trap::UserContext;
use super::trap::{self, TrapKind};
use crate::task::{Access, Stop};

/// Runs the task until it traps.
pub fn run_user(ctx: &mut UserContext) -> Stop {
    let t = trap::run_user(ctx);
    match t.kind() {
        TrapKind::Syscall => Stop::Syscall,
        kind => Stop::Fault {
            cause: kind.describe(),
            access: match kind {
                TrapKind::FetchFault => Access::Instruction,
                TrapKind::LoadFault | TrapKind::StoreFault => Access::Data,
                _ => Access::Other,
            },
            address: t.value,
        },
    }
}
