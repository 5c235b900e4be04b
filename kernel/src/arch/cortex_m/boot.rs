//! The vector table (at address 0, where VTOR points after reset) and the
//! reset handler: clear `.bss`, enable the FPU without automatic state
//! saving, enter `kmain` in privileged thread mode on the main stack.
//!
//! Floating point: the kernel and its tasks use the FPU (the target is
//! hard-float), but exceptions do not stack its state (FPCCR.ASPEN and
//! LSPEN cleared), so every frame is the basic eight words. The task
//! switch saves `s16`..`s31` itself; the exception handlers touch no
//! floating point register.

core::arch::global_asm!(
    r#"
    .section .vectors, "a"
    .balign 4
    .globl __vectors
__vectors:
    .word _stack_top
    .word reset
    .word __unexpected_entry      @ NMI
    .word __fault_entry           @ HardFault
    .word __fault_entry           @ MemManage
    .word __fault_entry           @ BusFault
    .word __fault_entry           @ UsageFault
    .word 0, 0, 0, 0
    .word __svc_entry             @ SVCall
    .word __unexpected_entry      @ DebugMonitor
    .word 0
    .word __unexpected_entry      @ PendSV
    .word __systick_entry         @ SysTick
    .rept 32
    .word __unexpected_entry      @ external interrupts (none enabled)
    .endr

    .section .text.reset, "ax"
    .balign 4
    .globl reset
    .type reset, %function
    .thumb_func
reset:
    ldr r0, =_sbss
    ldr r1, =_ebss
    movs r2, #0
1:  cmp r0, r1
    bhs 2f
    str r2, [r0], #4
    b 1b
2:  ldr r0, =0xE000ED88           @ CPACR: CP10 and CP11 full access
    ldr r1, [r0]
    orr r1, r1, #(0xF << 20)
    str r1, [r0]
    ldr r0, =0xE000EF34           @ FPCCR: no automatic or lazy FP stacking
    ldr r1, [r0]
    bic r1, r1, #(3 << 30)
    str r1, [r0]
    dsb
    isb
    bl kmain
3:  b 3b
"#
);
