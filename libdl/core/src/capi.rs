//! The bodies of the C ABI (`dlopen`, `dlsym`, `dlvsym`, `dlclose`,
//! `dlerror`, `dladdr`, `dl_iterate_phdr`, `_dl_find_object`) over a
//! [`Linker`]: mode checks, handle and name validation, the per-thread
//! error text, filling the C structures. Each image exports the POSIX names
//! itself as thin shims that pass its linker (and, for `RTLD_NEXT`, the
//! caller's address) to these functions; where the error text of a thread
//! lives is its platform's business ([`Platform::with_error_slot`]). Nothing
//! here knows about a host's own loader: an image that forwards to one does
//! so in its shims.

use alloc::ffi::CString;
use alloc::string::ToString;
use core::ffi::{c_char, c_int, c_void, CStr};

use crate::error::Error;
use crate::flags::Flags;
use crate::handle::Handle;
use crate::linker::Linker;
use crate::object::RawPhdr;
use crate::platform::Platform;

// The mode values are literals (not `Flags::…bits()`) so that cbindgen can
// write them into `dlfcn.h`; the assertion keeps them equal.

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
    /// Load bias (`ElfW(Addr)`).
    pub dlpi_addr: usize,
    /// Path (empty for the executable).
    pub dlpi_name: *const c_char,
    /// Program headers (`ElfW(Phdr)`).
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
#[cfg(not(target_arch = "arm"))]
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

/// What `_dl_find_object` fills in (glibc 2.35 layout of 32-bit Arm,
/// whose unwinder reads exception index tables).
#[cfg(target_arch = "arm")]
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
    /// Its exception index table (`PT_ARM_EXIDX`).
    pub dlfo_eh_frame: *mut c_void,
    /// The number of entries of that table.
    pub dlfo_eh_count: c_int,
    /// Padding.
    pub dlfo_eh_count_pad: u32,
    /// Reserved.
    pub dlfo_reserved: [u64; 7],
}

/// The callback type of `dl_iterate_phdr`.
pub type PhdrCallback =
    Option<unsafe extern "C" fn(info: *mut dl_phdr_info, size: usize, data: *mut c_void) -> c_int>;

/// A `dl_iterate_phdr` to call first, for objects some other loader has.
pub type IteratePhdr = unsafe extern "C" fn(callback: PhdrCallback, data: *mut c_void) -> c_int;

/// One thread's `dlerror` state: the text the next `dlerror` returns, and
/// the one it returned last (kept alive until the thread's next call, as
/// callers of `dlerror` may expect).
#[derive(Debug, Default)]
pub struct ErrorSlot {
    pending: Option<CString>,
    shown: Option<CString>,
}

impl ErrorSlot {
    /// No error.
    #[must_use]
    pub const fn new() -> Self {
        ErrorSlot {
            pending: None,
            shown: None,
        }
    }

    /// Records `e` for the next `dlerror`. A NUL inside the text (from a
    /// name in a file) becomes a space, so the message is never lost.
    pub fn set(&mut self, e: &Error) {
        let text = e.to_string().replace('\0', " ");
        self.pending = CString::new(text).ok();
    }

    /// The pending text, now owned by the slot until the next call (null if
    /// none): what `dlerror` returns. Reading clears it.
    pub fn take(&mut self) -> *mut c_char {
        self.shown = self.pending.take();
        self.shown
            .as_ref()
            .map_or(core::ptr::null_mut(), |s| s.as_ptr().cast_mut())
    }
}

/// Records `e` as the calling thread's error and returns `value`.
fn fail<P: Platform, T>(linker: &Linker<P>, e: &Error, value: T) -> T {
    linker.platform().with_error_slot(&mut |slot| slot.set(e));
    value
}

/// Reads a C string argument; `None` if null or not UTF-8.
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

