//! The boot script of the full system: kernel modules loaded by `kmod`,
//! then the user image's tasks (libdl, program modules, plugins, device
//! reads, protection probes), then the modules unloaded.

use crate::arch::{self, image};
use crate::checks::Checks;
use crate::task::{self, Outcome};
use crate::{heap, kprintln, modules};

/// Runs the user image with `args` until it exits or faults.
fn run_user_image(args: &[&str]) -> Outcome {
    match image::start(args) {
        Ok(ctx) => task::serve(ctx),
        Err(why) => Outcome::NotStarted(why),
    }
}

/// Runs the script, recording its checks.
pub fn run(checks: &mut Checks) {
    let frames_at_start = arch::frames::used();

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
        let outcome = run_user_image(args);
        task::report(&outcome);
        checks.check(outcome == Outcome::Exited(0), what);
    }

    kprintln!("> user task: lazy (RTLD_LAZY and a function nothing defines)");
    let outcome = run_user_image(&["user", "lazy"]);
    task::report(&outcome);
    checks.check(
        outcome == Outcome::Exited(127),
        "a lazily bound call to a missing function ended only its task",
    );

    kprintln!("--- protection ---");
    kprintln!("> user task: fault-kernel (a library reads kernel memory)");
    let outcome = run_user_image(&["user", "fault-kernel"]);
    task::report(&outcome);
    checks.check(
        matches!(outcome, Outcome::Faulted { address, .. } if (0x8000_0000..arch::RAM_END).contains(&address)),
        "user read of kernel memory faulted and the kernel went on",
    );
    kprintln!("> user task: fault-wx (a library writes its own read-only text)");
    let outcome = run_user_image(&["user", "fault-wx"]);
    task::report(&outcome);
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
        arch::frames::used() == frames_at_start,
        "every module and user page returned",
    );

    kprintln!("kernel heap in use: {} KiB", heap::used() / 1024);
}
