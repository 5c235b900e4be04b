//! The heap (a `linked_list_allocator` over the RAM between the stack and
//! `__heap_end`) and `HeapMemory`, the `modlib::Memory` the loader takes
//! images from. Machine mode without PMP may read, write and execute all
//! of RAM, so permissions are only recorded by the loader; `sync_icache`
//! is `fence.i`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

use linked_list_allocator::LockedHeap;
use modlib::{Memory, MemoryError, Protection, Reservation};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

extern "C" {
    static __heap_start: u8;
    static __heap_end: u8;
}

/// Hands the RAM the linker script sets aside to the allocator.
pub fn init() {
    let start = (&raw const __heap_start) as usize;
    let end = (&raw const __heap_end) as usize;
    // SAFETY: the linker script places `__heap_start..__heap_end` after
    // everything the image holds, below `.farcode`; nothing else uses it,
    // and `init` runs once, before any allocation.
    unsafe { HEAP.lock().init(start as *mut u8, end - start) };
}

/// Bytes of heap in use.
pub fn used() -> usize {
    HEAP.lock().used()
}

/// Bytes of heap left.
pub fn free() -> usize {
    HEAP.lock().free()
}

/// Reservations a `HeapMemory` can have outstanding at once.
const SLOTS: usize = 32;

/// `modlib::Memory` over the heap: each reservation is one heap block.
/// Outstanding blocks are kept in a fixed table (not a growing `Vec`), so
/// that the heap's used count is back where it started once every image
/// is dropped.
pub struct HeapMemory {
    live: spin::Mutex<[Option<(usize, Layout)>; SLOTS]>,
}

/// The page size images are laid out in.
pub const PAGE: usize = 4096;

impl HeapMemory {
    /// No reservations yet.
    pub const fn new() -> Self {
        HeapMemory {
            live: spin::Mutex::new([None; SLOTS]),
        }
    }

    /// Reservations not yet released.
    pub fn live_reservations(&self) -> usize {
        self.live.lock().iter().flatten().count()
    }

    /// Bytes of reservations not yet released.
    pub fn live_bytes(&self) -> usize {
        self.live
            .lock()
            .iter()
            .flatten()
            .map(|(_, l)| l.size())
            .sum()
    }
}

/// Checks that `offset..offset+len` lies in `res`.
fn in_range(res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
    match offset.checked_add(len) {
        Some(end) if end <= res.size() => Ok(()),
        _ => Err(MemoryError::BadRange { offset, len }),
    }
}

impl Memory for HeapMemory {
    fn page_size(&self) -> usize {
        PAGE
    }

    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let layout = Layout::from_size_align(size.max(1), align.max(PAGE))
            .map_err(|_| MemoryError::Exhausted { size })?;
        let mut live = self.live.lock();
        let slot = live
            .iter_mut()
            .find(|s| s.is_none())
            .ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the layout has a non-zero size.
        let ptr =
            NonNull::new(unsafe { HEAP.alloc(layout) }).ok_or(MemoryError::Exhausted { size })?;
        *slot = Some((ptr.as_ptr() as usize, layout));
        // SAFETY: the block is ours until `release` gives it back, and all
        // of RAM is readable and writable in machine mode.
        Ok(unsafe { Reservation::new(ptr, ptr.as_ptr() as u64, size) })
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        in_range(res, offset, len)?;
        // SAFETY: the range lies in the reservation's heap block (checked
        // above), which nothing else refers to while the loader commits it.
        unsafe { res.host().as_ptr().add(offset).write_bytes(0, len) };
        Ok(())
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        _prot: Protection,
    ) -> Result<(), MemoryError> {
        in_range(res, offset, len)
    }

    fn sync_icache(&self, _res: &Reservation, _offset: usize, _len: usize) {
        // SAFETY: `fence.i` only orders this hart's instruction fetches
        // after its earlier stores.
        unsafe { core::arch::asm!("fence.i") };
    }

    fn release(&self, res: Reservation) {
        let addr = res.host().as_ptr() as usize;
        let mut live = self.live.lock();
        let slot = live
            .iter_mut()
            .find(|s| s.is_some_and(|(a, _)| a == addr))
            .expect("released reservation was handed out by this memory");
        let (_, layout) = slot.take().expect("slot found above");
        // SAFETY: the block was allocated in `reserve` with this layout and
        // is given back once (its slot is now empty).
        unsafe { HEAP.dealloc(addr as *mut u8, layout) };
    }
}
