//! Thread-local storage for the objects a user task loads. A task is one
//! thread, so each module (object with `PT_TLS`) has one block, made from
//! the object's template the first time its code asks for it through
//! `__tls_get_addr`, and freed when the module is unregistered.

use alloc::alloc::Layout;
use alloc::vec::Vec;

use dl_core::ThreadLocalStorage;
use modlib::{Machine, ThreadLocal};

use crate::{println, sys};

/// One registered module.
struct Module {
    /// Bumped each time a slot is given out, so a stale id is noticed.
    generation: u32,
    tls: ThreadLocal,
    /// The task's block, once made.
    block: Option<(*mut u8, Layout)>,
}

// SAFETY: the block pointer is owned by the entry (freed when it goes),
// and the task is one thread.
unsafe impl Send for Module {}

/// Registered modules by slot (module id's low half, less one).
static MODULES: spin::Mutex<Vec<Option<Module>>> = spin::Mutex::new(Vec::new());

/// The last generation given out.
static GENERATION: spin::Mutex<u32> = spin::Mutex::new(0);

/// `tls_index` of the psABI: what the code passes to `__tls_get_addr`.
#[repr(C)]
struct TlsIndex {
    module: u64,
    offset: u64,
}

fn split(module: u64) -> Option<(usize, u32)> {
    let slot = usize::try_from(module & 0xffff_ffff).ok()?.checked_sub(1)?;
    Some((slot, (module >> 32) as u32))
}

fn free(block: Option<(*mut u8, Layout)>) {
    if let Some((ptr, layout)) = block {
        // SAFETY: `ptr` came from `alloc_zeroed` with `layout` and is freed
        // only here, once its entry is gone.
        unsafe { alloc::alloc::dealloc(ptr, layout) };
    }
}

/// A block of `tls`: its template, then zeros.
fn new_block(tls: &ThreadLocal) -> Option<(*mut u8, Layout)> {
    let layout = Layout::from_size_align(tls.size.max(1), tls.align.max(1)).ok()?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { alloc::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: the template is `init_size` readable bytes of a registered
    // (so still mapped) object, no longer than the block (checked by the
    // loader when it read `PT_TLS`).
    unsafe {
        core::ptr::copy_nonoverlapping(
            tls.init as usize as *const u8,
            ptr,
            tls.init_size.min(tls.size),
        );
    }
    Some((ptr, layout))
}

/// What loaded code calls as `__tls_get_addr`: the task's address of
/// `offset` in module `module`. An id naming no module ends the task.
///
/// # Safety
/// `index` must point to a `tls_index`, as the compiled code passes.
unsafe extern "C" fn tls_get_addr(index: *const TlsIndex) -> *mut u8 {
    // SAFETY: per the contract.
    let (module, offset) = unsafe { ((*index).module, (*index).offset) };
    let bias = modlib::tls_dtv_offset(Machine::Riscv64);
    let mut modules = MODULES.lock();
    let entry = split(module).and_then(|(slot, generation)| {
        modules
            .get_mut(slot)
            .and_then(Option::as_mut)
            .filter(|m| m.generation == generation)
    });
    if let Some(m) = entry {
        if m.block.is_none() {
            m.block = new_block(&m.tls);
        }
        if let Some((ptr, _)) = m.block {
            return ptr.wrapping_add(offset.wrapping_add(bias) as usize);
        }
    }
    drop(modules);
    println!("__tls_get_addr: no thread-local block for module id {module:#x}");
    sys::exit(127)
}

/// The user runtime's thread-local storage for `dl-core`.
pub struct UserTls;

impl ThreadLocalStorage for UserTls {
    fn get_addr(&self) -> u64 {
        (tls_get_addr as unsafe extern "C" fn(*const TlsIndex) -> *mut u8) as usize as u64
    }

    fn register(&self, tls: ThreadLocal) -> u64 {
        let generation = {
            let mut g = GENERATION.lock();
            *g = g.wrapping_add(1).max(1);
            *g
        };
        let mut modules = MODULES.lock();
        let entry = Some(Module {
            generation,
            tls,
            block: None,
        });
        let slot = if let Some(free) = modules.iter().position(Option::is_none) {
            modules[free] = entry;
            free
        } else {
            modules.push(entry);
            modules.len() - 1
        };
        (u64::from(generation) << 32) | (slot as u64 + 1)
    }

    fn unregister(&self, module: u64) {
        let Some((slot, generation)) = split(module) else {
            return;
        };
        let mut modules = MODULES.lock();
        if let Some(entry) = modules.get_mut(slot) {
            if entry.as_ref().is_some_and(|m| m.generation == generation) {
                free(entry.take().and_then(|m| m.block));
            }
        }
    }
}
