//! riscv64: `_start` (the kernel enters with `a0` = argc, `a1` = argv),
//! `ecall` with the number in `a7`, and `fence.i`.

core::arch::global_asm!(
    r#"
    .section .text.entry
    .globl _start
_start:
    call user_main
1:  j 1b
"#
);

/// The machine this user image runs on.
pub const MACHINE: modlib::Machine = modlib::Machine::Riscv64;

/// The unit the kernel maps user memory in.
pub const PAGE_SIZE: usize = 4096;

/// Issues system call `nr` with four arguments; returns `a0`.
pub fn syscall(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let ret: u64;
    // SAFETY: `ecall` traps to the kernel, which validates every argument
    // and only writes user memory it has checked is ours.
    unsafe {
        core::arch::asm!("ecall", inlateout("a0") a0 => ret, in("a1") a1, in("a2") a2, in("a3") a3, in("a7") nr);
    }
    ret
}

/// Makes code stored to memory visible to instruction fetch.
pub fn fence_i() {
    // SAFETY: an instruction fence only orders fetches after our stores.
    unsafe { core::arch::asm!("fence.i") };
}