/// `dlopen(filename, mode)`: a handle, or null with the error recorded. A
/// null `filename` names the global scope; `RTLD_NOLOAD` of an object that
/// is not loaded gives null without an error.
///
/// # Safety
/// `filename` must be null or a NUL-terminated string.
pub unsafe fn dlopen<P: Platform>(
    linker: &Linker<P>,
    filename: *const c_char,
    mode: c_int,
) -> *mut c_void {
    let null = core::ptr::null_mut();
    let Some(flags) = Flags::from_bits(mode) else {
        return fail(linker, &Error::InvalidFlags { mode }, null);
    };
    let name = if filename.is_null() {
        None
    } else {
        // SAFETY: non-null and NUL-terminated per the contract.
        match unsafe { text(filename) } {
            Some(name) => Some(name),
            None => return fail(linker, &Error::InvalidName, null),
        }
    };
    match linker.open(name, flags) {
        Ok(handle) => handle.to_raw() as *mut c_void,
        Err(Error::NotLoaded { .. }) if flags.contains(Flags::NOLOAD) => null,
        Err(e) => fail(linker, &e, null),
    }
}

/// `dlsym(handle, symbol)` called from code at `caller` (which `RTLD_NEXT`
/// needs; 0 if the image cannot tell): the address, or null with the error
/// recorded.
///
/// # Safety
/// `symbol` must be null or a NUL-terminated string.
pub unsafe fn dlsym<P: Platform>(
    linker: &Linker<P>,
    handle: *mut c_void,
    symbol: *const c_char,
    caller: usize,
) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { lookup(linker, handle, symbol, None, caller) }
}

/// `dlvsym(handle, symbol, version)` called from code at `caller`: as
/// [`dlsym`], but only the definition with that symbol version.
///
/// # Safety
/// `symbol` and `version` must be null or NUL-terminated strings.
pub unsafe fn dlvsym<P: Platform>(
    linker: &Linker<P>,
    handle: *mut c_void,
    symbol: *const c_char,
    version: *const c_char,
    caller: usize,
) -> *mut c_void {
    // SAFETY: per the contract.
    unsafe { lookup(linker, handle, symbol, Some(version), caller) }
}

/// The body of `dlsym` (`version` `None`) and `dlvsym`.
///
/// # Safety
/// `symbol` and a given `version` must be null or NUL-terminated strings.
unsafe fn lookup<P: Platform>(
    linker: &Linker<P>,
    handle: *mut c_void,
    symbol: *const c_char,
    version: Option<*const c_char>,
    caller: usize,
) -> *mut c_void {
    let null = core::ptr::null_mut();
    let Some(handle) = Handle::from_raw(handle as usize) else {
        return fail(linker, &Error::InvalidHandle, null);
    };
    // SAFETY: per the contract.
    let name = unsafe { text(symbol) };
    // SAFETY: per the contract.
    let version = version.map(|v| unsafe { text(v) });
    let (Some(name), Some(Some(_)) | None) = (name, version) else {
        return fail(linker, &Error::InvalidName, null);
    };
    let version = version.flatten();
    match linker.versioned_symbol(handle, name, version, caller as u64) {
        Ok(address) => address as usize as *mut c_void,
        Err(e) => fail(linker, &e, null),
    }
}

/// `dlclose(handle)`: 0, or -1 with the error recorded.
pub fn dlclose<P: Platform>(linker: &Linker<P>, handle: *mut c_void) -> c_int {
    let result = Handle::from_raw(handle as usize)
        .ok_or(Error::InvalidHandle)
        .and_then(|h| linker.close(h));
    match result {
        Ok(()) => 0,
        Err(e) => fail(linker, &e, -1),
    }
}

/// `dlerror()`: the calling thread's last error as text, or null; reading
/// clears it. The text stays valid until the thread calls `dlerror` again.
pub fn dlerror<P: Platform>(linker: &Linker<P>) -> *mut c_char {
    let mut text = core::ptr::null_mut();
    linker
        .platform()
        .with_error_slot(&mut |slot| text = slot.take());
    text
}

