//! Feeds arbitrary module images to `kmod::ModuleManager::insmod`, with the
//! manager's memory refusing its n-th operation (n from the input's
//! length, so that seed objects are fed whole), and
//! checks what the manager promises on hostile input: no panic, and after
//! a refused `insmod` or an `rmmod`, the registry empty and every byte of
//! memory given back.
//!
//! Code from the input never runs: modules are loaded for a machine other
//! than this process's (aarch64 on other hosts, x86_64 on aarch64), whose
//! initialisers the loader refuses to call, so every load that gets that
//! far fails there and is undone. The manager takes modules without an
//! `abi=` tag (its tag is "none"), so inputs need not carry one.
#![no_main]

use std::sync::Arc;

use kmod::{KernelSymbol, KernelTable, ModuleManager, SymbolKind};
use modlib::Machine;
use testkit::{CountingMemory, HostMemory, Placement};

static SYMBOLS: [KernelSymbol; 2] = [
    KernelSymbol {
        name: "printk",
        address: 0x1000 as *const (),
        kind: SymbolKind::Function,
    },
    KernelSymbol {
        name: "jiffies",
        address: 0x2000 as *const (),
        kind: SymbolKind::Object,
    },
];

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    modlib_fuzz::mutate(data, size, max_size, seed)
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let image = data;
    let selector = data.len() % 33;
    let machine = if Machine::host() == Some(Machine::Aarch64) {
        Machine::X86_64
    } else {
        Machine::Aarch64
    };
    let memory = Arc::new(CountingMemory::new(HostMemory::new(Placement::Low2G)));
    // 0: no failure; otherwise memory operation number `selector - 1`
    // (counting from 0) fails.
    if selector != 0 {
        memory.fail_after(selector - 1);
    }
    let kernel = KernelTable::new(&SYMBOLS).expect("unique names");
    let manager = ModuleManager::with_abi(Arc::clone(&memory), kernel, machine, "none".into())
        .with_max_module_size(Some(64 << 20));
    let name = "fuzzed";
    match manager.insmod(image, name) {
        // Only a foreign module's init could make it live, and that is
        // refused: a success would mean its code ran.
        Ok(handle) => panic!("a module for another machine went live: {handle:?}"),
        Err(_) => {
            assert!(
                manager.modules().is_empty(),
                "a refused module stayed registered"
            );
            assert!(manager.modhandle(name).is_none());
        }
    }
    drop(manager);
    assert_eq!(memory.live_bytes(), 0, "a refused insmod kept memory");
    assert_eq!(
        memory.live_reservations(),
        0,
        "a refused insmod kept a reservation"
    );
});
