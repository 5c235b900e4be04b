//! The memory-protection interface every machine implements: pools of
//! memory the kernel hands out in granules (the module pool, privileged
//! only, for `kmod`; the user pool, for the task and its `libdl`), each
//! granule read-write or read-execute, never both. Sv39 pages back it on
//! riscv64, PMSAv7 MPU regions on Cortex-M.

/// Permissions of a range, as a loader asks for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prot {
    /// Read-only.
    Read,
    /// Read-write, never executable.
    ReadWrite,
    /// Read-execute, never writable.
    ReadExecute,
}

/// Which pool a range comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Kernel modules: reachable only in privileged mode.
    Module,
    /// The user task: reachable in unprivileged mode.
    User,
}

/// Memory protection as the machine provides it.
pub trait MemoryProtection {
    /// The unit of reservation and protection, in bytes.
    const GRANULE: u64;

    /// Reserves `size` bytes (a multiple of [`Self::GRANULE`]) of `pool`
    /// address space aligned to `align`; nothing is accessible yet.
    fn reserve(pool: Pool, size: u64, align: u64) -> Option<u64>;

    /// Makes `[va, va + len)` of a reservation read-write and zeroed.
    fn commit(pool: Pool, va: u64, len: u64) -> bool;

    /// Sets the permissions of committed memory.
    fn protect(pool: Pool, va: u64, len: u64, prot: Prot) -> bool;

    /// Returns a whole reservation.
    fn release(pool: Pool, va: u64, size: u64) -> bool;

    /// Returns every user reservation (between tasks).
    fn reset_user();

    /// Whether `[va, va + len)` is committed user memory the task may read,
    /// and write if `write` (system call arguments).
    fn user_range_ok(va: u64, len: u64, write: bool) -> bool;

    /// Runs `f` with kernel access to user memory enabled.
    fn with_user_access<R>(f: impl FnOnce() -> R) -> R;

    /// Makes stores to memory about to be executed visible to instruction
    /// fetch.
    fn sync_icache();
}
