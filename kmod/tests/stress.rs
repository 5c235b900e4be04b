//! Concurrency: threads insmod, rmmod and call into modules at random; only
//! the expected refusals occur, the registry stays consistent, and once all
//! modules are gone no memory is held.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use common::{export, module, Mem, TICKS};
use modlib_kmod::{KmodError, ModHandle, ModuleManager, ModuleState};

const THREADS: u64 = 4;
const OPS_PER_THREAD: usize = 1000;
/// chardev/consumer are a provider/user pair; the rest are independent.
const MODULES: [&str; 5] = ["chardev", "consumer", "ticker", "counter", "quiet"];

/// xorshift64: fixed seeds make every run pick the same operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Default)]
struct Tally {
    loaded: AtomicUsize,
    removed: AtomicUsize,
    called: AtomicUsize,
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

    fn rmmod(&self, index: usize) {
        let name = self.images[index].0;
        let Some(h) = self.mgr.modhandle(name) else {
            return;
        };
        let result = self.mgr.rmmod(h).map(|()| {
            self.tally.removed.fetch_add(1, Ordering::Relaxed);
        });
        self.check(&format!("rmmod {name}"), result);
    }

    /// Takes a reference, looks up an export, calls it, checks the answer.
    fn call(&self, index: usize) {
        let name = self.images[index].0;
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
            _ => unreachable!(),
        }
        assert!(
            matches!(
                self.mgr.modsym(h, "__kmod_init"),
                Err(KmodError::SymbolNotExported { .. })
            ),
            "only exports are visible"
        );
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
    for name in MODULES {
        assert_eq!(
            mgr.modhandle(name).is_some(),
            names.contains(name),
            "{name}"
        );
    }
    if names.contains("consumer") {
        let consumer = list.iter().find(|m| m.name == "consumer").unwrap();
        assert_eq!(consumer.uses, ["chardev"]);
    }
}

#[test]
fn random_insmod_rmmod_modsym_from_four_threads() {
    let memory = common::memory();
    let world = Arc::new(World {
        mgr: ModuleManager::new(memory.clone(), common::kernel_table()),
        images: MODULES.iter().map(|&n| (n, module(n))).collect(),
        tally: Tally::default(),
    });

    let start = Arc::new(Barrier::new(THREADS as usize));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (world, start) = (world.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut rng =
                    Rng(0x9e37_79b9_7f4a_7c15 ^ (t + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
                for _ in 0..OPS_PER_THREAD {
                    let index = rng.below(MODULES.len());
                    match rng.below(3) {
                        0 => world.insmod(index),
                        1 => world.rmmod(index),
                        _ => world.call(index),
                    }
                }
                common::take_log();
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread");
    }

    let tally = &world.tally;
    let (loaded, removed, called) = (
        tally.loaded.load(Ordering::Relaxed),
        tally.removed.load(Ordering::Relaxed),
        tally.called.load(Ordering::Relaxed),
    );
    eprintln!(
        "stress: {loaded} loads, {removed} removals, {called} calls, {} expected refusals",
        tally.refused.load(Ordering::Relaxed)
    );
    assert!(
        loaded > 100 && removed > 100 && called > 100,
        "the stress did little"
    );
    assert!(
        tally.refused.load(Ordering::Relaxed) > 0,
        "no races were provoked"
    );

    assert_consistent(&world.mgr);
    assert_eq!(loaded - removed, world.mgr.modules().len());
    common::unload_all(&world.mgr);
    assert!(world.mgr.modules().is_empty());
    assert_eq!(memory.live_bytes(), 0);
    assert_eq!(memory.live_reservations(), 0);
}
