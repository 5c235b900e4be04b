//! The boot script, the same on every machine: the machine's own checks,
//! kernel modules loaded by `kmod`, the user image's tasks (libdl, program
//! modules, plugins, device reads, protection probes), then the modules
//! unloaded and every page or granule accounted for.

use alloc::format;

use crate::arch::{self, image};
use crate::checks::Checks;
use crate::task::{self, Access, Outcome};
use crate::{heap, kprintln, modules};

/// Runs the user image with `args` until it exits or faults.
fn run_user_image(args: &[&str]) -> Outcome {
    kprintln!("> user task: {}", args[1..].join(" "));
    let outcome = match image::start(args) {
        Ok(ctx) => task::serve(ctx),
        Err(why) => Outcome::NotStarted(why),
    };
    task::report(&outcome);
    arch::report_task_memory();
    outcome
}

/// Runs the script, recording its checks.
pub fn run(checks: &mut Checks) {
    arch::boot_checks(checks);
    let in_use_at_start = arch::pages_in_use();

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
    arch::report_memory();
    let mut buf = [0u8; 64];
    let read = modules::chardev_read(0, &mut buf);
    if let Ok(n) = read {
        kprintln!(
            "kernel read of chardev minor 0: {:?}",
            core::str::from_utf8(&buf[..n]).unwrap_or("<binary>")
        );
    }
    checks.check(
        read.is_ok_and(|n| buf[..n] == *b"hello from consumer"),
        "the kernel reads the device consumer registered through chardev",
    );
    let sizes = modules::sizes();

    user_space(checks);

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
        arch::pages_in_use() == in_use_at_start,
        "every module and user page returned",
    );

    kprintln!("kernel heap in use: {} KiB", heap::used() / 1024);
}

/// The user image's tasks.
fn user_space(checks: &mut Checks) {
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
        let outcome = run_user_image(args);
        checks.check(outcome == Outcome::Exited(0), what);
    }

    #[cfg(target_arch = "arm")]
    {
        let outcome = run_user_image(&["user", "cxx"]);
        checks.check(
            outcome == Outcome::Exited(0),
            "C++ exceptions caught inside a library and thrown out of it to the caller",
        );
    }

    let outcome = run_user_image(&["user", "lazy"]);
    checks.check(
        outcome == Outcome::Exited(127),
        "a lazily bound call to a missing function ended only its task",
    );

    kprintln!("--- protection ---");
    let outcome = run_user_image(&["user", "fault-kernel"]);
    let kernel = arch::PROBE_KERNEL_ADDR;
    checks.check(
        outcome.faulted(Access::Data, kernel..kernel + 1),
        "user read of kernel memory faulted and the kernel went on",
    );
    let outcome = run_user_image(&["user", "fault-wx"]);
    checks.check(
        outcome.faulted(Access::Data, arch::USER_SPACE),
        "write to read-only library text faulted (W^X)",
    );
    let outcome = run_user_image(&["user", "fault-exec"]);
    checks.check(
        outcome.faulted(Access::Instruction, arch::USER_SPACE),
        "a jump into library data faulted (data is never executable)",
    );
    match modules::function("chardev", "chardev_read") {
        Some(f) => {
            let arg = format!("{f:#x}");
            let outcome = run_user_image(&["user", "fault-module", &arg]);
            let entry = f & !1;
            checks.check(
                outcome.faulted(Access::Instruction, entry..entry + 1),
                "a user call of kernel module code faulted",
            );
        }
        None => checks.check(false, "chardev_read found for the module-call probe"),
    }
}
