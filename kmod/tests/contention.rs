//! Contention, made deterministic: a module's init or exit (through the
//! test kernel's `race_hook`) or the memory a load asks for (a gate) holds
//! one operation in the middle while another runs. `modprobe` holds the
//! modules it needs, waits for one another caller is loading or removing
//! (loading it again if it went), and a load in flight pins only the
//! modules it binds, so an idle module stays removable.

mod common;

use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{kfree, klog, kmalloc, memcpy, module, strlen, take_log, DirStore, Mem, KERNEL_TICKS};
use modlib::{Memory, MemoryError, Protection, Reservation};
use modlib_kmod::{KernelTable, KmodError, ModuleManager};

/// What `race_hook` does on a thread, besides logging.
type Hook = Box<dyn FnMut(&str)>;

thread_local! {
    static HOOK: RefCell<Option<Hook>> = RefCell::new(None);
}

/// Kernel function for the fixtures: logs `where`, then runs this
/// thread's hook.
extern "C" fn race_hook(place: *const c_char) {
    klog(place);
    // SAFETY: modules pass NUL-terminated strings.
    let place = unsafe { CStr::from_ptr(place) }.to_string_lossy();
    if let Some(mut hook) = HOOK.with(|h| h.borrow_mut().take()) {
        hook(&place);
        HOOK.with(|h| *h.borrow_mut() = Some(hook));
    }
}

/// Sets this thread's hook.
fn on_hook(hook: impl FnMut(&str) + 'static) {
    HOOK.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
}

modlib_kmod::export_symbols!(RACE_KERNEL = [
    fn klog,
    fn kmalloc,
    fn kfree,
    fn memcpy,
    fn strlen,
    data KERNEL_TICKS,
    fn race_hook,
]);

fn manager<M: Memory + Clone>(memory: M) -> Arc<ModuleManager<M>> {
    let table = KernelTable::new(RACE_KERNEL).expect("unique kernel symbols");
    Arc::new(ModuleManager::new(memory, table).with_wait(std::thread::yield_now, 1 << 20))
}

/// A one-way signal between threads.
#[derive(Clone, Default)]
struct Flag(Arc<AtomicBool>);

