//! kmod's module life cycle on RV32: `insmod` of chardev then consumer
//! (consumer binds to chardev's exports and registers a device in its
//! init), `modsym`, `rmmod` refused while in use or referenced, removal
//! in order with the exits undoing the registration, and every heap byte
//! back once the manager is gone.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ffi::c_char;

use kmod::{KernelTable, KmodError, ModHandle, ModuleManager, ModuleState};
use modlib::LoadError;

use crate::fixtures::{CHARDEV, CONSUMER};
use crate::heap::{self, HeapMemory};
use crate::host::{kmalloc_live, take_log, KERNEL_SYMBOLS};
use crate::{ensure, ensure_eq, Fixture, Outcome, Runner};

/// The memory every manager here takes modules from.
static MEMORY: HeapMemory = HeapMemory::new();

type Manager = ModuleManager<&'static HeapMemory>;

fn manager() -> Result<Manager, String> {
    let table = KernelTable::new(KERNEL_SYMBOLS).map_err(|d| alloc::format!("{d:?}"))?;
    Ok(ModuleManager::new(&MEMORY, table))
}

/// `modsym` as a function pointer of type `F`.
///
/// # Safety
/// `F` must be the symbol's C function type, and the module must stay
/// loaded while the result is used.
unsafe fn func<F: Copy>(mgr: &Manager, handle: ModHandle, name: &str) -> Result<F, String> {
    let addr = mgr
        .modsym(handle, name)
        .map_err(|e| alloc::format!("modsym {name}: {e}"))?;
    ensure!(!addr.is_null(), "{name} is null");
    assert_eq!(size_of::<F>(), size_of::<*const ()>());
    // SAFETY: pointer-sized (asserted); the caller vouches for the type.
    Ok(unsafe { core::mem::transmute_copy::<*const (), F>(&addr) })
}

/// Reads device `minor` through chardev's exported `chardev_read`.
fn chardev_read(
    mgr: &Manager,
    chardev: ModHandle,
    minor: i32,
) -> Result<Result<String, i32>, String> {
    // SAFETY: `int chardev_read(int, char *, int)`; chardev stays loaded.
    let read: extern "C" fn(i32, *mut c_char, i32) -> i32 =
        unsafe { func(mgr, chardev, "chardev_read")? };
    let mut buf = [0u8; 64];
    let n = read(minor, buf.as_mut_ptr().cast(), buf.len() as i32);
    if n < 0 {
        return Ok(Err(n));
    }
    let text = core::str::from_utf8(&buf[..n as usize]).map_err(|_| "device data is not UTF-8")?;
    Ok(Ok(String::from(text)))
}

fn strings(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| String::from(*l)).collect()
}

