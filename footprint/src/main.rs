//! The smallest kernel that uses the module manager: it inserts a module
//! from a buffer, looks a symbol up and removes it again. It is linked,
//! not run: `scripts/footprint.sh` measures how much of its text is
//! `modlib`, `kmod` and the `elf` crate, for one machine (Arm) at the
//! size-optimised `embedded` profile.
#![no_std]
#![no_main]
#![cfg_attr(feature = "baseline", allow(unused))]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use kmod::{KernelTable, ModuleManager};
use modlib::{Memory, MemoryError, Protection, Reservation};

/// A bump allocator over a static arena (the measured code, not this,
/// is what counts).
struct Arena {
    bytes: UnsafeCell<[u8; 64 * 1024]>,
    next: AtomicUsize,
}

// SAFETY: allocations hand out disjoint ranges (the cursor is atomic).
unsafe impl Sync for Arena {}

// SAFETY: every allocation is a fresh, aligned, in-bounds range of the
// arena; nothing is ever freed.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.bytes.get().cast::<u8>() as usize;
        let mut start = 0;
        let claimed = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                start = (base + next).next_multiple_of(layout.align()) - base;
                let end = start.checked_add(layout.size())?;
                (end <= 64 * 1024).then_some(end)
            });
        if claimed.is_err() {
            return core::ptr::null_mut();
        }
        self.bytes.get().cast::<u8>().wrapping_add(start)
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ARENA: Arena = Arena {
    bytes: UnsafeCell::new([0; 64 * 1024]),
    next: AtomicUsize::new(0),
};

/// Module memory from the same arena, already read-write-execute (a
/// real kernel programs its MPU here).
#[derive(Clone, Copy)]
struct ModuleMemory;

impl Memory for ModuleMemory {
    fn page_size(&self) -> usize {
        32
    }
    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let layout =
            Layout::from_size_align(size, align).map_err(|_| MemoryError::Exhausted { size })?;
        // SAFETY: a non-zero size with a valid layout.
        let ptr = unsafe { ARENA.alloc(layout) };
        let host = NonNull::new(ptr).ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the range was just allocated and is owned by the caller.
        Ok(unsafe { Reservation::new(host, ptr as u64, size) })
    }
    fn commit(&self, _res: &Reservation, _offset: usize, _len: usize) -> Result<(), MemoryError> {
        Ok(())
    }
    fn protect(
        &self,
        _res: &Reservation,
        _offset: usize,
        _len: usize,
        _prot: Protection,
    ) -> Result<(), MemoryError> {
        Ok(())
    }
    fn sync_icache(&self, _res: &Reservation, _offset: usize, _len: usize) {}
    fn release(&self, _res: Reservation) {}
}

/// A kernel function modules may call.
extern "C" fn klog(_msg: *const u8) {}

kmod::export_symbols!(KERNEL_SYMBOLS = [fn klog]);

/// Where a boot loader would leave a module image.
#[no_mangle]
static mut MODULE_IMAGE: [u8; 4096] = [0; 4096];

/// Entry point: insmod, modsym, rmmod.
#[cfg(not(feature = "baseline"))]
#[no_mangle]
pub extern "C" fn reset() -> ! {
    let Ok(kernel) = KernelTable::new(KERNEL_SYMBOLS) else {
        halt()
    };
    let manager = ModuleManager::new(ModuleMemory, kernel);
    // SAFETY: read once, nothing else touches the buffer.
    let image: &[u8] =
        unsafe { core::slice::from_raw_parts((&raw const MODULE_IMAGE).cast::<u8>(), 4096) };
    if let Ok(handle) = manager.insmod(image, "module") {
        let _ = core::hint::black_box(manager.modsym(handle, "entry"));
        let _ = manager.rmmod(handle);
    }
    halt()
}

/// Entry point of the baseline: the same image without the manager.
#[cfg(feature = "baseline")]
#[no_mangle]
pub extern "C" fn reset() -> ! {
    // SAFETY: read once, nothing else touches the buffer.
    let image: &[u8] =
        unsafe { core::slice::from_raw_parts((&raw const MODULE_IMAGE).cast::<u8>(), 4096) };
    let copy = alloc::vec::Vec::from(image);
    core::hint::black_box(copy);
    core::hint::black_box(klog as extern "C" fn(*const u8));
    halt()
}

fn halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    halt()
}
