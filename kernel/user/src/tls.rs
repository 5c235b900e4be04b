//! Thread-local storage for the objects a user task loads. A task is one
//! thread, so each module (object with `PT_TLS`) has one block, made from
//! the object's template the first time its code asks for it through
//! `__tls_get_addr`, and freed when the module is unregistered.

use alloc::vec::Vec;

use dl_core::{ThreadLocalStorage, TlsBlock, TlsModules};
use modlib::ThreadLocal;

use crate::{println, sys};

/// Registered modules.
static MODULES: TlsModules = TlsModules::new();

/// The task's blocks, by module slot.
static BLOCKS: spin::Mutex<Vec<Option<TlsBlock>>> = spin::Mutex::new(Vec::new());

/// `tls_index` of the psABI: what the code passes to `__tls_get_addr`.
#[repr(C)]
struct TlsIndex {
    module: usize,
    offset: usize,
}

/// What loaded code calls as `__tls_get_addr`: the task's address of
/// `offset` in module `module`. An id naming no module ends the task.
///
/// # Safety
/// `index` must point to a `tls_index`, as the compiled code passes.
unsafe extern "C" fn tls_get_addr(index: *const TlsIndex) -> *mut u8 {
    // SAFETY: per the contract.
    let (module, offset) = unsafe { ((*index).module as u64, (*index).offset as u64) };
    if let Some(ptr) = block(module) {
        let bias = modlib::tls_dtv_offset(crate::arch::MACHINE);
        return ptr.wrapping_add(offset.wrapping_add(bias) as usize);
    }
    println!("__tls_get_addr: no thread-local block for module id {module:#x}");
    sys::exit(127)
}

/// The task's block of `module`, made on first use.
fn block(module: u64) -> Option<*mut u8> {
    MODULES.block_in(&mut BLOCKS.lock(), module)
}

/// The user runtime's thread-local storage for `dl-core`.
pub struct UserTls;

impl ThreadLocalStorage for UserTls {
    fn get_addr(&self) -> u64 {
        (tls_get_addr as unsafe extern "C" fn(*const TlsIndex) -> *mut u8) as usize as u64
    }

    fn register(&self, tls: ThreadLocal) -> u64 {
        MODULES.register(tls)
    }

    fn unregister(&self, module: u64) {
        if let Some(gone) = MODULES.unregister(module) {
            TlsModules::drop_block(&mut BLOCKS.lock(), gone);
        }
    }

    fn block(&self, module: u64) -> Option<*mut u8> {
        block(module)
    }
}
