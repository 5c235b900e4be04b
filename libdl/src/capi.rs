//! The C ABI under the POSIX names (`include/dlfcn.h`). Linking this into a
//! program interposes the system's functions for the whole process, so every
//! function here also answers for the host's own objects: `dlsym` through
//! the host scope, and `dladdr`/`dl_iterate_phdr`/`_dl_find_object` by
//! forwarding host addresses to the system's implementation, found through
//! the link map (never through our own names).

use core::ffi::{c_char, c_int, c_void};

use dl_core::capi;
use dl_core::platform::Platform;
use modlib::Lookup;

use crate::hosted::linker;

pub use dl_core::capi::{
    dl_find_object, dl_phdr_info, Dl_info, PhdrCallback, RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL,
    RTLD_NODELETE, RTLD_NOLOAD, RTLD_NOW,
};

/// Opens a shared object; see `dlopen(3)`.
///
/// # Safety
/// `filename` must be null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { capi::dlopen(linker(), filename, flags) }
}

/// Finds a symbol; see `dlsym(3)`. The entry point passes the caller's
/// return address on to `dlsym_from` for `RTLD_NEXT`.
///
/// # Safety
/// `handle` must come from `dlopen` (or be `RTLD_DEFAULT`/`RTLD_NEXT`) and
/// `symbol` must be a NUL-terminated string.
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!("mov rdx, [rsp]", "jmp {inner}", inner = sym dlsym_from);
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!("mov x2, x30", "b {inner}", inner = sym dlsym_from);
    #[cfg(target_arch = "riscv64")]
    core::arch::naked_asm!("mv a2, ra", "tail {inner}", inner = sym dlsym_from);
}

/// `dlsym` with the caller's address made explicit.
///
/// # Safety
/// As for [`dlsym`].
unsafe extern "C" fn dlsym_from(
    handle: *mut c_void,
    symbol: *const c_char,
    caller: usize,
) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { capi::dlsym(linker(), handle, symbol, caller) }
}

/// Finds the definition of a symbol with a given version (GNU
/// `dlvsym(3)`), e.g. `dlvsym(RTLD_DEFAULT, "memcpy", "GLIBC_2.14")`. The
/// entry point passes the caller's return address on to `dlvsym_from`.
///
/// # Safety
/// As for [`dlsym`]; `version` must be a NUL-terminated string too.
#[no_mangle]
#[unsafe(naked)]
pub unsafe extern "C" fn dlvsym(
    handle: *mut c_void,
    symbol: *const c_char,
    version: *const c_char,
) -> *mut c_void {
    #[cfg(target_arch = "x86_64")]
    core::arch::naked_asm!("mov rcx, [rsp]", "jmp {inner}", inner = sym dlvsym_from);
    #[cfg(target_arch = "aarch64")]
    core::arch::naked_asm!("mov x3, x30", "b {inner}", inner = sym dlvsym_from);
    #[cfg(target_arch = "riscv64")]
    core::arch::naked_asm!("mv a3, ra", "tail {inner}", inner = sym dlvsym_from);
}

/// `dlvsym` with the caller's address made explicit.
///
/// # Safety
/// As for [`dlvsym`].
unsafe extern "C" fn dlvsym_from(
    handle: *mut c_void,
    symbol: *const c_char,
    version: *const c_char,
    caller: usize,
) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { capi::dlvsym(linker(), handle, symbol, version, caller) }
}

/// Closes a handle; see `dlclose(3)`. Returns 0 on success.
///
/// # Safety
/// `handle` must come from `dlopen`.
#[no_mangle]
pub unsafe extern "C" fn dlclose(handle: *mut c_void) -> c_int {
    capi::dlclose(linker(), handle)
}

/// The last error of this thread as text, or null; reading clears it.
#[no_mangle]
pub extern "C" fn dlerror() -> *mut c_char {
    capi::dlerror(linker())
}

/// The system's definition of `name` (the next one after this library in
/// the host's global scope), found through the link map.
fn system(name: &str) -> Option<usize> {
    let here = system as *const () as u64;
    let host = linker().platform().host()?;
    let symbol = host.resolve_after(here, &Lookup::new(name, None))??;
    Some(symbol.address as usize)
}

macro_rules! system_fn {
    ($name:literal, $ty:ty) => {{
        static CELL: spin::Once<Option<usize>> = spin::Once::new();
        CELL.call_once(|| system($name)).map(|addr| {
            // SAFETY: the system's definition of this well-known function has
            // exactly this C signature.
            unsafe { core::mem::transmute::<usize, $ty>(addr) }
        })
    }};
}

/// Describes the object and symbol containing `addr`; see `dladdr(3)`.
/// Returns non-zero on success.
///
/// # Safety
/// `info` must point to writable memory for a `Dl_info`.
#[no_mangle]
pub unsafe extern "C" fn dladdr(addr: *const c_void, info: *mut Dl_info) -> c_int {
    // SAFETY: per the contract.
    let ours = unsafe { capi::dladdr(linker(), addr, info) };
    if ours != 0 || info.is_null() {
        return ours;
    }
    match system_fn!(
        "dladdr",
        unsafe extern "C" fn(*const c_void, *mut Dl_info) -> c_int
    ) {
        // SAFETY: forwarding the caller's arguments to the system's dladdr.
        Some(f) => unsafe { f(addr, info) },
        None => 0,
    }
}

/// Calls `callback` for every object in the process: the host's (through
/// the system's `dl_iterate_phdr`), then ours. Stops at a non-zero return.
///
/// # Safety
/// `callback` must be safe to call with the documented arguments.
#[no_mangle]
pub unsafe extern "C" fn dl_iterate_phdr(callback: PhdrCallback, data: *mut c_void) -> c_int {
    if callback.is_none() {
        return 0;
    }
    let system = system_fn!("dl_iterate_phdr", capi::IteratePhdr);
    // SAFETY: per the contract; `system` is the system's dl_iterate_phdr.
    unsafe { capi::dl_iterate_phdr(linker(), callback, data, system) }
}

/// Finds the object containing `pc` and its unwind table (glibc 2.35's
/// interface, used by libgcc's unwinder). Returns 0 if found, -1 if not
/// (or if `result` is null).
///
/// # Safety
/// `result` must be null or point to writable memory for a
/// `dl_find_object`.
#[no_mangle]
pub unsafe extern "C" fn _dl_find_object(pc: *mut c_void, result: *mut dl_find_object) -> c_int {
    // SAFETY: per the contract.
    let ours = unsafe { capi::dl_find_object(linker(), pc, result) };
    if ours == 0 || result.is_null() {
        return ours;
    }
    match system_fn!(
        "_dl_find_object",
        unsafe extern "C" fn(*mut c_void, *mut dl_find_object) -> c_int
    ) {
        // SAFETY: forwarding the caller's arguments to the system's version.
        Some(f) => unsafe { f(pc, result) },
        None => -1,
    }
}
