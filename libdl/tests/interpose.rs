//! Interposition, unwinding and re-entry: with `dl`'s C ABI linked in,
//! every caller in the process (Rust std, libgcc's unwinder, libstdc++,
//! loaded code) reaches our `dlsym`/`dladdr`/`dl_iterate_phdr`/
//! `_dl_find_object`. Panics and C++ exceptions must still unwind, through
//! objects we loaded as well as the host's, backtraces must still resolve,
//! and the host's objects must still be described correctly.

mod common;

use std::ffi::{c_int, c_void, CStr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::{
    dl_iterate_phdr, dl_phdr_info, dladdr, lib, sym, sym_addr, Dl_info, Opened, RTLD_DEFAULT,
    RTLD_NEXT, RTLD_NOW,
};

/// The C library that calls back into Rust, with unwind tables: Rust
/// panics and backtraces go through its frames. (gcc emits them by default
/// for x86_64 and aarch64, not for riscv64.)
fn callback_lib() -> PathBuf {
    lib(
        "callback",
        &["callback.c"],
        &[],
        &["-fasynchronous-unwind-tables"],
    )
}

#[test]
fn the_unwinder_entry_points_are_ours() {
    for (name, ours) in [
        (
            "_dl_find_object",
            modlib_dl::capi::_dl_find_object as *const () as usize,
        ),
        (
            "dl_iterate_phdr",
            modlib_dl::capi::dl_iterate_phdr as *const () as usize,
        ),
        ("dladdr", modlib_dl::capi::dladdr as *const () as usize),
        ("dlopen", modlib_dl::capi::dlopen as *const () as usize),
        #[cfg(target_arch = "arm")]
        (
            "__gnu_Unwind_Find_exidx",
            modlib_dl::capi::__gnu_Unwind_Find_exidx as *const () as usize,
        ),
    ] {
        assert_eq!(sym_addr(RTLD_DEFAULT, name) as usize, ours, "{name}");
    }
}

#[test]
fn dl_find_object_without_a_result_is_not_found() {
    // A null result is refused before any object is searched, ours or the
    // host's (which used to be asked with the null result).
    let in_host = libc::strlen as *const () as *mut c_void;
    // SAFETY: a null result is allowed: nothing is written.
    let r = unsafe { modlib_dl::capi::_dl_find_object(in_host, std::ptr::null_mut()) };
    assert_eq!(r, -1);
}

extern "C-unwind" fn panicking() {
    panic!("through C");
}

#[test]
fn panics_unwind_through_the_process_and_through_loaded_code() {
    let _serial = common::serial();
    // A plain panic, caught.
    let caught = std::panic::catch_unwind(|| panic!("plain panic"));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"plain panic"));

    // A panic raised in a Rust callback called by C code we loaded: the
    // unwinder must find the C frame's unwind table through our
    // `_dl_find_object`.
    let h_open = Opened::new(&callback_lib(), RTLD_NOW);
    let h = h_open.handle();
    // SAFETY: `void callback_call(void (*)(void))`; the C frame has unwind
    // tables (see `callback_lib`), so unwinding through it is defined.
    let call: unsafe extern "C-unwind" fn(extern "C-unwind" fn()) =
        unsafe { sym(h, "callback_call") };
    // SAFETY: as above.
    let caught = std::panic::catch_unwind(|| unsafe { call(panicking) });
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"through C"));
    h_open.close();
}

