//! Module life cycle through kmod: insmod, init/exit, inter-module symbols
//! and references, rmmod refusals, modsym visibility, lsmod and kallsyms.

mod common;

use common::{
    chardev_read, kmalloc_live, module, module_with, shared_module, take_log, Kernel, TICKS,
};
use modlib::{Protection, SymbolKind};
use modlib_kmod::{KmodError, ModuleState};
use testkit::Compiler;

/// A device registered by consumer's init is readable through chardev; the
/// exits undo the registration; logs show each step.
fn exercise_pair(kernel: &Kernel, chardev_image: &[u8], consumer_image: &[u8], what: &str) {
    let chardev = kernel
        .mgr
        .insmod(chardev_image, "chardev")
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(take_log(), ["chardev: init"], "{what}");
    let consumer = kernel
        .mgr
        .insmod(consumer_image, "consumer")
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        take_log(),
        ["consumer: init", "chardev: registered"],
        "{what}"
    );
    assert_eq!(kmalloc_live(), 1, "{what}: chardev keeps the device data");

    // SAFETY: `int consumer_minor(void)`, `int consumer_major(void)` and
    // `int chardev_count(void)`; both modules stay loaded while called.
    let (minor, major, count) = unsafe {
        (
            kernel.func::<extern "C" fn() -> i32>(consumer, "consumer_minor")(),
            kernel.func::<extern "C" fn() -> i32>(consumer, "consumer_major")(),
            kernel.func::<extern "C" fn() -> i32>(chardev, "chardev_count")(),
        )
    };
    assert_eq!((minor, major, count), (0, 42, 1), "{what}");
    assert_eq!(
        chardev_read(kernel, chardev, minor).as_deref(),
        Ok("hello from consumer"),
        "{what}"
    );
    assert_eq!(
        chardev_read(kernel, chardev, 1),
        Err(-19),
        "{what}: only one device"
    );

    kernel
        .mgr
        .rmmod(consumer)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        take_log(),
        ["chardev: unregistered", "consumer: exit"],
        "{what}"
    );
    assert_eq!(
        kmalloc_live(),
        0,
        "{what}: consumer's exit freed the device"
    );
    assert_eq!(chardev_read(kernel, chardev, minor), Err(-19), "{what}");
    kernel
        .mgr
        .rmmod(chardev)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(take_log(), ["chardev: exit"], "{what}");
    assert_eq!(kernel.held(), (0, 0), "{what}");
}

#[test]
fn consumer_registers_a_device_through_chardev() {
    let kernel = Kernel::new();
    exercise_pair(&kernel, &module("chardev"), &module("consumer"), "gcc -O2");
}

#[test]
fn chardev_and_consumer_from_every_compiler_and_level() {
    let kernel = Kernel::new();
    for compiler in Compiler::host_compilers() {
        for opt in ["-O2", "-O0"] {
            let what = format!("{} {opt}", compiler.command());
            let chardev = module_with(&compiler, "chardev", opt);
            let consumer = module_with(&compiler, "consumer", opt);
            exercise_pair(&kernel, &chardev, &consumer, &what);
        }
    }
    // A consumer from one compiler binds to a chardev from the other.
    if Compiler::host_compilers().contains(&Compiler::host_clang()) {
        let chardev = module_with(&Compiler::host_gcc(), "chardev", "-O2");
        let consumer = module_with(&Compiler::host_clang(), "consumer", "-O0");
        exercise_pair(&kernel, &chardev, &consumer, "gcc chardev, clang consumer");
    }
}

#[test]
fn shared_objects_load_as_modules() {
    let kernel = Kernel::new();
    let (chardev_so, consumer_so) = (shared_module("chardev"), shared_module("consumer"));
    assert_eq!(
        modlib::identify(&chardev_so, modlib::Machine::default_for_host()),
        Ok(modlib::ObjectKind::Shared)
    );
    exercise_pair(&kernel, &chardev_so, &consumer_so, "gcc -shared");
    // A relocatable provider serves a shared consumer and the other way round.
    exercise_pair(
        &kernel,
        &module("chardev"),
        &consumer_so,
        "chardev.o, consumer.so",
    );
    exercise_pair(
        &kernel,
        &chardev_so,
        &module("consumer"),
        "chardev.so, consumer.o",
    );
}

