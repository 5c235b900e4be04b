//! `cargo bench -p dlbench`: the benchmark of `scripts/bench.sh` under
//! criterion. For each generated library, each loader's open (`RTLD_NOW`) +
//! `dlsym` of ten exports + close; then `dlsym` over every export of the
//! largest library (reported per lookup). Loaders that cannot run a library
//! are reported as failing and skipped.

use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};

use dlbench::fixture::{self, SIZES};
use dlbench::loaders::{ElfLoader, Glibc, Loader, Ours, Prepared};
use dlbench::worker::Worker;

fn loaders() -> Vec<Box<dyn Loader>> {
    let mut out: Vec<Box<dyn Loader>> = vec![Box::new(Glibc), Box::new(Ours)];
    match ElfLoader::new() {
        Ok(l) => out.push(Box::new(l)),
        Err(e) => eprintln!("elf_loader: fails: {e}"),
    }
    match Worker::spawn(
        "dlopen-rs",
        &PathBuf::from(env!("CARGO_BIN_EXE_dlopen-rs-worker")),
    ) {
        Ok(l) => out.push(Box::new(l)),
        Err(e) => eprintln!("dlopen-rs: fails: {e}"),
    }
    out
}

fn bench(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dlbench");
    let libraries: Vec<Prepared> = SIZES
        .iter()
        .map(|&size| Prepared::new(fixture::build(&dir, size).expect("library builds")))
        .collect();
    let mut loaders = loaders();
    let mut works = vec![vec![true; libraries.len()]; loaders.len()];
    for (l, loader) in loaders.iter_mut().enumerate() {
        for (s, lib) in libraries.iter().enumerate() {
            if let Err(e) = loader.check(lib) {
                eprintln!("{} on {}: fails: {e}", loader.name(), lib.library.name);
                works[l][s] = false;
            }
        }
    }
    for (s, lib) in libraries.iter().enumerate() {
        let mut group = c.benchmark_group(format!("open_dlsym10_close/{}", lib.library.name));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for (l, loader) in loaders.iter_mut().enumerate() {
            if !works[l][s] {
                continue;
            }
            group.bench_function(loader.name(), |b| {
                b.iter_custom(|iters| {
                    loader
                        .cycle(lib, u32::try_from(iters).unwrap_or(u32::MAX))
                        .expect("cycle runs")
                });
            });
        }
        group.finish();
    }
    let largest = libraries.len() - 1;
    let lib = &libraries[largest];
    let mut group = c.benchmark_group(format!("dlsym_every_export/{}", lib.library.name));
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(lib.library.exports.len() as u64));
    for (l, loader) in loaders.iter_mut().enumerate() {
        if !works[l][largest] {
            continue;
        }
        group.bench_function(loader.name(), |b| {
            b.iter_custom(|iters| {
                loader
                    .lookups(lib, u32::try_from(iters).unwrap_or(u32::MAX))
                    .expect("lookups run")
            });
        });
    }
    group.finish();
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
}
