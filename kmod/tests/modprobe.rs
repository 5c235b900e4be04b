//! modprobe: dependencies from `.modinfo` load first, in topological order,
//! from a directory-backed store; cycles and missing modules are named, and
//! a failed modprobe removes what it loaded.

mod common;

use common::{take_log, ChainStore, DirStore, Kernel};
use modlib_kmod::KmodError;

const CHAIN: [&str; 3] = ["chain_a", "chain_b", "chain_c"];

#[test]
fn chain_loads_bottom_up() {
    let kernel = Kernel::new();
    let store = DirStore::with("chain", &CHAIN);
    let a = kernel.mgr.modprobe("chain_a", &store).unwrap();
    assert_eq!(
        take_log(),
        ["chain_c: init", "chain_b: init", "chain_a: init"]
    );
    assert_eq!(kernel.mgr.modhandle("chain_a"), Some(a));
    // SAFETY: `int chain_a_value(void)`; chain_a stays loaded.
    let f: extern "C" fn() -> i32 = unsafe { kernel.func(a, "chain_a_value") };
    assert_eq!(f(), 123);

    let list = kernel.mgr.modules();
    let view: Vec<(&str, Vec<String>, Vec<String>)> = list
        .iter()
        .map(|m| (m.name.as_str(), m.uses.clone(), m.used_by.clone()))
        .collect();
    assert_eq!(
        view,
        [
            ("chain_c", vec![], vec!["chain_b".to_string()]),
            (
                "chain_b",
                vec!["chain_c".to_string()],
                vec!["chain_a".to_string()]
            ),
            ("chain_a", vec!["chain_b".to_string()], vec![]),
        ]
    );

    // Already loaded: the same handle, nothing runs.
    assert_eq!(kernel.mgr.modprobe("chain_a", &store), Ok(a));
    assert!(take_log().is_empty());

    // Remove the top, probe again: only the top loads.
    kernel.mgr.rmmod(a).unwrap();
    assert_eq!(take_log(), ["chain_a: exit"]);
    kernel.mgr.modprobe("chain_a", &store).unwrap();
    assert_eq!(take_log(), ["chain_a: init"]);

    kernel.unload_all();
    assert_eq!(
        take_log(),
        ["chain_a: exit", "chain_b: exit", "chain_c: exit"]
    );
}

#[test]
fn middle_of_chain_loads_only_what_it_needs() {
    let kernel = Kernel::new();
    let store = DirStore::with("middle", &CHAIN);
    kernel.mgr.modprobe("chain_b", &store).unwrap();
    assert_eq!(take_log(), ["chain_c: init", "chain_b: init"]);
    assert_eq!(kernel.mgr.modhandle("chain_a"), None);
}