/// `dladdr(addr, info)` for the linker's own objects: 1 with `*info`
/// filled, or 0 if `addr` is in none of them (or `info` is null); an image
/// with another loader beside it asks that one on 0.
///
/// # Safety
/// `info` must be null or point to writable memory for a [`Dl_info`].
pub unsafe fn dladdr<P: Platform>(
    linker: &Linker<P>,
    addr: *const c_void,
    info: *mut Dl_info,
) -> c_int {
    if info.is_null() {
        return 0;
    }
    let Some(found) = linker.address_info(addr as u64) else {
        return 0;
    };
    // SAFETY: `info` is non-null and writable per the contract.
    unsafe {
        info.write(Dl_info {
            dli_fname: found.path.cast(),
            dli_fbase: found.base as usize as *mut c_void,
            dli_sname: found.symbol_name.cast(),
            dli_saddr: found.symbol_addr as usize as *mut c_void,
        });
    }
    1
}

/// `dl_iterate_phdr(callback, data)`: calls `callback` for the objects of
/// `first` (another loader's `dl_iterate_phdr`, if the image has one), then
/// for the linker's own, until one call returns non-zero, which is
/// returned. The linker's list is taken before any callback runs.
///
/// # Safety
/// `callback` must be safe to call with the documented arguments, and
/// `first` must be a `dl_iterate_phdr`.
pub unsafe fn dl_iterate_phdr<P: Platform>(
    linker: &Linker<P>,
    callback: PhdrCallback,
    data: *mut c_void,
    first: Option<IteratePhdr>,
) -> c_int {
    let Some(cb) = callback else { return 0 };
    let (ours, adds, subs) = linker.objects();
    if let Some(first) = first {
        // SAFETY: forwarding the caller's own callback and data to a
        // `dl_iterate_phdr`, per the contract.
        let r = unsafe { first(callback, data) };
        if r != 0 {
            return r;
        }
    }
    for o in ours {
        let mut info = dl_phdr_info {
            dlpi_addr: o.addr as usize,
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

/// `_dl_find_object(pc, result)` for the linker's own objects: 0 with
/// `*result` filled, or -1 if `pc` is in none of them (or `result` is
/// null); an image with another loader beside it asks that one on -1.
///
/// # Safety
/// `result` must be null or point to writable memory for a
/// [`dl_find_object`].
pub unsafe fn dl_find_object<P: Platform>(
    linker: &Linker<P>,
    pc: *mut c_void,
    result: *mut dl_find_object,
) -> c_int {
    if result.is_null() {
        return -1;
    }
    let Some(o) = linker.object_containing(pc as u64) else {
        return -1;
    };
    // SAFETY: `result` is non-null and writable per the contract.
    unsafe {
        result.write(dl_find_object {
            dlfo_flags: 0,
            dlfo_map_start: o.map_start as usize as *mut c_void,
            dlfo_map_end: o.map_end as usize as *mut c_void,
            dlfo_link_map: core::ptr::null_mut(),
            #[cfg(not(target_arch = "arm"))]
            dlfo_eh_frame: o.eh_frame_hdr as usize as *mut c_void,
            #[cfg(target_arch = "arm")]
            dlfo_eh_frame: o
                .exception_index
                .map_or(core::ptr::null_mut(), |(table, _)| {
                    table as usize as *mut c_void
                }),
            #[cfg(target_arch = "arm")]
            dlfo_eh_count: o.exception_index.map_or(0, |(_, size)| {
                c_int::try_from(size / 8).unwrap_or(c_int::MAX)
            }),
            #[cfg(target_arch = "arm")]
            dlfo_eh_count_pad: 0,
            dlfo_reserved: [0; 7],
        });
    }
    0
}

/// `__gnu_Unwind_Find_exidx(pc, count)`, which the Arm EHABI unwinder
/// (libgcc) calls to find the exception index table covering `pc`: the
/// table of the loaded object containing `pc`, with `*count` set to its
/// number of entries; 0 if `pc` is in none of them (the image then looks in
/// its own table, or asks the system's loader).
///
/// # Safety
/// `count` must be null or point to a writable `int`.
pub unsafe fn gnu_unwind_find_exidx<P: Platform>(
    linker: &Linker<P>,
    pc: usize,
    count: *mut c_int,
) -> usize {
    let Some((table, size)) = linker
        .object_containing(pc as u64)
        .and_then(|o| o.exception_index)
    else {
        return 0;
    };
    if !count.is_null() {
        // SAFETY: `count` is non-null and writable per the contract.
        unsafe { count.write(c_int::try_from(size / 8).unwrap_or(c_int::MAX)) };
    }
    table as usize
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::ffi::{c_char, CStr};

    use modlib::{Memory, MemoryError, Protection, Reservation};

    use super::*;
    use crate::platform::FileError;

    /// Memory that has none to give: these tests load nothing.
    #[derive(Clone)]
    struct NoMemory;

    impl Memory for NoMemory {
        fn page_size(&self) -> usize {
            4096
        }
        fn reserve(&self, size: usize, _align: usize) -> Result<Reservation, MemoryError> {
            Err(MemoryError::Exhausted { size })
        }
        fn commit(
            &self,
            _res: &Reservation,
            _offset: usize,
            len: usize,
        ) -> Result<(), MemoryError> {
            Err(MemoryError::Exhausted { size: len })
        }
        fn protect(
            &self,
            _res: &Reservation,
            offset: usize,
            len: usize,
            _prot: Protection,
        ) -> Result<(), MemoryError> {
            Err(MemoryError::BadRange { offset, len })
        }
        fn sync_icache(&self, _res: &Reservation, _offset: usize, _len: usize) {}
        fn release(&self, _res: Reservation) {}
    }

    /// A platform with no files and one thread: the required methods only.
    struct Empty {
        error: spin::Mutex<ErrorSlot>,
    }

    impl Platform for Empty {
        type Memory = NoMemory;
        fn memory(&self) -> NoMemory {
            NoMemory
        }
        fn read_file(&self, _path: &str) -> Result<Vec<u8>, FileError> {
            Err(FileError(String::from("no files")))
        }
        fn exists(&self, _path: &str) -> bool {
            false
        }
        fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot)) {
            f(&mut self.error.lock());
        }
        fn thread_id(&self) -> u64 {
            1
        }
        fn yield_now(&self) {}
    }

    fn linker() -> Linker<Empty> {
        Linker::new(Empty {
            error: spin::Mutex::new(ErrorSlot::new()),
        })
    }

    /// What `dlerror` says now, as owned text.
    fn last_error(linker: &Linker<Empty>) -> Option<String> {
        let text = dlerror(linker);
        // SAFETY: a non-null `dlerror` result is a NUL-terminated string
        // the slot keeps until the next call.
        (!text.is_null()).then(|| String::from(unsafe { CStr::from_ptr(text) }.to_str().unwrap()))
    }

    fn c(text: &CStr) -> *const c_char {
        text.as_ptr()
    }

    #[test]
    fn error_text_with_a_nul_is_kept_with_a_space() {
        // The user image used to drop such a message (dlerror gave null
        // after a failure); now every image reports it.
        let linker = linker();
        let e = Error::Io {
            path: String::from("lib\0x.so"),
            reason: String::from("short read"),
        };
        assert!(fail(&linker, &e, core::ptr::null_mut::<c_void>()).is_null());
        assert_eq!(
            last_error(&linker).as_deref(),
            Some("lib x.so: cannot read file: short read")
        );
    }

    #[test]
    fn dlerror_is_cleared_by_reading() {
        let linker = linker();
        // SAFETY: the name is a C string literal.
        assert!(unsafe { dlopen(&linker, c(c"libnothing.so"), RTLD_NOW) }.is_null());
        let text = last_error(&linker).expect("a failed dlopen sets an error");
        assert!(text.starts_with("libnothing.so: cannot open shared object file"));
        assert_eq!(last_error(&linker), None);
    }

    #[test]
    fn noload_of_an_unloaded_object_is_null_without_error() {
        let linker = linker();
        // SAFETY: the name is a C string literal.
        let handle = unsafe { dlopen(&linker, c(c"libnothing.so"), RTLD_NOW | RTLD_NOLOAD) };
        assert!(handle.is_null());
        assert_eq!(last_error(&linker), None);
    }

    #[test]
    fn bad_modes_names_and_handles_are_errors() {
        let linker = linker();
        // SAFETY: the name is a C string literal.
        assert!(unsafe { dlopen(&linker, c(c"libx.so"), RTLD_GLOBAL) }.is_null());
        assert!(last_error(&linker)
            .unwrap()
            .starts_with("invalid mode 0x100"));
        // SAFETY: the name is a C string with invalid UTF-8.
        assert!(unsafe { dlopen(&linker, c(c"lib\xff.so"), RTLD_NOW) }.is_null());
        assert_eq!(last_error(&linker).as_deref(), Some("invalid name"));
        let odd = 3usize as *mut c_void;
        // SAFETY: the name is a C string literal.
        assert!(unsafe { dlsym(&linker, odd, c(c"f"), 0) }.is_null());
        assert_eq!(last_error(&linker).as_deref(), Some("invalid handle"));
        assert_eq!(dlclose(&linker, odd), -1);
        assert_eq!(last_error(&linker).as_deref(), Some("invalid handle"));
        // SAFETY: a null version is allowed by the contract.
        let v = unsafe {
            dlvsym(
                &linker,
                core::ptr::null_mut(),
                c(c"f"),
                core::ptr::null(),
                0,
            )
        };
        assert!(v.is_null());
        assert_eq!(last_error(&linker).as_deref(), Some("invalid name"));
    }

    #[test]
    fn pseudo_handles_search_the_global_scope() {
        let linker = linker();
        for handle in [0usize, usize::MAX] {
            // SAFETY: the name is a C string literal.
            let found = unsafe { dlsym(&linker, handle as *mut c_void, c(c"f"), 0) };
            assert!(found.is_null());
            let text = last_error(&linker).unwrap();
            assert!(text.ends_with("undefined symbol: f"), "{text}");
        }
        // SAFETY: a null name opens the global scope.
        let global = unsafe { dlopen(&linker, core::ptr::null(), RTLD_NOW) };
        assert!(!global.is_null());
        assert_eq!(dlclose(&linker, global), 0);
    }

    #[test]
    fn addresses_outside_the_linker_are_not_described() {
        let linker = linker();
        let here = c(c"x").cast::<c_void>();
        let mut info = core::mem::MaybeUninit::<Dl_info>::uninit();
        // SAFETY: `info` is writable; a null `info` is allowed.
        unsafe {
            assert_eq!(dladdr(&linker, here, info.as_mut_ptr()), 0);
            assert_eq!(dladdr(&linker, here, core::ptr::null_mut()), 0);
        }
        let mut found = core::mem::MaybeUninit::<dl_find_object>::uninit();
        // SAFETY: `found` is writable.
        let r = unsafe { dl_find_object(&linker, here.cast_mut(), found.as_mut_ptr()) };
        assert_eq!(r, -1);
        let mut count: c_int = -7;
        // SAFETY: `count` is writable; a null `count` is allowed.
        unsafe {
            assert_eq!(
                gnu_unwind_find_exidx(&linker, here as usize, &raw mut count),
                0
            );
            assert_eq!(
                gnu_unwind_find_exidx(&linker, here as usize, core::ptr::null_mut()),
                0
            );
        }
        assert_eq!(count, -7, "left alone when no object covers the address");
    }
}
