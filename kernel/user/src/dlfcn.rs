//! The dlfcn functions of the user image, for C code loaded in user space:
//! thin C-ABI wrappers over the image's `dl_core::Linker`. The user image
//! has a single thread, so the error slot is one cell.

use alloc::ffi::CString;
use alloc::string::ToString;
use core::ffi::{c_char, c_int, c_void, CStr};

use dl_core::{Error, Flags, Handle, Linker};

use crate::platform::UserPlatform;

static LINKER: Linker<UserPlatform> = Linker::new(UserPlatform::new());
static ERROR: spin::Mutex<(Option<CString>, Option<CString>)> = spin::Mutex::new((None, None));

/// The user image's linker.
pub fn linker() -> &'static Linker<UserPlatform> {
    &LINKER
}

fn fail<T>(e: &Error, value: T) -> T {
    ERROR.lock().0 = CString::new(e.to_string()).ok();
    value
}

/// Reads a C string.
///
/// # Safety
/// `s` must be null or NUL-terminated.
unsafe fn text<'a>(s: *const c_char) -> Option<&'a str> {
    if s.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

/// `dlopen`.
///
/// # Safety
/// `path` must be null or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dlopen(path: *const c_char, mode: c_int) -> *mut c_void {
    let Some(flags) = Flags::from_bits(mode) else {
        return fail(&Error::InvalidFlags { mode }, core::ptr::null_mut());
    };
    // SAFETY: per the contract.
    let name = unsafe { text(path) };
    if name.is_none() && !path.is_null() {
        return fail(&Error::InvalidName, core::ptr::null_mut());
    }
    match LINKER.open(name, flags) {
        Ok(h) => h.to_raw() as *mut c_void,
        Err(Error::NotLoaded { .. }) => core::ptr::null_mut(),
        Err(e) => fail(&e, core::ptr::null_mut()),
    }
}

/// `dlsym` (`RTLD_NEXT` searches the global scope: there is no host chain).
///
/// # Safety
/// `name` must be NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void {
    let Some(handle) = Handle::from_raw(handle as usize) else {
        return fail(&Error::InvalidHandle, core::ptr::null_mut());
    };
    // SAFETY: per the contract.
    let Some(name) = (unsafe { text(name) }) else {
        return fail(&Error::InvalidName, core::ptr::null_mut());
    };
    match LINKER.symbol(handle, name, 0) {
        Ok(a) => a as usize as *mut c_void,
        Err(e) => fail(&e, core::ptr::null_mut()),
    }
}

/// `dlclose`.
#[no_mangle]
pub extern "C" fn dlclose(handle: *mut c_void) -> c_int {
    match Handle::from_raw(handle as usize)
        .ok_or(Error::InvalidHandle)
        .and_then(|h| LINKER.close(h))
    {
        Ok(()) => 0,
        Err(e) => fail(&e, -1),
    }
}

/// `dlerror`: the last error, cleared by reading.
#[no_mangle]
pub extern "C" fn dlerror() -> *mut c_char {
    let mut slot = ERROR.lock();
    let pending = slot.0.take();
    slot.1 = pending;
    slot.1
        .as_ref()
        .map_or(core::ptr::null_mut(), |s| s.as_ptr().cast_mut())
}

/// What `dladdr` fills in.
#[repr(C)]
pub struct DlInfo {
    dli_fname: *const c_char,
    dli_fbase: *mut c_void,
    dli_sname: *const c_char,
    dli_saddr: *mut c_void,
}

/// `dladdr`.
///
/// # Safety
/// `info` must be writable.
#[no_mangle]
pub unsafe extern "C" fn dladdr(addr: *const c_void, info: *mut DlInfo) -> c_int {
    let Some(found) = LINKER.address_info(addr as u64) else {
        return 0;
    };
    if info.is_null() {
        return 0;
    }
    // SAFETY: `info` is writable per the contract.
    unsafe {
        info.write(DlInfo {
            dli_fname: found.path.cast(),
            dli_fbase: found.base as usize as *mut c_void,
            dli_sname: found.symbol_name.cast(),
            dli_saddr: found.symbol_addr as usize as *mut c_void,
        });
    }
    1
}