#[test]
fn cxx_exceptions_inside_and_across_loaded_libraries() {
    let _serial = common::serial();
    let internal = lib("cxx_internal", &["cxx_internal.cpp"], &[], &[]);
    lib("cxx_thrower", &["cxx_thrower.cpp"], &[], &[]);
    let catcher = lib("cxx_catcher", &["cxx_catcher.cpp"], &["cxx_thrower"], &[]);

    let hi_open = Opened::new(&internal, RTLD_NOW);
    let hi = hi_open.handle();
    // SAFETY: `int cxx_internal(int)`.
    let f: unsafe extern "C" fn(c_int) -> c_int = unsafe { sym(hi, "cxx_internal") };
    for depth in [0, 1, 5] {
        // "failed at depth 0" is 17 characters; depth+1 guards unwound.
        // SAFETY: as declared; the exception never leaves the library.
        assert_eq!(unsafe { f(depth) }, 17 + 100 * (depth + 1), "depth {depth}");
    }

    let hc_open = Opened::new(&catcher, RTLD_NOW);
    let hc = hc_open.handle();
    // Both C++ libraries are ours; libstdc++ (which uses thread-local
    // storage) went to the system's loader as a host object.
    let loaded: Vec<String> = modlib_dl::hosted::linker()
        .loaded()
        .into_iter()
        .map(|(path, _, _)| path)
        .collect();
    for object in [
        "libcxx_internal.so",
        "libcxx_thrower.so",
        "libcxx_catcher.so",
    ] {
        assert!(
            loaded.iter().any(|p| p.ends_with(object)),
            "{object} in {loaded:?}"
        );
    }
    assert!(
        !loaded.iter().any(|p| p.contains("libstdc++")),
        "{loaded:?}"
    );
    // SAFETY: `int cxx_catch(int)`.
    let catch: unsafe extern "C" fn(c_int) -> c_int = unsafe { sym(hc, "cxx_catch") };
    // SAFETY: as declared; exceptions cross from cxx_thrower into
    // cxx_catcher, never into Rust.
    unsafe {
        // "coded error 7": 13 characters.
        assert_eq!(catch(7), 100_000 + 13_000 + 7);
        assert_eq!(catch(12), 100_000 + 14_000 + 12);
        assert_eq!(catch(-5), 5 - 100_000);
    }
    hc_open.close();
    hi_open.close();
}

static TRACE: Mutex<String> = Mutex::new(String::new());

extern "C" fn backtrace_callback() {
    let trace = std::backtrace::Backtrace::force_capture();
    *TRACE.lock().unwrap() = trace.to_string();
}

/// Calls `callback_call(backtrace_callback)` from a frame of its own that
/// optimisation keeps (never inlined, and not a tail call: the trace is
/// taken after the call returns), so the trace has a known Rust caller
/// beyond the loaded C function in every build profile.
#[inline(never)]
fn trace_through(call: unsafe extern "C" fn(extern "C" fn())) -> String {
    // SAFETY: `call` is `void callback_call(void (*)(void))`.
    unsafe { call(backtrace_callback) };
    std::mem::take(&mut *TRACE.lock().unwrap())
}

#[test]
fn backtrace_from_a_callback_of_loaded_code() {
    let _serial = common::serial();
    let h_open = Opened::new(&callback_lib(), RTLD_NOW);
    let h = h_open.handle();
    // SAFETY: `void callback_call(void (*)(void))`.
    let call: unsafe extern "C" fn(extern "C" fn()) = unsafe { sym(h, "callback_call") };
    let trace = trace_through(std::hint::black_box(call));
    // The frame index of the first frame naming `name`.
    let frame = |name: &str| {
        trace
            .lines()
            .filter(|line| !line.trim_start().starts_with("at "))
            .position(|line| line.contains(name))
            .unwrap_or_else(|| panic!("no frame {name} in\n{trace}"))
    };
    // The callback, then the C frame (symbolised from our object's file),
    // then the Rust caller beyond it: the unwinder got through loaded code.
    let callback = frame("backtrace_callback");
    let c_frame = frame("callback_call");
    let caller = frame("trace_through");
    assert!(callback < c_frame && c_frame < caller, "{trace}");
    h_open.close();
}

