//! Load benchmarks: a relocatable object and a shared object with about
//! 10,000 relocations each, generated and compiled at bench time, loaded,
//! relocated and unloaded. Prints the time per relocation and proves the
//! loader does not allocate per relocation (a counting global allocator).

#[path = "gen/mod.rs"]
mod generate;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{load, LoadOptions, ProviderId, SymbolEntry, SymbolKind, SymbolTable};
use testkit::{fixtures, Compiler, HostMemory, Placement};

/// Functions and data items, and pointers to them, of the relocatable
/// object: about 10,000 relocations against 600 symbols.
const REL_ITEMS: usize = 300;
const REL_POINTERS: usize = 9000;
/// Exported (and as many static) items, and pointers to each kind, of the
/// shared object: about 10,000 relocations against 1,000 exports.
const DYN_ITEMS: usize = 500;
const DYN_POINTERS: usize = 4500;
/// How the generated C is compiled.
const FLAGS: [&str; 3] = ["-O2", "-fPIC", "-fno-asynchronous-unwind-tables"];
/// Iterations of the plain timed loop after criterion.
const TIMED_LOADS: u32 = 200;

/// Counts every allocation (and reallocation) the process makes.
struct CountingAllocator;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees are this allocator's; the counter
// is a side effect that allocates nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with
        // `layout`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// A generated object and what it holds.
struct Subject {
    name: &'static str,
    bytes: Vec<u8>,
    relocations: usize,
    sections: usize,
    symbols: usize,
}

/// The C compiler for the machine the bench runs on.
fn compiler() -> Compiler {
    match Compiler::cross_triple() {
        Some(triple) => Compiler::Named(format!("{triple}-gcc")),
        None => Compiler::Gcc,
    }
}

/// Writes generated C into the fixture directory (outside the source tree).
fn write_source(name: &str, text: &str) -> std::path::PathBuf {
    let dir = fixtures::out_dir().join("bench-src");
    std::fs::create_dir_all(&dir).expect("create the generated-source directory");
    let path = dir.join(name);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::write(&path, text).expect("write generated source");
    }
    path
}

/// Counts relocations applied at load (those against loaded sections),
/// sections and symbols of `bytes`.
fn describe(name: &'static str, bytes: Vec<u8>) -> Subject {
    let file = ElfBytes::<LittleEndian>::minimal_parse(&bytes).expect("generated object parses");
    let shdrs: Vec<_> = file
        .section_headers()
        .expect("section headers")
        .iter()
        .collect();
    let alloc = u64::from(elf::abi::SHF_ALLOC);
    let relocations = shdrs
        .iter()
        .filter(|s| matches!(s.sh_type, elf::abi::SHT_RELA | elf::abi::SHT_REL))
        .filter(|s| {
            if file.ehdr.e_type == elf::abi::ET_REL {
                shdrs
                    .get(s.sh_info as usize)
                    .is_some_and(|t| t.sh_flags & alloc != 0)
            } else {
                s.sh_flags & alloc != 0
            }
        })
        .map(|s| (s.sh_size / s.sh_entsize.max(1)) as usize)
        .sum();
    let symtab = if file.ehdr.e_type == elf::abi::ET_REL {
        elf::abi::SHT_SYMTAB
    } else {
        elf::abi::SHT_DYNSYM
    };
    let symbols = shdrs
        .iter()
        .filter(|s| s.sh_type == symtab)
        .map(|s| (s.sh_size / 24) as usize)
        .sum();
    Subject {
        name,
        relocations,
        sections: shdrs.len(),
        symbols,
        bytes,
    }
}

/// The relocatable object with `pointers` pointers in its table.
fn relocatable(pointers: usize) -> Subject {
    let src = write_source(
        &format!("bench_rel_{pointers}.c"),
        &generate::relocatable(REL_ITEMS, pointers),
    );
    let object = fixtures::object(&compiler(), &src, &FLAGS);
    describe("ET_REL", object.bytes)
}