/// The whole life cycle of one chardev/consumer pair.
fn pair(chardev_image: &Fixture, consumer_image: &Fixture) -> Outcome {
    take_log();
    let heap_before = heap::used();
    {
        let mgr = manager()?;
        ensure_eq!(mgr.abi(), "kmod-1 riscv32", "kernel ABI tag");
        let chardev = mgr
            .insmod(chardev_image.bytes, "chardev")
            .map_err(|e| alloc::format!("insmod chardev: {e}"))?;
        ensure_eq!(
            take_log(),
            strings(&["chardev: init"]),
            "log after insmod chardev"
        );
        let consumer = mgr
            .insmod(consumer_image.bytes, "consumer")
            .map_err(|e| alloc::format!("insmod consumer: {e}"))?;
        ensure_eq!(
            take_log(),
            strings(&["consumer: init", "chardev: registered"]),
            "log after insmod consumer"
        );
        ensure_eq!(kmalloc_live(), 1, "chardev keeps the device data");

        // SAFETY: `int (void)` functions of modules that stay loaded here.
        let (minor, major, count) = unsafe {
            (
                func::<extern "C" fn() -> i32>(&mgr, consumer, "consumer_minor")?(),
                func::<extern "C" fn() -> i32>(&mgr, consumer, "consumer_major")?(),
                func::<extern "C" fn() -> i32>(&mgr, chardev, "chardev_count")?(),
            )
        };
        ensure_eq!(
            (minor, major, count),
            (0, 42, 1),
            "minor, exported data, count"
        );
        ensure_eq!(
            chardev_read(&mgr, chardev, minor)?,
            Ok(String::from("hello from consumer")),
            "device 0"
        );
        ensure_eq!(chardev_read(&mgr, chardev, 1)?, Err(-19), "device 1");

        // Not exported, though global.
        ensure_eq!(
            mgr.modsym(chardev, "chardev_reset").err(),
            Some(KmodError::SymbolNotExported {
                module: "chardev".into(),
                symbol: "chardev_reset".into(),
            }),
            "modsym of an unexported symbol"
        );
        let listed: Vec<(String, ModuleState, Vec<String>)> = mgr
            .modules()
            .into_iter()
            .map(|m| (m.name, m.state, m.used_by))
            .collect();
        ensure_eq!(
            listed,
            vec![
                (
                    "chardev".into(),
                    ModuleState::Live,
                    vec![String::from("consumer")]
                ),
                ("consumer".into(), ModuleState::Live, Vec::new()),
            ],
            "lsmod"
        );

        // In use: refused, nothing runs.
        ensure_eq!(
            mgr.rmmod(chardev).err(),
            Some(KmodError::Busy {
                module: "chardev".into(),
                users: vec!["consumer".into()],
                refcount: 0,
            }),
            "rmmod chardev while consumer uses it"
        );
        mgr.module_get(consumer)
            .map_err(|e| alloc::format!("module_get: {e}"))?;
        ensure_eq!(
            mgr.rmmod(consumer).err(),
            Some(KmodError::Busy {
                module: "consumer".into(),
                users: Vec::new(),
                refcount: 1,
            }),
            "rmmod consumer while referenced"
        );
        mgr.module_put(consumer)
            .map_err(|e| alloc::format!("module_put: {e}"))?;
        ensure!(take_log().is_empty(), "an exit ran for a refused rmmod");

        mgr.rmmod(consumer)
            .map_err(|e| alloc::format!("rmmod consumer: {e}"))?;
        ensure_eq!(
            take_log(),
            strings(&["chardev: unregistered", "consumer: exit"]),
            "log after rmmod consumer"
        );
        ensure_eq!(kmalloc_live(), 0, "consumer's exit freed the device");
        ensure_eq!(
            chardev_read(&mgr, chardev, minor)?,
            Err(-19),
            "device 0 after"
        );
        mgr.rmmod(chardev)
            .map_err(|e| alloc::format!("rmmod chardev: {e}"))?;
        ensure_eq!(
            take_log(),
            strings(&["chardev: exit"]),
            "log after rmmod chardev"
        );
        ensure_eq!(
            mgr.modsym(chardev, "chardev_count").err(),
            Some(KmodError::NotFound { name: None }),
            "modsym through a stale handle"
        );
        ensure!(mgr.modules().is_empty(), "modules left");
        ensure_eq!(
            (MEMORY.live_bytes(), MEMORY.live_reservations()),
            (0, 0),
            "module memory held after rmmod"
        );
    }
    ensure_eq!(
        heap::used(),
        heap_before,
        "heap bytes in use after the manager is gone"
    );
    Ok(())
}

/// A truncated module is refused by insmod with the loader's error, and
/// leaves nothing registered.
fn truncated_module() -> Outcome {
    let mgr = manager()?;
    let image = CHARDEV[0].bytes;
    match mgr.insmod(&image[..image.len() / 2], "chardev") {
        Err(KmodError::Load {
            source: LoadError::Malformed { .. },
            ..
        }) => {}
        Err(e) => return Err(alloc::format!("unexpected error {e}")),
        Ok(_) => return Err("a truncated module was inserted".into()),
    }
    ensure!(mgr.modules().is_empty(), "a failed insmod left a module");
    ensure_eq!(MEMORY.live_reservations(), 0, "reservations held");
    Ok(())
}

/// Every pair built alike, some mixed, and the refusal.
pub fn run(runner: &mut Runner) {
    let mut pairs: Vec<(usize, usize)> = (0..CHARDEV.len()).map(|i| (i, i)).collect();
    // Across compilers, code models and object kinds (see build.rs for
    // the order: per compiler -O0/-O2 x non-PIC/PIC, then the .so).
    pairs.extend([(2, 6), (4, 2), (3, 9), (9, 0)]);
    for (c, u) in pairs {
        let name = alloc::format!(
            "kmod lifecycle: {} + {}",
            CHARDEV[c].label,
            CONSUMER[u].label
        );
        runner.check(&name, || pair(&CHARDEV[c], &CONSUMER[u]));
    }
    runner.check(
        "kmod: insmod of a truncated module refused",
        truncated_module,
    );
}
