//! The scaling tables (`dlbench --scaling`), through the C drivers only:
//! load time (open + ten lookups + close) against the relocation count of
//! a C-shaped library, from 100 to 1,000,000, and against the number of
//! objects already in the global scope (0, 10, 100, 500 small libraries
//! opened `RTLD_GLOBAL` first), ours beside glibc, so that growth shows.

use std::path::Path;
use std::time::Duration;

use crate::cdriver;
use crate::fixture::{self, SCALING};
use crate::loaders::{Loader, Prepared};
use crate::measure::{self, Plan};
use crate::worker::Worker;

/// Objects preloaded for the second table.
const PRELOADED: [usize; 4] = [0, 10, 100, 500];

/// The two C drivers, each in a fresh process that first opens `preload`
/// filler libraries (prefix and count) with `RTLD_GLOBAL`.
fn drivers(
    dir: &Path,
    libdl: &Path,
    include: &Path,
    preload: Option<(&Path, usize)>,
) -> Result<Vec<Option<Box<dyn Loader>>>, String> {
    let mut workers = Vec::new();
    for (name, exe) in [
        ("glibc-c", cdriver::build(&dir.join("driver"), None)?),
        (
            "ours-c",
            cdriver::build(&dir.join("driver"), Some((include, libdl)))?,
        ),
    ] {
        let mut worker = Worker::spawn(name, &exe)?;
        if let Some((prefix, count)) = preload {
            worker.preload(count, prefix)?;
        }
        workers.push(Some(Box::new(worker) as Box<dyn Loader>));
    }
    Ok(workers)
}

/// Builds the libraries, measures and prints both tables.
pub fn run(dir: &Path, libdl: &Path, include: &Path, rounds: usize) -> Result<(), String> {
    let names = ["glibc-c", "ours-c"];
    let plan = Plan {
        rounds,
        batch: Duration::from_millis(20),
        dlsym: false,
    };
    println!("dlbench: scaling: compiling C-shaped libraries of 100 to 1,000,000 relocations");
    let mut libraries = Vec::new();
    let mut rows = Vec::new();
    for size in SCALING {
        let lib = fixture::build(dir, size)?;
        let total = crate::relocs::count(&lib.path).map_or(0, |c| c.total());
        rows.push(format!("{} ({total} relocs)", size.name));
        libraries.push(Prepared::new(lib));
    }
    rows.push(String::new());
    let mut loaders = drivers(dir, libdl, include, None)?;
    let results = measure::run(plan, &libraries, &mut loaders, &names, &mut |m| {
        println!("{m}");
    });
    println!(
        "\nload time against relocation count (median of {rounds} rounds, ratio to glibc-c):\n"
    );
    print!("{}", measure::table(&results, &rows));

    let fillers = fixture::fillers(&dir.join("fill"), PRELOADED[PRELOADED.len() - 1])?;
    let medium = vec![libraries.swap_remove(2)];
    let mut rows = Vec::new();
    let mut cycles = Vec::new();
    for count in PRELOADED {
        println!("dlbench: scaling: {count} objects in the global scope");
        let mut workers = drivers(dir, libdl, include, Some((&fillers, count)))?;
        let results = measure::run(plan, &medium, &mut workers, &names, &mut |_| {});
        rows.push(format!(
            "{count} objects loaded, then {}",
            medium[0].library.name
        ));
        cycles.extend(results.cycles);
    }
    rows.push(String::new());
    let results = measure::Results {
        loaders: names.to_vec(),
        cycles,
        dlsym: vec![measure::Cell::Times(Vec::new()); 2],
        iterations: Vec::new(),
    };
    println!("\nload time against objects already in the global scope (ratio to glibc-c):\n");
    print!("{}", measure::table(&results, &rows));
    Ok(())
}
