//! A `Memory` wrapper that counts what is held, and can refuse requests, so
//! tests can prove that every path gives back every byte.

use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use modlib::{Memory, MemoryError, Protection, Reservation};

/// Counts live reservations and bytes of an inner `Memory`; optionally fails
/// the n-th operation.
#[derive(Debug, Default)]
pub struct CountingMemory<M> {
    inner: M,
    live: AtomicUsize,
    bytes: AtomicUsize,
    reserved_total: AtomicUsize,
    /// Operations left before one is refused; negative means never.
    fail_in: AtomicIsize,
}

impl<M: Memory> CountingMemory<M> {
    /// Wraps `inner`; nothing is refused.
    pub fn new(inner: M) -> Self {
        CountingMemory {
            inner,
            live: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
            reserved_total: AtomicUsize::new(0),
            fail_in: AtomicIsize::new(-1),
        }
    }

    /// Refuses the operation (reserve, commit or protect) after `n` more succeed.
    pub fn fail_after(&self, n: usize) {
        self.fail_in.store(n as isize, Ordering::SeqCst);
    }

    /// Reservations not yet released.
    pub fn live_reservations(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Bytes held by live reservations.
    pub fn live_bytes(&self) -> usize {
        self.bytes.load(Ordering::SeqCst)
    }

    /// Bytes ever reserved.
    pub fn reserved_total(&self) -> usize {
        self.reserved_total.load(Ordering::SeqCst)
    }

    fn should_fail(&self) -> bool {
        let left = self.fail_in.load(Ordering::SeqCst);
        if left < 0 {
            return false;
        }
        self.fail_in.store(left - 1, Ordering::SeqCst);
        left == 0
    }
}

impl<M: Memory> Memory for CountingMemory<M> {
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }

    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        if self.should_fail() {
            return Err(MemoryError::Exhausted { size });
        }
        let res = self.inner.reserve(size, align)?;
        self.live.fetch_add(1, Ordering::SeqCst);
        self.bytes.fetch_add(res.size(), Ordering::SeqCst);
        self.reserved_total.fetch_add(res.size(), Ordering::SeqCst);
        Ok(res)
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        if self.should_fail() {
            return Err(MemoryError::Refused { code: -1 });
        }
        self.inner.commit(res, offset, len)
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        if self.should_fail() {
            return Err(MemoryError::Refused { code: -1 });
        }
        self.inner.protect(res, offset, len, prot)
    }

    fn sync_icache(&self, res: &Reservation, offset: usize, len: usize) {
        self.inner.sync_icache(res, offset, len);
    }

    fn release(&self, res: Reservation) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.bytes.fetch_sub(res.size(), Ordering::SeqCst);
        self.inner.release(res);
    }
}
