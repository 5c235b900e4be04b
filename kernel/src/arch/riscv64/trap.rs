//! Traps and U-mode. `run_user` enters U-mode with a saved register set and
//! returns to its caller at the next trap from U-mode, with the user's
//! registers saved back; the kernel decides what the trap means. A trap
//! taken in S-mode is a kernel bug and is reported as such.

/// The user task's registers while it is not running.
#[repr(C)]
#[derive(Debug, Clone, Default)]
pub struct UserContext {
    /// `x0`..`x31` (`x0` unused).
    pub regs: [u64; 32],
    /// Where the task resumes.
    pub sepc: u64,
    /// The kernel stack pointer while the task runs (set by `run_user`).
    pub kernel_sp: u64,
}

impl UserContext {
    /// A task about to start at `entry` with stack `sp` and `main`-style
    /// arguments `argc`, `argv` (in `a0`, `a1`).
    pub fn start(entry: u64, sp: u64, argc: u64, argv: u64) -> Self {
        let mut ctx = UserContext::default();
        ctx.regs[2] = sp;
        ctx.regs[10] = argc;
        ctx.regs[11] = argv;
        ctx.sepc = entry;
        ctx
    }

    /// The system call the task just made (number in `a7`, arguments in
    /// `a0`..`a3`); the task will resume after its `ecall`.
    pub fn take_syscall(&mut self) -> (u64, [u64; 4]) {
        self.sepc += 4;
        (
            self.regs[17],
            [self.regs[10], self.regs[11], self.regs[12], self.regs[13]],
        )
    }

    /// Hands the task a system call's result (in `a0`).
    pub fn set_syscall_result(&mut self, value: u64) {
        self.regs[10] = value;
    }

    /// Where the task is (or stopped).
    pub fn pc(&self) -> u64 {
        self.sepc
    }
}

/// What a trap from U-mode was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// `ecall`: a system call.
    Syscall,
    /// Instruction fetch from a page the task may not execute.
    FetchFault,
    /// Load from a page the task may not read.
    LoadFault,
    /// Store to a page the task may not write.
    StoreFault,
    /// An instruction the task may not run.
    IllegalInstruction,
    /// Anything else.
    Other,
}

impl TrapKind {
    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            TrapKind::Syscall => "system call",
            TrapKind::FetchFault => "instruction page fault",
            TrapKind::LoadFault => "load page fault",
            TrapKind::StoreFault => "store page fault",
            TrapKind::IllegalInstruction => "illegal instruction",
            TrapKind::Other => "exception",
        }
    }
}

/// Why the task stopped.
#[derive(Debug, Clone, Copy)]
pub struct Trap {
    /// `scause`.
    pub cause: u64,
    /// `stval`: faulting address for page faults.
    pub value: u64,
}

impl Trap {
    /// What the trap was.
    pub fn kind(&self) -> TrapKind {
        match self.cause {
            2 => TrapKind::IllegalInstruction,
            8 => TrapKind::Syscall,
            12 => TrapKind::FetchFault,
            13 => TrapKind::LoadFault,
            15 => TrapKind::StoreFault,
            _ => TrapKind::Other,
        }
    }
}

extern "C" {
    fn __run_user(ctx: *mut UserContext);
    fn __trap_entry();
}

