//! What the fixtures link against: module.c's host functions and data
//! (a `modlib::SymbolTable`), the far function of far_call.S, and the test
//! kernel kmod's modules call (`kmod::export_symbols!`, as kernel.h
//! declares it).

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_void, CStr};
use core::sync::atomic::{AtomicI32, AtomicIsize, AtomicPtr, AtomicU32, Ordering};

use modlib::{ProviderId, SymbolEntry, SymbolKind, SymbolTable};

/// The provider id the host table reports.
pub const HOST: ProviderId = ProviderId(1);

/// What `host_trace` records: a fixed buffer, so that tracing does not
/// move the heap's used count.
struct Trace {
    codes: [i32; 16],
    len: usize,
}

static TRACE: spin::Mutex<Trace> = spin::Mutex::new(Trace {
    codes: [0; 16],
    len: 0,
});

/// Takes what `host_trace` recorded so far.
pub fn take_trace() -> Vec<i32> {
    let mut t = TRACE.lock();
    let out = t.codes[..t.len].to_vec();
    t.len = 0;
    out
}

static VALUE: AtomicI32 = AtomicI32::new(0);

/// Sets the value behind `host_get`.
pub fn set_host_value(v: i32) {
    VALUE.store(v, Ordering::SeqCst);
}

/// The value behind `host_get`.
pub fn host_value() -> i32 {
    VALUE.load(Ordering::SeqCst)
}

/// A sum. Never inlined: a function the compiler may copy into each
/// codegen unit has no single address to compare with what modules hold.
#[inline(never)]
pub extern "C" fn host_add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

extern "C" fn host_trace(code: i32) {
    let mut t = TRACE.lock();
    if t.len < t.codes.len() {
        let at = t.len;
        t.codes[at] = code;
        t.len += 1;
    }
}

extern "C" fn host_get() -> i32 {
    host_value()
}

extern "C" fn host_set(v: i32) {
    set_host_value(v);
}

/// Calls a module function the module hands over.
extern "C" fn host_call_back(f: extern "C" fn(i32) -> i32, x: i32) -> i32 {
    f(x) * 2 + 1
}

/// Satisfies module.c's weak reference.
extern "C" fn host_optional(x: i32) -> i32 {
    x * 100 + 1
}

/// `memset` for compiled code.
unsafe extern "C" fn host_memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void {
    // SAFETY: the caller (C code) passes a writable buffer of `n` bytes.
    unsafe { core::ptr::write_bytes(dst.cast::<u8>(), c as u8, n) };
    dst
}

/// `memcpy` for compiled code.
unsafe extern "C" fn host_memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the caller (C code) passes non-overlapping buffers of `n` bytes.
    unsafe { core::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

/// The string module.c reads through `host_name`.
pub const HOST_NAME: &CStr = c"host side";

/// Host data module.c references directly when built PIC: atomics, as
/// loaded code writes them behind Rust's back.
pub struct HostData {
    /// `int host_value`.
    pub value: AtomicI32,
    /// `int host_array[4]`.
    pub array: [AtomicI32; 4],
    /// `const char *host_name`.
    pub name: AtomicPtr<c_char>,
}

impl HostData {
    /// value 20, array {1, 2, 3, 0}, name "host side".
    pub fn new() -> Self {
        HostData {
            value: AtomicI32::new(20),
            array: [1, 2, 3, 0].map(AtomicI32::new),
            name: AtomicPtr::new(HOST_NAME.as_ptr().cast_mut()),
        }
    }
}

/// A function's address as the symbol table holds it.
pub fn fn_addr(f: *const ()) -> u64 {
    f as usize as u64
}

/// Doubles its argument; placed in `.farcode`, near the top of RAM, more
/// than a `jal`'s reach from every image.
#[link_section = ".farcode"]
#[inline(never)]
pub extern "C" fn far_host_twice(x: i32) -> i32 {
    x.wrapping_mul(2)
}

/// The host table module.c, ifunc.c and far_call.S bind against.
pub fn host_table(data: &HostData) -> SymbolTable<'static> {
    use SymbolKind::{Function, Object};
    let f = |name: &'static str, addr: *const ()| SymbolEntry::new(name, fn_addr(addr), Function);
    SymbolTable::new(
        alloc::vec![
            f("host_add", host_add as *const ()),
            f("host_trace", host_trace as *const ()),
            f("host_get", host_get as *const ()),
            f("host_set", host_set as *const ()),
            f("host_call_back", host_call_back as *const ()),
            f("host_optional", host_optional as *const ()),
            f("memset", host_memset as *const ()),
            f("memcpy", host_memcpy as *const ()),
            f("far_host_twice", far_host_twice as *const ()),
            SymbolEntry::new("host_value", data.value.as_ptr() as u64, Object),
            SymbolEntry::new("host_array", data.array.as_ptr() as u64, Object),
            SymbolEntry::new("host_name", core::ptr::from_ref(&data.name) as u64, Object),
        ],
        HOST,
    )
    .expect("host table has unique names")
}

