//! Feeds arbitrary bytes to `modlib::load` for every machine and checks the
//! invariants the loader promises on hostile input: no panic, no undefined
//! behaviour (under the sanitizer), and every byte of memory given back.
//!
//! Code from the input never runs: shared objects are only loaded for the
//! machines this process is not (their IFUNC resolvers cannot be called),
//! and for the host machine only relocatable objects are loaded.
#![no_main]

use modlib::{
    load, LoadOptions, Machine, ObjectKind, ProviderId, SymbolEntry, SymbolKind, SymbolTable,
};
use testkit::{CountingMemory, HostMemory, Placement};

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    modlib_fuzz::mutate(data, size, max_size, seed)
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let host = SymbolTable::new(
        vec![
            SymbolEntry::new("host_function", 0x1000, SymbolKind::Function),
            SymbolEntry::new("host_data", 0x2000, SymbolKind::Object),
        ],
        ProviderId(1),
    )
    .expect("unique names");
    let memory = CountingMemory::new(HostMemory::new(Placement::Low2G));
    // Every machine, 64-bit and 32-bit (the seeds include ELF32 objects).
    for machine in Machine::ALL {
        let kind = modlib::identify(data, machine);
        if Machine::host() == Some(machine) && kind != Ok(ObjectKind::Relocatable) {
            continue;
        }
        // Lazy binding on (unresolved calls bound to a handler that is
        // never called here), and objects with thread-local storage given a
        // module id, so that those paths meet hostile input too.
        let options = LoadOptions {
            machine,
            lazy_calls: Some(0x3000),
            ..LoadOptions::default()
        };
        drop(load(data, &options, &memory, &host));
        if let Ok(mut mapped) = modlib::map(data, &options, &memory) {
            if mapped.thread_local().is_some() {
                mapped.set_tls_module(1);
                drop(mapped.relocate(&host));
            }
        }
        assert_eq!(memory.live_bytes(), 0, "a load for {machine} kept memory");
    }
});
