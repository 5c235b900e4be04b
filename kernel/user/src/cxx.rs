//! C++ in user space on Cortex-M: the exception-index lookup of libgcc's
//! EHABI unwinder over the loaded objects and the image, the C++ runtime
//! in the user symbol table, and the task that runs `libthrow.so`.

use core::ffi::{c_int, c_void};

use dl_core::{capi, Flags};

use crate::dlfcn::linker;
use crate::println;

extern "C" {
    static __exidx_start: u32;
    static __exidx_end: u32;
    static __init_array_start: extern "C" fn();
    static __init_array_end: extern "C" fn();
    fn cxx_call_catching(f: extern "C" fn(c_int) -> c_int, arg: c_int, value: *mut c_int) -> c_int;
}

/// Runs the static constructors of the C++ runtime (its emergency
/// exception pool, 2.5 KiB from the heap, and its exception globals).
pub fn init() {
    let start = &raw const __init_array_start;
    let end = &raw const __init_array_end;
    // SAFETY: the linker script puts the constructor table, one function
    // pointer a word, between the two symbols.
    let constructors =
        unsafe { core::slice::from_raw_parts(start, end.offset_from(start) as usize) };
    for constructor in constructors {
        constructor();
    }
}

/// `__gnu_Unwind_Find_exidx`, which libgcc's unwinder (referencing it
/// weakly) asks for the exception index covering `pc`: a loaded object's,
/// else the image's own, with `*count` set to its number of entries.
///
/// # Safety
/// `count` must be null or point to a writable `int`.
#[no_mangle]
pub unsafe extern "C" fn __gnu_Unwind_Find_exidx(pc: usize, count: *mut c_int) -> usize {
    // SAFETY: per the contract.
    let table = unsafe { capi::gnu_unwind_find_exidx(linker(), pc, count) };
    if table != 0 {
        return table;
    }
    let start = &raw const __exidx_start as usize;
    let end = &raw const __exidx_end as usize;
    if !count.is_null() {
        // SAFETY: per the contract.
        unsafe { count.write(((end - start) / 8) as c_int) };
    }
    start
}

#[allow(missing_docs)]
extern "C" {
    fn __cxa_allocate_exception();
    fn __cxa_free_exception();
    fn __cxa_throw();
    fn __cxa_rethrow();
    fn __cxa_begin_catch();
    fn __cxa_end_catch();
    fn __cxa_end_cleanup();
    fn __cxa_get_exception_ptr();
    fn __cxa_call_unexpected();
    fn __cxa_pure_virtual();
    fn __cxa_guard_acquire();
    fn __cxa_guard_release();
    fn __cxa_guard_abort();
    fn __dynamic_cast();
    fn __gxx_personality_v0();
    fn __aeabi_unwind_cpp_pr0();
    fn __aeabi_unwind_cpp_pr1();
    fn __aeabi_unwind_cpp_pr2();
    fn _Unwind_Resume();
    #[link_name = "_ZSt9terminatev"]
    fn terminate();
    #[link_name = "_Znwj"]
    fn operator_new();
    #[link_name = "_Znaj"]
    fn operator_new_array();
    #[link_name = "_ZdlPv"]
    fn operator_delete();
    #[link_name = "_ZdlPvj"]
    fn operator_delete_sized();
    #[link_name = "_ZdaPv"]
    fn operator_delete_array();
    #[link_name = "_ZNSt9exceptionD2Ev"]
    fn exception_destructor();
    #[link_name = "_ZNKSt9exception4whatEv"]
    fn exception_what();
    #[link_name = "_ZTIi"]
    static TYPEINFO_INT: c_void;
    #[link_name = "_ZTISt9exception"]
    static TYPEINFO_EXCEPTION: c_void;
    #[link_name = "_ZTVSt9exception"]
    static VTABLE_EXCEPTION: c_void;
    #[link_name = "_ZTVN10__cxxabiv117__class_type_infoE"]
    static VTABLE_CLASS_TYPE_INFO: c_void;
    #[link_name = "_ZTVN10__cxxabiv120__si_class_type_infoE"]
    static VTABLE_SI_CLASS_TYPE_INFO: c_void;
    #[link_name = "_ZTVN10__cxxabiv121__vmi_class_type_infoE"]
    static VTABLE_VMI_CLASS_TYPE_INFO: c_void;
}

