//! The entry point OpenSBI jumps to (S-mode, `a0` = hart id): set up a
//! stack, clear `.bss`, enter `kmain`.

core::arch::global_asm!(
    r#"
    .section .text.boot
    .globl _start
_start:
    la sp, _boot_stack_top
    la t0, _sbss
    la t1, _ebss
1:  bgeu t0, t1, 2f
    sd zero, 0(t0)
    addi t0, t0, 8
    j 1b
2:  call kmain
3:  wfi
    j 3b

    .section .bss.stack
    .balign 16
_boot_stack:
    .space 256 * 1024
    .globl _boot_stack_top
_boot_stack_top:
"#
);
