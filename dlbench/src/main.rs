//! The `dlbench` command: builds the libraries, checks every loader runs
//! them correctly, measures interleaved rounds and prints the table.
//!
//! `dlbench [--rounds N] [--batch-ms N] [--dir DIR] [--loaders a,b] [--sizes a,b] [--real a,b|none] [--libdl ARCHIVE --include DIR] [--no-dlsym] [--worker PATH] [--scaling]`
//!
//! With `--scaling`, the scaling tables instead (see [`dlbench::scaling`]).
//!
//! Columns: `glibc` and `ours` in this process (glibc's `dlopen` through
//! `libc`, ours through the safe `dl::Library`), `glibc-c` and `ours-c` from
//! the C driver (a C program calling `dlopen` as C users do, on glibc or on
//! `libmodlib_dl.a`, which `--libdl` names), `elf_loader`, `dlopen-rs`.

use std::path::PathBuf;
use std::time::Duration;

use dlbench::fixture::{self, SIZES};
use dlbench::loaders::{ElfLoader, Glibc, Loader, Ours, Prepared};
use dlbench::measure::{self, Plan};
use dlbench::worker::Worker;
use dlbench::{cdriver, real, relocs, scaling};

struct Args {
    rounds: usize,
    batch_ms: u64,
    dir: PathBuf,
    loaders: Vec<String>,
    sizes: Vec<String>,
    dlsym: bool,
    worker: Option<PathBuf>,
    real: Vec<String>,
    libdl: Option<PathBuf>,
    include: PathBuf,
    scaling: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: dlbench [--rounds N] [--batch-ms N] [--dir DIR] [--loaders glibc-c,ours-c,glibc,ours,elf_loader,dlopen-rs] [--sizes small,medium,large,c-small,c-medium,c-large] [--real libz.so.1,...|none] [--libdl ARCHIVE] [--include DIR] [--no-dlsym] [--worker PATH] [--scaling]"
    );
    std::process::exit(2);
}

fn parse() -> Args {
    let mut a = Args {
        rounds: 15,
        batch_ms: 20,
        dir: PathBuf::from("target/dlbench"),
        loaders: [
            "glibc-c",
            "ours-c",
            "glibc",
            "ours",
            "elf_loader",
            "dlopen-rs",
        ]
        .map(String::from)
        .to_vec(),
        sizes: SIZES.iter().map(|s| String::from(s.name)).collect(),
        dlsym: true,
        worker: None,
        real: real::CANDIDATES.map(String::from).to_vec(),
        libdl: None,
        include: PathBuf::from("libdl/include"),
        scaling: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| usage());
        let list = |v: String| v.split(',').map(String::from).collect::<Vec<_>>();
        match arg.as_str() {
            "--rounds" => a.rounds = value().parse().unwrap_or_else(|_| usage()),
            "--batch-ms" => a.batch_ms = value().parse().unwrap_or_else(|_| usage()),
            "--dir" => a.dir = PathBuf::from(value()),
            "--loaders" => a.loaders = list(value()),
            "--sizes" => a.sizes = list(value()),
            "--no-dlsym" => a.dlsym = false,
            "--worker" => a.worker = Some(PathBuf::from(value())),
            "--real" => a.real = list(value()).into_iter().filter(|n| n != "none").collect(),
            "--libdl" => a.libdl = Some(PathBuf::from(value())),
            "--include" => a.include = PathBuf::from(value()),
            "--scaling" => a.scaling = true,
            _ => usage(),
        }
    }
    a
}

