//! Control and status registers the kernel touches.

/// `sstatus.SUM`: supervisor may access user pages.
const SSTATUS_SUM: usize = 1 << 18;
/// `sstatus.FS` = initial: floating point enabled.
const SSTATUS_FS_INITIAL: usize = 1 << 13;

/// Enables floating point and lets U-mode read `time`/`cycle`/`instret`.
pub fn init() {
    // SAFETY: setting FS and scounteren only widens what code may use; no
    // memory is touched.
    unsafe {
        core::arch::asm!("csrs sstatus, {0}", in(reg) SSTATUS_FS_INITIAL);
        core::arch::asm!("csrw scounteren, {0}", in(reg) 0b111usize);
    }
}

/// Runs `f` with access to user pages enabled (`sstatus.SUM`).
pub fn with_user_access<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: SUM only lets supervisor loads/stores reach U pages; it is
    // cleared again below.
    unsafe { core::arch::asm!("csrs sstatus, {0}", in(reg) SSTATUS_SUM) };
    let r = f();
    // SAFETY: as above.
    unsafe { core::arch::asm!("csrc sstatus, {0}", in(reg) SSTATUS_SUM) };
    r
}

/// The `time` counter (10 MHz on QEMU virt).
pub fn time() -> u64 {
    let t: u64;
    // SAFETY: reading a counter has no side effects.
    unsafe { core::arch::asm!("rdtime {0}", out(reg) t) };
    t
}

/// Ticks of [`time`] per microsecond on QEMU virt.
pub const TICKS_PER_US: u64 = 10;

/// Makes stores to instruction memory visible to instruction fetch.
pub fn fence_i() {
    // SAFETY: a fence has no memory effects beyond ordering.
    unsafe { core::arch::asm!("fence.i") };
}

/// Installs page table `root_ppn` (Sv39) and flushes the TLB.
pub fn set_satp(root_ppn: u64) {
    let satp = (8u64 << 60) | root_ppn;
    // SAFETY: the caller built a table that maps the running kernel; the
    // fence makes the switch take effect.
    unsafe { core::arch::asm!("csrw satp, {0}", "sfence.vma", in(reg) satp) };
}

/// Flushes the TLB.
pub fn sfence_vma() {
    // SAFETY: TLB maintenance only.
    unsafe { core::arch::asm!("sfence.vma") };
}
