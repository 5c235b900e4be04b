//! The user symbol table: the C runtime and the dlfcn functions, the only
//! symbols libraries loaded in user space bind to outside themselves.

use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void};

use modlib::{ProviderId, Symbol, SymbolEntry, SymbolKind, SymbolTable};

#[allow(missing_docs)]
extern "C" {
    fn printf(fmt: *const c_char, ...) -> c_int;
    fn fprintf(stream: *mut c_void, fmt: *const c_char, ...) -> c_int;
    fn snprintf(buf: *mut c_char, n: usize, fmt: *const c_char, ...) -> c_int;
    fn sprintf(buf: *mut c_char, fmt: *const c_char, ...) -> c_int;
    fn vsnprintf(buf: *mut c_char, n: usize, fmt: *const c_char, ap: *mut c_void) -> c_int;
    fn vprintf(fmt: *const c_char, ap: *mut c_void) -> c_int;
    fn vfprintf(stream: *mut c_void, fmt: *const c_char, ap: *mut c_void) -> c_int;
    fn puts(s: *const c_char) -> c_int;
    fn fputs(s: *const c_char, stream: *mut c_void) -> c_int;
    fn putchar(c: c_int) -> c_int;
    fn fflush(stream: *mut c_void) -> c_int;
    fn strlen(s: *const c_char) -> usize;
    fn strnlen(s: *const c_char, n: usize) -> usize;
    fn strcmp(a: *const c_char, b: *const c_char) -> c_int;
    fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int;
    fn strcpy(d: *mut c_char, s: *const c_char) -> *mut c_char;
    fn strncpy(d: *mut c_char, s: *const c_char, n: usize) -> *mut c_char;
    fn strcat(d: *mut c_char, s: *const c_char) -> *mut c_char;
    fn strchr(s: *const c_char, c: c_int) -> *mut c_char;
    fn strrchr(s: *const c_char, c: c_int) -> *mut c_char;
    fn strstr(h: *const c_char, n: *const c_char) -> *mut c_char;
    fn strtol(s: *const c_char, end: *mut *mut c_char, base: c_int) -> i64;
    fn atoi(s: *const c_char) -> c_int;
    fn toupper(c: c_int) -> c_int;
    fn tolower(c: c_int) -> c_int;
    fn isspace(c: c_int) -> c_int;
    fn isdigit(c: c_int) -> c_int;
    fn isalpha(c: c_int) -> c_int;
    fn isalnum(c: c_int) -> c_int;
    fn isupper(c: c_int) -> c_int;
    fn islower(c: c_int) -> c_int;
    fn qsort(base: *mut c_void, n: usize, size: usize, cmp: *const c_void);
    fn sqrt(x: f64) -> f64;
    fn fabs(x: f64) -> f64;
    fn exit(status: c_int) -> !;
    fn abort() -> !;
    fn memcpy(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void;
    fn memmove(d: *mut c_void, s: *const c_void, n: usize) -> *mut c_void;
    fn memset(d: *mut c_void, c: c_int, n: usize) -> *mut c_void;
    fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int;
    fn __ctype_toupper_loc() -> *const *const i32;
    fn __ctype_tolower_loc() -> *const *const i32;
    fn __ctype_b_loc() -> *const *const u16;
    static stdout: *mut c_void;
    static stderr: *mut c_void;
    static stdin: *mut c_void;
}

macro_rules! functions {
    ($($f:path),* $(,)?) => {
        [$((stringify!($f), $f as *const () as u64)),*]
    };
}

/// What code built against newlib's headers (arm-none-eabi-gcc) reads,
/// and the EABI helpers (from `compiler_builtins`) it calls for double
/// precision, which the FPU lacks, and for 64-bit division.
#[cfg(target_arch = "arm")]
mod eabi {
    #[allow(missing_docs)]
    extern "C" {
        pub static _impure_ptr: *mut core::ffi::c_void;
        pub static _ctype_: [u8; 257];
        pub fn __aeabi_dadd();
        pub fn __aeabi_dsub();
        pub fn __aeabi_dmul();
        pub fn __aeabi_ddiv();
        pub fn __aeabi_dcmpeq();
        pub fn __aeabi_dcmplt();
        pub fn __aeabi_dcmple();
        pub fn __aeabi_dcmpgt();
        pub fn __aeabi_dcmpge();
        pub fn __aeabi_dcmpun();
        pub fn __aeabi_i2d();
        pub fn __aeabi_ui2d();
        pub fn __aeabi_l2d();
        pub fn __aeabi_ul2d();
        pub fn __aeabi_d2iz();
        pub fn __aeabi_d2uiz();
        pub fn __aeabi_d2lz();
        pub fn __aeabi_d2ulz();
        pub fn __aeabi_f2d();
        pub fn __aeabi_d2f();
        pub fn __aeabi_ldivmod();
        pub fn __aeabi_uldivmod();
        pub fn __aeabi_memcpy();
        pub fn __aeabi_memmove();
        pub fn __aeabi_memset();
        pub fn __aeabi_memclr();
    }

    /// The helpers, by name.
    pub fn functions() -> [(&'static str, u64); 26] {
        functions![
            __aeabi_dadd,
            __aeabi_dsub,
            __aeabi_dmul,
            __aeabi_ddiv,
            __aeabi_dcmpeq,
            __aeabi_dcmplt,
            __aeabi_dcmple,
            __aeabi_dcmpgt,
            __aeabi_dcmpge,
            __aeabi_dcmpun,
            __aeabi_i2d,
            __aeabi_ui2d,
            __aeabi_l2d,
            __aeabi_ul2d,
            __aeabi_d2iz,
            __aeabi_d2uiz,
            __aeabi_d2lz,
            __aeabi_d2ulz,
            __aeabi_f2d,
            __aeabi_d2f,
            __aeabi_ldivmod,
            __aeabi_uldivmod,
            __aeabi_memcpy,
            __aeabi_memmove,
            __aeabi_memset,
            __aeabi_memclr,
        ]
    }

    /// The data objects, by name.
    pub fn objects() -> [(&'static str, u64); 2] {
        [
            ("_impure_ptr", &raw const _impure_ptr as u64),
            ("_ctype_", &raw const _ctype_ as u64),
        ]
    }
}

static TABLE: spin::Once<SymbolTable<'static>> = spin::Once::new();

fn build() -> SymbolTable<'static> {
    use crate::dlfcn::{dladdr, dlclose, dlerror, dlopen, dlsym};
    use crate::heap::{calloc, free, malloc, realloc};
    let functions = functions![
        printf,
        fprintf,
        snprintf,
        sprintf,
        vsnprintf,
        vprintf,
        vfprintf,
        puts,
        fputs,
        putchar,
        fflush,
        strlen,
        strnlen,
        strcmp,
        strncmp,
        strcpy,
        strncpy,
        strcat,
        strchr,
        strrchr,
        strstr,
        strtol,
        atoi,
        toupper,
        tolower,
        isspace,
        isdigit,
        isalpha,
        isalnum,
        isupper,
        islower,
        qsort,
        sqrt,
        fabs,
        exit,
        abort,
        memcpy,
        memmove,
        memset,
        memcmp,
        __ctype_toupper_loc,
        __ctype_tolower_loc,
        __ctype_b_loc,
        malloc,
        calloc,
        realloc,
        free,
        dlopen,
        dlsym,
        dlclose,
        dlerror,
        dladdr,
    ];
    let mut entries: Vec<SymbolEntry<'static>> = functions
        .iter()
        .map(|&(name, address)| SymbolEntry::new(name, address, SymbolKind::Function))
        .collect();
    let objects = [
        ("stdout", &raw const stdout as u64),
        ("stderr", &raw const stderr as u64),
        ("stdin", &raw const stdin as u64),
    ];
    #[cfg(target_arch = "arm")]
    let (functions, objects) = {
        let mut all = objects.to_vec();
        all.extend(eabi::objects());
        all.extend(crate::cxx::objects());
        let mut functions = eabi::functions().to_vec();
        functions.extend(crate::cxx::functions());
        (functions, all)
    };
    #[cfg(target_arch = "arm")]
    entries.extend(
        functions
            .iter()
            .map(|&(name, address)| SymbolEntry::new(name, address, SymbolKind::Function)),
    );
    for (name, address) in objects {
        entries.push(SymbolEntry::new(name, address, SymbolKind::Object));
    }
    SymbolTable::new(entries, ProviderId(0)).expect("runtime names are unique")
}

/// The runtime symbol called `name`.
pub fn get(name: &str) -> Option<Symbol> {
    TABLE.call_once(build).get(name)
}

/// Number of symbols in the user table.
pub fn len() -> usize {
    TABLE.call_once(build).len()
}
