//! Shared support for the `dl` integration tests: C fixtures compiled at
//! test time into one directory per test binary (stable `lib<name>.so`
//! names, so fixtures can link against each other with `-L`/`-l` and find
//! each other through `DT_RUNPATH=$ORIGIN`), the C ABI declared as a C
//! program would see it, and a per-thread event log that fixtures write to.
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use testkit::Compiler;

#[allow(unused_imports)]
pub use modlib_dl::capi::{
    dl_phdr_info, Dl_info, PhdrCallback, RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL, RTLD_NODELETE,
    RTLD_NOLOAD, RTLD_NOW,
};

/// `RTLD_DEFAULT`.
pub const RTLD_DEFAULT: *mut c_void = std::ptr::null_mut();
/// `RTLD_NEXT`.
pub const RTLD_NEXT: *mut c_void = usize::MAX as *mut c_void;

// The C ABI as a C program declares it. With `dl`'s default features these
// names are defined by `dl` itself and the static linker binds them there.
extern "C" {
    pub fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    pub fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    pub fn dlvsym(
        handle: *mut c_void,
        symbol: *const c_char,
        version: *const c_char,
    ) -> *mut c_void;
    pub fn dlclose(handle: *mut c_void) -> c_int;
    pub fn dlerror() -> *mut c_char;
    pub fn dladdr(addr: *const c_void, info: *mut Dl_info) -> c_int;
    pub fn dl_iterate_phdr(callback: PhdrCallback, data: *mut c_void) -> c_int;
}

/// Serialises the tests of one binary that share fixtures or watch the
/// loader's global state (constructor logs, what is loaded).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where the C sources live.
pub fn fixture_source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The directory this test binary's libraries are built into.
pub fn lib_dir() -> PathBuf {
    let dir = testkit::fixtures::out_dir().join(format!("libdl-{}", env!("CARGO_CRATE_NAME")));
    std::fs::create_dir_all(&dir).expect("create library directory");
    dir
}

/// Builds `lib<name>.so` (soname `lib<name>.so`) from `sources` in the
/// fixture folder, linked against the already built libraries `needs`
/// (`-L<dir> -l<need>`, with `DT_RUNPATH=$ORIGIN`) and any `extra` flags.
/// C++ sources are compiled with g++ (gcc and g++ are the cross compilers
/// when the tests run on another machine than x86-64). Rebuilt only when
/// the sources or flags change. A library needing `dltest` (the event log
/// of `dltest.h`) gets it built and loaded first.
pub fn lib(name: &str, sources: &[&str], needs: &[&str], extra: &[&str]) -> PathBuf {
    if needs.contains(&"dltest") {
        log_library();
    }
    build(name, sources, needs, extra)
}

fn build(name: &str, sources: &[&str], needs: &[&str], extra: &[&str]) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = lib_dir();
    let file = format!("lib{name}.so");
    let out = dir.join(&file);
    let cxx = sources
        .iter()
        .any(|s| Path::new(s).extension().is_some_and(|e| e == "cpp"));
    let compiler = if cxx {
        Compiler::host_gxx()
    } else {
        Compiler::host_gcc()
    };
    // The target selection first (for 32-bit Arm, Thumb-2 code).
    let mut args: Vec<String> = compiler.target_args();
    let compiler = compiler.command();
    args.extend(
        [
            "-shared",
            "-fPIC",
            "-O1",
            "-g",
            "-Wall",
            "-Werror",
            "-Wl,--no-as-needed",
        ]
        .iter()
        .map(|s| (*s).to_string()),
    );
    args.push(format!("-Wl,-soname,{file}"));
    args.extend(extra.iter().map(|s| (*s).to_string()));
    let paths: Vec<PathBuf> = sources.iter().map(|s| fixture_source(s)).collect();
    let mut hasher = DefaultHasher::new();
    compiler.hash(&mut hasher);
    args.hash(&mut hasher);
    needs.hash(&mut hasher);
    for p in &paths {
        std::fs::read(p)
            .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
            .hash(&mut hasher);
    }
    let key = format!("{:016x}", hasher.finish());
    let key_file = dir.join(format!("{file}.key"));
    if out.exists() && std::fs::read_to_string(&key_file).is_ok_and(|k| k == key) {
        return out;
    }
    let tmp = dir.join(format!("{file}.tmp{}", std::process::id()));
    let mut cmd = Command::new(compiler);
    cmd.args(&args).args(&paths).arg("-o").arg(&tmp);
    if !needs.is_empty() {
        cmd.arg(format!("-L{}", dir.display()))
            .arg("-Wl,-rpath,$ORIGIN");
        for n in needs {
            cmd.arg(format!("-l{n}"));
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&tmp, &out).expect("move library into place");
    std::fs::write(&key_file, key).expect("write build key");
    out
}

