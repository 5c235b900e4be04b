//! The kernel heap: a `linked_list_allocator` over RAM the machine sets
//! aside for it.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Hands `[start, start + size)` to the allocator.
///
/// # Safety
/// The range must be RAM that nothing else uses, writable by the kernel.
pub unsafe fn init(start: usize, size: usize) {
    // SAFETY: per the contract.
    unsafe { HEAP.lock().init(start as *mut u8, size) };
}

/// Bytes of kernel heap in use.
pub fn used() -> usize {
    HEAP.lock().used()
}
