//! A small riscv64 protected-mode kernel for QEMU `virt`: the kernel runs
//! in S-mode and loads kernel modules with `kmod` against its own symbol
//! table; one user image runs in U-mode and loads shared libraries with
//! `libdl` against the user symbol table. Paging keeps the two apart.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod console;
mod exit;
mod frames;
mod heap;
mod modules;
mod ramfs;
mod user;
mod vm;

use arch::riscv64 as cpu;
use user::Outcome;

/// End of RAM with `-m 256M`.
const RAM_END: u64 = 0x9000_0000;

extern "C" {
    static _end: u8;
}

/// Counts the boot script's checks.
struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
            kprintln!("PASS {what}");
        } else {
            self.failed += 1;
            kprintln!("FAIL {what}");
        }
    }
}

#[no_mangle]
extern "C" fn kmain() -> ! {
    cpu::csr::init();
    cpu::trap::init();
    let heap_start = &raw const _end as usize;
    // SAFETY: as above.
    unsafe { heap::init(heap_start) };
    let heap_end = (heap_start + heap::SIZE) as u64;
    frames::init(heap_end, RAM_END);
    vm::init(heap_end);

    kprintln!();
    kprintln!("=== modlib protected-mode demo: riscv64 kernel (S-mode) + user image (U-mode) ===");
    let mut checks = Checks {
        passed: 0,
        failed: 0,
    };
    let frames_at_start = frames::used();

    kprintln!("--- kernel modules ---");
    let chardev = modules::insmod("chardev");
    checks.check(chardev.is_ok(), "insmod chardev");
    if let Err(e) = &chardev {
        kprintln!("  error: {e}");
    }
    let consumer = modules::insmod("consumer");
    checks.check(
        consumer.is_ok(),
        "insmod consumer (binds to chardev's exports)",
    );
    if let Err(e) = &consumer {
        kprintln!("  error: {e}");
    }
    modules::lsmod();
    let sizes = modules::sizes();

    kprintln!("--- user space ---");
    let tasks: [(&[&str], &str); 4] = [
        (&["user", "sotest"], "sotest"),
        (&["user", "plugins"], "user-demo plugins"),
        (
            &["user", "device"],
            "read the device the kernel module registered",
        ),
        (
            &["user", "run", "hello", "from", "a", "program", "module"],
            "executable module",
        ),
    ];
    for (args, what) in tasks {
        kprintln!("> user task: {}", args[1..].join(" "));
        let outcome = user::run(args);
        report(&outcome);
        checks.check(outcome == Outcome::Exited(0), what);
    }

    kprintln!("> user task: lazy (RTLD_LAZY and a function nothing defines)");
    let outcome = user::run(&["user", "lazy"]);
    report(&outcome);
    checks.check(
        outcome == Outcome::Exited(127),
        "a lazily bound call to a missing function ended only its task",
    );

    kprintln!("--- protection ---");
    kprintln!("> user task: fault-kernel (a library reads kernel memory)");
    let outcome = user::run(&["user", "fault-kernel"]);
    report(&outcome);
    checks.check(
        matches!(outcome, Outcome::Faulted { address, .. } if (0x8000_0000..RAM_END).contains(&address)),
        "user read of kernel memory faulted and the kernel went on",
    );
    kprintln!("> user task: fault-wx (a library writes its own read-only text)");
    let outcome = user::run(&["user", "fault-wx"]);
    report(&outcome);
    checks.check(
        matches!(
            outcome,
            Outcome::Faulted {
                cause: "store page fault",
                ..
            }
        ),
        "write to read-only library text faulted (W^X)",
    );

    kprintln!("--- unloading ---");
    if let (Ok(chardev), Ok(consumer)) = (chardev, consumer) {
        let refused = modules::manager().rmmod(chardev);
        if let Err(e) = &refused {
            kprintln!("rmmod chardev: refused: {e}");
        }
        checks.check(
            matches!(refused, Err(kmod::KmodError::Busy { .. })),
            "rmmod chardev while consumer uses it is refused",
        );
        checks.check(modules::manager().rmmod(consumer).is_ok(), "rmmod consumer");
        checks.check(modules::manager().rmmod(chardev).is_ok(), "rmmod chardev");
    }
    for (name, size) in &sizes {
        kprintln!("module {name} held {size} bytes while loaded");
    }
    checks.check(
        modules::manager().modules().is_empty(),
        "no module left loaded",
    );
    checks.check(
        frames::used() == frames_at_start,
        "every module and user page returned",
    );

    kprintln!("kernel heap in use: {} KiB", heap::used() / 1024);
    kprintln!("system: {} passed, {} failed", checks.passed, checks.failed);
    if checks.failed == 0 {
        exit::pass()
    } else {
        exit::fail(1)
    }
}

fn report(outcome: &Outcome) {
    match outcome {
        Outcome::Exited(code) => kprintln!("  task exited with status {code}"),
        Outcome::Faulted { cause, address, pc } => {
            kprintln!("  task ended by the kernel: {cause} at address {address:#x} (pc {pc:#x})");
        }
        Outcome::NotStarted(why) => kprintln!("  task not started: {why}"),
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    kprintln!("KERNEL PANIC: {info}");
    exit::fail(2)
}