impl Flag {
    fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn is_up(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
    fn wait(&self) {
        while !self.is_up() {
            std::thread::yield_now();
        }
    }
}

/// Gives a thread held in a hook time to be overtaken: a test passes
/// however long this is, and fails on the behaviour it guards against only
/// if the other thread got there first.
fn pause() {
    std::thread::sleep(Duration::from_millis(50));
}

/// The fixtures this file probes, in a store of the test's own (`tag`).
fn store(tag: &str) -> DirStore {
    DirStore::with(
        tag,
        &["slow_base", "slow_user", "race_top", "chain_b", "chain_c"],
    )
}

/// The modules' names, in load order.
fn names<M: Memory + Clone>(mgr: &ModuleManager<M>) -> Vec<String> {
    mgr.modules().into_iter().map(|m| m.name).collect()
}

/// A dependency another caller tries to remove while `modprobe` loads the
/// modules that need it stays (it is held), and the probe succeeds; it
/// used to be removed, and the next load failed with UndefinedSymbol.
#[test]
fn a_dependency_stays_while_modprobe_needs_it() {
    let memory = common::memory();
    let mgr = manager(memory.clone());
    let store = store("held");
    let chain_c = mgr.insmod(&module("chain_c"), "chain_c").unwrap();
    take_log();
    // modprobe race_top: chain_c is live and needed (by chain_b); slow_base
    // loads first, and its init tries to remove chain_c.
    let refused = Arc::new(std::sync::Mutex::new(None));
    on_hook({
        let (mgr, refused) = (mgr.clone(), refused.clone());
        move |place| {
            if place == "slow_base: init" {
                *refused.lock().unwrap() = Some(mgr.rmmod(chain_c));
            }
        }
    });
    let top = mgr.modprobe("race_top", &store);
    HOOK.with(|h| h.borrow_mut().take());
    let top = top.unwrap_or_else(|e| panic!("modprobe race_top: {e}"));
    assert_eq!(
        refused.lock().unwrap().take(),
        Some(Err(KmodError::Busy {
            module: "chain_c".into(),
            users: vec![],
            refcount: 1
        })),
        "modprobe holds chain_c while it loads chain_b"
    );
    // SAFETY: `int race_top_value(void)`; race_top stays loaded.
    let value: extern "C" fn() -> i32 = unsafe { common::export(&mgr, top, "race_top_value") };
    assert_eq!(value(), 11 + 23);
    let list = mgr.modules();
    assert!(list.iter().all(|m| m.refcount == 0), "{list:?}");
    let chain_b = list.iter().find(|m| m.name == "chain_b").unwrap();
    assert_eq!(chain_b.uses, ["chain_c"]);
    common::unload_all(&*mgr);
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}

/// `modprobe` of a module whose dependency another thread is loading waits
/// for that load and binds to it; it used to fail with `Exists`.
#[test]
fn modprobe_waits_for_a_dependency_still_loading() {
    let memory = common::memory();
    let mgr = manager(memory.clone());
    let store = store("loading");
    let (entered, open) = (Flag::default(), Flag::default());
    let image = module("slow_base");
    let loader = std::thread::spawn({
        let (mgr, entered, open) = (mgr.clone(), entered.clone(), open.clone());
        move || {
            on_hook(move |_| {
                entered.raise();
                open.wait();
            });
            let result = mgr.insmod(&image, "slow_base").map(|_| ());
            (result, take_log())
        }
    });
    entered.wait();
    let prober = std::thread::spawn({
        let mgr = mgr.clone();
        move || {
            let result = mgr.modprobe("slow_user", &store).map(|_| ());
            (result, take_log())
        }
    });
    pause();
    open.raise();
    let (loaded, loader_log) = loader.join().unwrap();
    let (probed, prober_log) = prober.join().unwrap();
    assert_eq!(loaded, Ok(()));
    assert_eq!(probed, Ok(()), "modprobe waited for slow_base");
    assert_eq!(loader_log, ["slow_base: init"]);
    assert!(
        prober_log.is_empty(),
        "slow_base loaded once: {prober_log:?}"
    );
    assert_eq!(names(&mgr), ["slow_base", "slow_user"]);
    common::unload_all(&*mgr);
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}

/// `modprobe` of a module whose dependency another thread is removing
/// waits for the removal and loads the dependency again; it used to fail
/// with `Exists`.
#[test]
fn modprobe_loads_again_a_dependency_being_removed() {
    let memory = common::memory();
    let mgr = manager(memory.clone());
    let store = store("removing");
    let base = mgr.insmod(&module("slow_base"), "slow_base").unwrap();
    take_log();
    let (entered, open) = (Flag::default(), Flag::default());
    let remover = std::thread::spawn({
        let (mgr, entered, open) = (mgr.clone(), entered.clone(), open.clone());
        move || {
            on_hook(move |_| {
                entered.raise();
                open.wait();
            });
            mgr.rmmod(base)
        }
    });
    entered.wait();
    let prober = std::thread::spawn({
        let mgr = mgr.clone();
        move || {
            let result = mgr.modprobe("slow_user", &store).map(|_| ());
            (result, take_log())
        }
    });
    pause();
    open.raise();
    assert_eq!(remover.join().unwrap(), Ok(()));
    let (probed, prober_log) = prober.join().unwrap();
    assert_eq!(probed, Ok(()), "modprobe waited and loaded slow_base again");
    assert_eq!(prober_log, ["slow_base: init"]);
    assert_eq!(names(&mgr), ["slow_base", "slow_user"]);
    assert_ne!(mgr.modhandle("slow_base"), Some(base));
    common::unload_all(&*mgr);
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}

/// A wait that cannot end (a module's init probing a module that needs
/// it) gives up after the manager's bound with `Loading` instead of
/// hanging.
#[test]
fn a_wait_on_itself_ends_at_the_bound() {
    let memory = common::memory();
    let table = KernelTable::new(RACE_KERNEL).expect("unique kernel symbols");
    let mgr = Arc::new(ModuleManager::new(memory.clone(), table).with_wait(|| {}, 1000));
    let store = Arc::new(store("itself"));
    let inner = Arc::new(std::sync::Mutex::new(None));
    on_hook({
        let (mgr, store, inner) = (mgr.clone(), store.clone(), inner.clone());
        move |place| {
            if place == "slow_base: init" {
                *inner.lock().unwrap() = Some(mgr.modprobe("slow_user", &*store).map(|_| ()));
            }
        }
    });
    let outer = mgr.insmod(&module("slow_base"), "slow_base").map(|_| ());
    HOOK.with(|h| h.borrow_mut().take());
    assert_eq!(outer, Ok(()));
    assert_eq!(
        inner.lock().unwrap().take(),
        Some(Err(KmodError::Loading {
            module: "slow_base".into()
        }))
    );
    assert_eq!(names(&mgr), ["slow_base"]);
    take_log();
    common::unload_all(&*mgr);
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}

/// Memory whose first `protect` after [`Gate::arm`] (relocation is done
/// by then) waits until the gate opens: a load held in flight.
#[derive(Clone)]
struct Gated {
    inner: Mem,
    gate: Gate,
}

#[derive(Clone, Default)]
struct Gate {
    armed: Flag,
    entered: Flag,
    open: Flag,
}

impl Gate {
    fn arm(&self) {
        self.armed.raise();
    }
}

impl Memory for Gated {
    fn page_size(&self) -> usize {
        self.inner.page_size()
    }
    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        self.inner.reserve(size, align)
    }
    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        self.inner.commit(res, offset, len)
    }
    fn reserve_committed(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        self.inner.reserve_committed(size, align)
    }
    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        if self.gate.armed.0.swap(false, Ordering::SeqCst) {
            self.gate.entered.raise();
            self.gate.open.wait();
        }
        self.inner.protect(res, offset, len, prot)
    }
    fn sync_icache(&self, res: &Reservation, offset: usize, len: usize) {
        self.inner.sync_icache(res, offset, len);
    }
    fn release(&self, res: Reservation) {
        self.inner.release(res);
    }
}

