//! The memory-protection interface over Sv39 paging: the module region
//! and the user region of [`vm`](super::vm), one page per granule.

use super::{csr, paging::PAGE, vm};
use crate::protect::{MemoryProtection, Pool, Prot};

/// Paging as the kernel's memory protection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem;

impl MemoryProtection for Mem {
    const GRANULE: u64 = PAGE;

    fn reserve(pool: Pool, size: u64, align: u64) -> Option<u64> {
        match pool {
            Pool::Module => vm::module_reserve(size, align),
            Pool::User => vm::user_reserve(size, align),
        }
    }

    fn commit(pool: Pool, va: u64, len: u64) -> bool {
        match pool {
            Pool::Module => vm::module_commit(va, len),
            Pool::User => vm::user_commit(va, len),
        }
    }

    fn protect(pool: Pool, va: u64, len: u64, prot: Prot) -> bool {
        match pool {
            Pool::Module => vm::module_protect(va, len, prot),
            Pool::User => vm::user_protect(va, len, prot),
        }
    }

    fn release(pool: Pool, va: u64, size: u64) -> bool {
        match pool {
            Pool::Module => {
                vm::module_release(va, size);
                true
            }
            Pool::User => vm::user_release(va, size),
        }
    }

    fn reset_user() {
        vm::user_reset();
    }

    fn user_range_ok(va: u64, len: u64, write: bool) -> bool {
        vm::user_range_ok(va, len, write)
    }

    fn with_user_access<R>(f: impl FnOnce() -> R) -> R {
        csr::with_user_access(f)
    }

    fn sync_icache() {
        csr::fence_i();
    }
}
