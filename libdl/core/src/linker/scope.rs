//! Symbol search scopes: the global scope (host objects, then `RTLD_GLOBAL`
//! objects in order), an object's breadth-first local scope, and the
//! resolver the objects of a group being loaded bind through.

use alloc::vec::Vec;
use core::cell::RefCell;

use modlib::{
    HwCaps, Lookup, MappedImage, Memory, ProviderId, Resolved, Symbol, SymbolKind, SymbolResolver,
};

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

/// What an object of a load group binds through: the global scope, then
/// the whole group breadth-first from its root — the objects that were
/// already loaded from the table, the new ones (`members`, ids from
/// `first`) from their mapped images, relocated or not. Records which of
/// our objects answered, so the object can hold them loaded. `current` is
/// the object being relocated (its slot is empty meanwhile): a symbol it
/// defines itself binds to the first definition before it in that order,
/// else to its own.
pub(crate) struct LoadScope<'a, 'f, M: Memory> {
    pub table: &'a Table<M>,
    pub host: Option<&'a dyn HostScope>,
    pub group: &'a [Dep],
    /// The group's new objects by id from `first`; `None` while one is
    /// being relocated or once it is finished.
    pub members: &'a [Option<MappedImage<'f, M>>],
    pub first: u32,
    /// Ids of our objects that provided a symbol, without repeats.
    pub providers: RefCell<Vec<u32>>,
    pub current: Dep,
    /// The platform's `__tls_get_addr` for our objects' thread-local
    /// storage, which binds ahead of any other definition of that name.
    pub tls_get_addr: Option<u64>,
}

impl<M: Memory> LoadScope<'_, '_, M> {
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

    /// The slot of a new object of the group, if `id` is one.
    fn member(&self, id: u32) -> Option<&Option<MappedImage<'_, M>>> {
        let index = id.checked_sub(self.first)?;
        self.members.get(index as usize)
    }

    /// Looks `lookup` up in one entry of the group.
    fn lookup_in(&self, dep: Dep, lookup: &Lookup<'_>) -> Option<Resolved> {
        if let Dep::Ours(id) = dep {
            if let Some(slot) = self.member(id) {
                return slot.as_ref()?.lookup(lookup).map(|symbol| Resolved {
                    symbol,
                    provider: ProviderId(id),
                });
            }
        }
        lookup_in(self.table, self.host, dep, lookup)
    }

    fn search(&self, scope: &[Dep], lookup: &Lookup<'_>) -> Option<Resolved> {
        let found = global(self.table, self.host, lookup, 0, true)
            .or_else(|| scope.iter().find_map(|&dep| self.lookup_in(dep, lookup)))?;
        Some(self.record(found))
    }
}

impl<M: Memory> SymbolResolver for LoadScope<'_, '_, M> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        if let Some(address) = self.tls_get_addr.filter(|_| lookup.name == TLS_GET_ADDR) {
            // Our module ids mean nothing to the host's own function.
            return Some(Resolved {
                symbol: Symbol {
                    address,
                    size: 0,
                    kind: SymbolKind::Function,
                },
                provider: HOST,
            });
        }
        self.search(self.group, lookup)
    }

    fn resolve_defined(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        let before = self
            .group
            .iter()
            .position(|&d| d == self.current)
            .map_or(self.group, |at| &self.group[..at]);
        self.search(before, lookup)
    }

    /// Objects of the table and the host are relocated; a new object of the
    /// group is once its relocations are applied (an empty slot is one
    /// being relocated, which never answers, or one already finished).
    fn is_relocated(&self, provider: ProviderId) -> bool {
        self.member(provider.0)
            .is_none_or(|slot| slot.as_ref().is_none_or(MappedImage::is_relocated))
    }
}

/// The name code built for dynamic TLS calls to reach a thread's block.
const TLS_GET_ADDR: &str = "__tls_get_addr";

/// A symbol's final address (IFUNC resolvers called).
pub(crate) fn address(symbol: Symbol, machine: modlib::Machine, caps: HwCaps) -> Option<u64> {
    modlib::bound_address(symbol, machine, caps).ok()
}