/// Starts `insmod name` on another thread and returns once it is held in
/// flight, relocated, at the gate.
fn held_load(
    mgr: &Arc<ModuleManager<Gated>>,
    gate: &Gate,
    name: &'static str,
) -> std::thread::JoinHandle<Result<(), KmodError>> {
    // Compiled first: a compiler forked while other threads run can hang
    // under qemu-user.
    let image = module(name);
    gate.arm();
    let handle = std::thread::spawn({
        let mgr = mgr.clone();
        move || mgr.insmod(&image, name).map(|_| ())
    });
    gate.entered.wait();
    handle
}

/// An idle module that a load in flight does not bind is removable at
/// once; it used to be refused with `Loading`, since every load pinned
/// every live module.
#[test]
fn an_idle_module_is_removable_while_another_loads() {
    let memory = common::memory();
    let gate = Gate::default();
    let mgr = manager(Gated {
        inner: memory.clone(),
        gate: gate.clone(),
    });
    let quiet = mgr.insmod(&module("quiet"), "quiet").unwrap();
    let loading = held_load(&mgr, &gate, "ticker");
    assert_eq!(mgr.rmmod(quiet), Ok(()));
    gate.open.raise();
    assert_eq!(loading.join().unwrap(), Ok(()));
    assert_eq!(names(&mgr), ["ticker"]);
    common::unload_all(&*mgr);
    take_log();
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}

/// A module a load in flight has bound is not removed under it.
#[test]
fn a_provider_bound_by_a_load_in_flight_stays() {
    let memory = common::memory();
    let gate = Gate::default();
    let mgr = manager(Gated {
        inner: memory.clone(),
        gate: gate.clone(),
    });
    let chardev = mgr.insmod(&module("chardev"), "chardev").unwrap();
    let loading = held_load(&mgr, &gate, "consumer");
    assert_eq!(
        mgr.rmmod(chardev),
        Err(KmodError::Loading {
            module: "chardev".into()
        })
    );
    gate.open.raise();
    assert_eq!(loading.join().unwrap(), Ok(()));
    let list = mgr.modules();
    let consumer = list.iter().find(|m| m.name == "consumer").unwrap();
    assert_eq!(consumer.uses, ["chardev"]);
    assert!(matches!(mgr.rmmod(chardev), Err(KmodError::Busy { .. })));
    common::unload_all(&*mgr);
    take_log();
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}