#[test]
fn provider_in_use_is_busy_and_unchanged() {
    let kernel = Kernel::new();
    let chardev = kernel.load("chardev");
    let consumer = kernel.load("consumer");
    take_log();
    let before = kernel.mgr.modules();
    let held = kernel.held();

    let err = kernel.mgr.rmmod(chardev).unwrap_err();
    assert_eq!(
        err,
        KmodError::Busy {
            module: "chardev".into(),
            users: vec!["consumer".into()],
            refcount: 0,
        }
    );
    assert_eq!(
        err.to_string(),
        "module `chardev` is in use (used by [consumer], 0 references held)"
    );
    assert!(take_log().is_empty(), "chardev's exit must not run");
    assert_eq!(kernel.mgr.modules(), before);
    assert_eq!(kernel.held(), held);
    assert_eq!(kernel.mgr.modhandle("chardev"), Some(chardev));
    assert_eq!(
        chardev_read(&kernel, chardev, 0).as_deref(),
        Ok("hello from consumer")
    );

    kernel.mgr.rmmod(consumer).unwrap();
    kernel.mgr.rmmod(chardev).unwrap();
    assert_eq!(
        take_log(),
        ["chardev: unregistered", "consumer: exit", "chardev: exit"]
    );
    assert!(kernel.mgr.modules().is_empty());
}

#[test]
fn failing_init_undoes_the_load() {
    let kernel = Kernel::new();
    let chardev = kernel.load("chardev");
    take_log();
    let before = kernel.mgr.modules();
    let held = kernel.held();
    let total = kernel.memory.reserved_total();

    let err = kernel.insmod("failinit").unwrap_err();
    assert_eq!(
        err,
        KmodError::InitFailed {
            module: "failinit".into(),
            code: -22,
        }
    );
    assert_eq!(err.to_string(), "module `failinit`: init failed with -22");
    assert_eq!(take_log(), ["failinit: init"], "init ran, exit did not");
    assert!(
        kernel.memory.reserved_total() > total,
        "the image was loaded before init ran"
    );
    assert_eq!(kernel.held(), held, "the failed module's memory is back");
    assert_eq!(kernel.mgr.modules(), before, "chardev has no user left");
    assert_eq!(kernel.mgr.modhandle("failinit"), None);
    assert!(kernel
        .mgr
        .ksyms()
        .iter()
        .all(|s| s.name != "failinit_value"));

    // The name is free again, and chardev is removable.
    assert!(matches!(
        kernel.insmod("failinit"),
        Err(KmodError::InitFailed { code: -22, .. })
    ));
    kernel.mgr.rmmod(chardev).unwrap();
}

/// `.preinit_array` runs, before `.init_array`, never silently skipped.
#[test]
fn preinit_array_runs_first() {
    for compiler in Compiler::host_compilers() {
        let what = compiler.command().to_string();
        let kernel = Kernel::new();
        let image = module_with(&compiler, "preinit", "-O2");
        let handle = kernel
            .mgr
            .insmod(&image, "preinit")
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            take_log(),
            [
                "preinit: preinit_array",
                "preinit: init_array",
                "preinit: init"
            ],
            "{what}"
        );
        kernel.mgr.rmmod(handle).unwrap();
    }
}

/// A module whose constructor registered something and whose init then
/// fails gets its destructors run (not `module_exit`) before it is freed,
/// so the kernel keeps no pointer into freed module memory.
#[test]
fn failing_init_runs_the_destructors_not_exit() {
    for compiler in Compiler::host_compilers() {
        let what = compiler.command().to_string();
        let kernel = Kernel::new();
        let image = module_with(&compiler, "ctorfail", "-O2");
        let err = kernel.mgr.insmod(&image, "ctorfail").unwrap_err();
        assert!(
            matches!(err, KmodError::InitFailed { code: -5, .. }),
            "{what}: {err:?}"
        );
        assert_eq!(
            take_log(),
            [
                "ctorfail: registered",
                "ctorfail: init fails",
                "ctorfail: unregistered"
            ],
            "{what}: constructor, init, then the destructor"
        );
        assert_eq!(kernel.held(), (0, 0), "{what}: memory returned");
    }
}

