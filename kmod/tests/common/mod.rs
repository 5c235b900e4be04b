//! Shared by the kmod integration tests: a test kernel (exported functions
//! and data, a per-thread log), fixture compilation, a directory-backed
//! module store, and a harness that proves every test gives back every byte.
#![allow(dead_code)]

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::hash_map::DefaultHasher;
use std::ffi::{c_char, c_void, CStr};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use modlib_kmod::{KernelTable, KmodError, ModHandle, ModuleManager, ModuleStore};
use testkit::{Compiler, CountingMemory, HostMemory};

/// The memory every test manager uses: mmap, counted.
pub type Mem = Arc<CountingMemory<HostMemory>>;

/// Value of the kernel's exported data item, a C `unsigned long` (a
/// machine word: its low 32 bits on a 32-bit machine); `ticker` reads it
/// back.
pub const TICKS: usize = 0x1234_5678_9abc_def0_u64 as usize;

/// Kernel data exported to modules (`volatile unsigned long KERNEL_TICKS`).
pub static KERNEL_TICKS: AtomicUsize = AtomicUsize::new(TICKS);

thread_local! {
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static KMALLOC_LIVE: Cell<isize> = const { Cell::new(0) };
}

/// The kernel's log function: appends to the calling thread's log, so
/// tests running in parallel see only their own modules' lines.
pub extern "C" fn klog(msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: modules pass NUL-terminated strings (module code is trusted
    // the way kernel modules are).
    let line = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned();
    LOG.with(|log| log.borrow_mut().push(line));
}

/// Takes (and clears) this thread's log.
pub fn take_log() -> Vec<String> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

const KMALLOC_HEADER: usize = 16;
/// The size stored in a kmalloc header.
type SizeBytes = [u8; size_of::<usize>()];

fn kmalloc_layout(size: usize) -> std::alloc::Layout {
    std::alloc::Layout::from_size_align(size + KMALLOC_HEADER, KMALLOC_HEADER)
        .expect("kmalloc layout")
}

/// The kernel's allocator, exported to modules.
pub extern "C" fn kmalloc(size: usize) -> *mut c_void {
    let layout = kmalloc_layout(size);
    // SAFETY: the layout has a non-zero size (the header).
    let base = unsafe { std::alloc::alloc(layout) };
    if base.is_null() {
        return base.cast();
    }
    // SAFETY: `base` is a fresh allocation of at least the header's 16
    // bytes, so the size fits at its start.
    unsafe { base.cast::<SizeBytes>().write(size.to_ne_bytes()) };
    KMALLOC_LIVE.with(|n| n.set(n.get() + 1));
    // SAFETY: the header lies inside the allocation.
    unsafe { base.add(KMALLOC_HEADER) }.cast()
}

/// Frees what [`kmalloc`] returned.
pub extern "C" fn kfree(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `kmalloc`, which put the header just before it.
    let base = unsafe { ptr.cast::<u8>().sub(KMALLOC_HEADER) };
    // SAFETY: the header holds the size `kmalloc` was asked for.
    let size = usize::from_ne_bytes(unsafe { base.cast::<SizeBytes>().read() });
    // SAFETY: `base` was allocated with exactly this layout.
    unsafe { std::alloc::dealloc(base, kmalloc_layout(size)) };
    KMALLOC_LIVE.with(|n| n.set(n.get() - 1));
}

/// Blocks from [`kmalloc`] not yet freed, counted on this thread.
pub fn kmalloc_live() -> isize {
    KMALLOC_LIVE.with(Cell::get)
}

/// `memcpy` for modules (compilers emit calls to it).
pub extern "C" fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract of memcpy: valid, non-overlapping ranges.
    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

/// `strlen` for modules.
pub extern "C" fn strlen(s: *const c_char) -> usize {
    // SAFETY: the C contract of strlen: a NUL-terminated string.
    unsafe { CStr::from_ptr(s) }.count_bytes()
}

modlib_kmod::export_symbols!(KERNEL_SYMBOLS = [
    fn klog,
    fn kmalloc,
    fn kfree,
    fn memcpy,
    fn strlen,
    data KERNEL_TICKS,
]);

/// `kmod/include`, where `module.h` lives.
pub fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

/// `kmod/tests/fixtures`.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A hash of the headers fixtures include, so that the fixture cache
/// (keyed on flags and the one source file) rebuilds when they change.
fn headers_hash() -> String {
    let mut hasher = DefaultHasher::new();
    for header in [
        include_dir().join("module.h"),
        fixture_dir().join("kernel.h"),
    ] {
        std::fs::read(&header)
            .unwrap_or_else(|e| panic!("read {}: {e}", header.display()))
            .hash(&mut hasher);
    }
    format!("-DKMOD_TEST_HEADERS={:016x}", hasher.finish())
}

/// Fixture `name` (`tests/fixtures/<name>.c`) compiled with `compiler` at
/// optimisation `opt` (`-O2`, `-O0`) as a position-independent object.
pub fn module_with(compiler: &Compiler, name: &str, opt: &str) -> Vec<u8> {
    module_with_flags(compiler, name, opt, &[])
}

/// As [`module_with`], with extra compiler flags (`-DOWN=3`).
pub fn module_with_flags(compiler: &Compiler, name: &str, opt: &str, extra: &[&str]) -> Vec<u8> {
    let include = format!("-I{}", include_dir().display());
    let headers = headers_hash();
    let source = fixture_dir().join(format!("{name}.c"));
    let mut flags = vec![opt, "-fPIC", "-Wall", &include, &headers];
    flags.extend_from_slice(extra);
    // aarch64 compilers call libgcc helpers (`__aarch64_ldadd4_acq_rel`)
    // for atomics by default; a kernel has no libgcc to offer, so its
    // modules use inline atomics, as Linux builds its own.
    if cfg!(target_arch = "aarch64") {
        flags.push("-mno-outline-atomics");
    }
    testkit::fixtures::object(compiler, &source, &flags).bytes
}

/// Fixture `name` linked as a shared object (`-shared -fPIC -nostdlib`):
/// kmod loads `ET_DYN` modules as well as relocatable ones.
pub fn shared_module(name: &str) -> Vec<u8> {
    let include = format!("-I{}", include_dir().display());
    let headers = headers_hash();
    let source = fixture_dir().join(format!("{name}.c"));
    let mut flags = vec!["-O2", "-fPIC", "-nostdlib", "-Wall", &include, &headers];
    if cfg!(target_arch = "aarch64") {
        flags.push("-mno-outline-atomics");
    }
    testkit::fixtures::shared(&Compiler::host_gcc(), &[&source], &flags).bytes
}

/// Fixture `name` compiled with gcc -O2 (the cross gcc when the tests run
/// on another machine than x86-64).
pub fn module(name: &str) -> Vec<u8> {
    module_with(&Compiler::host_gcc(), name, "-O2")
}

/// A fresh counting memory.
pub fn memory() -> Mem {
    Arc::new(CountingMemory::new(HostMemory::default()))
}

/// The kernel's table.
pub fn kernel_table() -> KernelTable {
    KernelTable::new(KERNEL_SYMBOLS).expect("kernel symbols are unique")
}

/// A manager over its own counting memory. Dropping it (when the test has
/// not already failed) removes every module left, users first, and asserts
/// that the memory holds nothing.
pub struct Kernel {
    /// The manager under test.
    pub mgr: ModuleManager<Mem>,
    /// Its memory, for leak checks.
    pub memory: Mem,
}

impl Kernel {
    /// A kernel with [`KERNEL_SYMBOLS`]. Clears this thread's log.
    pub fn new() -> Self {
        take_log();
        let memory = memory();
        Kernel {
            mgr: ModuleManager::new(memory.clone(), kernel_table()),
            memory,
        }
    }

    /// insmod of fixture `name` (gcc -O2) under its own name.
    pub fn insmod(&self, name: &str) -> Result<ModHandle, KmodError> {
        self.mgr.insmod(&module(name), name)
    }

    /// insmod that must succeed.
    pub fn load(&self, name: &str) -> ModHandle {
        self.insmod(name)
            .unwrap_or_else(|e| panic!("insmod {name}: {e}"))
    }

    /// The live module `name`.
    pub fn handle(&self, name: &str) -> ModHandle {
        self.mgr
            .modhandle(name)
            .unwrap_or_else(|| panic!("{name} is not loaded"))
    }

    /// The exported function `symbol` of `handle` as `F`.
    ///
    /// # Safety
    /// As for [`export`].
    pub unsafe fn func<F: Copy>(&self, handle: ModHandle, symbol: &str) -> F {
        // SAFETY: passed on to the caller.
        unsafe { export(&self.mgr, handle, symbol) }
    }

    /// Bytes and reservations held by the memory.
    pub fn held(&self) -> (usize, usize) {
        (self.memory.live_bytes(), self.memory.live_reservations())
    }

    /// Removes every module, users before the modules they use, and asserts
    /// nothing is held afterwards.
    pub fn unload_all(&self) {
        unload_all(&self.mgr);
        assert_eq!(
            self.held(),
            (0, 0),
            "memory held after removing every module"
        );
    }
}

impl Default for Kernel {
    fn default() -> Self {
        Kernel::new()
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.unload_all();
        }
    }
}