/// The shared object with `pointers` pointers in each of its tables.
fn shared(pointers: usize) -> Subject {
    let src = write_source(
        &format!("bench_so_{pointers}.c"),
        &generate::shared(DYN_ITEMS, pointers),
    );
    let mut flags = FLAGS.to_vec();
    flags.push("-nostdlib");
    let object = fixtures::shared(&compiler(), &[&src], &flags);
    describe("ET_DYN", object.bytes)
}

/// The host symbols the generated objects import. Their code never runs,
/// so the addresses only have to be distinct.
fn host_table() -> SymbolTable<'static> {
    let entries = generate::host_names()
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let kind = if name.starts_with("host_fn") {
                SymbolKind::Function
            } else {
                SymbolKind::Object
            };
            SymbolEntry {
                name: name.into(),
                symbol: modlib::Symbol {
                    address: 0x10_0000 + 0x100 * i as u64,
                    size: 4,
                    kind,
                },
            }
        })
        .collect();
    SymbolTable::new(entries, ProviderId(0)).expect("unique host names")
}

/// A count as a float, for ratios.
fn as_f64(n: usize) -> f64 {
    f64::from(u32::try_from(n).expect("a count fits in 32 bits"))
}

/// Heap allocations during one load (image kept alive until counted).
fn allocations_per_load(subject: &Subject, host: &SymbolTable<'_>) -> usize {
    let memory = HostMemory::new(Placement::Anywhere);
    let options = LoadOptions::default();
    // One load first, so nothing lazily initialised is counted.
    drop(load(&subject.bytes, &options, memory, host).expect("the object loads"));
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let image = load(&subject.bytes, &options, memory, host).expect("the object loads");
    let count = ALLOCATIONS.load(Ordering::SeqCst) - before;
    drop(image);
    count
}

fn main() {
    let subjects = [relocatable(REL_POINTERS), shared(DYN_POINTERS)];
    let halves = [relocatable(REL_POINTERS / 2), shared(DYN_POINTERS / 2)];
    let host = host_table();
    let memory = HostMemory::new(Placement::Anywhere);
    let options = LoadOptions::default();

    // No allocation per relocation: few allocations overall, and none more
    // for an object with the same symbols and half the relocations.
    for (s, half) in subjects.iter().zip(&halves) {
        let n = allocations_per_load(s, &host);
        let n_half = allocations_per_load(half, &host);
        let extra = s.relocations - half.relocations;
        println!(
            "{}: allocations per load: {n} (relocations: {}, sections: {}, symbols: {}); \
             {n_half} with {} relocations: {:.3} per extra relocation",
            s.name,
            s.relocations,
            s.sections,
            s.symbols,
            half.relocations,
            as_f64(n.saturating_sub(n_half)) / as_f64(extra),
        );
        assert!(
            s.relocations >= 9000,
            "{}: only {} relocations were generated",
            s.name,
            s.relocations
        );
        assert!(
            n < s.relocations / 10,
            "{}: {n} allocations for {} relocations",
            s.name,
            s.relocations
        );
        assert!(
            n.saturating_sub(n_half) < extra / 100,
            "{}: {} more allocations for {extra} more relocations: the loader allocates per relocation",
            s.name,
            n.saturating_sub(n_half)
        );
    }

    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
        .configure_from_args();
    let mut group = criterion.benchmark_group("load+relocate+unload");
    for s in &subjects {
        group.throughput(Throughput::Elements(s.relocations as u64));
        group.bench_function(s.name, |b| {
            b.iter(|| {
                let image = load(black_box(&s.bytes), &options, memory, &host);
                drop(black_box(image.expect("the object loads")));
            });
        });
    }
    group.finish();
    criterion.final_summary();

    for s in &subjects {
        let start = Instant::now();
        for _ in 0..TIMED_LOADS {
            drop(black_box(
                load(black_box(&s.bytes), &options, memory, &host).expect("the object loads"),
            ));
        }
        let per_load = start.elapsed() / TIMED_LOADS;
        let per_reloc = per_load.as_secs_f64() * 1e9 / as_f64(s.relocations);
        println!(
            "{}: {} relocations, {:.0} µs per load, {per_reloc:.1} ns/relocation",
            s.name,
            s.relocations,
            per_load.as_secs_f64() * 1e6,
        );
    }
}