core::arch::global_asm!(
    r#"
    .section .text
    .globl __run_user
    .balign 4
__run_user:
    addi sp, sp, -112
    sd ra, 0(sp)
    sd s0, 8(sp)
    sd s1, 16(sp)
    sd s2, 24(sp)
    sd s3, 32(sp)
    sd s4, 40(sp)
    sd s5, 48(sp)
    sd s6, 56(sp)
    sd s7, 64(sp)
    sd s8, 72(sp)
    sd s9, 80(sp)
    sd s10, 88(sp)
    sd s11, 96(sp)
    sd sp, 264(a0)
    csrw sscratch, a0
    ld t0, 256(a0)
    csrw sepc, t0
    li t0, 1 << 8
    csrc sstatus, t0
    li t0, 1 << 5
    csrs sstatus, t0
    ld x1, 8(a0)
    ld x2, 16(a0)
    ld x3, 24(a0)
    ld x4, 32(a0)
    ld x5, 40(a0)
    ld x6, 48(a0)
    ld x7, 56(a0)
    ld x8, 64(a0)
    ld x9, 72(a0)
    ld x11, 88(a0)
    ld x12, 96(a0)
    ld x13, 104(a0)
    ld x14, 112(a0)
    ld x15, 120(a0)
    ld x16, 128(a0)
    ld x17, 136(a0)
    ld x18, 144(a0)
    ld x19, 152(a0)
    ld x20, 160(a0)
    ld x21, 168(a0)
    ld x22, 176(a0)
    ld x23, 184(a0)
    ld x24, 192(a0)
    ld x25, 200(a0)
    ld x26, 208(a0)
    ld x27, 216(a0)
    ld x28, 224(a0)
    ld x29, 232(a0)
    ld x30, 240(a0)
    ld x31, 248(a0)
    ld x10, 80(a0)
    sret

    .globl __trap_entry
    .balign 4
__trap_entry:
    csrrw sp, sscratch, sp
    beqz sp, 1f
    sd x1, 8(sp)
    sd x3, 24(sp)
    sd x4, 32(sp)
    sd x5, 40(sp)
    sd x6, 48(sp)
    sd x7, 56(sp)
    sd x8, 64(sp)
    sd x9, 72(sp)
    sd x10, 80(sp)
    sd x11, 88(sp)
    sd x12, 96(sp)
    sd x13, 104(sp)
    sd x14, 112(sp)
    sd x15, 120(sp)
    sd x16, 128(sp)
    sd x17, 136(sp)
    sd x18, 144(sp)
    sd x19, 152(sp)
    sd x20, 160(sp)
    sd x21, 168(sp)
    sd x22, 176(sp)
    sd x23, 184(sp)
    sd x24, 192(sp)
    sd x25, 200(sp)
    sd x26, 208(sp)
    sd x27, 216(sp)
    sd x28, 224(sp)
    sd x29, 232(sp)
    sd x30, 240(sp)
    sd x31, 248(sp)
    csrr t0, sscratch
    sd t0, 16(sp)
    csrw sscratch, zero
    csrr t0, sepc
    sd t0, 256(sp)
    ld sp, 264(sp)
    ld ra, 0(sp)
    ld s0, 8(sp)
    ld s1, 16(sp)
    ld s2, 24(sp)
    ld s3, 32(sp)
    ld s4, 40(sp)
    ld s5, 48(sp)
    ld s6, 56(sp)
    ld s7, 64(sp)
    ld s8, 72(sp)
    ld s9, 80(sp)
    ld s10, 88(sp)
    ld s11, 96(sp)
    addi sp, sp, 112
    ret
1:
    csrrw sp, sscratch, sp
    addi sp, sp, -256
    sd ra, 0(sp)
    sd a0, 8(sp)
    sd a1, 16(sp)
    csrr a0, scause
    csrr a1, stval
    csrr a2, sepc
    call kernel_trap
2:  j 2b
"#
);

/// Points `stvec` at the trap entry; traps in S-mode until the first
/// `run_user` are kernel bugs.
pub fn init() {
    // SAFETY: installs our own entry, which handles every trap; sscratch 0
    // marks "running in the kernel".
    unsafe {
        core::arch::asm!("csrw sscratch, zero", "csrw stvec, {0}", in(reg) __trap_entry as *const () as usize);
    }
}

/// Runs the task until it traps; returns why.
pub fn run_user(ctx: &mut UserContext) -> Trap {
    // SAFETY: `ctx` holds a valid user register set whose pc and stack lie
    // in U pages; `__run_user` returns here at the task's next trap with
    // the registers saved back into `ctx`.
    unsafe { __run_user(ctx) };
    let (cause, value): (u64, u64);
    // SAFETY: reading trap CSRs.
    unsafe {
        core::arch::asm!("csrr {0}, scause", "csrr {1}, stval", out(reg) cause, out(reg) value)
    };
    Trap { cause, value }
}

/// A trap taken while the kernel itself ran: report and stop.
#[no_mangle]
extern "C" fn kernel_trap(cause: u64, value: u64, pc: u64) -> ! {
    crate::kprintln!("KERNEL TRAP: scause={cause:#x} stval={value:#x} sepc={pc:#x}");
    super::exit::exit(3)
}
