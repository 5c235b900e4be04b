//! The linker: the table of loaded objects of one address space and the
//! POSIX operations on it. One `spin::Mutex` guards the table. Constructors
//! and destructors run with it released, so they may call back in; nothing
//! under it calls into code that could re-enter it (no `std` I/O: the
//! platform reads files with plain system calls).

mod close;
mod lazy;
mod open;
mod order;
mod query;
mod scope;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::object::Object;
use crate::platform::Platform;

pub use query::{AddressInfo, ObjectInfo};

/// The table behind the lock.
pub(crate) struct Table<M: modlib::Memory> {
    pub objects: BTreeMap<u32, Object<M>>,
    pub next_id: u32,
    /// `RTLD_GLOBAL` objects, in the order they joined the global scope.
    pub global: Vec<u32>,
    /// Objects ever added and removed, for `dl_iterate_phdr`.
    pub adds: u64,
    pub subs: u64,
}

/// The dynamic loader of one address space.
pub struct Linker<P: Platform> {
    platform: P,
    table: spin::Mutex<Table<P::Memory>>,
}

impl<P: Platform> Linker<P> {
    /// A linker with nothing loaded.
    pub const fn new(platform: P) -> Self {
        Linker {
            platform,
            table: spin::Mutex::new(Table {
                objects: BTreeMap::new(),
                next_id: 1,
                global: Vec::new(),
                adds: 0,
                subs: 0,
            }),
        }
    }

    /// The platform under this linker.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// `(path, dlopen references, dependents)` of every object this linker
    /// loaded, in id order: a view for diagnostics and tests.
    pub fn loaded(&self) -> Vec<(String, u32, u32)> {
        let table = self.table.lock();
        table
            .objects
            .values()
            .filter(|o| o.image().is_some())
            .map(|o| (String::from(o.path()), o.opens, o.dependents))
            .collect()
    }
}
