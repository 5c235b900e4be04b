//! The linker: the table of loaded objects of one address space and the
//! POSIX operations on it. One `spin::Mutex` guards the table, and no code
//! that could re-enter it runs under it (no `std` I/O: the platform reads
//! files with plain system calls): constructors and destructors run with it
//! released, a new group is mapped and relocated (IFUNC resolvers called)
//! without it, against a snapshot of the table, while other threads' opens
//! and closes wait, and a system library goes to the host's loader without
//! it. Any of these may call back in, from any thread: another thread's
//! open waits for constructors or destructors only if it needs an object
//! they are running for.

mod close;
mod lazy;
mod open;
mod order;
mod query;
mod scope;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::object::{Object, State};
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
    /// The threads loading a group without the lock (one entry per load).
    pub loading: Vec<u64>,
}

impl<M: modlib::Memory + Clone> Table<M> {
    /// Whether another thread than `me` is loading a group: the table is
    /// then not to be changed.
    pub fn loading_for(&self, me: u64) -> bool {
        self.loading.iter().any(|&t| t != me)
    }

    /// Whether object `id` is having its constructors or destructors run
    /// by another thread than `me`: an open that needs it waits.
    pub fn unsettled_for(&self, id: u32, me: u64) -> bool {
        self.objects.get(&id).is_some_and(
            |o| matches!(o.state, State::Initializing(t) | State::Finalizing(t) if t != me),
        )
    }

    /// What symbol lookups read of the table (each object's body and
    /// state, and the global scope), detached from the lock for a group
    /// loading without it; the images stay alive through their `Arc`s.
    pub fn lookup_snapshot(&self) -> Table<M> {
        Table {
            objects: self
                .objects
                .iter()
                .map(|(&id, o)| (id, o.lookup_view()))
                .collect(),
            next_id: self.next_id,
            global: self.global.clone(),
            adds: 0,
            subs: 0,
            loading: Vec::new(),
        }
    }
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
                loading: Vec::new(),
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
