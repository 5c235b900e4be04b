//! Time and memory of `dlopen(RTLD_NOW)` and `dlclose` of a `DT_NEEDED`
//! chain by its length, with glibc's loader and this project's: each
//! measurement in a fresh process of its own (this program run again with
//! `--one`), so that its peak resident memory is its own.
//!
//! `chain [--lengths 100,1000,2000,5000,10000] [--loaders glibc,ours] [--dir DIR]`
//!
//! The chain's libraries are copies of two compiled once by `cc` (one link
//! that needs the next, one tail), with their sonames and the names they
//! need patched; each finds the next through `DT_RUNPATH=$ORIGIN`. Peak
//! memory is the process's `VmHWM` minus its `VmRSS` just before the open.

use std::ffi::{c_void, CString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const LINK: &str = "int chain_link_value(void) { return 1; }\n";
const TAIL: &str = "int chain_tail_value(void) { return 2; }\n";

fn usage() -> ! {
    eprintln!("usage: chain [--lengths a,b,..] [--loaders glibc,ours] [--dir DIR]");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--one") {
        let (Some(loader), Some(root)) = (args.get(1), args.get(2)) else {
            usage()
        };
        one(loader, Path::new(root));
        return;
    }
    let mut lengths = vec![100, 1000, 2000, 5000, 10_000];
    let mut loaders = vec![String::from("glibc"), String::from("ours")];
    let mut dir = PathBuf::from("target/dlbench-chain");
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let value = it.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--lengths" => {
                lengths = value
                    .split(',')
                    .map(|v| v.parse().unwrap_or_else(|_| usage()))
                    .collect();
            }
            "--loaders" => loaders = value.split(',').map(String::from).collect(),
            "--dir" => dir = PathBuf::from(value),
            _ => usage(),
        }
    }
    let exe = std::env::current_exe().expect("own path");
    let (link, tail) = compile(&dir);
    print!("| libraries |");
    for l in &loaders {
        print!(" {l} open | {l} close | {l} peak RSS |");
    }
    println!();
    println!("|---:|{}", "---:|---:|---:|".repeat(loaders.len()));
    for &len in &lengths {
        let root = chain(&dir, len, &link, &tail);
        print!("| {len} |");
        for l in &loaders {
            let out = Command::new(&exe)
                .args(["--one", l])
                .arg(&root)
                .output()
                .expect("run a measurement");
            let text = String::from_utf8_lossy(&out.stdout);
            let fields: Vec<f64> = text
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            if let [open, close, peak] = fields[..] {
                print!(" {open:.1} ms | {close:.1} ms | {:.1} MiB |", peak / 1024.0);
            } else {
                print!(
                    " failed: {} | | |",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
        println!();
    }
}

/// Compiles the link and the tail once; returns their bytes.
fn compile(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let src = dir.join("src");
    std::fs::create_dir_all(&src).expect("source directory");
    let build = |name: &str, code: &str, extra: &[&str]| {
        let c = src.join(format!("{name}.c"));
        std::fs::write(&c, code).expect("write a source");
        let out = src.join(format!("lib{name}.so"));
        let status = Command::new("cc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&out)
            .arg(&c)
            .arg(format!("-Wl,-soname,lib{name}.so"))
            .args(extra)
            .status()
            .expect("run cc");
        assert!(status.success(), "cc failed for {name}");
        std::fs::read(out).expect("read a library")
    };
    let tail = build("chain00001", TAIL, &[]);
    let l_dir = format!("-L{}", src.display());
    let link = build(
        "chain00000",
        LINK,
        &[
            &l_dir,
            "-Wl,--no-as-needed",
            "-l:libchain00001.so",
            "-Wl,-rpath,$ORIGIN",
            "-Wl,--enable-new-dtags",
        ],
    );
    (link, tail)
}

fn name(i: usize) -> String {
    format!("libchain{i:05}.so")
}

/// Writes the chain of `len` (if not there yet); returns its first library.
fn chain(dir: &Path, len: usize, link: &[u8], tail: &[u8]) -> PathBuf {
    assert!((2..100_000).contains(&len), "chain length");
    let at = dir.join(format!("chain-{len}"));
    std::fs::create_dir_all(&at).expect("chain directory");
    for i in 0..len {
        let path = at.join(name(i));
        let bytes = if i + 1 < len {
            replace(
                &replace(link, "libchain00001.so", &name(i + 1)),
                "libchain00000.so",
                &name(i),
            )
        } else {
            replace(tail, "libchain00001.so", &name(i))
        };
        if std::fs::read(&path).is_ok_and(|b| b == bytes) {
            continue;
        }
        std::fs::write(&path, bytes).expect("write a link");
    }
    at.join(name(0))
}

/// `bytes` with every `from` replaced by `to` (as long).
fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut at = 0;
    while let Some(i) = out[at..]
        .windows(from.len())
        .position(|w| w == from.as_bytes())
    {
        out[at + i..at + i + to.len()].copy_from_slice(to.as_bytes());
        at += i + to.len();
    }
    out
}

/// `VmRSS` or `VmHWM` of this process, in KiB.
fn status_kib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0)
}

/// One measurement: prints open and close time in ms and peak memory
/// growth in KiB.
fn one(loader: &str, root: &Path) {
    let before = status_kib("VmRSS:");
    let started = Instant::now();
    let close: Box<dyn FnOnce()> = match loader {
        "glibc" => {
            let c = CString::new(root.to_str().expect("UTF-8 path")).expect("path");
            // SAFETY: a NUL-terminated path; the libraries are plain C
            // without constructors.
            let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            assert!(!h.is_null(), "glibc dlopen failed");
            // SAFETY: an open handle and NUL-terminated names; the symbols
            // are `int (void)` functions.
            unsafe {
                let tail = libc::dlsym(h, c"chain_tail_value".as_ptr());
                assert!(!tail.is_null());
                let f: extern "C" fn() -> i32 = std::mem::transmute::<*mut c_void, _>(tail);
                assert_eq!(f(), 2);
            }
            Box::new(move || {
                // SAFETY: closed once.
                assert_eq!(unsafe { libc::dlclose(h) }, 0);
            })
        }
        "ours" => {
            // SAFETY: the libraries are plain C without constructors.
            let l = unsafe { dl::Library::open(root, dl::Flags::NOW) }.expect("dl open failed");
            // SAFETY: `int chain_tail_value(void)`.
            let f = unsafe { l.get::<extern "C" fn() -> i32>("chain_tail_value") }
                .expect("the tail's function");
            assert_eq!(f(), 2);
            Box::new(move || l.close().expect("dl close failed"))
        }
        _ => usage(),
    };
    let opened = started.elapsed();
    let started = Instant::now();
    close();
    let closed = started.elapsed();
    let peak = status_kib("VmHWM:") - before;
    println!(
        "{:.3} {:.3} {peak:.0}",
        opened.as_secs_f64() * 1e3,
        closed.as_secs_f64() * 1e3
    );
}