/// The C++ runtime functions a library imports, by name: exceptions and
/// their tables, `operator new`/`delete`, `std::exception`.
pub fn functions() -> [(&'static str, u64); 27] {
    [
        (
            "__cxa_allocate_exception",
            __cxa_allocate_exception as *const () as u64,
        ),
        (
            "__cxa_free_exception",
            __cxa_free_exception as *const () as u64,
        ),
        ("__cxa_throw", __cxa_throw as *const () as u64),
        ("__cxa_rethrow", __cxa_rethrow as *const () as u64),
        ("__cxa_begin_catch", __cxa_begin_catch as *const () as u64),
        ("__cxa_end_catch", __cxa_end_catch as *const () as u64),
        ("__cxa_end_cleanup", __cxa_end_cleanup as *const () as u64),
        (
            "__cxa_get_exception_ptr",
            __cxa_get_exception_ptr as *const () as u64,
        ),
        (
            "__cxa_call_unexpected",
            __cxa_call_unexpected as *const () as u64,
        ),
        ("__cxa_pure_virtual", __cxa_pure_virtual as *const () as u64),
        (
            "__cxa_guard_acquire",
            __cxa_guard_acquire as *const () as u64,
        ),
        (
            "__cxa_guard_release",
            __cxa_guard_release as *const () as u64,
        ),
        ("__cxa_guard_abort", __cxa_guard_abort as *const () as u64),
        ("__dynamic_cast", __dynamic_cast as *const () as u64),
        (
            "__gxx_personality_v0",
            __gxx_personality_v0 as *const () as u64,
        ),
        (
            "__aeabi_unwind_cpp_pr0",
            __aeabi_unwind_cpp_pr0 as *const () as u64,
        ),
        (
            "__aeabi_unwind_cpp_pr1",
            __aeabi_unwind_cpp_pr1 as *const () as u64,
        ),
        (
            "__aeabi_unwind_cpp_pr2",
            __aeabi_unwind_cpp_pr2 as *const () as u64,
        ),
        ("_Unwind_Resume", _Unwind_Resume as *const () as u64),
        ("_ZSt9terminatev", terminate as *const () as u64),
        ("_Znwj", operator_new as *const () as u64),
        ("_Znaj", operator_new_array as *const () as u64),
        ("_ZdlPv", operator_delete as *const () as u64),
        ("_ZdlPvj", operator_delete_sized as *const () as u64),
        ("_ZdaPv", operator_delete_array as *const () as u64),
        (
            "_ZNSt9exceptionD2Ev",
            exception_destructor as *const () as u64,
        ),
        (
            "_ZNKSt9exception4whatEv",
            exception_what as *const () as u64,
        ),
    ]
}

/// The C++ runtime objects a library refers to: typeinfo and the vtables
/// of typeinfo classes.
pub fn objects() -> [(&'static str, u64); 6] {
    [
        ("_ZTIi", &raw const TYPEINFO_INT as u64),
        ("_ZTISt9exception", &raw const TYPEINFO_EXCEPTION as u64),
        ("_ZTVSt9exception", &raw const VTABLE_EXCEPTION as u64),
        (
            "_ZTVN10__cxxabiv117__class_type_infoE",
            &raw const VTABLE_CLASS_TYPE_INFO as u64,
        ),
        (
            "_ZTVN10__cxxabiv120__si_class_type_infoE",
            &raw const VTABLE_SI_CLASS_TYPE_INFO as u64,
        ),
        (
            "_ZTVN10__cxxabiv121__vmi_class_type_infoE",
            &raw const VTABLE_VMI_CLASS_TYPE_INFO as u64,
        ),
    ]
}

/// Runs `libthrow.so`: an exception thrown and caught inside the library
/// (its destructor run while unwinding), then one it throws out for the
/// image's C++ to catch.
pub fn run() -> i32 {
    let path = "/lib/libthrow.so";
    let handle = match linker().open(Some(path), Flags::NOW) {
        Ok(h) => h,
        Err(e) => {
            println!("cxx: {e}");
            return 1;
        }
    };
    let function = |name: &str| {
        linker().symbol(handle, name, 0).map(|f| {
            // SAFETY: the library's exported functions are all
            // `int f(int)` (cleanups_run ignores its argument).
            unsafe { core::mem::transmute::<usize, extern "C" fn(c_int) -> c_int>(f as usize) }
        })
    };
    let (Ok(inside), Ok(out), Ok(cleanups)) = (
        function("throw_inside"),
        function("throw_out"),
        function("cleanups_run"),
    ) else {
        println!("cxx: {path} lacks its functions");
        return 1;
    };
    let call = |f, arg| {
        let mut value = 0;
        // SAFETY: `f` is an `int f(int)` of the open library; the shim
        // catches whatever it throws.
        let how = unsafe { cxx_call_catching(f, arg, &raw mut value) };
        (how, value)
    };
    let caught_inside = call(inside, 42);
    let cleanup_inside = cleanups(0) == 1;
    let caught_out = call(out, 7);
    let cleanup_out = cleanups(0) == 2;
    let _ = linker().close(handle);
    println!(
        "cxx: caught {} inside the library, cleanup {}; caught {} from the library in the caller, cleanup {}",
        caught_inside.1,
        if cleanup_inside { "ran" } else { "missing" },
        caught_out.1,
        if cleanup_out { "ran" } else { "missing" },
    );
    i32::from(!(caught_inside == (0, 42) && cleanup_inside && caught_out == (1, 7) && cleanup_out))
}
