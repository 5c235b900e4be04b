//! Arm (Cortex-M, Thumb-2): `_start` (the kernel enters with `r0` = argc,
//! `r1` = argv), `svc #0` with the number in `r12`, and the barriers that
//! make new code visible to instruction fetch.

core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
    .type _start, %function
    .thumb_func
_start:
    bl user_main
1:  b 1b
"#
);

/// The machine this user image runs on.
pub const MACHINE: modlib::Machine = modlib::Machine::Arm;

/// The unit the kernel reserves and protects user memory in: one MPU
/// subregion.
pub const PAGE_SIZE: usize = 128 << 10;

/// Issues system call `nr` with four arguments; returns `r0`.
pub fn syscall(nr: u64, a0: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let ret: u32;
    // SAFETY: `svc #0` enters the kernel, which validates every argument
    // and only writes user memory it has checked is ours; it returns in
    // `r0` and may use the registers a C call clobbers.
    unsafe {
        core::arch::asm!(
            "svc #0",
            inlateout("r0") a0 as u32 => ret,
            inlateout("r1") a1 as u32 => _,
            inlateout("r2") a2 as u32 => _,
            inlateout("r3") a3 as u32 => _,
            inlateout("r12") nr as u32 => _,
            out("d0") _, out("d1") _, out("d2") _, out("d3") _,
            out("d4") _, out("d5") _, out("d6") _, out("d7") _,
        );
    }
    if ret == u32::MAX {
        u64::MAX
    } else {
        u64::from(ret)
    }
}

/// Makes code stored to memory visible to instruction fetch.
pub fn fence_i() {
    // SAFETY: barriers only order the instruction stream.
    unsafe { core::arch::asm!("dsb", "isb", options(nostack, preserves_flags)) };
}
