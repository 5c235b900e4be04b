//! A `DT_NEEDED` chain hundreds of libraries long opens and closes through
//! `Library::open` on a small thread stack: every graph walk of the linker
//! (finding dependencies, relocation and constructor order, reachability
//! at close) works from heap work lists, not recursion.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use common::chain;
use modlib_dl::{Flags, Library};

/// Opens a 1000-library chain and closes it on a 64 KiB thread stack:
/// every library loads, its functions answer, and all of them go again.
#[test]
fn a_long_needed_chain_opens_and_closes_on_a_small_stack() {
    let _serial = common::serial();
    let len = 1000;
    let root = chain(len);
    let dir = root.parent().expect("chain directory").to_path_buf();
    let worker = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(move || {
            // SAFETY: the chain's libraries have no constructors.
            let library = unsafe { Library::open(&root, Flags::NOW) }.expect("open the chain");
            let loaded = modlib_dl::hosted::linker()
                .loaded()
                .iter()
                .filter(|(path, _, _)| Path::new(path).starts_with(&dir))
                .count();
            // SAFETY: `int chain_link_value(void)` and `int chain_tail_value(void)`.
            let values = unsafe {
                let link = library.get::<extern "C" fn() -> i32>("chain_link_value");
                let tail = library.get::<extern "C" fn() -> i32>("chain_tail_value");
                (link.expect("link")(), tail.expect("tail")())
            };
            library.close().expect("close the chain");
            let left = modlib_dl::hosted::linker()
                .loaded()
                .iter()
                .filter(|(path, _, _)| Path::new(path).starts_with(&dir))
                .count();
            (loaded, values, left)
        })
        .expect("spawn");
    let (loaded, values, left) = worker.join().expect("the chain's thread");
    assert_eq!(loaded, len, "every link loaded");
    assert_eq!(values, (1, 2));
    assert_eq!(left, 0, "every link unloaded");
}

/// The system allocator, counting the bytes each thread allocates.
struct Counting;

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// count is a const-initialised thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + layout.size()));
        // SAFETY: as the caller promised us.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller promised us.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grown = new_size.saturating_sub(layout.size());
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + grown));
        // SAFETY: as the caller promised us.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes this thread allocates to open and close the chain at `root`.
fn open_close_bytes(root: &Path) -> usize {
    let before = ALLOCATED.with(Cell::get);
    // SAFETY: the chain's libraries have no constructors.
    let library = unsafe { Library::open(root, Flags::NOW) }.expect("open the chain");
    library.close().expect("close the chain");
    ALLOCATED.with(Cell::get) - before
}

/// Opening a chain four times as long allocates about four times as much,
/// not sixteen: nothing the linker keeps or builds per object (its scope,
/// a search of the group for a name) grows with the chain. Counted in
/// bytes allocated, not time. (Time and memory by length, against glibc:
/// `cargo run --release -p dlbench --bin chain`.)
#[test]
fn a_chain_costs_in_proportion_to_its_length() {
    let _serial = common::serial();
    let short = if cfg!(target_arch = "x86_64") {
        200
    } else {
        60
    };
    let (small, large) = (chain(short), chain(4 * short));
    // Once first, so that what the process sets up once is not counted.
    open_close_bytes(&small);
    let small = open_close_bytes(&small);
    let large = open_close_bytes(&large);
    eprintln!(
        "{short} libraries: {small} bytes; {} libraries: {large} bytes",
        4 * short
    );
    assert!(
        large < 5 * small,
        "{short} libraries: {small} bytes, {}: {large} bytes",
        4 * short
    );
}
