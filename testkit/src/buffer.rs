//! `Memory` over heap buffers that hands out run-time addresses of the
//! test's choosing: an image prepared for another address space or another
//! machine, whose bytes the test reads back instead of running them. It
//! records every protection change and instruction-cache sync it is asked
//! for.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;
use std::sync::Mutex;

use modlib::{Memory, MemoryError, Protection, Reservation};

/// Page size the buffers are managed in.
const PAGE: usize = 4096;

/// One live reservation.
#[derive(Debug)]
struct Span {
    host: usize,
    addr: u64,
    size: usize,
    layout: Layout,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    live: Vec<Span>,
    protections: Vec<(u64, usize, Protection)>,
    icache_syncs: Vec<(u64, usize)>,
}

/// Heap buffers standing in for memory at fixed run-time addresses:
/// reservations are handed out from `first` upwards, each aligned as asked.
#[derive(Debug)]
pub struct BufferMemory {
    state: Mutex<State>,
}

impl BufferMemory {
    /// Memory whose first reservation starts at run-time address `first`
    /// (or the next multiple of the alignment asked for).
    pub fn new(first: u64) -> Self {
        BufferMemory {
            state: Mutex::new(State {
                next: first,
                ..State::default()
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of the bytes at run-time addresses `addr..addr+len`, if they
    /// lie in one live reservation.
    pub fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let state = self.state();
        let span = state
            .live
            .iter()
            .find(|s| s.addr <= addr && addr + len as u64 <= s.addr + s.size as u64)?;
        let offset = (addr - span.addr) as usize;
        // SAFETY: the range lies inside a live buffer this memory allocated
        // (checked above); the loader writes it only through `&mut` borrows
        // of the image, none of which can be alive while the caller holds
        // the image by shared reference to call this.
        let bytes = unsafe { std::slice::from_raw_parts((span.host + offset) as *const u8, len) };
        Some(bytes.to_vec())
    }

    /// Every `protect` call so far: run-time address, length, protection.
    pub fn protections(&self) -> Vec<(u64, usize, Protection)> {
        self.state().protections.clone()
    }

    /// Every `sync_icache` call so far: run-time address and length.
    pub fn icache_syncs(&self) -> Vec<(u64, usize)> {
        self.state().icache_syncs.clone()
    }

    /// Reservations not yet released.
    pub fn live_reservations(&self) -> usize {
        self.state().live.len()
    }
}

fn check(res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
    if offset & (PAGE - 1) != 0 || offset.checked_add(len).is_none_or(|end| end > res.size()) {
        return Err(MemoryError::BadRange { offset, len });
    }
    Ok(())
}

impl Memory for BufferMemory {
    fn page_size(&self) -> usize {
        PAGE
    }

    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let align = align.max(PAGE);
        let layout = Layout::from_size_align(size.max(1), PAGE)
            .map_err(|_| MemoryError::Exhausted { size })?;
        let mut state = self.state();
        let addr = state
            .next
            .checked_add(align as u64 - 1)
            .map(|a| a & !(align as u64 - 1))
            .ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the layout has a non-zero size.
        let host =
            NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(MemoryError::Exhausted { size })?;
        state.next = addr + size as u64;
        state.live.push(Span {
            host: host.as_ptr() as usize,
            addr,
            size,
            layout,
        });
        // SAFETY: the buffer is freshly allocated, owned by this memory until
        // `release`, and readable and writable throughout.
        Ok(unsafe { Reservation::new(host, addr, size) })
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        check(res, offset, len)?;
        // SAFETY: the range lies in the reservation's buffer (checked), and
        // the loader holds no slice of it while it commits.
        unsafe { res.host().as_ptr().add(offset).write_bytes(0, len) };
        Ok(())
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        check(res, offset, len)?;
        self.state()
            .protections
            .push((res.addr() + offset as u64, len, prot));
        Ok(())
    }

    fn sync_icache(&self, res: &Reservation, offset: usize, len: usize) {
        self.state()
            .icache_syncs
            .push((res.addr() + offset as u64, len));
    }

    fn release(&self, res: Reservation) {
        let mut state = self.state();
        let host = res.host().as_ptr() as usize;
        if let Some(i) = state.live.iter().position(|s| s.host == host) {
            let span = state.live.swap_remove(i);
            // SAFETY: allocated in `reserve` with this layout and released once.
            unsafe { dealloc(span.host as *mut u8, span.layout) };
        }
    }
}

impl Drop for BufferMemory {
    fn drop(&mut self) {
        for span in self.state().live.drain(..) {
            // SAFETY: allocated in `reserve` with this layout, never freed.
            unsafe { dealloc(span.host as *mut u8, span.layout) };
        }
    }
}