fn c_text(p: *const std::ffi::c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: dladdr/dl_iterate_phdr give NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[test]
fn host_symbols_through_default_and_next() {
    let malloc = sym_addr(RTLD_DEFAULT, "malloc");
    assert_eq!(malloc as usize, libc::malloc as *const () as usize);
    assert_eq!(sym_addr(RTLD_NEXT, "malloc"), malloc);
    let free = sym_addr(RTLD_NEXT, "free");
    assert_eq!(free as usize, libc::free as *const () as usize);
    // And they work.
    // SAFETY: malloc/free's signatures.
    unsafe {
        let malloc: unsafe extern "C" fn(usize) -> *mut c_void = std::mem::transmute(malloc);
        let free: unsafe extern "C" fn(*mut c_void) = std::mem::transmute(free);
        let p = malloc(64);
        assert!(!p.is_null());
        free(p);
    }
}

#[test]
fn dladdr_for_loaded_and_host_objects() {
    let _serial = common::serial();
    let path = callback_lib();
    let h_open = Opened::new(&path, RTLD_NOW);
    let h = h_open.handle();
    let marker = sym_addr(h, "callback_marker");
    let mut info: Dl_info = Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    // An address inside the function, past its first byte.
    let inside = marker.cast::<u8>().wrapping_add(1).cast::<c_void>();
    // SAFETY: `info` is writable.
    assert_ne!(unsafe { dladdr(inside, &raw mut info) }, 0);
    assert_eq!(Path::new(&c_text(info.dli_fname)), path);
    assert_eq!(c_text(info.dli_sname), "callback_marker");
    assert_eq!(info.dli_saddr, marker);
    assert!((info.dli_fbase as usize) <= marker as usize);

    // A libc function: libc's path and name.
    let qsort = (libc::qsort as *const ()).cast::<c_void>();
    // SAFETY: as above.
    let found = unsafe { dladdr(qsort, &raw mut info) };
    assert_ne!(found, 0);
    assert!(
        c_text(info.dli_fname).contains("libc.so"),
        "{}",
        c_text(info.dli_fname)
    );
    assert_eq!(c_text(info.dli_sname), "qsort");

    // Nothing at all.
    // SAFETY: as above.
    assert_eq!(unsafe { dladdr(16 as *const c_void, &raw mut info) }, 0);
    h_open.close();
}

/// What `dl_iterate_phdr` reported of one object.
struct Seen {
    name: String,
    addr: u64,
    /// `(p_type, p_flags, start, end)` of each program header.
    segments: Vec<(u32, u32, u64, u64)>,
}

/// The host's program header layout (`ElfW(Phdr)`).
#[cfg(target_pointer_width = "64")]
type Phdr = libc::Elf64_Phdr;
/// See above.
#[cfg(target_pointer_width = "32")]
type Phdr = libc::Elf32_Phdr;

unsafe extern "C" fn collect(info: *mut dl_phdr_info, size: usize, data: *mut c_void) -> c_int {
    assert!(size >= std::mem::size_of::<dl_phdr_info>());
    // SAFETY: `data` is the Vec passed below; `info` is valid for the call
    // and its program headers are the host's `ElfW(Phdr)`s.
    unsafe {
        let seen = &mut *data.cast::<Vec<Seen>>();
        let info = &*info;
        let segments = (0..usize::from(info.dlpi_phnum))
            .map(|i| {
                let p = info.dlpi_phdr.cast::<Phdr>().add(i).read_unaligned();
                #[allow(clippy::unnecessary_cast, reason = "32-bit on 32-bit machines")]
                let start = (info.dlpi_addr as u64).wrapping_add(p.p_vaddr as u64);
                #[allow(clippy::unnecessary_cast, reason = "32-bit on 32-bit machines")]
                let end = start + p.p_memsz as u64;
                (p.p_type, p.p_flags, start, end)
            })
            .collect();
        seen.push(Seen {
            name: c_text(info.dlpi_name),
            addr: info.dlpi_addr as u64,
            segments,
        });
    }
    0
}

#[test]
fn dl_iterate_phdr_reports_host_and_loaded_objects() {
    const PT_LOAD: u32 = 1;
    const PT_DYNAMIC: u32 = 2;
    const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
    const PT_ARM_EXIDX: u32 = 0x7000_0001;
    const PF_X: u32 = 1;
    let _serial = common::serial();
    let path = callback_lib();
    let h_open = Opened::new(&path, RTLD_NOW);
    let h = h_open.handle();
    let marker = sym_addr(h, "callback_marker") as u64;
    let mut seen: Vec<Seen> = Vec::new();
    // SAFETY: `collect` matches the callback type and `seen` outlives the call.
    let r = unsafe { dl_iterate_phdr(Some(collect), (&raw mut seen).cast()) };
    assert_eq!(r, 0);

    let covers = |s: &Seen, addr: u64| {
        s.segments
            .iter()
            .any(|&(t, f, a, b)| t == PT_LOAD && f & PF_X != 0 && a <= addr && addr < b)
    };
    // The executable first (empty name, by convention), covering this test.
    let this_fn = dl_iterate_phdr_reports_host_and_loaded_objects as *const () as u64;
    assert_eq!(seen[0].name, "");
    assert!(
        covers(&seen[0], this_fn),
        "the executable covers its own code"
    );
    // libc, covering its qsort.
    let libc_entry = seen
        .iter()
        .find(|s| s.name.contains("libc.so"))
        .expect("libc reported");
    assert!(covers(libc_entry, libc::qsort as *const () as u64));
    // Our object, with its load bias and headers: an executable PT_LOAD
    // covering one of its functions, its dynamic section and unwind table.
    let ours = seen
        .iter()
        .find(|s| Path::new(&s.name) == path)
        .expect("our loaded object reported");
    assert!(covers(ours, marker));
    assert!(ours.addr <= marker);
    assert!(ours.segments.iter().any(|s| s.0 == PT_DYNAMIC));
    // The unwind table: `.eh_frame_hdr`, or on 32-bit Arm the exception
    // index table.
    let unwind_table = if cfg!(target_arch = "arm") {
        PT_ARM_EXIDX
    } else {
        PT_GNU_EH_FRAME
    };
    let eh = ours
        .segments
        .iter()
        .find(|s| s.0 == unwind_table)
        .expect("the unwind table's segment");
    assert!(ours
        .segments
        .iter()
        .any(|&(t, _, a, b)| t == PT_LOAD && a <= eh.2 && eh.3 <= b));
    // Nothing else covers our function.
    assert_eq!(seen.iter().filter(|s| covers(s, marker)).count(), 1);

    h_open.close();
    let mut after: Vec<Seen> = Vec::new();
    // SAFETY: as above.
    unsafe { dl_iterate_phdr(Some(collect), (&raw mut after).cast()) };
    assert!(
        !after.iter().any(|s| Path::new(&s.name) == path),
        "gone after dlclose"
    );
}

/// 32-bit Arm's unwinder asks `__gnu_Unwind_Find_exidx` for each frame's
/// exception index table: a loaded object's, a host object's (libc's),
/// none for an address outside every object.
#[cfg(target_arch = "arm")]
#[test]
fn exception_index_tables_of_loaded_and_host_objects() {
    const PT_ARM_EXIDX: u32 = 0x7000_0001;
    let _serial = common::serial();
    let path = callback_lib();
    let h_open = Opened::new(&path, RTLD_NOW);
    let h = h_open.handle();
    let mut seen: Vec<Seen> = Vec::new();
    // SAFETY: `collect` matches the callback type and `seen` outlives the call.
    unsafe { dl_iterate_phdr(Some(collect), (&raw mut seen).cast()) };
    // The table and entry count of each object's PT_ARM_EXIDX segment.
    let table_of = |s: &Seen| {
        let &(_, _, start, end) = s
            .segments
            .iter()
            .find(|seg| seg.0 == PT_ARM_EXIDX)
            .expect("PT_ARM_EXIDX");
        (start as usize, ((end - start) / 8) as c_int)
    };
    let ours = seen.iter().find(|s| Path::new(&s.name) == path).unwrap();
    let libc_entry = seen.iter().find(|s| s.name.contains("libc.so")).unwrap();
    let find = |pc: usize| {
        let mut count: c_int = -1;
        // SAFETY: `count` is writable.
        let table = unsafe { modlib_dl::capi::__gnu_Unwind_Find_exidx(pc, &raw mut count) };
        (table, count)
    };
    let marker = sym_addr(h, "callback_marker") as usize;
    let (table, count) = find(marker);
    assert_eq!((table, count), table_of(ours), "the loaded object's table");
    assert!(count > 0);
    let (table, count) = find(libc::qsort as *const () as usize);
    assert_eq!((table, count), table_of(libc_entry), "libc's table");
    assert!(count > 0);
    assert_eq!(find(16).0, 0, "no object");
    h_open.close();
}