/// `target/` of this build (the test binary is in `target/<profile>/deps`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .expect("test binary under target/<profile>/deps")
        .to_path_buf()
}

/// Compiles the fixture `source` with `compiler` and `flags` against
/// `include/dlfcn.h` and links it with `libmodlib_dl.a` before the C
/// library, as the README tells C users; returns the program `name`.
#[allow(dead_code)] // not every test file builds programs
pub fn link_with_libdl(compiler: &Compiler, flags: &[String], source: &str, name: &str) -> PathBuf {
    let archive = static_library();
    let program = lib_dir().join(name);
    let output = Command::new(compiler.command())
        .args(flags)
        .arg("-I")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("include"))
        .arg(fixture_source(source))
        .arg(&archive)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&program)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", compiler.command()));
    assert!(
        output.status.success(),
        "linking {source} with libmodlib_dl.a failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    program
}

/// Builds `libmodlib_dl.a` (default features: hosted + C ABI) with cargo, in
/// `target/libdl-c-test`, for the machine the tests run on; quick when
/// already up to date.
pub fn static_library() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let target = target_dir().join("libdl-c-test");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut command = Command::new(cargo);
            command
                .args([
                    "build",
                    "--quiet",
                    "-p",
                    "modlib-dl",
                    "--lib",
                    "--target-dir",
                ])
                .arg(&target)
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            let mut out = target.clone();
            if let Some(triple) = Compiler::cross_rust_target() {
                command.args(["--target", triple]);
                out.push(triple);
            }
            let output = command.output().expect("run cargo");
            assert!(
                output.status.success(),
                "cargo build -p modlib-dl failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let lib = out.join("debug/libmodlib_dl.a");
            assert!(lib.exists(), "{} not built", lib.display());
            lib
        })
        .clone()
}

/// A path as a C string.
pub fn c_path(path: &Path) -> CString {
    CString::new(path.to_str().expect("UTF-8 path")).expect("no NUL in path")
}

/// A C string from a literal name.
pub fn c(name: &str) -> CString {
    CString::new(name).expect("no NUL")
}

/// `dlerror()` as an owned string (and clears it).
pub fn last_error() -> Option<String> {
    // SAFETY: dlerror has no preconditions; a non-null result is a
    // NUL-terminated string valid until the next dlerror call on this thread.
    unsafe {
        let e = dlerror();
        (!e.is_null()).then(|| CStr::from_ptr(e).to_string_lossy().into_owned())
    }
}

/// `dlopen(path, flags)`.
pub fn open(path: &Path, flags: c_int) -> *mut c_void {
    let c = c_path(path);
    // SAFETY: a NUL-terminated path.
    unsafe { dlopen(c.as_ptr(), flags) }
}

/// `dlopen` that must succeed.
pub fn open_ok(path: &Path, flags: c_int) -> *mut c_void {
    let h = open(path, flags);
    assert!(
        !h.is_null(),
        "dlopen({}) failed: {:?}",
        path.display(),
        last_error()
    );
    h
}

/// `dlclose` that must succeed.
pub fn close_ok(handle: *mut c_void) {
    // SAFETY: closing a handle the caller got from dlopen.
    let r = unsafe { dlclose(handle) };
    assert_eq!(r, 0, "dlclose failed: {:?}", last_error());
}

/// A `dlopen` handle closed when dropped, so that a test failing before its
/// own `dlclose` leaves nothing open for the next test to trip over.
pub struct Opened(pub *mut c_void);

impl Opened {
    /// `dlopen` that must succeed, closed on drop.
    pub fn new(path: &Path, flags: c_int) -> Self {
        Opened(open_ok(path, flags))
    }

    /// The handle.
    pub fn handle(&self) -> *mut c_void {
        self.0
    }

    /// `dlclose` now, which must succeed.
    pub fn close(self) {
        let handle = self.0;
        std::mem::forget(self);
        close_ok(handle);
    }
}

