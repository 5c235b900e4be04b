//! The C ABI under the POSIX names (`include/dlfcn.h`). Linking this into a
//! program interposes the system's functions for the whole process, so every
//! function here also answers for the host's own objects: `dlsym` through
//! the host scope, and `dladdr`/`dl_iterate_phdr`/`_dl_find_object` by
//! forwarding host addresses to the system's implementation, found through
//! the link map (never through our own names).

use alloc::ffi::CString;
use alloc::string::ToString;
use core::cell::RefCell;
use core::ffi::{c_char, c_int, c_void, CStr};

use modlib::Lookup;

use dl_core::error::Error;
use dl_core::flags::Flags;
use dl_core::handle::Handle;
use crate::hosted::linker;
use dl_core::object::RawPhdr;
use dl_core::platform::Platform;

// The mode values are literals (not `Flags::…bits()`) so that cbindgen can
// write them into `include/dlfcn.h`; the assertion keeps them equal.

/// `dlopen` mode: bind lazily (calls to functions nothing defines wait for a
/// definition instead of failing the load).
pub const RTLD_LAZY: c_int = 0x1;
/// `dlopen` mode: bind every symbol before returning.
pub const RTLD_NOW: c_int = 0x2;
/// `dlopen` mode: fail unless already loaded.
pub const RTLD_NOLOAD: c_int = 0x4;
/// `dlopen` mode: the object's symbols serve later loads and `RTLD_DEFAULT`.
pub const RTLD_GLOBAL: c_int = 0x100;
/// `dlopen` mode: the object's symbols serve only lookups through its handle.
pub const RTLD_LOCAL: c_int = 0;
/// `dlopen` mode: never unload.
pub const RTLD_NODELETE: c_int = 0x1000;

const _: () = assert!(
    RTLD_LAZY == Flags::LAZY.bits()
        && RTLD_NOW == Flags::NOW.bits()
        && RTLD_NOLOAD == Flags::NOLOAD.bits()
        && RTLD_GLOBAL == Flags::GLOBAL.bits()
        && RTLD_LOCAL == Flags::LOCAL.bits()
        && RTLD_NODELETE == Flags::NODELETE.bits()
);

/// What `dladdr` fills in.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct Dl_info {
    /// Path of the object containing the address.
    pub dli_fname: *const c_char,
    /// Base address of that object.
    pub dli_fbase: *mut c_void,
    /// Name of the nearest symbol, or null.
    pub dli_sname: *const c_char,
    /// Address of that symbol, or null.
    pub dli_saddr: *mut c_void,
}

/// What `dl_iterate_phdr` passes to its callback for each object.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct dl_phdr_info {
    /// Load bias.
    pub dlpi_addr: u64,
    /// Path (empty for the executable).
    pub dlpi_name: *const c_char,
    /// Program headers (`Elf64_Phdr`).
    pub dlpi_phdr: *const c_void,
    /// Number of program headers.
    pub dlpi_phnum: u16,
    /// Objects ever loaded.
    pub dlpi_adds: u64,
    /// Objects ever unloaded.
    pub dlpi_subs: u64,
    /// TLS module id (0: none).
    pub dlpi_tls_modid: usize,
    /// TLS block of the calling thread (null: none).
    pub dlpi_tls_data: *mut c_void,
}

/// What `_dl_find_object` fills in (glibc 2.35 layout).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct dl_find_object {
    /// Flags (0).
    pub dlfo_flags: u64,
    /// First byte of the object's mapping.
    pub dlfo_map_start: *mut c_void,
    /// One past its last byte.
    pub dlfo_map_end: *mut c_void,
    /// The system's link map entry (null for objects we loaded).
    pub dlfo_link_map: *mut c_void,
    /// Its `PT_GNU_EH_FRAME` contents.
    pub dlfo_eh_frame: *mut c_void,
    /// Reserved.
    pub dlfo_reserved: [u64; 7],
}

/// The callback type of `dl_iterate_phdr`.
pub type PhdrCallback =
    Option<unsafe extern "C" fn(info: *mut dl_phdr_info, size: usize, data: *mut c_void) -> c_int>;

std::thread_local! {
    /// The error `dlerror` will return next, and the one it returned last
    /// (kept alive until the next call, as POSIX allows callers to expect).
    static ERROR: RefCell<(Option<CString>, Option<CString>)> = const { RefCell::new((None, None)) };
}

fn set_error(e: &Error) {
    let text = CString::new(e.to_string().replace('\0', " ")).unwrap_or_default();
    let _ = ERROR.try_with(|slot| slot.borrow_mut().0 = Some(text));
}

fn fail<T>(e: &Error, value: T) -> T {
    set_error(e);
    value
}