#[test]
fn memory_failures_at_every_step_leak_nothing() {
    let kernel = Kernel::new();
    kernel.load("chardev");
    take_log();
    let before = kernel.mgr.modules();
    let held = kernel.held();
    let image = module("consumer");
    let mut failures = 0;
    for step in 0.. {
        assert!(step < 100, "consumer never loaded");
        kernel.memory.fail_after(step);
        match kernel.mgr.insmod(&image, "consumer") {
            Ok(_) => break,
            Err(KmodError::Load { module, source }) => {
                assert_eq!(module, "consumer");
                assert!(
                    matches!(
                        source,
                        modlib::LoadError::Memory(_) | modlib::LoadError::OutOfMemory { .. }
                    ),
                    "step {step}: {source}"
                );
                failures += 1;
            }
            Err(e) => panic!("step {step}: {e}"),
        }
        assert_eq!(kernel.held(), held, "step {step}");
        assert_eq!(kernel.mgr.modules(), before, "step {step}");
        assert!(
            take_log().is_empty(),
            "init must not run when the load fails"
        );
    }
    kernel.memory.fail_after(usize::MAX);
    assert!(failures >= 3, "only {failures} failure points");
    assert_eq!(take_log(), ["consumer: init", "chardev: registered"]);
}

#[test]
fn exits_run_users_first() {
    let kernel = Kernel::new();
    let c = kernel.load("chain_c");
    let b = kernel.load("chain_b");
    let a = kernel.load("chain_a");
    assert_eq!(
        take_log(),
        ["chain_c: init", "chain_b: init", "chain_a: init"]
    );
    // SAFETY: `int chain_a_value(void)`; chain_a stays loaded.
    let f: extern "C" fn() -> i32 = unsafe { kernel.func(a, "chain_a_value") };
    assert_eq!(f(), 123);

    assert!(matches!(kernel.mgr.rmmod(c), Err(KmodError::Busy { .. })));
    assert!(matches!(kernel.mgr.rmmod(b), Err(KmodError::Busy { .. })));
    assert!(take_log().is_empty());
    for h in [a, b, c] {
        kernel.mgr.rmmod(h).unwrap();
    }
    assert_eq!(
        take_log(),
        ["chain_a: exit", "chain_b: exit", "chain_c: exit"]
    );
}

#[test]
fn reload_gets_fresh_state() {
    let kernel = Kernel::new();
    let first = kernel.load("chardev");
    // SAFETY: `int chardev_next_serial(void)`; chardev stays loaded.
    let next = unsafe { kernel.func::<extern "C" fn() -> i32>(first, "chardev_next_serial") };
    assert_eq!([next(), next(), next()], [1, 2, 3]);
    kernel.mgr.rmmod(first).unwrap();
    assert_eq!(kernel.held(), (0, 0));

    let second = kernel.load("chardev");
    assert_ne!(first, second, "handles are not reused");
    // SAFETY: as above, for the new instance.
    let next = unsafe { kernel.func::<extern "C" fn() -> i32>(second, "chardev_next_serial") };
    assert_eq!(next(), 1, "the counter restarts");
    assert_eq!(
        take_log(),
        ["chardev: init", "chardev: exit", "chardev: init"]
    );
}

