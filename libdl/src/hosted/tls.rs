//! Thread-local storage for the objects this loader loads, on Linux. Each
//! object with `PT_TLS` gets a module id (a slot and its generation); each
//! thread gets its own block of a module the first time its code asks
//! [`tls_get_addr`] for it, copied from the object's template and zeroed
//! beyond it. A thread's blocks are freed when it exits, when it meets a
//! slot reused by a later object, and (for the unloading thread) when the
//! module is unregistered.

use std::cell::RefCell;
use std::vec::Vec;

use dl_core::{TlsBlock, TlsModules};
use modlib::{Machine, ThreadLocal};

/// Added to every offset the code passes (see [`modlib::tls_dtv_offset`]).
const DTV_OFFSET: u64 = match Machine::host() {
    Some(machine) => modlib::tls_dtv_offset(machine),
    None => 0,
};

/// The registered modules.
static MODULES: TlsModules = TlsModules::new();

std::thread_local! {
    /// This thread's blocks, by module slot.
    static BLOCKS: RefCell<Vec<Option<TlsBlock>>> = const { RefCell::new(Vec::new()) };
}

/// `tls_index` of the psABIs: what the code passes to `__tls_get_addr`,
/// a module id and an offset of a machine word each (two 32-bit words on
/// 32-bit Arm).
#[repr(C)]
pub(crate) struct TlsIndex {
    module: usize,
    offset: usize,
}

/// Forgets a module, and frees the calling thread's block of it.
fn unregister(module: u64) {
    let Some(gone) = MODULES.unregister(module) else {
        return;
    };
    let _ = BLOCKS.try_with(|blocks| {
        if let Ok(mut blocks) = blocks.try_borrow_mut() {
            TlsModules::drop_block(&mut blocks, gone);
        }
    });
}

/// The calling thread's block of `module`, made on first use.
fn block(module: u64) -> Option<*mut u8> {
    BLOCKS
        .try_with(|blocks| MODULES.block_in(&mut *blocks.try_borrow_mut().ok()?, module))
        .ok()
        .flatten()
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
    // Module ids are small (they fit a 32-bit word); an offset wraps as
    // the machine's words do.
    let found = block(module as u64);
    if let Some(ptr) = found {
        return ptr.wrapping_add(offset.wrapping_add(DTV_OFFSET as usize));
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
        MODULES.register(template)
    }

    fn unregister(&self, module: u64) {
        unregister(module);
    }

    fn block(&self, module: u64) -> Option<*mut u8> {
        block(module)
    }

    fn descriptor_resolver(&self) -> Option<u64> {
        #[cfg(target_arch = "aarch64")]
        return Some(super::tlsdesc::aarch64_resolver());
        #[cfg(target_arch = "x86_64")]
        return super::tlsdesc::x86_64_resolver();
        #[cfg(target_arch = "arm")]
        return Some(super::tlsdesc::arm_resolver());
        #[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64", target_arch = "arm")))]
        None
    }
}
