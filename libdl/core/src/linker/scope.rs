//! Symbol search scopes: the global scope (host objects, then `RTLD_GLOBAL`
//! objects in order), an object's breadth-first local scope, and the
//! resolver the objects of a group being loaded bind through.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use modlib::{
    HwCaps, LoadError, LoadedImage, Lookup, MappedImage, Memory, ProviderId, RelocatedImage,
    Resolved, Symbol, SymbolKind, SymbolResolver,
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

/// The new objects of a group being loaded (ids from `first`), each at its
/// stage: mapped, relocated, or out (being worked on, or finished). They
/// go from one stage to the next in the order given to
/// [`Members::relocate`].
pub(crate) struct Members<'f, M: Memory> {
    mapped: Vec<Option<MappedImage<'f, M>>>,
    relocated: Vec<Option<RelocatedImage<'f, M>>>,
}

/// What [`Members::relocate`] hands back: the loaded images in the order
/// given, and for each member (by index) the ids of our objects that
/// provided its symbols.
pub(crate) type Relocated<M> = (Vec<(usize, LoadedImage<M>)>, Vec<Vec<u32>>);

impl<'f, M: Memory> Members<'f, M> {
    /// The group's new objects, all mapped, by index from `first`.
    pub fn new(mapped: Vec<MappedImage<'f, M>>) -> Self {
        let relocated = mapped.iter().map(|_| None).collect();
        Members {
            mapped: mapped.into_iter().map(Some).collect(),
            relocated,
        }
    }

    /// Member `index`'s export matching `lookup`, at whatever stage it is;
    /// none while it is out.
    fn lookup(&self, index: usize, lookup: &Lookup<'_>) -> Option<Symbol> {
        match (&self.mapped[index], &self.relocated[index]) {
            (Some(image), _) => image.lookup(lookup),
            (None, Some(image)) => image.lookup(lookup),
            (None, None) => None,
        }
    }

    /// Whether member `index` is past its mapped stage.
    fn is_relocated(&self, index: usize) -> bool {
        self.mapped[index].is_none()
    }

    /// Applies every member's relocations in `order`, each binding through
    /// `scope`, then finishes each in the same order (references to IFUNCs
    /// of members relocated later wait until then). On failure, the index
    /// of the member that failed; every image is given back when the
    /// members are dropped.
    pub fn relocate(
        &mut self,
        order: &[usize],
        scope: &GroupScope<'_, M>,
    ) -> Result<Relocated<M>, (usize, LoadError)> {
        let mut providers = vec![Vec::new(); self.mapped.len()];
        for &i in order {
            let image = self.mapped[i]
                .take()
                .expect("each member is relocated once");
            let member = scope.member(self, i);
            let result = image.apply_relocations(&member);
            providers[i] = member.providers.into_inner();
            self.relocated[i] = Some(result.map_err(|e| (i, e))?);
        }
        let mut images = Vec::with_capacity(order.len());
        for &i in order {
            let image = self.relocated[i]
                .take()
                .expect("each member is finished once");
            let image = image.finish(&scope.member(self, i)).map_err(|e| (i, e))?;
            images.push((i, image));
        }
        Ok((images, providers))
    }
}

/// What the objects of a load group bind through: the global scope, then
/// the whole group breadth-first from its root: the objects that were
/// already loaded from the table, the new ones from their images at
/// whatever stage (see [`Members`]).
pub(crate) struct GroupScope<'a, M: Memory> {
    pub table: &'a Table<M>,
    pub host: Option<&'a dyn HostScope>,
    pub group: &'a [Dep],
    /// Where in `group` each new object (by index) first comes
    /// (`group.len()` if it does not).
    pub positions: &'a [usize],
    /// The id of the first new object.
    pub first: u32,
    /// The platform's `__tls_get_addr` for our objects' thread-local
    /// storage, which binds ahead of any other definition of that name.
    pub tls_get_addr: Option<u64>,
    /// What searches of the whole group found, by symbol name and version.
    pub answers: RefCell<Answers>,
}

/// What searches of the whole group found, by the GNU hash of the name
/// (so that asking costs no allocation and no string comparison but for
/// names of the same hash), then by name and version.
#[derive(Default)]
pub(crate) struct Answers(BTreeMap<u32, Vec<(String, Option<String>, Answer)>>);

impl Answers {
    /// The answer recorded for `lookup`, if any.
    fn get(&self, lookup: &Lookup<'_>) -> Option<Answer> {
        self.0
            .get(&lookup.gnu_hash)?
            .iter()
            .find(|(name, version, _)| *name == lookup.name && version.as_deref() == lookup.version)
            .map(|&(_, _, answer)| answer)
    }

    /// Records (or replaces) the answer for `lookup`.
    fn set(&mut self, lookup: &Lookup<'_>, answer: Answer) {
        let entries = self.0.entry(lookup.gnu_hash).or_default();
        match entries
            .iter_mut()
            .find(|(name, version, _)| *name == lookup.name && version.as_deref() == lookup.version)
        {
            Some(entry) => entry.2 = answer,
            None => entries.push((
                String::from(lookup.name),
                lookup.version.map(String::from),
                answer,
            )),
        }
    }
}

