//! Runs `dlopen-rs` (crates.io) for the benchmark in a process of its own:
//! the crate exports `dlopen`, `dlsym`, `dlclose` (and `__cxa_atexit`…) under
//! their C names, which would replace glibc's in the main benchmark process.
//! Reads one command per line on stdin, answers one line on stdout:
//!
//! * `check EXPECTED - PATH` → `ok` if `bench_touch(3)` returns `EXPECTED`
//!   (or, with `EXPECTED` `-`, if the library opens and closes)
//! * `cycle N NAMES PATH` → `ok NANOS` for N × (open `RTLD_NOW`, look up the
//!   comma-separated NAMES, close)
//! * `lookups N NAMES_FILE PATH` → `ok NANOS` for N passes of lookups of
//!   every name in NAMES_FILE (one per line) on the open library
//!
//! Failures answer `err REASON`.
//!
//! It uses nothing of the `dlbench` library: that links `dl`, and a build
//! that unifies `dl`'s `c-abi` feature in would bring a second set of
//! `dlopen`/`dlsym` definitions.

use std::ffi::c_void;
use std::hint::black_box;
use std::io::{BufRead, Write};

use dlopen_rs::{ElfLibrary, OpenFlags};

/// Wall-clock time, or this thread's CPU time with `DLBENCH_CPU_TIME=1`
/// (as `dlbench::clock` measures in the main process).
struct Stopwatch {
    cpu: bool,
    wall: std::time::Instant,
    start: std::time::Duration,
}

fn thread_cpu() -> std::time::Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Stopwatch {
    fn start() -> Stopwatch {
        let cpu = std::env::var_os("DLBENCH_CPU_TIME").is_some_and(|v| v == "1");
        Stopwatch {
            cpu,
            wall: std::time::Instant::now(),
            start: if cpu {
                thread_cpu()
            } else {
                std::time::Duration::ZERO
            },
        }
    }

    fn elapsed(&self) -> std::time::Duration {
        if self.cpu {
            thread_cpu().saturating_sub(self.start)
        } else {
            self.wall.elapsed()
        }
    }
}

fn open(path: &str) -> Result<ElfLibrary, String> {
    ElfLibrary::dlopen(path, OpenFlags::RTLD_NOW | OpenFlags::RTLD_LOCAL).map_err(|e| e.to_string())
}

fn sym(lib: &ElfLibrary, name: &str) -> Result<*mut c_void, String> {
    // SAFETY: the address is only passed to `black_box` or, for
    // `bench_touch`, called with its C signature.
    unsafe { lib.get::<*mut c_void>(name) }
        .map(|s| s.into_raw().cast_mut().cast())
        .map_err(|e| format!("{name}: {e}"))
}

fn run(line: &str) -> Result<String, String> {
    let mut parts = line.splitn(4, ' ');
    let command = parts.next().unwrap_or("");
    let number = parts.next().unwrap_or("");
    let names = parts.next().unwrap_or("");
    let path = parts.next().ok_or("missing path")?;
    match command {
        "check" if number == "-" => open(path).map(|_| String::from("ok")),
        "check" => {
            let expected: i32 = number.parse().map_err(|_| "bad number")?;
            let lib = open(path)?;
            let touch = sym(&lib, "bench_touch")?;
            // SAFETY: `bench_touch` is `int bench_touch(int)` in the
            // generated source; the library is open while it runs.
            let touch: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(touch) };
            let got = touch(3);
            drop(lib);
            if got == expected {
                Ok(String::from("ok"))
            } else {
                Err(format!(
                    "bench_touch(3) returned {got}, expected {expected}"
                ))
            }
        }
        "cycle" => {
            let n: u32 = number.parse().map_err(|_| "bad number")?;
            let names: Vec<&str> = names.split(',').collect();
            let start = Stopwatch::start();
            for _ in 0..n {
                let lib = open(path)?;
                for name in &names {
                    black_box(sym(&lib, name)?);
                }
                drop(lib);
            }
            Ok(format!("ok {}", start.elapsed().as_nanos()))
        }
        "lookups" => {
            let n: u32 = number.parse().map_err(|_| "bad number")?;
            let text = std::fs::read_to_string(names).map_err(|e| e.to_string())?;
            let names: Vec<&str> = text.lines().collect();
            let lib = open(path)?;
            let start = Stopwatch::start();
            for _ in 0..n {
                for name in &names {
                    black_box(sym(&lib, name)?);
                }
            }
            let t = start.elapsed();
            drop(lib);
            Ok(format!("ok {}", t.as_nanos()))
        }
        _ => Err(format!("unknown command {command}")),
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let answer = match std::panic::catch_unwind(|| run(&line)) {
            Ok(Ok(ok)) => ok,
            Ok(Err(e)) => format!("err {}", e.replace('\n', " ")),
            Err(_) => String::from("err dlopen-rs panicked"),
        };
        if writeln!(stdout, "{answer}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}
