//! What a `modprobe` of a long `depends=` chain costs, and that it grows
//! linearly with the chain: the heap bytes one thread allocates (counted by
//! this binary's allocator, per thread) for a chain four times as long are
//! about four times as many, not sixteen. Plus a benchmark, run by hand,
//! that prints time and memory by chain length.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use common::ChainStore;
use modlib_kmod::{KmodError, ModuleManager};

/// The system allocator, counting what each thread allocates.
struct Counting;

thread_local! {
    /// Bytes allocated by this thread, ever.
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread holds now (its frees counted too), and the most
    /// it held since the last reset.
    static HELD: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = HELD.try_with(|held| {
        let now = held.get() + delta;
        held.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
    if delta > 0 {
        let _ = ALLOCATED.try_with(|a| a.set(a.get() + delta as usize));
    }
}

// SAFETY: every call is passed on to the system allocator unchanged; the
// bookkeeping touches only const-initialised thread-locals, which never
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size() as isize);
        // SAFETY: as the caller promised us.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-(layout.size() as isize));
        // SAFETY: as the caller promised us.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size as isize - layout.size() as isize);
        // SAFETY: as the caller promised us.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocated() -> usize {
    ALLOCATED.with(Cell::get)
}

/// Starts a peak measurement; [`peak_since`] tells the most held above
/// what was held at this point.
fn reset_peak() -> isize {
    let now = HELD.with(Cell::get);
    PEAK.with(|p| p.set(now));
    now
}

fn peak_since(base: isize) -> isize {
    PEAK.with(Cell::get) - base
}

/// Removes a chain loaded by modprobe of `L000000`, top first (each link
/// then has no users), and checks nothing is left.
fn remove_chain(mgr: &ModuleManager<common::Mem>, links: usize) -> Result<(), KmodError> {
    for i in 0..links {
        let name = format!("L{i:06}");
        let handle = mgr.modhandle(&name).ok_or(KmodError::NotFound {
            name: Some(name.clone()),
        })?;
        mgr.rmmod(handle)?;
    }
    Ok(())
}

/// Heap bytes allocated by modprobe and removal of a chain of `links`
/// (the store's own copies of the images excluded: they are fetched
/// before counting).
fn chain_bytes(links: usize) -> usize {
    let memory = common::memory();
    let mgr = ModuleManager::new(memory.clone(), common::kernel_table());
    let store = ChainStore::new(links);
    let before = allocated();
    mgr.modprobe("L000000", &store).expect("the chain loads");
    assert_eq!(mgr.modules().len(), links);
    remove_chain(&mgr, links).expect("the chain goes");
    let bytes = allocated() - before;
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
    bytes
}

/// A chain four times as long allocates at most about four times as much
/// (a quadratic term, such as a list of every live module built for each
/// load, would make it sixteen).
#[test]
fn a_chain_costs_in_proportion_to_its_length() {
    let short = if cfg!(target_arch = "x86_64") {
        250
    } else {
        60
    };
    let small = chain_bytes(short);
    let large = chain_bytes(4 * short);
    eprintln!(
        "{short} links: {small} bytes; {} links: {large} bytes",
        4 * short
    );
    assert!(
        large < 5 * small,
        "{short} links: {small} bytes, {} links: {large} bytes",
        4 * short
    );
}

/// Not a test: time and memory of modprobe (and then removal) of chains
/// of 100 to 10 000 modules. Run by hand:
/// `cargo test -p kmod --release --test chain_cost -- --ignored --nocapture`.
/// Memory is the most heap the loading thread held above what it held
/// before (the registry, plans, images being parsed) and the module
/// memory the chain holds when loaded.
#[test]
#[ignore = "a benchmark, run by hand"]
#[allow(clippy::cast_precision_loss, reason = "figures for people to read")]
fn chain_length_benchmark() {
    println!("| modules | modprobe | rmmod all | peak heap | module memory |");
    println!("|---:|---:|---:|---:|---:|");
    for links in [100, 1000, 2000, 5000, 10_000] {
        let memory = common::memory();
        let mgr = ModuleManager::new(memory.clone(), common::kernel_table());
        let store = ChainStore::new(links);
        let base = reset_peak();
        let started = Instant::now();
        mgr.modprobe("L000000", &store).expect("the chain loads");
        let probed = started.elapsed();
        let peak = peak_since(base);
        let held = memory.live_bytes();
        let started = Instant::now();
        remove_chain(&mgr, links).expect("the chain goes");
        let removed = started.elapsed();
        println!(
            "| {links} | {:.1} ms | {:.1} ms | {:.1} MiB | {:.1} MiB |",
            probed.as_secs_f64() * 1e3,
            removed.as_secs_f64() * 1e3,
            peak as f64 / f64::from(1 << 20),
            held as f64 / f64::from(1 << 20)
        );
    }
}
