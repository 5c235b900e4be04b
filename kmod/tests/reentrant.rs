//! A module's init calls back into the manager (modhandle, modsym) through
//! a kernel function: proof that init runs without the registry lock held.

mod common;

use std::ffi::{c_char, CStr};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use common::{kfree, klog, kmalloc, memcpy, module, strlen, take_log, KERNEL_TICKS};
use modlib_kmod::{KernelTable, ModuleManager};
use testkit::{CountingMemory, HostMemory};

type Manager = ModuleManager<&'static CountingMemory<HostMemory>>;

static MEMORY: OnceLock<CountingMemory<HostMemory>> = OnceLock::new();
static MANAGER: OnceLock<Manager> = OnceLock::new();

/// Kernel service for modules: the address of `symbol` exported by the
/// live module `module`, or null.
extern "C" fn kmod_lookup(module: *const c_char, symbol: *const c_char) -> *const () {
    let Some(mgr) = MANAGER.get() else {
        return std::ptr::null();
    };
    // SAFETY: modules pass NUL-terminated strings.
    let (module, symbol) = unsafe { (CStr::from_ptr(module), CStr::from_ptr(symbol)) };
    let (Ok(module), Ok(symbol)) = (module.to_str(), symbol.to_str()) else {
        return std::ptr::null();
    };
    mgr.modhandle(module)
        .and_then(|h| mgr.modsym(h, symbol).ok())
        .unwrap_or(std::ptr::null())
}

modlib_kmod::export_symbols!(REENTRANT_KERNEL = [
    fn klog,
    fn kmalloc,
    fn kfree,
    fn memcpy,
    fn strlen,
    data KERNEL_TICKS,
    fn kmod_lookup,
]);

fn manager() -> &'static Manager {
    MANAGER.get_or_init(|| {
        let memory: &'static CountingMemory<HostMemory> =
            MEMORY.get_or_init(|| CountingMemory::new(HostMemory::default()));
        ModuleManager::new(memory, KernelTable::new(REENTRANT_KERNEL).expect("unique"))
    })
}

#[test]
fn init_can_call_back_into_the_manager() {
    let mgr = manager();
    mgr.insmod(&module("chardev"), "chardev").unwrap();
    let image = module("reentrant");

    // Run the insmod on another thread: if init ran under the (spin) lock,
    // kmod_lookup would spin forever; fail instead of hanging.
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let outcome = manager().insmod(&image, "reentrant");
        let log = take_log();
        let _ = done.send((outcome, log));
    });
    let (outcome, log) = result
        .recv_timeout(Duration::from_secs(20))
        .expect("insmod deadlocked: init ran with the registry lock held");
    let reentrant = outcome.unwrap_or_else(|e| panic!("insmod reentrant: {e}"));
    assert_eq!(log, ["chardev: registered", "reentrant: init"]);

    // What init registered through the looked-up function is there.
    let chardev = mgr.modhandle("chardev").unwrap();
    let count = mgr.modsym(chardev, "chardev_count").unwrap();
    // SAFETY: `int chardev_count(void)`; chardev stays loaded.
    let count: extern "C" fn() -> i32 = unsafe { std::mem::transmute(count) };
    assert_eq!(count(), 1);
    let minor = mgr.modsym(reentrant, "reentrant_minor").unwrap();
    // SAFETY: `int reentrant_minor(void)`; reentrant stays loaded.
    let minor: extern "C" fn() -> i32 = unsafe { std::mem::transmute(minor) };
    assert_eq!(minor(), 0);
    // kmod_lookup answers from outside init as well, including reentrant now.
    assert_eq!(
        kmod_lookup(c"reentrant".as_ptr(), c"reentrant_minor".as_ptr()),
        mgr.modsym(reentrant, "reentrant_minor").unwrap()
    );

    // Looking up does not create a dependency: chardev shows no user, so
    // reentrant must go first (its exit calls into chardev).
    take_log();
    mgr.rmmod(reentrant).unwrap();
    assert_eq!(count(), 0);
    assert_eq!(take_log(), ["chardev: unregistered", "reentrant: exit"]);
    common::unload_all(mgr);
    let memory = MEMORY.get().unwrap();
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}
