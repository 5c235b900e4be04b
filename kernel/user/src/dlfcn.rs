//! The dlfcn functions of the user image, for C code loaded in user space:
//! the POSIX names exported as shims over `dl_core::capi` with the image's
//! linker. The code calling `dlsym` is not located, so `RTLD_NEXT`
//! searches the whole global scope.

use core::ffi::{c_char, c_int, c_void};

use dl_core::capi::{self, Dl_info};
use dl_core::Linker;

use crate::platform::UserPlatform;

static LINKER: Linker<UserPlatform> = Linker::new(UserPlatform::new());

/// The user image's linker.
pub fn linker() -> &'static Linker<UserPlatform> {
    &LINKER
}

/// `dlopen`.
///
/// # Safety
/// `path` must be null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dlopen(path: *const c_char, mode: c_int) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { capi::dlopen(&LINKER, path, mode) }
}

/// `dlsym`.
///
/// # Safety
/// `name` must be NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { capi::dlsym(&LINKER, handle, name, 0) }
}

/// `dlclose`.
#[no_mangle]
pub extern "C" fn dlclose(handle: *mut c_void) -> c_int {
    capi::dlclose(&LINKER, handle)
}

/// `dlerror`: the last error, cleared by reading.
#[no_mangle]
pub extern "C" fn dlerror() -> *mut c_char {
    capi::dlerror(&LINKER)
}

/// `dladdr`.
///
/// # Safety
/// `info` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn dladdr(addr: *const c_void, info: *mut Dl_info) -> c_int {
    // SAFETY: per the contract.
    unsafe { capi::dladdr(&LINKER, addr, info) }
}
