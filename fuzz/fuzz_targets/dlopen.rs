//! Feeds arbitrary shared objects to `dl-core`'s linker, the code behind
//! every image's `dlopen`: the input is served as `/fuzz/fuzzed.so` (and as any
//! library it names in `DT_NEEDED`), opened, and if the open succeeds its
//! symbols are looked up, an address in it described (`dladdr`) and the
//! handle closed. Checks: no panic, and after a refused open or a close,
//! nothing loaded and every byte of memory given back.
//!
//! Code from the input never runs: the linker loads for a machine other
//! than this process's, whose initialisers and IFUNC resolvers the loader
//! refuses to call.
#![no_main]

use std::sync::Arc;

use dl_core::{ErrorSlot, FileError, Flags, Linker, Platform};
use modlib::Machine;
use testkit::{CountingMemory, HostMemory, Placement};

libfuzzer_sys::fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    modlib_fuzz::mutate(data, size, max_size, seed)
});

/// A system with one file, the input, under every name.
struct Fuzzed {
    file: Vec<u8>,
    memory: Arc<CountingMemory<HostMemory>>,
    machine: Machine,
}

impl Platform for Fuzzed {
    type Memory = Arc<CountingMemory<HostMemory>>;

    fn memory(&self) -> Self::Memory {
        Arc::clone(&self.memory)
    }
    fn read_file(&self, _path: &str) -> Result<Vec<u8>, FileError> {
        Ok(self.file.clone())
    }
    fn exists(&self, _path: &str) -> bool {
        true
    }
    fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot)) {
        f(&mut ErrorSlot::new());
    }
    fn thread_id(&self) -> u64 {
        1
    }
    fn yield_now(&self) {}
    fn machine(&self) -> Machine {
        self.machine
    }
    fn max_image_size(&self) -> Option<usize> {
        Some(64 << 20)
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let machine = if Machine::host() == Some(Machine::Aarch64) {
        Machine::X86_64
    } else {
        Machine::Aarch64
    };
    let memory = Arc::new(CountingMemory::new(HostMemory::new(Placement::Low2G)));
    let linker = Linker::new(Fuzzed {
        file: data.to_vec(),
        memory: Arc::clone(&memory),
        machine,
    });
    if let Ok(handle) = linker.open(Some("/fuzz/fuzzed.so"), Flags::NOW) {
        for name in ["main", "init", "f", "data", "_start"] {
            if let Ok(address) = linker.symbol(handle, name, 0) {
                std::hint::black_box(linker.address_info(address));
            }
        }
        if let Some(image) = linker.image(handle) {
            std::hint::black_box(linker.address_info(image.base()));
        }
        linker.close(handle).expect("a handle just opened closes");
    }
    assert!(linker.loaded().is_empty(), "an object stayed loaded");
    drop(linker);
    assert_eq!(memory.live_bytes(), 0, "the linker kept memory");
    assert_eq!(
        memory.live_reservations(),
        0,
        "the linker kept a reservation"
    );
});
