//! Entering unprivileged thread mode: a task's saved registers, its
//! start, its system calls (`svc #0`: number in `r12`, arguments in
//! `r0`..`r3`, result in `r0`, all in the frame the processor stacked on
//! PSP) and what ended its run.

use super::exceptions::{self, BUS_FAULT, MEM_MANAGE, SVCALL, USAGE_FAULT};
use super::reg;
use super::Mem;
use crate::protect::MemoryProtection;
use crate::task::{Access, Stop};

/// Words of the basic exception frame: r0-r3, r12, lr, pc, xPSR.
const FRAME_WORDS: usize = 8;
/// xPSR with the Thumb bit, as a task starts.
const XPSR_THUMB: u32 = 1 << 24;

/// The task's registers while it is not running; the offsets are those
/// the exception entries use.
#[repr(C)]
#[derive(Debug, Clone, Default)]
pub struct UserContext {
    /// `r4`..`r11` (offset 0).
    callee_saved: [u32; 8],
    /// PSP: the task's exception frame (offset 32).
    psp: u32,
    /// The exception that ended the last run (offset 36).
    exception: u32,
    /// MSP at the kernel's own `svc` (offset 40).
    kernel_frame: u32,
    _pad: u32,
    /// `s16`..`s31` (offset 48).
    fp_callee_saved: [u32; 16],
}

impl UserContext {
    /// A task about to start at `entry` (a Thumb function address) with
    /// its stack ending at `stack_top` (8-byte aligned, writable by the
    /// kernel) and arguments `a0`, `a1`.
    pub fn start(entry: u32, stack_top: u32, a0: u32, a1: u32) -> Self {
        let frame = stack_top - (FRAME_WORDS * 4) as u32;
        let words = [a0, a1, 0, 0, 0, 0, entry & !1, XPSR_THUMB];
        // SAFETY: the caller gives a stack the kernel may write; the frame
        // fits below its top.
        unsafe {
            core::ptr::copy_nonoverlapping(words.as_ptr(), frame as *mut u32, FRAME_WORDS);
        }
        UserContext {
            psp: frame,
            ..UserContext::default()
        }
    }

    fn frame(&self) -> *mut u32 {
        self.psp as *mut u32
    }

    /// The system call the task just made; it resumes after its `svc`.
    pub fn take_syscall(&mut self) -> (u64, [u64; 4]) {
        let f = self.frame();
        // SAFETY: the processor stacked the frame at PSP on the `svc`, so
        // it is in memory the task could write and the kernel can read.
        let w = |i: usize| u64::from(unsafe { f.add(i).read_volatile() });
        (w(4), [w(0), w(1), w(2), w(3)])
    }

    /// Hands the task a system call's result (in `r0`).
    pub fn set_syscall_result(&mut self, value: u64) {
        // SAFETY: as in `take_syscall`; the frame's `r0` is restored on
        // return to the task.
        unsafe { self.frame().write_volatile(value as u32) };
    }

    /// Where the task is (or stopped): the stacked PC; 0 if the task's
    /// stack pointer left its data, so nothing could be stacked.
    pub fn pc(&self) -> u64 {
        if !Mem::user_range_ok(u64::from(self.psp), (FRAME_WORDS * 4) as u64, true) {
            return 0;
        }
        // SAFETY: the frame lies in the task's committed data (checked).
        u64::from(unsafe { self.frame().add(6).read_volatile() })
    }
}

const MMFSR_IACCVIOL: u32 = 1 << 0;
const MMFSR_DACCVIOL: u32 = 1 << 1;
const MMFSR_MSTKERR: u32 = 1 << 4;
const MMFSR_MMARVALID: u32 = 1 << 7;
const BFSR_BFARVALID: u32 = 1 << 15;
const UFSR_UNDEFINSTR: u32 = 1 << 16;

/// Runs the task until it takes an exception.
pub fn run_user(ctx: &mut UserContext) -> Stop {
    // SAFETY: `ctx` starts or resumes a task whose PSP frame lies in
    // memory the MPU grants it; `__run_user` returns at the task's next
    // exception with its registers saved back into `ctx`.
    unsafe { exceptions::__run_user(ctx) };
    if ctx.exception == SVCALL {
        return Stop::Syscall;
    }
    let cfsr = reg::read(reg::CFSR);
    let pc = ctx.pc();
    let (cause, access, address) = match ctx.exception {
        MEM_MANAGE => {
            let address = if cfsr & MMFSR_MMARVALID != 0 {
                u64::from(reg::read(reg::MMFAR))
            } else if cfsr & MMFSR_MSTKERR != 0 {
                u64::from(ctx.psp)
            } else {
                pc
            };
            if cfsr & MMFSR_IACCVIOL != 0 {
                (
                    "MemManage fault (instruction access violation)",
                    Access::Instruction,
                    address,
                )
            } else if cfsr & MMFSR_DACCVIOL != 0 {
                (
                    "MemManage fault (data access violation)",
                    Access::Data,
                    address,
                )
            } else if cfsr & MMFSR_MSTKERR != 0 {
                ("MemManage fault (stacking)", Access::Other, address)
            } else {
                ("MemManage fault", Access::Other, address)
            }
        }
        BUS_FAULT if cfsr & BFSR_BFARVALID != 0 => {
            ("BusFault", Access::Data, u64::from(reg::read(reg::BFAR)))
        }
        BUS_FAULT => ("BusFault", Access::Other, pc),
        USAGE_FAULT if cfsr & UFSR_UNDEFINSTR != 0 => {
            ("UsageFault (undefined instruction)", Access::Other, pc)
        }
        USAGE_FAULT => ("UsageFault", Access::Other, pc),
        _ => ("HardFault", Access::Other, pc),
    };
    reg::write(reg::CFSR, cfsr);
    reg::write(reg::HFSR, reg::read(reg::HFSR));
    Stop::Fault {
        cause,
        access,
        address,
    }
}