fn main() {
    let args = parse();
    if args.scaling {
        let Some(libdl) = &args.libdl else {
            eprintln!("dlbench: --scaling needs --libdl");
            std::process::exit(2);
        };
        if let Err(e) = scaling::run(&args.dir, libdl, &args.include, args.rounds) {
            eprintln!("dlbench: {e}");
            std::process::exit(1);
        }
        return;
    }
    println!(
        "dlbench: generating and compiling the libraries in {}",
        args.dir.display()
    );
    let mut libraries = Vec::new();
    let mut rows = Vec::new();
    for size in SIZES
        .iter()
        .filter(|s| args.sizes.iter().any(|n| n == s.name))
    {
        let lib = match fixture::build(&args.dir, *size) {
            Ok(lib) => lib,
            Err(e) => {
                eprintln!("dlbench: {e}");
                std::process::exit(1);
            }
        };
        let counts = relocs::count(&lib.path).unwrap_or_default();
        let dep = lib
            .dependency
            .as_deref()
            .and_then(|d| relocs::count(d).ok())
            .unwrap_or_default();
        println!(
            "  {:<9} {:>7} relocations ({}); dependency {} relocations; {} exports",
            size.name,
            counts.total(),
            counts.summary(),
            dep.total(),
            lib.exports.len()
        );
        rows.push(format!("{} ({} relocs)", size.name, counts.total()));
        libraries.push(Prepared::new(lib));
    }
    for name in &args.real {
        let Some(path) = real::find(name) else {
            println!("  {name}: not on this machine, skipped");
            continue;
        };
        match real::library(&path) {
            Ok(lib) => {
                let counts = relocs::count(&lib.path).unwrap_or_default();
                println!(
                    "  {:<9} {:>7} relocations ({}); {} exports ({})",
                    lib.name,
                    counts.total(),
                    counts.summary(),
                    lib.exports.len(),
                    path.display()
                );
                rows.push(format!("{} ({} relocs)", lib.name, counts.total()));
                libraries.push(Prepared::new(lib));
            }
            Err(e) => println!("  {name}: {e}, skipped"),
        }
    }
    if libraries.is_empty() {
        usage();
    }
    let largest = &libraries[measure::dlsym_library(&libraries)];
    rows.push(format!(
        "dlsym/lookup ({} exports of {})",
        largest.library.exports.len(),
        largest.library.name
    ));

    println!("dlbench: setting up the loaders");
    let mut names: Vec<&'static str> = Vec::new();
    let mut loaders: Vec<Option<Box<dyn Loader>>> = Vec::new();
    let mut setup_failures: Vec<(usize, String)> = Vec::new();
    for name in &args.loaders {
        let driver = |libdl: Option<(&std::path::Path, &std::path::Path)>| {
            cdriver::build(&args.dir.join("driver"), libdl)
        };
        let loader: Result<Box<dyn Loader>, String> = match name.as_str() {
            "glibc" => Ok(Box::new(Glibc)),
            "ours" => Ok(Box::new(Ours)),
            "glibc-c" => driver(None)
                .and_then(|exe| Worker::spawn("glibc-c", &exe))
                .map(|l| Box::new(l) as Box<dyn Loader>),
            "ours-c" => match &args.libdl {
                Some(archive) => driver(Some((&args.include, archive)))
                    .and_then(|exe| Worker::spawn("ours-c", &exe))
                    .map(|l| Box::new(l) as Box<dyn Loader>),
                None => Err(String::from("no libmodlib_dl.a given (--libdl)")),
            },
            "elf_loader" => ElfLoader::new().map(|l| Box::new(l) as Box<dyn Loader>),
            "dlopen-rs" => {
                let exe = args.worker.clone().unwrap_or_else(|| {
                    std::env::current_exe()
                        .unwrap_or_default()
                        .with_file_name("dlopen-rs-worker")
                });
                Worker::spawn("dlopen-rs", &exe).map(|l| Box::new(l) as Box<dyn Loader>)
            }
            _ => usage(),
        };
        let label: &'static str = match name.as_str() {
            "glibc" => "glibc",
            "ours" => "ours",
            "glibc-c" => "glibc-c",
            "ours-c" => "ours-c",
            "elf_loader" => "elf_loader",
            _ => "dlopen-rs",
        };
        names.push(label);
        match loader {
            Ok(l) => loaders.push(Some(l)),
            Err(e) => {
                println!("  {label}: cannot set up: {e}");
                setup_failures.push((loaders.len(), e));
                loaders.push(None);
            }
        }
    }

    let plan = Plan {
        rounds: args.rounds,
        batch: Duration::from_millis(args.batch_ms),
        dlsym: args.dlsym,
    };
    println!(
        "dlbench: checking each loader runs each library, then {} interleaved rounds (plus one warm-up)",
        plan.rounds
    );
    let mut results = measure::run(plan, &libraries, &mut loaders, &names, &mut |m| {
        println!("{m}");
    });
    for (i, e) in setup_failures {
        for row in &mut results.cycles {
            row[i] = measure::Cell::Fails(e.clone());
        }
        results.dlsym[i] = measure::Cell::Fails(e);
    }
    println!(
        "\nopen(RTLD_NOW) + dlsym x10 + close, median of {} rounds (batches of {} iterations), ± half the interquartile range, (ratio to {}):\n",
        plan.rounds,
        results
            .iterations
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        names[0]
    );
    print!("{}", measure::table(&results, &rows));
}
