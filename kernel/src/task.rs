//! User tasks: a task runs unprivileged until it traps; the kernel serves
//! its system calls until it exits, and ends it when it faults, reporting
//! the faulting address and carrying on.

use alloc::string::String;

use crate::arch::user::{run_user, UserContext};
use crate::arch::Mem;
use crate::protect::MemoryProtection;
use crate::{kprintln, syscall};

/// What a faulting access was, as far as the machine tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A load or store the protection refused.
    Data,
    /// An instruction fetch the protection refused.
    Instruction,
    /// Anything else (an undefined instruction, a fault while stacking).
    Other,
}

/// Why a task stopped running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// It made a system call.
    Syscall,
    /// It faulted.
    Fault {
        /// What kind of fault.
        cause: &'static str,
        /// The access that faulted.
        access: Access,
        /// The address it touched where the machine reports one; else the
        /// stack pointer for a fault while stacking, or the faulting
        /// instruction.
        address: u64,
    },
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It called `exit`.
    Exited(i32),
    /// It faulted and was ended.
    Faulted {
        /// What kind of fault.
        cause: &'static str,
        /// The access that faulted.
        access: Access,
        /// The faulting address.
        address: u64,
        /// Where it happened.
        pc: u64,
    },
    /// It could not be started.
    NotStarted(String),
}

/// Runs a started task until it exits or faults, then returns every user
/// reservation.
pub fn serve(mut ctx: UserContext) -> Outcome {
    let outcome = loop {
        match run_user(&mut ctx) {
            Stop::Syscall => {
                let (nr, a) = ctx.take_syscall();
                if nr == sysabi::EXIT {
                    break Outcome::Exited(a[0] as i32);
                }
                ctx.set_syscall_result(syscall::serve(nr, a));
            }
            Stop::Fault {
                cause,
                access,
                address,
            } => {
                break Outcome::Faulted {
                    cause,
                    access,
                    address,
                    pc: ctx.pc(),
                }
            }
        }
    };
    Mem::reset_user();
    outcome
}

impl Outcome {
    /// Whether the task was ended for an `access` at an address in
    /// `range`.
    pub fn faulted(&self, access: Access, range: core::ops::Range<u64>) -> bool {
        matches!(self, Outcome::Faulted { access: a, address, .. } if *a == access && range.contains(address))
    }
}

/// Prints how a task ended.
pub fn report(outcome: &Outcome) {
    match outcome {
        Outcome::Exited(code) => kprintln!("  task exited with status {code}"),
        Outcome::Faulted {
            cause, address, pc, ..
        } => {
            kprintln!("  task ended by the kernel: {cause} at address {address:#x} (pc {pc:#x})");
        }
        Outcome::NotStarted(why) => kprintln!("  task not started: {why}"),
    }
}
