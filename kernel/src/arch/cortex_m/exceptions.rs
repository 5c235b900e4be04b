//! Exception entry and the switch between the kernel and a task.
//!
//! The kernel runs in privileged thread mode on the main stack (MSP); a
//! task runs in unprivileged thread mode on the process stack (PSP);
//! exceptions run in handler mode on MSP. `__run_user` saves the kernel's
//! callee-saved registers and makes an `svc` from the kernel: the SVCall
//! handler sees an MSP return (EXC_RETURN bit 2 clear), remembers where
//! the kernel's exception frame is, loads the task's `r4`..`r11`,
//! `s16`..`s31` and PSP, drops privilege (CONTROL.nPRIV) and returns to
//! thread mode on PSP. The next exception the task takes (its own `svc`,
//! or a fault) with a PSP return saves the task's registers back, restores
//! privilege, points MSP at the kernel's frame and returns through it: the
//! kernel continues after its `svc` as if `__run_user` had returned. An
//! exception with an MSP return other than the kernel's `svc` is a kernel
//! bug and stops the machine.

use super::reg;
use super::user::UserContext;

extern "C" {
    /// Runs the task in `ctx` until it takes an exception.
    pub fn __run_user(ctx: *mut UserContext);
}

core::arch::global_asm!(
    r#"
    .fpu fpv4-sp-d16
    .section .bss.user_ctx, "aw", %nobits
    .balign 4
__user_ctx:                       @ the task being run
    .space 4

    .section .text.exceptions, "ax"
    .balign 4
    .globl __run_user
    .type __run_user, %function
    .thumb_func
__run_user:
    push {{r3-r11, lr}}
    vpush {{s16-s31}}
    ldr r1, =__user_ctx
    str r0, [r1]
    svc #0
    vpop {{s16-s31}}
    pop {{r3-r11, pc}}

    .globl __svc_entry
    .type __svc_entry, %function
    .thumb_func
__svc_entry:
    tst lr, #4
    bne __trap_from_user
    ldr r0, =__user_ctx
    ldr r0, [r0]
    mov r1, sp
    str r1, [r0, #40]
    ldmia r0, {{r4-r11}}
    add r1, r0, #48
    vldmia r1, {{s16-s31}}
    ldr r1, [r0, #32]
    msr psp, r1
    movs r1, #1
    msr control, r1
    isb
    ldr lr, =0xFFFFFFFD
    bx lr

    .globl __fault_entry
    .type __fault_entry, %function
    .thumb_func
__fault_entry:
    tst lr, #4
    beq __unexpected_entry
__trap_from_user:
    ldr r0, =__user_ctx
    ldr r0, [r0]
    stmia r0, {{r4-r11}}
    add r1, r0, #48
    vstmia r1, {{s16-s31}}
    mrs r1, psp
    str r1, [r0, #32]
    mrs r1, ipsr
    str r1, [r0, #36]
    movs r1, #0
    msr control, r1
    isb
    ldr r1, [r0, #40]
    mov sp, r1
    ldr lr, =0xFFFFFFF9
    bx lr

    .globl __unexpected_entry
    .type __unexpected_entry, %function
    .thumb_func
__unexpected_entry:
    mrs r0, ipsr
    mov r1, sp
    mov r2, lr
    b kernel_exception

    .globl __systick_entry
    .type __systick_entry, %function
    .thumb_func
__systick_entry:
    b {tick}
"#,
    tick = sym super::clock::tick,
);

/// The exception number of MemManage.
pub const MEM_MANAGE: u32 = 4;
/// The exception number of BusFault.
pub const BUS_FAULT: u32 = 5;
/// The exception number of UsageFault.
pub const USAGE_FAULT: u32 = 6;
/// The exception number of SVCall.
pub const SVCALL: u32 = 11;

const SHCSR_MEMFAULTENA: u32 = 1 << 16;
const SHCSR_BUSFAULTENA: u32 = 1 << 17;
const SHCSR_USGFAULTENA: u32 = 1 << 18;

/// Gives MemManage, BusFault and UsageFault their own handlers (otherwise
/// they escalate to HardFault).
pub fn init() {
    reg::write(
        reg::SHCSR,
        reg::read(reg::SHCSR) | SHCSR_MEMFAULTENA | SHCSR_BUSFAULTENA | SHCSR_USGFAULTENA,
    );
}

/// An exception taken while the kernel itself ran: report and stop.
#[no_mangle]
extern "C" fn kernel_exception(exception: u32, frame: *const u32, exc_return: u32) -> ! {
    // SAFETY: `frame` is the MSP at entry, where the processor stacked
    // eight words (r0-r3, r12, lr, pc, xpsr) of the interrupted code.
    let pc = unsafe { frame.add(6).read_volatile() };
    crate::kprintln!(
        "KERNEL EXCEPTION {exception}: pc {pc:#x} EXC_RETURN {exc_return:#x} CFSR {:#x} HFSR {:#x} MMFAR {:#x} BFAR {:#x}",
        reg::read(reg::CFSR),
        reg::read(reg::HFSR),
        reg::read(reg::MMFAR),
        reg::read(reg::BFAR)
    );
    super::exit::exit(3)
}