impl Drop for Opened {
    fn drop(&mut self) {
        // SAFETY: the handle came from dlopen and was not closed (`close`
        // forgets the guard).
        unsafe { dlclose(self.0) };
    }
}

/// `dlsym(handle, name)`, null if not found.
pub fn sym_addr(handle: *mut c_void, name: &str) -> *mut c_void {
    let c = c(name);
    // SAFETY: a handle from dlopen (or a pseudo-handle) and a C string.
    unsafe { dlsym(handle, c.as_ptr()) }
}

/// `dlsym` that must succeed, as a `T` (a function pointer type).
///
/// # Safety
/// `T` must be the symbol's real (pointer-sized) type.
pub unsafe fn sym<T: Copy>(handle: *mut c_void, name: &str) -> T {
    assert_eq!(std::mem::size_of::<T>(), std::mem::size_of::<usize>());
    let p = sym_addr(handle, name);
    assert!(!p.is_null(), "dlsym({name}) failed: {:?}", last_error());
    // SAFETY: pointer-sized, and the caller vouches for the type.
    unsafe { std::mem::transmute_copy::<*mut c_void, T>(&p) }
}

/// Whether `path` is loaded, asked with `RTLD_NOLOAD` (whose reference, if
/// it succeeds, is given back at once).
pub fn is_loaded(path: &Path) -> bool {
    let h = open(path, RTLD_NOW | RTLD_NOLOAD);
    if h.is_null() {
        false
    } else {
        close_ok(h);
        true
    }
}

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The sink `libdltest.so` forwards fixture events to: this thread's log.
extern "C" fn log_sink(event: *const c_char) {
    // SAFETY: fixtures log NUL-terminated strings.
    let text = unsafe { CStr::from_ptr(event) }
        .to_string_lossy()
        .into_owned();
    LOG.with(|l| l.borrow_mut().push(text));
}

/// Builds `libdltest.so` (the fixtures' log), loads it for good and
/// connects it to [`log_sink`].
fn log_library() -> PathBuf {
    static LOADED: OnceLock<PathBuf> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let path = build("dltest", &["dltest.c"], &[], &[]);
            let h = open_ok(&path, RTLD_NOW | RTLD_NODELETE);
            // SAFETY: `void dltest_set_sink(void (*)(const char *))`.
            unsafe {
                let set: unsafe extern "C" fn(extern "C" fn(*const c_char)) =
                    sym(h, "dltest_set_sink");
                set(log_sink);
            }
            path
        })
        .clone()
}

/// Takes this thread's log.
pub fn take_log() -> Vec<String> {
    LOG.with(|l| std::mem::take(&mut *l.borrow_mut()))
}

/// This thread's log entries that start with `prefix`, taking them all.
pub fn take_log_with(prefix: &str) -> Vec<String> {
    take_log()
        .into_iter()
        .filter(|e| e.starts_with(prefix))
        .collect()
}

fn u16_at(b: &[u8], o: usize) -> usize {
    usize::from(u16::from_le_bytes(b[o..o + 2].try_into().unwrap()))
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}

/// Bytes of a word of the host's ELF class (its objects are of its own
/// class: ELF64 on 64-bit machines, ELF32 on 32-bit ones).
pub const WORD: usize = std::mem::size_of::<usize>();

/// The little-endian word of the host's class at `o` of `b`.
pub fn word_at(b: &[u8], o: usize) -> usize {
    let mut word = [0u8; std::mem::size_of::<usize>()];
    word.copy_from_slice(&b[o..o + WORD]);
    usize::from_le_bytes(word)
}

/// Writes `value` as a little-endian word of the host's class at `o`.
pub fn put_word(b: &mut [u8], o: usize, value: usize) {
    b[o..o + WORD].copy_from_slice(&value.to_le_bytes());
}

/// File offset and size of the first section of type `sh_type` in the
/// ELF file `bytes` (of the host's class).
pub fn section_of_type(bytes: &[u8], sh_type: u32) -> (usize, usize) {
    // e_shoff, e_shentsize and e_shnum; sh_offset and sh_size.
    let (shoff, shentsize, shnum, offset, size) = if WORD == 8 {
        (
            word_at(bytes, 0x28),
            u16_at(bytes, 0x3a),
            u16_at(bytes, 0x3c),
            0x18,
            0x20,
        )
    } else {
        (
            word_at(bytes, 0x20),
            u16_at(bytes, 0x2e),
            u16_at(bytes, 0x30),
            0x10,
            0x14,
        )
    };
    let sh = (0..shnum)
        .map(|i| shoff + i * shentsize)
        .find(|&sh| u32_at(bytes, sh + 4) == sh_type)
        .unwrap_or_else(|| panic!("a section of type {sh_type}"));
    (word_at(bytes, sh + offset), word_at(bytes, sh + size))
}

