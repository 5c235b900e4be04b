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
    // AAPCS: the third argument goes in r2.
    #[cfg(target_arch = "arm")]
    core::arch::naked_asm!("mov r2, lr", "b {inner}", inner = sym dlsym_from);
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
    // AAPCS: the fourth argument goes in r3.
    #[cfg(target_arch = "arm")]
    core::arch::naked_asm!("mov r3, lr", "b {inner}", inner = sym dlvsym_from);
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

/// The Arm EHABI unwinder's question (libgcc calls it for every frame):
/// the exception index table (`.ARM.exidx`) covering `pc`, with `*count`
/// set to its number of 8-byte entries, or 0 if no object contains `pc`.
/// Answers for the objects we loaded, then for the host's, whose tables
/// are their `PT_ARM_EXIDX` segments (found through the system's
/// `dl_iterate_phdr`).
///
/// cbindgen:ignore
///
/// # Safety
/// `count` must be null or point to a writable `int`.
#[cfg(target_arch = "arm")]
#[no_mangle]
#[allow(non_snake_case)]
pub unsafe extern "C" fn __gnu_Unwind_Find_exidx(pc: usize, count: *mut c_int) -> usize {
    // SAFETY: per the contract.
    let ours = unsafe { capi::gnu_unwind_find_exidx(linker(), pc, count) };
    if ours != 0 {
        return ours;
    }
    let Some(system) = system_fn!("dl_iterate_phdr", capi::IteratePhdr) else {
        return 0;
    };
    let mut search = ExidxSearch {
        pc,
        table: 0,
        entries: 0,
    };
    // SAFETY: `host_exidx` matches the callback type and reads `search`,
    // which outlives the call, as an `ExidxSearch`.
    unsafe { system(Some(host_exidx), (&raw mut search).cast()) };
    if search.table != 0 && !count.is_null() {
        // SAFETY: `count` is non-null and writable per the contract.
        unsafe { count.write(search.entries) };
    }
    search.table
}

/// What [`__gnu_Unwind_Find_exidx`] looks for among the host's objects.
#[cfg(target_arch = "arm")]
struct ExidxSearch {
    pc: usize,
    /// The table's address (0: none found).
    table: usize,
    /// Its number of entries.
    entries: c_int,
}

/// `PT_ARM_EXIDX`: the segment of an Arm object's exception index table.
#[cfg(target_arch = "arm")]
const PT_ARM_EXIDX: u32 = 0x7000_0001;

/// `dl_iterate_phdr` callback: stops at the object with a loaded segment
/// containing the searched pc, taking its exception index table if it has
/// one.
///
/// # Safety
/// `info` must describe a live object with `ElfW(Phdr)` program headers
/// (`Elf32_Phdr` here) and `data` must point to an [`ExidxSearch`].
#[cfg(target_arch = "arm")]
unsafe extern "C" fn host_exidx(
    info: *mut capi::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> c_int {
    const PT_LOAD: u32 = 1;
    // SAFETY: per the contract; the program headers are the object's own,
    // mapped for as long as it is loaded (at least for this call).
    let (info, search, phdrs) = unsafe {
        let info = &*info;
        (
            info,
            &mut *data.cast::<ExidxSearch>(),
            core::slice::from_raw_parts(
                info.dlpi_phdr.cast::<libc::Elf32_Phdr>(),
                usize::from(info.dlpi_phnum),
            ),
        )
    };
    let start = |p: &libc::Elf32_Phdr| info.dlpi_addr.wrapping_add(p.p_vaddr as usize);
    let contains = phdrs
        .iter()
        .any(|p| p.p_type == PT_LOAD && search.pc.wrapping_sub(start(p)) < p.p_memsz as usize);
    if !contains {
        return 0;
    }
    if let Some(p) = phdrs.iter().find(|p| p.p_type == PT_ARM_EXIDX) {
        search.table = start(p);
        search.entries = c_int::try_from(p.p_memsz / 8).unwrap_or(c_int::MAX);
    }
    1
}