#[test]
fn modsym_sees_only_exports() {
    let kernel = Kernel::new();
    let chardev = kernel.load("chardev");
    for symbol in [
        "chardev_reset",
        "chardev_start",
        "devices",
        "__kmod_init",
        "klog",
        "nope",
    ] {
        let err = kernel.mgr.modsym(chardev, symbol).unwrap_err();
        assert_eq!(
            err,
            KmodError::SymbolNotExported {
                module: "chardev".into(),
                symbol: symbol.into(),
            }
        );
    }
    assert_eq!(
        kernel
            .mgr
            .modsym(chardev, "chardev_reset")
            .unwrap_err()
            .to_string(),
        "module `chardev` does not export `chardev_reset`"
    );
    // The function and the data item it does export.
    assert!(kernel.mgr.modsym(chardev, "chardev_read").is_ok());
    let major = kernel.mgr.modsym(chardev, "chardev_major").unwrap();
    // SAFETY: `int chardev_major`, in chardev's live data.
    assert_eq!(unsafe { *major.cast::<i32>() }, 42);

    // Another module cannot bind to the unexported global either.
    let err = kernel.insmod("sneaky").unwrap_err();
    assert!(
        matches!(&err, KmodError::Load { module, source: modlib::LoadError::UndefinedSymbol { name, .. } }
            if module == "sneaky" && name == "chardev_reset"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "module `sneaky`: undefined symbol `chardev_reset`"
    );
}

#[test]
fn module_get_blocks_rmmod_until_put() {
    let kernel = Kernel::new();
    let ticker = kernel.load("ticker");
    kernel.mgr.module_get(ticker).unwrap();
    kernel.mgr.module_get(ticker).unwrap();
    assert_eq!(kernel.mgr.modules()[0].refcount, 2);
    let err = kernel.mgr.rmmod(ticker).unwrap_err();
    assert_eq!(
        err,
        KmodError::Busy {
            module: "ticker".into(),
            users: vec![],
            refcount: 2,
        }
    );
    assert_eq!(
        err.to_string(),
        "module `ticker` is in use (used by [], 2 references held)"
    );
    kernel.mgr.module_put(ticker).unwrap();
    assert!(matches!(
        kernel.mgr.rmmod(ticker),
        Err(KmodError::Busy { refcount: 1, .. })
    ));
    // SAFETY: `unsigned long ticker_read(void)`; a reference is held.
    let read = unsafe { kernel.func::<extern "C" fn() -> usize>(ticker, "ticker_read") };
    assert_eq!(read(), TICKS, "reads the kernel's exported data");
    kernel.mgr.module_put(ticker).unwrap();
    let err = kernel.mgr.module_put(ticker).unwrap_err();
    assert_eq!(
        err,
        KmodError::NotReferenced {
            module: "ticker".into()
        },
        "no reference left"
    );
    assert_eq!(err.to_string(), "module `ticker` holds no reference to put");
    assert_eq!(take_log(), ["ticker: init"]);
    kernel.mgr.rmmod(ticker).unwrap();
    assert_eq!(take_log(), ["ticker: exit"]);
}

#[test]
fn stale_handles_are_not_found() {
    let kernel = Kernel::new();
    let quiet = kernel.load("quiet");
    kernel.mgr.rmmod(quiet).unwrap();
    let not_found = KmodError::NotFound { name: None };
    assert_eq!(kernel.mgr.rmmod(quiet), Err(not_found.clone()));
    assert_eq!(kernel.mgr.modsym(quiet, "quiet_id"), Err(not_found.clone()));
    assert_eq!(kernel.mgr.module_get(quiet), Err(not_found.clone()));
    assert_eq!(kernel.mgr.module_put(quiet), Err(not_found.clone()));
    assert_eq!(not_found.to_string(), "no such module");
    let again = kernel.load("quiet");
    assert_ne!(again, quiet);
    assert_eq!(
        kernel.mgr.modsym(quiet, "quiet_id"),
        Err(not_found),
        "old handle stays dead"
    );
    // SAFETY: `int quiet_id(void)`; quiet stays loaded.
    let f: extern "C" fn() -> i32 = unsafe { kernel.func(again, "quiet_id") };
    assert_eq!(f(), 7);
}

#[test]
fn lsmod_shows_modinfo_regions_and_dependencies() {
    let kernel = Kernel::new();
    kernel.load("chardev");
    kernel.load("consumer");
    kernel.load("quiet");
    let list = kernel.mgr.modules();
    let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["chardev", "consumer", "quiet"], "load order");

    let chardev = &list[0];
    assert_eq!(chardev.version.as_deref(), Some("1.2.3"));
    assert_eq!(
        chardev.description.as_deref(),
        Some("character device registry")
    );
    assert_eq!(chardev.license.as_deref(), Some("MIT"));
    assert_eq!(chardev.state, ModuleState::Live);
    assert!(chardev.uses.is_empty());
    assert_eq!(chardev.used_by, ["consumer"]);
    assert_eq!(chardev.refcount, 0);

    let consumer = &list[1];
    assert_eq!(consumer.version.as_deref(), Some("0.9"));
    assert_eq!(
        consumer.description.as_deref(),
        Some("registers a console through chardev")
    );
    assert_eq!(consumer.license.as_deref(), Some("GPL"));
    assert_eq!(consumer.uses, ["chardev"]);
    assert!(consumer.used_by.is_empty());

    let quiet = &list[2];
    assert_eq!(
        (quiet.version.as_deref(), quiet.description.as_deref()),
        (None, None)
    );
    assert_eq!(quiet.license.as_deref(), Some("MIT"));

    for m in &list {
        assert!(m.size > 0, "{}", m.name);
        let covered: usize = m.regions.iter().map(|r| r.size).sum();
        assert!(
            covered > 0 && covered <= m.size,
            "{}: regions {:?} size {}",
            m.name,
            m.regions,
            m.size
        );
        assert!(
            m.regions
                .iter()
                .any(|r| r.protection == Protection::ReadExecute),
            "{}: code region",
            m.name
        );
    }
    let total: usize = list.iter().map(|m| m.size).sum();
    assert_eq!(
        total,
        kernel.memory.live_bytes(),
        "lsmod accounts for every byte held"
    );
}

