//! The kernel heap: a `linked_list_allocator` over RAM after the image.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Size of the kernel heap.
pub const SIZE: usize = 32 << 20;

/// Hands `[start, start + SIZE)` to the allocator.
///
/// # Safety
/// The range must be RAM that nothing else uses, mapped read-write.
pub unsafe fn init(start: usize) {
    // SAFETY: per the contract.
    unsafe { HEAP.lock().init(start as *mut u8, SIZE) };
}

/// Bytes of kernel heap in use.
pub fn used() -> usize {
    HEAP.lock().used()
}
