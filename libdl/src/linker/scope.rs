//! Symbol search scopes: the global scope (host objects, then `RTLD_GLOBAL`
//! objects in order), an object's breadth-first local scope, and the
//! resolver an object being loaded binds through.

use alloc::vec::Vec;
use core::cell::RefCell;

use modlib::{Lookup, Memory, ProviderId, Resolved, Symbol, SymbolResolver};

use super::Table;
use crate::object::{Dep, State};
use crate::platform::HostScope;

/// Provider id reported for symbols the host answered.
pub(crate) const HOST: ProviderId = ProviderId(0);

/// Looks `lookup` up in one scope entry.
pub(crate) fn lookup_in<M: Memory>(
    table: &Table<M>,
    host: Option<&dyn HostScope>,
    dep: Dep,
    lookup: &Lookup<'_>,
) -> Option<Resolved> {
    match dep {
        Dep::Ours(id) => {
            let object = table.objects.get(&id)?;
            if matches!(object.state, State::Finalizing(_)) {
                return None;
            }
            match object.image() {
                Some(image) => image.lookup(lookup).map(|symbol| Resolved {
                    symbol,
                    provider: ProviderId(id),
                }),
                None => lookup_in(table, host, Dep::Host(host_of(object)?), lookup),
            }
        }
        Dep::Host(h) => host?.resolve_in(h, lookup).map(|symbol| Resolved {
            symbol,
            provider: HOST,
        }),
    }
}

fn host_of<M: Memory>(object: &crate::object::Object<M>) -> Option<crate::platform::HostObject> {
    match object.body {
        crate::object::Body::Host(h) => Some(h),
        crate::object::Body::Image(_) => None,
    }
}

/// The global scope: the host's, then `RTLD_GLOBAL` objects from position
/// `from` on.
pub(crate) fn global<M: Memory>(
    table: &Table<M>,
    host: Option<&dyn HostScope>,
    lookup: &Lookup<'_>,
    from: usize,
    include_host: bool,
) -> Option<Resolved> {
    if include_host {
        if let Some(symbol) = host.and_then(|h| h.resolve(lookup)) {
            return Some(Resolved {
                symbol,
                provider: HOST,
            });
        }
    }
    table
        .global
        .iter()
        .skip(from)
        .find_map(|&id| lookup_in(table, host, Dep::Ours(id), lookup))
}

/// A local scope searched in order.
pub(crate) fn local<M: Memory>(
    table: &Table<M>,
    host: Option<&dyn HostScope>,
    scope: &[Dep],
    lookup: &Lookup<'_>,
) -> Option<Resolved> {
    scope
        .iter()
        .find_map(|&dep| lookup_in(table, host, dep, lookup))
}

/// What an object of a load group binds through: the global scope, then the
/// group's objects loaded so far, breadth-first from its root. Records which
/// of our objects answered, so the object can hold them loaded. `current`
/// is the object being loaded (not in the table yet): a symbol it defines
/// itself binds to the first definition before it in that order, else to
/// its own.
pub(crate) struct LoadScope<'a, M: Memory> {
    pub table: &'a Table<M>,
    pub host: Option<&'a dyn HostScope>,
    pub group: &'a [Dep],
    /// Ids of our objects that provided a symbol, without repeats.
    pub providers: RefCell<Vec<u32>>,
    pub current: Dep,
}

impl<M: Memory> LoadScope<'_, M> {
    /// Notes who answered.
    fn record(&self, found: Resolved) -> Resolved {
        if found.provider != HOST {
            let mut providers = self.providers.borrow_mut();
            if !providers.contains(&found.provider.0) {
                providers.push(found.provider.0);
            }
        }
        found
    }
}

impl<M: Memory> SymbolResolver for LoadScope<'_, M> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        let found = global(self.table, self.host, lookup, 0, true)
            .or_else(|| local(self.table, self.host, self.group, lookup))?;
        Some(self.record(found))
    }

    fn resolve_defined(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        let before = self
            .group
            .iter()
            .position(|&d| d == self.current)
            .map_or(self.group, |at| &self.group[..at]);
        let found = global(self.table, self.host, lookup, 0, true)
            .or_else(|| local(self.table, self.host, before, lookup))?;
        Some(self.record(found))
    }
}

/// A symbol's final address (IFUNC resolvers called).
pub(crate) fn address(symbol: Symbol, machine: modlib::Machine) -> Option<u64> {
    modlib::bound_address(symbol, machine).ok()
}
