//! Concurrency: four threads insmod, rmmod, modprobe and call into modules
//! at random, and make loads that must fail. Every answer is checked: only
//! the refusals racing threads legitimately get occur, a `modprobe` of the
//! three-module chain always succeeds (a dependency another thread is
//! loading or removing is waited for or loaded again, never missing), a
//! failing load fails for its own reason, and a thread's own module, which
//! nothing binds, is always removable. Afterwards the registry is
//! consistent, and once all modules are gone no memory is held.
//!
//! The run is bounded by operation count, not time: `STRESS_OPS` sets the
//! operations per thread (default 1000, 250 when emulated on another
//! machine), e.g. `STRESS_OPS=100000 cargo test -p kmod --release --test
//! stress -- --nocapture` for a long run.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use testkit::Rng;

use common::{export, module, DirStore, Mem, TICKS};
use modlib::LoadError;
use modlib_kmod::{KmodError, ModHandle, ModuleManager, ModuleState};
use testkit::Compiler;

const THREADS: usize = 4;
/// chardev/consumer are a provider/user pair; the rest are independent.
const MODULES: [&str; 5] = ["chardev", "consumer", "ticker", "counter", "quiet"];
/// A `depends=` chain: chain_a needs chain_b, which needs chain_c.
const CHAIN: [&str; 3] = ["chain_a", "chain_b", "chain_c"];

/// Operations per thread: `STRESS_OPS`, else a default that keeps the run
/// to a few seconds (natively, and under qemu-user).
fn ops_per_thread() -> usize {
    testkit::stress::ops_per_thread(1000, 250)
}

#[derive(Default)]
struct Tally {
    loaded: AtomicUsize,
    removed: AtomicUsize,
    called: AtomicUsize,
    probed: AtomicUsize,
    failed_as_expected: AtomicUsize,
    refused: AtomicUsize,
}

/// Whether `e` is one of the refusals racing threads legitimately get.
fn expected(e: &KmodError) -> bool {
    matches!(
        e,
        KmodError::Exists { .. }
            | KmodError::Busy { .. }
            | KmodError::Loading { .. }
            | KmodError::NotFound { .. }
    )
}