/// `modsym` that must succeed, as a function pointer type `F`.
///
/// # Safety
/// `F` must be a function pointer type with the symbol's C signature, and
/// the module must stay loaded while the result is used.
pub unsafe fn export<F: Copy, M: modlib::Memory + Clone>(
    mgr: &ModuleManager<M>,
    handle: ModHandle,
    symbol: &str,
) -> F {
    let addr = mgr
        .modsym(handle, symbol)
        .unwrap_or_else(|e| panic!("modsym {symbol}: {e}"));
    assert!(!addr.is_null(), "{symbol} resolved to null");
    assert_eq!(size_of::<F>(), size_of::<*const ()>());
    // SAFETY: the caller promises `F` is a function pointer type with the
    // symbol's signature; the sizes were checked above.
    unsafe { std::mem::transmute_copy::<*const (), F>(&addr) }
}

/// Removes every module of `mgr`, each only once nothing uses it.
pub fn unload_all<M: modlib::Memory + Clone>(mgr: &ModuleManager<M>) {
    loop {
        let modules = mgr.modules();
        if modules.is_empty() {
            return;
        }
        let leaf = modules
            .iter()
            .find(|m| m.used_by.is_empty() && m.refcount == 0)
            .unwrap_or_else(|| panic!("no removable module among {modules:?}"));
        let handle = mgr
            .modhandle(&leaf.name)
            .expect("listed module has a handle");
        mgr.rmmod(handle)
            .unwrap_or_else(|e| panic!("rmmod {}: {e}", leaf.name));
    }
}