// ---- the test kernel of kmod's fixtures (kernel.h) ----

/// What modules logged through `klog`.
static LOG: spin::Mutex<Vec<String>> = spin::Mutex::new(Vec::new());

/// Takes (and clears) the kernel log.
pub fn take_log() -> Vec<String> {
    core::mem::take(&mut *LOG.lock())
}

/// `void klog(const char *)`.
extern "C" fn klog(msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: modules pass NUL-terminated strings.
    let line = unsafe { CStr::from_ptr(msg) };
    LOG.lock()
        .push(String::from(line.to_str().unwrap_or("(not UTF-8)")));
}

/// Blocks from `kmalloc` not yet freed.
static KMALLOC_LIVE: AtomicIsize = AtomicIsize::new(0);

/// Blocks from `kmalloc` not yet freed.
pub fn kmalloc_live() -> isize {
    KMALLOC_LIVE.load(Ordering::SeqCst)
}

/// Bytes before each `kmalloc` block, holding its size.
const KMALLOC_HEADER: usize = 16;

fn kmalloc_layout(size: usize) -> core::alloc::Layout {
    core::alloc::Layout::from_size_align(size + KMALLOC_HEADER, KMALLOC_HEADER)
        .expect("kmalloc layout")
}

/// `void *kmalloc(size_t)`.
extern "C" fn kmalloc(size: usize) -> *mut c_void {
    // SAFETY: the layout has a non-zero size (the header).
    let base = unsafe { alloc::alloc::alloc(kmalloc_layout(size)) };
    if base.is_null() {
        return base.cast();
    }
    // SAFETY: `base` is a fresh block of at least the header's 16 bytes,
    // aligned to 16.
    unsafe { base.cast::<usize>().write(size) };
    KMALLOC_LIVE.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the header lies inside the block.
    unsafe { base.add(KMALLOC_HEADER) }.cast()
}

/// `void kfree(void *)`.
extern "C" fn kfree(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `kmalloc`, which put the header before it.
    let base = unsafe { ptr.cast::<u8>().sub(KMALLOC_HEADER) };
    // SAFETY: the header holds the size `kmalloc` was asked for.
    let size = unsafe { base.cast::<usize>().read() };
    // SAFETY: `base` was allocated with exactly this layout.
    unsafe { alloc::alloc::dealloc(base, kmalloc_layout(size)) };
    KMALLOC_LIVE.fetch_sub(1, Ordering::SeqCst);
}

/// `void *memcpy(void *, const void *, size_t)`.
extern "C" fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract of memcpy: valid, non-overlapping ranges.
    unsafe { core::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

/// `size_t strlen(const char *)`.
extern "C" fn strlen(s: *const c_char) -> usize {
    // SAFETY: the C contract of strlen: a NUL-terminated string.
    unsafe { CStr::from_ptr(s) }.count_bytes()
}

/// `volatile unsigned long KERNEL_TICKS`.
static KERNEL_TICKS: AtomicU32 = AtomicU32::new(0x1234_5678);

kmod::export_symbols!(KERNEL_SYMBOLS = [
    fn klog,
    fn kmalloc,
    fn kfree,
    fn memcpy,
    fn strlen,
    data KERNEL_TICKS,
]);