#[test]
fn ksyms_lists_kernel_and_module_symbols() {
    let kernel = Kernel::new();
    let kernel_only = kernel.mgr.ksyms();
    let find = |syms: &[modlib_kmod::KernelSymbolInfo], name: &str| {
        syms.iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from ksyms"))
    };
    let klog = find(&kernel_only, "klog");
    assert_eq!(klog.owner, None);
    assert_eq!(klog.kind, SymbolKind::Function);
    assert_eq!(klog.address, common::klog as *const () as u64);
    let ticks = find(&kernel_only, "KERNEL_TICKS");
    assert_eq!(ticks.kind, SymbolKind::Object);
    assert_eq!(ticks.address, (&raw const common::KERNEL_TICKS) as u64);
    assert_eq!(kernel_only.len(), common::KERNEL_SYMBOLS.len());
    assert!(kernel_only.iter().all(|s| s.owner.is_none()));

    let chardev = kernel.load("chardev");
    let syms = kernel.mgr.ksyms();
    let read = find(&syms, "chardev_read");
    assert_eq!(read.owner.as_deref(), Some("chardev"));
    assert_eq!(read.kind, SymbolKind::Function);
    assert_eq!(
        read.address,
        kernel.mgr.modsym(chardev, "chardev_read").unwrap() as u64
    );
    let major = find(&syms, "chardev_major");
    assert_eq!(
        (major.owner.as_deref(), major.kind),
        (Some("chardev"), SymbolKind::Object)
    );
    let mut owned: Vec<&str> = syms
        .iter()
        .filter(|s| s.owner.is_some())
        .map(|s| s.name.as_str())
        .collect();
    owned.sort_unstable();
    assert_eq!(
        owned,
        [
            "chardev_count",
            "chardev_major",
            "chardev_next_serial",
            "chardev_read",
            "chardev_register",
            "chardev_unregister"
        ],
        "exactly the exports, nothing merely global"
    );

    kernel.mgr.rmmod(chardev).unwrap();
    assert_eq!(
        kernel.mgr.ksyms(),
        kernel_only,
        "a removed module's symbols are gone"
    );
}

/// `if (hook) hook();` with weak hooks nothing defines, in a module placed
/// far from address 0: the references resolve to 0 and the module runs
/// (on riscv64 non-PIC code reaches them with `auipc`, which the loader
/// turns into `lui`, as GNU ld does).
#[test]
fn undefined_weak_hooks_are_null_wherever_the_module_lies() {
    let include = format!("-I{}", common::include_dir().display());
    let fixtures = format!("-I{}", common::fixture_dir().display());
    let source = common::fixture_dir().join("weakhook.c");
    let mut builds: Vec<Vec<&str>> = vec![vec!["-O2", "-fPIC"]];
    if cfg!(target_arch = "riscv64") {
        builds.push(vec!["-O2", "-fno-pic", "-mcmodel=medany", "-mno-relax"]);
        builds.push(vec!["-O0", "-fno-pic", "-mcmodel=medany", "-mno-relax"]);
    }
    for compiler in Compiler::host_compilers() {
        for flags in &builds {
            let what = format!("{} {}", compiler.command(), flags.join(" "));
            let mut all = flags.clone();
            all.extend([include.as_str(), fixtures.as_str(), "-Wall"]);
            let image = testkit::fixtures::object(&compiler, &source, &all).bytes;
            let memory: common::Mem = std::sync::Arc::new(testkit::CountingMemory::new(
                testkit::HostMemory::new(testkit::Placement::Far),
            ));
            let mgr = modlib_kmod::ModuleManager::new(memory.clone(), common::kernel_table());
            let handle = mgr
                .insmod(&image, "weakhook")
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            // SAFETY: `weakhook_probe` is `int (void)`.
            let probe: extern "C" fn() -> i32 =
                unsafe { common::export(&mgr, handle, "weakhook_probe") };
            assert_eq!(probe(), 0, "{what}: both weak symbols are null");
            mgr.rmmod(handle).unwrap();
            assert_eq!(memory.live_bytes(), 0, "{what}");
        }
    }
}