/// A module store over a directory: module `name` is `<dir>/<name>.o`,
/// and `<dir>/modules.dep`, when present, says what modules depend on.
pub struct DirStore {
    dir: PathBuf,
}

impl DirStore {
    /// A fresh directory under the fixture output directory holding the
    /// fixtures `names` (gcc -O2), each as `<name>.o`. Removed on drop.
    pub fn with(tag: &str, names: &[&str]) -> Self {
        let dir =
            testkit::fixtures::out_dir().join(format!("kmod-store-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create store directory");
        for name in names {
            std::fs::write(dir.join(format!("{name}.o")), module(name)).expect("write module");
        }
        DirStore { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the store's `modules.dep`.
    pub fn write_index(&self, text: &str) {
        std::fs::write(self.dir.join("modules.dep"), text).expect("write modules.dep");
    }
}

impl ModuleStore for DirStore {
    fn fetch(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        if name.is_empty() || name.contains(['/', '\\', '\0']) || name.starts_with('.') {
            return None;
        }
        std::fs::read(self.dir.join(format!("{name}.o")))
            .ok()
            .map(Cow::Owned)
    }

    fn dependencies(&self, name: &str) -> Option<Vec<String>> {
        let index = std::fs::read_to_string(self.dir.join("modules.dep")).ok()?;
        modlib_kmod::modules_dep(&index, name)
    }
}

impl Drop for DirStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Reads device `minor` of chardev through its exported `chardev_read`.
pub fn chardev_read(kernel: &Kernel, chardev: ModHandle, minor: i32) -> Result<String, i32> {
    // SAFETY: `int chardev_read(int, char *, int)`; chardev stays loaded
    // for the duration of the call.
    let read: extern "C" fn(i32, *mut c_char, i32) -> i32 =
        unsafe { kernel.func(chardev, "chardev_read") };
    let mut buf = [0u8; 64];
    let n = read(minor, buf.as_mut_ptr().cast(), buf.len() as i32);
    if n < 0 {
        return Err(n);
    }
    Ok(String::from_utf8(buf[..n as usize].to_vec()).expect("device data is UTF-8"))
}

/// Chain links made from one compiled template: link `i` is named
/// `L{i:06}` and depends on `L{i+1:06}`; the last one depends on nothing.
pub struct ChainStore {
    template: Vec<u8>,
    links: usize,
}

impl ChainStore {
    /// A chain of `links` modules.
    pub fn new(links: usize) -> Self {
        ChainStore {
            template: module("chainlink"),
            links,
        }
    }
}

/// Replaces the first `from` in `bytes` with `to` (same length).
fn patch(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .expect("the template holds the placeholder");
    bytes[at..at + to.len()].copy_from_slice(to);
}

impl ModuleStore for ChainStore {
    fn fetch(&self, name: &str) -> Option<std::borrow::Cow<'_, [u8]>> {
        let index: usize = name.strip_prefix('L')?.parse().ok()?;
        if index >= self.links {
            return None;
        }
        let mut image = self.template.clone();
        patch(
            &mut image,
            b"name=L000000",
            format!("name=L{index:06}").as_bytes(),
        );
        let next = if index + 1 < self.links {
            format!("depends=L{:06}", index + 1)
        } else {
            String::from("depends=       ")
        };
        patch(&mut image, b"depends=L000001", next.as_bytes());
        Some(std::borrow::Cow::Owned(image))
    }
}
