//! Runs modlib's and kmod's execution checks on RV32 bare metal: under
//! `qemu-system-riscv32 -machine virt -bios none`, in machine mode, it
//! loads C fixtures (compiled at build time, see `build.rs`) into its heap,
//! runs them, and reports one line per check, a summary, and pass or fail
//! through QEMU's exit status.
#![no_std]
#![no_main]

extern crate alloc;

#[macro_use]
mod rt;
mod extra;
mod heap;
mod host;
mod kernel;
mod module;

use alloc::string::String;

/// One fixture compiled by the build script.
pub struct Fixture {
    /// Source, kind, compiler and flags, as the console shows them.
    pub label: &'static str,
    /// Built position-independent (`-fPIC`, or a shared object).
    pub pic: bool,
    /// The object's bytes.
    pub bytes: &'static [u8],
}

/// The fixture tables `build.rs` generates.
mod fixtures {
    use super::Fixture;
    include!(concat!(env!("OUT_DIR"), "/fixtures.rs"));
}

/// What a check returns: `Err` says what went wrong.
pub type Outcome = Result<(), String>;

/// Fails the check with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(alloc::format!($($msg)+));
        }
    };
}

/// Fails the check unless both sides are equal, showing both.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr, $($msg:tt)+) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(alloc::format!(
                "{}: got {:?}, expected {:?}",
                alloc::format!($($msg)+),
                left,
                right
            ));
        }
    }};
}

/// Counts and prints checks.
pub struct Runner {
    passed: u32,
    failed: u32,
}

impl Runner {
    /// Runs `check` as `name`, printing `ok` or `FAIL` with the reason.
    pub fn check(&mut self, name: &str, check: impl FnOnce() -> Outcome) {
        rt::set_current(name);
        match check() {
            Ok(()) => {
                self.passed += 1;
                println!("ok   {name}");
            }
            Err(reason) => {
                self.failed += 1;
                println!("FAIL {name}: {reason}");
            }
        }
    }
}

#[no_mangle]
extern "C" fn rust_main() -> ! {
    heap::init();
    println!("rv32: bare-metal runner, heap {} KiB", heap::free() / 1024);
    let mut runner = Runner {
        passed: 0,
        failed: 0,
    };
    module::run(&mut runner);
    extra::run(&mut runner);
    kernel::run(&mut runner);
    rt::set_current("summary");
    println!("rv32: {} passed, {} failed", runner.passed, runner.failed);
    rt::exit(u16::from(runner.failed != 0))
}
