//! The memory-protection interface over the MPU: the module pool and the
//! user pool of the [region plan](super::mpu), one granule (a subregion)
//! at a time.

use super::mpu::{self, Access};
use super::pool::Pool;
use super::reg;
use crate::protect::{self, MemoryProtection, Prot};

/// Granule of both pools: one subregion of a 1 MiB window.
const GRANULE: u32 = 128 << 10;

/// Where the user pool starts.
pub const USER_POOL_START: u64 = 0x2180_0000;
/// Where it ends (two windows).
pub const USER_POOL_END: u64 = 0x21a0_0000;

static MODULES: spin::Mutex<Pool> = spin::Mutex::new(Pool::new(
    0x0030_0000,
    GRANULE,
    1,
    mpu::MODULE_POOL,
    Access::KernelRead,
    Access::KernelReadWrite,
    0,
));

static USER: spin::Mutex<Pool> = spin::Mutex::new(Pool::new(
    USER_POOL_START as u32,
    GRANULE,
    2,
    mpu::USER_POOL,
    Access::Read,
    Access::ReadWrite,
    1,
));

fn pool(which: protect::Pool) -> &'static spin::Mutex<Pool> {
    match which {
        protect::Pool::Module => &MODULES,
        protect::Pool::User => &USER,
    }
}

/// Programs both pools' regions (the built-in tasks' granule granted).
pub fn init() {
    MODULES.lock().program();
    USER.lock().program();
}

/// Reserves the user granules `[va, va + size)` (the user image's place).
pub fn user_reserve_at(va: u64, size: u64) -> bool {
    USER.lock().reserve_at(va, size)
}

/// The most user granules in use since the last call, with the MPU
/// regions enabled then.
pub fn user_peak() -> (usize, u32) {
    USER.lock().take_peak()
}

/// Granules in use in the module and user pools.
pub fn used() -> (usize, usize) {
    (MODULES.lock().used(), USER.lock().used())
}

/// MPU regions as the kernel's memory protection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem;

impl MemoryProtection for Mem {
    const GRANULE: u64 = GRANULE as u64;

    fn reserve(which: protect::Pool, size: u64, align: u64) -> Option<u64> {
        pool(which).lock().reserve(size, align)
    }

    fn commit(which: protect::Pool, va: u64, len: u64) -> bool {
        pool(which).lock().commit(va, len)
    }

    fn protect(which: protect::Pool, va: u64, len: u64, prot: Prot) -> bool {
        pool(which).lock().protect(va, len, prot)
    }

    fn release(which: protect::Pool, va: u64, size: u64) -> bool {
        pool(which).lock().release(va, size)
    }

    fn reset_user() {
        USER.lock().reset();
    }

    fn user_range_ok(va: u64, len: u64, write: bool) -> bool {
        USER.lock().accessible(va, len, write)
    }

    fn with_user_access<R>(f: impl FnOnce() -> R) -> R {
        f()
    }

    fn sync_icache() {
        reg::barrier();
    }
}