struct World {
    mgr: ModuleManager<Mem>,
    images: Vec<(&'static str, Vec<u8>)>,
    store: DirStore,
    /// Thread `t`'s own module, loaded as `own<t>`.
    own: Vec<Vec<u8>>,
    missing: Vec<u8>,
    badabi: Vec<u8>,
    tally: Tally,
}

impl World {
    fn check(&self, what: &str, result: Result<(), KmodError>) {
        match result {
            Ok(()) => {}
            Err(e) if expected(&e) => {
                self.tally.refused.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => panic!("{what}: unexpected error {e:?}"),
        }
    }

    fn insmod(&self, index: usize) {
        let (name, image) = &self.images[index];
        // consumer needs chardev: hold a reference on it across the load so
        // that it cannot go away meanwhile; without chardev, load that.
        let provider = if *name == "consumer" {
            match self.mgr.modhandle("chardev") {
                Some(h) if self.mgr.module_get(h).is_ok() => Some(h),
                _ => return self.insmod(0),
            }
        } else {
            None
        };
        let result = self.mgr.insmod(image, name).map(|_| {
            self.tally.loaded.fetch_add(1, Ordering::Relaxed);
        });
        if let Some(h) = provider {
            self.mgr.module_put(h).expect("our reference on chardev");
        }
        self.check(&format!("insmod {name}"), result);
    }

    fn rmmod(&self, name: &str) {
        let Some(h) = self.mgr.modhandle(name) else {
            return;
        };
        let result = self.mgr.rmmod(h).map(|()| {
            self.tally.removed.fetch_add(1, Ordering::Relaxed);
        });
        self.check(&format!("rmmod {name}"), result);
    }

    /// Takes a reference, looks up an export, calls it, checks the answer.
    fn call(&self, name: &str) {
        let Some(h) = self.mgr.modhandle(name) else {
            return;
        };
        if let Err(e) = self.mgr.module_get(h) {
            return self.check(&format!("module_get {name}"), Err(e));
        }
        self.call_held(name, h);
        self.mgr.module_put(h).expect("our reference");
        self.tally.called.fetch_add(1, Ordering::Relaxed);
    }

    fn call_held(&self, name: &str, h: ModHandle) {
        // SAFETY (each call): the types are the C signatures of the
        // fixtures' exports, and our reference keeps the module loaded.
        match name {
            "chardev" => {
                // SAFETY: see above.
                let count: extern "C" fn() -> i32 =
                    unsafe { export(&self.mgr, h, "chardev_count") };
                assert!((0..=1).contains(&count()), "chardev_count");
            }
            "consumer" => {
                // SAFETY: see above.
                let major: extern "C" fn() -> i32 =
                    unsafe { export(&self.mgr, h, "consumer_major") };
                // SAFETY: see above.
                let minor: extern "C" fn() -> i32 =
                    unsafe { export(&self.mgr, h, "consumer_minor") };
                assert_eq!((major(), minor()), (42, 0));
            }
            "ticker" => {
                // SAFETY: see above.
                let read: extern "C" fn() -> usize = unsafe { export(&self.mgr, h, "ticker_read") };
                assert_eq!(read(), TICKS);
            }
            "counter" => {
                // SAFETY: see above.
                let next: extern "C" fn() -> isize =
                    unsafe { export(&self.mgr, h, "counter_next") };
                assert!(next() > 1000);
            }
            "quiet" => {
                // SAFETY: see above.
                let id: extern "C" fn() -> i32 = unsafe { export(&self.mgr, h, "quiet_id") };
                assert_eq!(id(), 7);
            }
            "chain_a" => {
                // SAFETY: see above.
                let value: extern "C" fn() -> i32 =
                    unsafe { export(&self.mgr, h, "chain_a_value") };
                assert_eq!(value(), 123);
            }
            "chain_b" => {
                // SAFETY: see above.
                let value: extern "C" fn() -> i32 =
                    unsafe { export(&self.mgr, h, "chain_b_value") };
                assert_eq!(value(), 23);
            }
            "chain_c" => {
                // SAFETY: see above.
                let value: extern "C" fn() -> i32 =
                    unsafe { export(&self.mgr, h, "chain_c_value") };
                assert_eq!(value(), 3);
            }
            _ => unreachable!("{name}"),
        }
        assert!(
            matches!(
                self.mgr.modsym(h, "__kmod_init"),
                Err(KmodError::SymbolNotExported { .. })
            ),
            "only exports are visible"
        );
    }

    /// modprobe of the chain's top always succeeds, whatever other threads
    /// do to its modules meanwhile; the module it names answers.
    fn modprobe_chain(&self) {
        let handle = self
            .mgr
            .modprobe("chain_a", &self.store)
            .unwrap_or_else(|e| panic!("modprobe chain_a: {e:?}"));
        self.tally.probed.fetch_add(1, Ordering::Relaxed);
        // Another thread may remove it at once; if not, it works.
        if self.mgr.module_get(handle).is_ok() {
            self.call_held("chain_a", handle);
            self.mgr.module_put(handle).expect("our reference");
            self.tally.called.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A load that must fail, for its own reason only.
    fn failing_load(&self, thread: usize, which: usize) {
        match which {
            0 => {
                // failinit binds chardev (loaded first if need be) and
                // fails its init; what the modprobe loaded goes again.
                let err = self.mgr.modprobe("failinit", &self.store).unwrap_err();
                assert_eq!(
                    err,
                    KmodError::InitFailed {
                        module: "failinit".into(),
                        code: -22
                    }
                );
            }
            1 => {
                let name = format!("missing{thread}");
                let err = self.mgr.insmod(&self.missing, &name).unwrap_err();
                assert!(
                    matches!(
                        &err,
                        KmodError::Load {
                            module,
                            source: LoadError::UndefinedSymbol { name: symbol, .. },
                        } if *module == name && symbol == "no_such_kernel_function"
                    ),
                    "{err:?}"
                );
            }
            _ => {
                let err = self
                    .mgr
                    .insmod(&self.badabi, &format!("badabi{thread}"))
                    .unwrap_err();
                assert!(matches!(err, KmodError::AbiMismatch { .. }), "{err:?}");
            }
        }
        self.tally
            .failed_as_expected
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The thread's own module: loads, answers, and is removed, each
    /// without refusal (nothing else binds to it).
    fn own_module(&self, thread: usize) {
        let name = format!("own{thread}");
        let handle = self
            .mgr
            .insmod(&self.own[thread], &name)
            .unwrap_or_else(|e| panic!("insmod {name}: {e:?}"));
        self.tally.loaded.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `int own_value_<t>(void)`; the module is ours until we
        // remove it below.
        let value: extern "C" fn() -> i32 =
            unsafe { export(&self.mgr, handle, &format!("own_value_{thread}")) };
        assert_eq!(value(), 1000 + thread as i32);
        self.mgr
            .rmmod(handle)
            .unwrap_or_else(|e| panic!("rmmod {name}, idle and bound by nobody: {e:?}"));
        self.tally.removed.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every module is live, `used_by` mirrors `uses`, names are unique, and
/// `modhandle` agrees with the listing.
fn assert_consistent(mgr: &ModuleManager<Mem>) {
    let list = mgr.modules();
    let names: BTreeSet<&str> = list.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names.len(), list.len(), "duplicate names in {list:?}");
    let mut users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in &list {
        assert_eq!(m.state, ModuleState::Live, "{}", m.name);
        assert_eq!(m.refcount, 0, "{}: references leaked", m.name);
        for used in &m.uses {
            assert!(
                names.contains(used.as_str()),
                "{} uses absent {used}",
                m.name
            );
            users
                .entry(used.as_str())
                .or_default()
                .insert(m.name.as_str());
        }
    }
    for m in &list {
        let by: BTreeSet<&str> = m.used_by.iter().map(String::as_str).collect();
        assert_eq!(
            by,
            users.remove(m.name.as_str()).unwrap_or_default(),
            "{}",
            m.name
        );
        assert!(
            mgr.modhandle(&m.name).is_some(),
            "{} listed but no handle",
            m.name
        );
    }
    for name in MODULES.iter().chain(&CHAIN) {
        assert_eq!(
            mgr.modhandle(name).is_some(),
            names.contains(name),
            "{name}"
        );
    }
    for (user, provider) in [
        ("consumer", "chardev"),
        ("chain_a", "chain_b"),
        ("chain_b", "chain_c"),
    ] {
        if let Some(m) = list.iter().find(|m| m.name == user) {
            assert_eq!(m.uses, [provider]);
        }
    }
    assert!(
        !names.iter().any(|n| n.starts_with("own")
            || n.starts_with("missing")
            || n.starts_with("badabi")
            || *n == "failinit"),
        "{names:?}"
    );
}

#[test]
fn random_operations_from_four_threads() {
    let memory = common::memory();
    let gcc = Compiler::host_gcc();
    let world = Arc::new(World {
        mgr: ModuleManager::new(memory.clone(), common::kernel_table())
            .with_wait(std::thread::yield_now, modlib_kmod::DEFAULT_WAIT_ROUNDS),
        images: MODULES.iter().map(|&n| (n, module(n))).collect(),
        store: DirStore::with(
            "stress",
            &["chain_a", "chain_b", "chain_c", "chardev", "failinit"],
        ),
        own: (0..THREADS)
            .map(|t| common::module_with_flags(&gcc, "own", "-O2", &[&format!("-DOWN={t}")]))
            .collect(),
        missing: module("missing"),
        badabi: module("badabi"),
        tally: Tally::default(),
    });
    let ops = ops_per_thread();

    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (world, start) = (world.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut rng = Rng::for_thread(t);
                for _ in 0..ops {
                    let index = rng.below(MODULES.len());
                    match rng.below(9) {
                        0 => world.insmod(index),
                        1 => world.rmmod(MODULES[index]),
                        2 => world.call(MODULES[index]),
                        3 | 4 => world.modprobe_chain(),
                        5 => world.rmmod(CHAIN[rng.below(CHAIN.len())]),
                        6 => world.call(CHAIN[rng.below(CHAIN.len())]),
                        7 => world.failing_load(t, rng.below(3)),
                        _ => world.own_module(t),
                    }
                }
                common::take_log();
            })
        })
        .collect();
    let mut panics = Vec::new();
    for t in threads {
        if let Err(payload) = t.join() {
            panics.push(
                payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_default(),
            );
        }
    }
    assert!(panics.is_empty(), "worker threads failed: {panics:#?}");

    let tally = &world.tally;
    let count = |c: &AtomicUsize| c.load(Ordering::Relaxed);
    let (loaded, removed, called, probed) = (
        count(&tally.loaded),
        count(&tally.removed),
        count(&tally.called),
        count(&tally.probed),
    );
    eprintln!(
        "stress: {loaded} loads, {removed} removals, {called} calls, {probed} modprobes, {} \
         failing loads, {} expected refusals",
        count(&tally.failed_as_expected),
        count(&tally.refused)
    );
    let enough = ops / 20;
    assert!(
        loaded > enough && removed > enough && called > enough && probed > enough,
        "the stress did little"
    );

    assert_consistent(&world.mgr);
    common::unload_all(&world.mgr);
    assert!(world.mgr.modules().is_empty());
    assert_eq!(memory.live_bytes(), 0);
    assert_eq!(memory.live_reservations(), 0);
}