/// Reads a C string argument.
///
/// # Safety
/// `s` must be null or NUL-terminated.
unsafe fn c_str<'a>(s: *const c_char) -> Option<&'a str> {
    if s.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

/// Opens a shared object; see `dlopen(3)`.
///
/// # Safety
/// `filename` must be null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void {
    let Some(flags) = Flags::from_bits(flags) else {
        return fail(&Error::InvalidFlags { mode: flags }, core::ptr::null_mut());
    };
    let name = if filename.is_null() {
        None
    } else {
        // SAFETY: non-null, NUL-terminated per the contract.
        match unsafe { c_str(filename) } {
            Some(name) => Some(name),
            None => return fail(&Error::InvalidName, core::ptr::null_mut()),
        }
    };
    match linker().open(name, flags) {
        Ok(handle) => handle.to_raw() as *mut c_void,
        Err(Error::NotLoaded { .. }) if flags.contains(Flags::NOLOAD) => core::ptr::null_mut(),
        Err(e) => fail(&e, core::ptr::null_mut()),
    }
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
    let Some(handle) = Handle::from_raw(handle as usize) else {
        return fail(&Error::InvalidHandle, core::ptr::null_mut());
    };
    // SAFETY: NUL-terminated per the contract.
    let Some(name) = (unsafe { c_str(symbol) }) else {
        return fail(&Error::InvalidName, core::ptr::null_mut());
    };
    match linker().symbol(handle, name, caller as u64) {
        Ok(address) => address as usize as *mut c_void,
        Err(e) => fail(&e, core::ptr::null_mut()),
    }
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
    let Some(handle) = Handle::from_raw(handle as usize) else {
        return fail(&Error::InvalidHandle, core::ptr::null_mut());
    };
    // SAFETY: NUL-terminated per the contract.
    let name = unsafe { c_str(symbol) };
    // SAFETY: as above.
    let version = unsafe { c_str(version) };
    let (Some(name), Some(version)) = (name, version) else {
        return fail(&Error::InvalidName, core::ptr::null_mut());
    };
    match linker().versioned_symbol(handle, name, Some(version), caller as u64) {
        Ok(address) => address as usize as *mut c_void,
        Err(e) => fail(&e, core::ptr::null_mut()),
    }
}

/// Closes a handle; see `dlclose(3)`. Returns 0 on success.
///
/// # Safety
/// `handle` must come from `dlopen`.
#[no_mangle]
pub unsafe extern "C" fn dlclose(handle: *mut c_void) -> c_int {
    let result = Handle::from_raw(handle as usize)
        .ok_or(Error::InvalidHandle)
        .and_then(|h| linker().close(h));
    match result {
        Ok(()) => 0,
        Err(e) => fail(&e, -1),
    }
}

/// The last error of this thread as text, or null; reading clears it.
#[no_mangle]
pub extern "C" fn dlerror() -> *mut c_char {
    ERROR
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            let pending = slot.0.take();
            slot.1 = pending;
            slot.1
                .as_ref()
                .map_or(core::ptr::null_mut(), |s| s.as_ptr().cast_mut())
        })
        .unwrap_or(core::ptr::null_mut())
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
    if info.is_null() {
        return 0;
    }
    if let Some(found) = linker().address_info(addr as u64) {
        // SAFETY: `info` is writable per the contract.
        unsafe {
            info.write(Dl_info {
                dli_fname: found.path.cast(),
                dli_fbase: found.base as usize as *mut c_void,
                dli_sname: found.symbol_name.cast(),
                dli_saddr: found.symbol_addr as usize as *mut c_void,
            });
        }
        return 1;
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
    let Some(cb) = callback else { return 0 };
    let (ours, adds, subs) = linker().objects();
    if let Some(system) = system_fn!(
        "dl_iterate_phdr",
        unsafe extern "C" fn(PhdrCallback, *mut c_void) -> c_int
    ) {
        // SAFETY: forwarding to the system's implementation with the
        // caller's own callback and data.
        let r = unsafe { system(callback, data) };
        if r != 0 {
            return r;
        }
    }
    for o in ours {
        let mut info = dl_phdr_info {
            dlpi_addr: o.addr,
            dlpi_name: o.name.cast(),
            dlpi_phdr: o.phdr.cast::<RawPhdr>().cast(),
            dlpi_phnum: o.phnum,
            dlpi_adds: adds,
            dlpi_subs: subs,
            dlpi_tls_modid: 0,
            dlpi_tls_data: core::ptr::null_mut(),
        };
        // SAFETY: the callback is callable per the contract; `info` lives
        // for the call.
        let r = unsafe { cb(&raw mut info, core::mem::size_of::<dl_phdr_info>(), data) };
        if r != 0 {
            return r;
        }
    }
    0
}

/// Finds the object containing `pc` and its unwind table (glibc 2.35's
/// interface, used by libgcc's unwinder). Returns 0 if found, -1 if not.
///
/// # Safety
/// `result` must point to writable memory for a `dl_find_object`.
#[no_mangle]
pub unsafe extern "C" fn _dl_find_object(pc: *mut c_void, result: *mut dl_find_object) -> c_int {
    if let Some(o) = linker().object_containing(pc as u64) {
        if result.is_null() {
            return -1;
        }
        // SAFETY: `result` is writable per the contract.
        unsafe {
            result.write(dl_find_object {
                dlfo_flags: 0,
                dlfo_map_start: o.map_start as usize as *mut c_void,
                dlfo_map_end: o.map_end as usize as *mut c_void,
                dlfo_link_map: core::ptr::null_mut(),
                dlfo_eh_frame: o.eh_frame_hdr as usize as *mut c_void,
                dlfo_reserved: [0; 7],
            });
        }
        return 0;
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