/// What a search of the whole group (after the global scope) found.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Answer {
    /// This definition, from this new member if it is one.
    Found(Resolved, Option<usize>),
    /// Nothing, from any member but the one given (out while searched).
    Missing(Option<usize>),
}

impl<M: Memory> GroupScope<'_, M> {
    /// The scope member `index` of `members` binds through.
    fn member<'s, 'f>(&'s self, members: &'s Members<'f, M>, index: usize) -> LoadScope<'s, 'f, M> {
        LoadScope {
            scope: self,
            members,
            providers: RefCell::new(Vec::new()),
            current: index,
        }
    }
}

/// The [`GroupScope`] as one member sees it. Records which of our objects
/// answered, so the object can hold them loaded. `current` is the index of
/// the object being relocated (out of `members` meanwhile): a symbol it
/// defines itself binds to the first definition before it in the group's
/// order, else to its own.
struct LoadScope<'a, 'f, M: Memory> {
    scope: &'a GroupScope<'a, M>,
    members: &'a Members<'f, M>,
    /// Ids of our objects that provided a symbol, without repeats.
    providers: RefCell<Vec<u32>>,
    current: usize,
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

    /// The index of a new object of the group, if `id` is one.
    fn member(&self, id: u32) -> Option<usize> {
        let index = id.checked_sub(self.scope.first)? as usize;
        (index < self.members.mapped.len()).then_some(index)
    }

    /// Looks `lookup` up in one entry of the group.
    fn lookup_in(&self, dep: Dep, lookup: &Lookup<'_>) -> Option<Resolved> {
        if let Dep::Ours(id) = dep {
            if let Some(index) = self.member(id) {
                return self.members.lookup(index, lookup).map(|symbol| Resolved {
                    symbol,
                    provider: ProviderId(id),
                });
            }
        }
        lookup_in(self.scope.table, self.scope.host, dep, lookup)
    }

    /// [`Self::search`] of the whole group, answered from the group's
    /// earlier searches where they decide it: every member binding the
    /// same undefined (often weak, defined nowhere) symbol would otherwise
    /// search the whole group, which makes loading a chain quadratic.
    fn search_group(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        let known = self.scope.answers.borrow().get(lookup);
        match known {
            // Found where the current member (out now) is not.
            Some(Answer::Found(found, by)) if by != Some(self.current) => {
                return Some(self.record(found));
            }
            Some(Answer::Missing(None)) => return None,
            // Missing except perhaps from one member, the one out when
            // the group was searched: that one alone is asked now.
            Some(Answer::Missing(Some(out))) if out != self.current => {
                let id = self.scope.first + out as u32;
                let found = self.lookup_in(Dep::Ours(id), lookup);
                let answer = match found {
                    Some(f) => Answer::Found(f, Some(out)),
                    None => Answer::Missing(None),
                };
                self.scope.answers.borrow_mut().set(lookup, answer);
                return found.map(|f| self.record(f));
            }
            _ => {}
        }
        let found = self.search(self.scope.group, lookup);
        let answer = match found {
            Some(f) => Answer::Found(f, self.member(f.provider.0)),
            None => Answer::Missing(Some(self.current)),
        };
        self.scope.answers.borrow_mut().set(lookup, answer);
        found
    }

    fn search(&self, scope: &[Dep], lookup: &Lookup<'_>) -> Option<Resolved> {
        let found = global(self.scope.table, self.scope.host, lookup, 0, true)
            .or_else(|| scope.iter().find_map(|&dep| self.lookup_in(dep, lookup)))?;
        Some(self.record(found))
    }
}

impl<M: Memory> SymbolResolver for LoadScope<'_, '_, M> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        let tls_get_addr = self.scope.tls_get_addr;
        if let Some(address) = tls_get_addr.filter(|_| lookup.name == TLS_GET_ADDR) {
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
        self.search_group(lookup)
    }

    fn resolve_defined(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        let group = self.scope.group;
        let at = self.scope.positions[self.current].min(group.len());
        self.search(&group[..at], lookup)
    }

    /// Objects of the table and the host are relocated; a new object of the
    /// group is once it is past its mapped stage (one out of `members` is
    /// being relocated, and never answers, or is finished).
    fn is_relocated(&self, provider: ProviderId) -> bool {
        self.member(provider.0)
            .is_none_or(|index| self.members.is_relocated(index))
    }
}

/// The name code built for dynamic TLS calls to reach a thread's block.
const TLS_GET_ADDR: &str = "__tls_get_addr";

/// A symbol's final address (IFUNC resolvers called).
pub(crate) fn address(symbol: Symbol, machine: modlib::Machine, caps: HwCaps) -> Option<u64> {
    modlib::bound_address(symbol, machine, caps).ok()
}