/// A copy of `good` beside it, named `name`, whose first relocation
/// (`SHT_RELA`; `SHT_REL` on 32-bit Arm) has a type (200) that none of
/// x86_64, aarch64, riscv64 and Arm defines.
pub fn with_bad_relocation(good: &Path, name: &str) -> PathBuf {
    let mut bytes = std::fs::read(good).unwrap();
    if WORD == 8 {
        let (first, size) = section_of_type(&bytes, 4 /* SHT_RELA */);
        assert!(size >= 24, "at least one entry");
        // r_info's low 32 bits are the type.
        bytes[first + 8..first + 12].copy_from_slice(&200u32.to_le_bytes());
    } else {
        let (first, size) = section_of_type(&bytes, 9 /* SHT_REL */);
        assert!(size >= 8, "at least one entry");
        // r_info's low 8 bits are the type.
        bytes[first + 4] = 200;
    }
    let bad = good.with_file_name(name);
    std::fs::write(&bad, bytes).unwrap();
    bad
}

/// The library built from `tls_initial_exec.c` with the initial-exec TLS
/// model, which no loader can give a library loaded after the program.
pub fn initial_exec_tls_library() -> PathBuf {
    lib(
        "tls_initial_exec",
        &["tls_initial_exec.c"],
        &[],
        &["-ftls-model=initial-exec"],
    )
}

/// What the loader says of [`initial_exec_tls_library`] after
/// "unsupported thread-local storage: ".
pub const INITIAL_EXEC_MESSAGE: &str = "the initial-exec model (a TPOFF relocation), which \
     only objects loaded with the program can use: build with -fPIC and without \
     -ftls-model=initial-exec";

/// Flags that make the compiler use `__tls_get_addr` for dynamic TLS
/// rather than TLS descriptors (the default on aarch64).
pub fn traditional_tls() -> &'static [&'static str] {
    if cfg!(target_arch = "aarch64") {
        &["-mtls-dialect=trad"]
    } else {
        &[]
    }
}

/// A chain of `len` libraries in a directory of its own: `libchain00000.so`
/// needs `libchain00001.so`, and so on; the last needs nothing. Each is a
/// copy of one of two libraries compiled once, with its soname and the
/// name it needs patched (names of equal length); found through
/// `DT_RUNPATH=$ORIGIN`. Returns the first.
pub fn chain(len: usize) -> PathBuf {
    assert!((2..100_000).contains(&len));
    let tail = lib("chain00001", &["chain_tail.c"], &[], &[]);
    let link = lib("chain00000", &["chain_link.c"], &["chain00001"], &[]);
    let dir = tail
        .parent()
        .expect("library directory")
        .join(format!("chain-{len}"));
    std::fs::create_dir_all(&dir).expect("chain directory");
    let name = |i: usize| format!("libchain{i:05}.so");
    let link = std::fs::read(link).expect("read the link");
    let tail = std::fs::read(tail).expect("read the tail");
    for i in 0..len {
        let bytes = if i + 1 < len {
            let b = replace(&link, "libchain00001.so", &name(i + 1));
            replace(&b, "libchain00000.so", &name(i))
        } else {
            replace(&tail, "libchain00001.so", &name(i))
        };
        write_if_changed(&dir.join(name(i)), &bytes);
    }
    dir.join(name(0))
}

/// `bytes` with every occurrence of `from` replaced by `to` (as long).
fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut at = 0;
    let mut found = false;
    while let Some(i) = out[at..]
        .windows(from.len())
        .position(|w| w == from.as_bytes())
    {
        out[at + i..at + i + to.len()].copy_from_slice(to.as_bytes());
        at += i + to.len();
        found = true;
    }
    assert!(found, "{from} not found");
    out
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|b| b == bytes) {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).expect("write a link");
    std::fs::rename(&tmp, path).expect("move a link into place");
}
