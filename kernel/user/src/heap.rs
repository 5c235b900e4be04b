//! The user heap (`linked_list_allocator` over pages from the kernel) and
//! the C allocation functions on top of it.

use core::alloc::Layout;

use linked_list_allocator::LockedHeap;

use crate::sys;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// The heap: 16 MiB where memory is paged, one 128 KiB granule on
/// Cortex-M.
#[cfg(target_arch = "riscv64")]
const SIZE: u64 = 16 << 20;
#[cfg(target_arch = "arm")]
const SIZE: u64 = crate::arch::PAGE_SIZE as u64;
const HEADER: usize = 16;

/// Gets heap pages from the kernel.
pub fn init() {
    let va = sys::call(sys::RESERVE, SIZE, crate::arch::PAGE_SIZE as u64, 0, 0);
    if va == sys::ERR || sys::call(sys::COMMIT, va, SIZE, 0, 0) == sys::ERR {
        sys::write(b"user: no memory for the heap\n");
        sys::exit(12);
    }
    // SAFETY: the pages were just committed read-write for this task and
    // nothing else uses them.
    unsafe { HEAP.lock().init(va as *mut u8, SIZE as usize) };
}

/// `malloc` (16-byte aligned, size kept in a header for `free`/`realloc`).
#[no_mangle]
pub extern "C" fn malloc(size: usize) -> *mut u8 {
    let Ok(layout) = Layout::from_size_align(size + HEADER, 16) else {
        return core::ptr::null_mut();
    };
    // SAFETY: non-zero size; the header records it.
    unsafe {
        let p = alloc::alloc::alloc(layout);
        if p.is_null() {
            return p;
        }
        p.cast::<usize>().write(size);
        p.add(HEADER)
    }
}

/// `free`.
#[no_mangle]
pub extern "C" fn free(ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `malloc`, whose header holds its size.
    unsafe {
        let base = ptr.sub(HEADER);
        let size = base.cast::<usize>().read();
        alloc::alloc::dealloc(base, Layout::from_size_align_unchecked(size + HEADER, 16));
    }
}

/// `calloc`.
#[no_mangle]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut u8 {
    let Some(total) = n.checked_mul(size) else {
        return core::ptr::null_mut();
    };
    let p = malloc(total);
    if !p.is_null() {
        // SAFETY: `p` has `total` bytes.
        unsafe { core::ptr::write_bytes(p, 0, total) };
    }
    p
}

/// `realloc`.
#[no_mangle]
pub extern "C" fn realloc(ptr: *mut u8, size: usize) -> *mut u8 {
    if ptr.is_null() {
        return malloc(size);
    }
    let q = malloc(size);
    if !q.is_null() {
        // SAFETY: `ptr` came from `malloc`; copy the smaller of the sizes.
        unsafe {
            let old = ptr.sub(HEADER).cast::<usize>().read();
            core::ptr::copy_nonoverlapping(ptr, q, old.min(size));
        }
        free(ptr);
    }
    q
}