#[test]
fn cycle_is_refused_and_named() {
    let kernel = Kernel::new();
    let store = DirStore::with("cycle", &["cycle_x", "cycle_y"]);
    let err = kernel.mgr.modprobe("cycle_x", &store).unwrap_err();
    assert_eq!(
        err,
        KmodError::DependencyCycle {
            cycle: vec!["cycle_x".into(), "cycle_y".into(), "cycle_x".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle: cycle_x -> cycle_y -> cycle_x"
    );
    assert!(kernel.mgr.modules().is_empty(), "nothing of a cycle loads");
    assert_eq!(kernel.held(), (0, 0));
}

#[test]
fn missing_dependency_is_named() {
    let kernel = Kernel::new();
    let store = DirStore::with("ghost", &["needs_ghost"]);
    let err = kernel.mgr.modprobe("needs_ghost", &store).unwrap_err();
    assert_eq!(
        err,
        KmodError::MissingDependency {
            module: "needs_ghost".into(),
            dependency: "ghost".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "module `ghost` needed by `needs_ghost` not found"
    );

    // A missing top-level module names itself.
    let err = kernel.mgr.modprobe("nowhere", &store).unwrap_err();
    assert_eq!(
        err,
        KmodError::MissingDependency {
            module: "nowhere".into(),
            dependency: "nowhere".into(),
        }
    );
    assert!(kernel.mgr.modules().is_empty());
    assert_eq!(kernel.held(), (0, 0));
}

#[test]
fn failed_modprobe_removes_the_dependencies_it_loaded() {
    let kernel = Kernel::new();
    let store = DirStore::with("rollback", &["chardev", "failinit"]);
    let err = kernel.mgr.modprobe("failinit", &store).unwrap_err();
    assert_eq!(
        err,
        KmodError::InitFailed {
            module: "failinit".into(),
            code: -22,
        }
    );
    assert_eq!(
        take_log(),
        ["chardev: init", "failinit: init", "chardev: exit"]
    );
    assert!(kernel.mgr.modules().is_empty());
    assert_eq!(kernel.held(), (0, 0));

    // A dependency that was already loaded stays.
    let chardev = kernel.load("chardev");
    take_log();
    assert!(kernel.mgr.modprobe("failinit", &store).is_err());
    assert_eq!(take_log(), ["failinit: init"]);
    assert_eq!(kernel.mgr.modhandle("chardev"), Some(chardev));
}

#[test]
fn consumer_pulls_in_chardev() {
    let kernel = Kernel::new();
    let store = DirStore::with("pair", &["chardev", "consumer"]);
    kernel.mgr.modprobe("consumer", &store).unwrap();
    assert_eq!(
        take_log(),
        ["chardev: init", "consumer: init", "chardev: registered"]
    );
    let chardev = kernel.handle("chardev");
    assert_eq!(
        common::chardev_read(&kernel, chardev, 0).as_deref(),
        Ok("hello from consumer")
    );
}

/// A `depends=` chain far deeper than a kernel stack could recurse loads
/// on a 16 KiB stack, bottom up, and every module is removable after.
#[test]
fn a_deep_chain_loads_on_a_small_stack() {
    const LINKS: usize = 500;
    const STACK: usize = 16 * 1024;
    let kernel = Kernel::new();
    let store = ChainStore::new(LINKS);
    let top = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .stack_size(STACK)
            .spawn_scoped(scope, || kernel.mgr.modprobe("L000000", &store))
            .expect("spawn")
            .join()
            .expect("modprobe overflowed a 16 KiB stack")
    })
    .expect("the chain loads");
    let modules = kernel.mgr.modules();
    assert_eq!(modules.len(), LINKS);
    assert_eq!(
        modules[0].name,
        format!("L{:06}", LINKS - 1),
        "deepest first"
    );
    assert_eq!(kernel.mgr.modhandle("L000000"), Some(top));
}

/// A module that declares no `depends=` loads after what the store's
/// `modules.dep` lists for it; without the index its imports stay
/// unresolved and nothing is left loaded.
#[test]
fn modules_dep_gives_dependencies_modinfo_does_not() {
    let kernel = Kernel::new();
    let store = DirStore::with("depfile", &["chardev", "reader"]);
    let err = kernel.mgr.modprobe("reader", &store).unwrap_err();
    assert!(
        err.to_string().contains("undefined symbol `chardev_count`"),
        "{err}"
    );
    assert!(kernel.mgr.modules().is_empty());

    store.write_index("# written by depmod\nchardev:\nreader: chardev\n");
    let reader = kernel.mgr.modprobe("reader", &store).unwrap();
    assert_eq!(take_log(), ["chardev: init", "reader: init"]);
    let uses = &kernel.mgr.modules()[1];
    assert_eq!(
        (uses.name.as_str(), uses.uses.clone()),
        ("reader", vec!["chardev".to_string()])
    );
    assert_eq!(kernel.mgr.modhandle("reader"), Some(reader));
}

/// The index wins over `.modinfo`: a module it lists with no dependencies
/// is loaded alone, even if its `depends=` names others.
#[test]
fn modules_dep_is_read_before_modinfo() {
    let kernel = Kernel::new();
    let store = DirStore::with("depfirst", &["chain_a", "chain_b", "chain_c"]);
    store.write_index("chain_c:\nchain_b: chain_c\n");
    // chain_a is not listed: its depends= is read, and chain_b's index line.
    kernel.mgr.modprobe("chain_a", &store).unwrap();
    assert_eq!(
        take_log(),
        ["chain_c: init", "chain_b: init", "chain_a: init"]
    );
    kernel.unload_all();
    take_log();
    // Listed without dependencies: modprobe does not load chain_c first,
    // and chain_b's own import of it fails.
    store.write_index("chain_b:\n");
    assert!(kernel.mgr.modprobe("chain_b", &store).is_err());
    assert!(take_log().is_empty());
}
