//! The benchmark's stopwatch: wall-clock time by default, or the calling
//! thread's CPU time (`DLBENCH_CPU_TIME=1`, inherited by the worker), which
//! is steadier on a machine shared with other work.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// 0: not read yet, 1: wall clock, 2: thread CPU time.
static MODE: AtomicU8 = AtomicU8::new(0);

/// Whether this process measures thread CPU time.
pub fn cpu_time() -> bool {
    match MODE.load(Ordering::Relaxed) {
        0 => {
            let cpu = std::env::var_os("DLBENCH_CPU_TIME").is_some_and(|v| v == "1");
            MODE.store(if cpu { 2 } else { 1 }, Ordering::Relaxed);
            cpu
        }
        m => m == 2,
    }
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A running stopwatch.
#[derive(Debug, Clone, Copy)]
pub enum Stopwatch {
    /// Wall clock.
    Wall(Instant),
    /// Thread CPU time at the start.
    Cpu(Duration),
}

impl Stopwatch {
    /// Starts timing.
    pub fn start() -> Stopwatch {
        if cpu_time() {
            Stopwatch::Cpu(thread_cpu())
        } else {
            Stopwatch::Wall(Instant::now())
        }
    }

    /// Time since the start.
    pub fn elapsed(&self) -> Duration {
        match self {
            Stopwatch::Wall(t) => t.elapsed(),
            Stopwatch::Cpu(t) => thread_cpu().saturating_sub(*t),
        }
    }
}
