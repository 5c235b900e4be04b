//! Thread-local storage for the objects this loader loads, on Linux. Each
//! object with `PT_TLS` gets a module id (a slot and its generation); each
//! thread gets its own block of a module the first time its code asks
//! [`tls_get_addr`] for it, copied from the object's template and zeroed
//! beyond it. A thread's blocks are freed when it exits, when it meets a
//! slot reused by a later object, and (for the unloading thread) when the
//! module is unregistered.

use std::alloc::Layout;
use std::cell::RefCell;
use std::sync::{PoisonError, RwLock};
use std::vec::Vec;

use modlib::{Machine, ThreadLocal};

/// What a module's blocks are made from.
#[derive(Clone, Copy)]
struct Template {
    /// Bumped each time the slot is given out, so a stale id is noticed.
    generation: u32,
    tls: ThreadLocal,
}

/// Added to every offset the code passes (see [`modlib::tls_dtv_offset`]).
const DTV_OFFSET: u64 = match Machine::host() {
    Some(machine) => modlib::tls_dtv_offset(machine),
    None => 0,
};

/// The registered modules, by slot (module id's low half, less one).
static MODULES: RwLock<Vec<Option<Template>>> = RwLock::new(Vec::new());

/// The last generation given out.
static GENERATION: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// One thread's block of one module.
struct Block {
    generation: u32,
    ptr: *mut u8,
    layout: Layout,
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed` with `layout` and is freed
        // only here.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

std::thread_local! {
    /// This thread's blocks, by slot.
    static BLOCKS: RefCell<Vec<Option<Block>>> = const { RefCell::new(Vec::new()) };
}

/// `tls_index` of the psABIs: what the code passes to `__tls_get_addr`.
#[repr(C)]
pub(crate) struct TlsIndex {
    module: u64,
    offset: u64,
}

fn split(module: u64) -> Option<(usize, u32)> {
    let slot = usize::try_from(module & 0xffff_ffff).ok()?.checked_sub(1)?;
    Some((slot, (module >> 32) as u32))
}

/// Registers a module; returns its id (generation above, slot + 1 below).
pub(crate) fn register(tls: ThreadLocal) -> u64 {
    let generation = GENERATION
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        .wrapping_add(1)
        .max(1);
    let mut modules = MODULES.write().unwrap_or_else(PoisonError::into_inner);
    let template = Some(Template { generation, tls });
    let slot = if let Some(free) = modules.iter().position(Option::is_none) {
        modules[free] = template;
        free
    } else {
        modules.push(template);
        modules.len() - 1
    };
    (u64::from(generation) << 32) | (slot as u64 + 1)
}

/// Forgets a module, and frees the calling thread's block of it.
pub(crate) fn unregister(module: u64) {
    let Some((slot, generation)) = split(module) else {
        return;
    };
    let mut modules = MODULES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(entry) = modules.get_mut(slot) {
        if entry.is_some_and(|t| t.generation == generation) {
            *entry = None;
        }
    }
    drop(modules);
    let _ = BLOCKS.try_with(|blocks| {
        if let Ok(mut blocks) = blocks.try_borrow_mut() {
            if let Some(entry) = blocks.get_mut(slot) {
                if entry.as_ref().is_some_and(|b| b.generation == generation) {
                    *entry = None;
                }
            }
        }
    });
}

/// A fresh block of `t`: its template, then zeros.
fn new_block(t: &Template) -> Option<Block> {
    let layout = Layout::from_size_align(t.tls.size.max(1), t.tls.align.max(1)).ok()?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the template is `init_size` readable bytes of a registered
    // (so still mapped) object, and the block is at least `size >=
    // init_size` bytes (checked by the loader when it read `PT_TLS`).
    unsafe {
        core::ptr::copy_nonoverlapping(
            t.tls.init as usize as *const u8,
            ptr,
            t.tls.init_size.min(t.tls.size),
        );
    }
    Some(Block {
        generation: t.generation,
        ptr,
        layout,
    })
}

/// The calling thread's address of `index.offset` in module
/// `index.module`: what loaded code calls as `__tls_get_addr`. An id that
/// names no registered module (a corrupt object) ends the process, as a
/// failed allocation of the block does.
///
/// # Safety
/// `index` must point to a `tls_index` (as the code the compilers emit
/// passes).
pub(crate) unsafe extern "C" fn tls_get_addr(index: *const TlsIndex) -> *mut u8 {
    // SAFETY: per the contract.
    let (module, offset) = unsafe { ((*index).module, (*index).offset) };
    let found = split(module).and_then(|(slot, generation)| {
        BLOCKS
            .try_with(|blocks| {
                let mut blocks = blocks.try_borrow_mut().ok()?;
                if let Some(Some(b)) = blocks.get(slot) {
                    if b.generation == generation {
                        return Some(b.ptr);
                    }
                }
                let template = MODULES
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(slot)
                    .copied()
                    .flatten()
                    .filter(|t| t.generation == generation)?;
                let block = new_block(&template)?;
                let ptr = block.ptr;
                if blocks.len() <= slot {
                    blocks.resize_with(slot + 1, || None);
                }
                blocks[slot] = Some(block);
                Some(ptr)
            })
            .ok()
            .flatten()
    });
    if let Some(ptr) = found {
        return ptr.wrapping_add(offset.wrapping_add(DTV_OFFSET) as usize);
    }
    let message = b"dl: __tls_get_addr: no thread-local block for this module id\n";
    // SAFETY: writes a static buffer to standard error.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
    std::process::abort()
}

/// The hosted platform's [`dl_core::ThreadLocalStorage`].
pub(crate) struct HostedTls;

impl dl_core::ThreadLocalStorage for HostedTls {
    fn get_addr(&self) -> u64 {
        (tls_get_addr as unsafe extern "C" fn(*const TlsIndex) -> *mut u8) as usize as u64
    }

    fn register(&self, template: ThreadLocal) -> u64 {
        register(template)
    }

    fn unregister(&self, module: u64) {
        unregister(module);
    }

    fn descriptor_resolver(&self) -> Option<u64> {
        #[cfg(target_arch = "aarch64")]
        return Some(super::tlsdesc::aarch64_resolver());
        #[cfg(target_arch = "x86_64")]
        return super::tlsdesc::x86_64_resolver();
        #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
        None
    }
}
