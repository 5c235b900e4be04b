//! A sorted symbol table: the form of the kernel's and the user runtime's
//! exported symbols, and of a relocatable module's exports. Lookup is a
//! binary search, O(log n).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use crate::symbol::{Lookup, ProviderId, Resolved, Symbol, SymbolKind, SymbolResolver};

/// One named symbol of a [`SymbolTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolEntry<'a> {
    /// Name, borrowed for static tables, owned for module exports.
    pub name: Cow<'a, str>,
    /// Address, size and kind.
    pub symbol: Symbol,
}

impl<'a> SymbolEntry<'a> {
    /// An entry for a borrowed name.
    pub const fn new(name: &'a str, address: u64, kind: SymbolKind) -> Self {
        SymbolEntry {
            name: Cow::Borrowed(name),
            symbol: Symbol {
                address,
                size: 0,
                kind,
            },
        }
    }
}

/// Two entries of a table had the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("symbol `{name}` is defined twice")]
pub struct DuplicateSymbol {
    /// The repeated name.
    pub name: String,
}

/// Named symbols sorted by name; a [`SymbolResolver`] that reports a fixed
/// provider. The one sorted table of the workspace: the kernel's and the
/// user runtime's exported symbols, a module's exports in `kmod`, and the
/// exports of every relocatable object `modlib` loads.
#[derive(Debug, Clone)]
pub struct SymbolTable<'a> {
    storage: Storage<'a>,
    provider: ProviderId,
}

/// Where a table's entries and their names live.
#[derive(Debug, Clone)]
enum Storage<'a> {
    /// Entries with their own names (borrowed, for a static table).
    Entries(Cow<'a, [SymbolEntry<'a>]>),
    /// Names packed into one buffer: one allocation for all of them.
    Packed { names: String, entries: Vec<Packed> },
}

/// An entry of a packed table: where its name lies in the buffer.
#[derive(Debug, Clone, Copy)]
struct Packed {
    start: usize,
    len: usize,
    symbol: Symbol,
}

impl<'a> SymbolTable<'a> {
    /// Sorts `entries` by name; fails if a name repeats.
    pub fn new(
        mut entries: Vec<SymbolEntry<'a>>,
        provider: ProviderId,
    ) -> Result<Self, DuplicateSymbol> {
        crate::sort::sort_by(&mut entries, |a, b| a.name < b.name);
        Self::checked(Storage::Entries(Cow::Owned(entries)), provider)
    }

    /// Borrows a table built at compile time without copying it when it is
    /// already sorted (an unsorted one is copied and sorted); fails if a
    /// name repeats.
    pub fn from_sorted(
        entries: &'a [SymbolEntry<'a>],
        provider: ProviderId,
    ) -> Result<Self, DuplicateSymbol> {
        if entries.windows(2).any(|w| w[0].name > w[1].name) {
            return Self::new(entries.to_vec(), provider);
        }
        Self::checked(Storage::Entries(Cow::Borrowed(entries)), provider)
    }

    fn checked(storage: Storage<'a>, provider: ProviderId) -> Result<Self, DuplicateSymbol> {
        let table = SymbolTable { storage, provider };
        let mut names = table.iter().map(|(name, _)| name);
        let mut previous = names.next();
        for name in names {
            if previous == Some(name) {
                return Err(DuplicateSymbol {
                    name: String::from(name),
                });
            }
            previous = Some(name);
        }
        Ok(table)
    }

    /// The symbol called `name`.
    pub fn get(&self, name: &str) -> Option<Symbol> {
        match &self.storage {
            Storage::Entries(entries) => entries
                .binary_search_by(|e| e.name.as_ref().cmp(name))
                .ok()
                .map(|i| entries[i].symbol),
            Storage::Packed { names, entries } => entries
                .binary_search_by(|e| names[e.start..e.start + e.len].cmp(name))
                .ok()
                .map(|i| entries[i].symbol),
        }
    }

    /// Every symbol with its name, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Symbol)> + use<'_, 'a> {
        (0..self.len()).map(move |i| match &self.storage {
            Storage::Entries(entries) => (entries[i].name.as_ref(), entries[i].symbol),
            Storage::Packed { names, entries } => {
                let e = entries[i];
                (&names[e.start..e.start + e.len], e.symbol)
            }
        })
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        match &self.storage {
            Storage::Entries(entries) => entries.len(),
            Storage::Packed { entries, .. } => entries.len(),
        }
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The provider this table reports.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }
}

impl SymbolTable<'static> {
    /// A table of `items` whose names are copied into one buffer (of
    /// `names_len` bytes, their total length, if known) rather than
    /// allocated one by one; fails if a name repeats.
    pub fn packed<'n>(
        items: impl IntoIterator<Item = (&'n str, Symbol)>,
        names_len: usize,
        provider: ProviderId,
    ) -> Result<Self, DuplicateSymbol> {
        let mut names = String::with_capacity(names_len);
        let mut entries = Vec::new();
        for (name, symbol) in items {
            entries.push(Packed {
                start: names.len(),
                len: name.len(),
                symbol,
            });
            names.push_str(name);
        }
        let name = |e: &Packed| &names[e.start..e.start + e.len];
        crate::sort::sort_by(&mut entries, |a, b| name(a) < name(b));
        Self::checked(Storage::Packed { names, entries }, provider)
    }
}

impl SymbolResolver for SymbolTable<'_> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        self.get(lookup.name).map(|symbol| Resolved {
            symbol,
            provider: self.provider,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &'static str, address: u64) -> SymbolEntry<'static> {
        SymbolEntry::new(name, address, SymbolKind::Function)
    }

    #[test]
    fn finds_every_entry_and_reports_provider() {
        let t = SymbolTable::new(
            alloc::vec![entry("zeta", 3), entry("alpha", 1), entry("mid", 2)],
            ProviderId(7),
        )
        .unwrap();
        for (name, addr) in [("alpha", 1), ("mid", 2), ("zeta", 3)] {
            let r = t.resolve(&Lookup::new(name, None)).unwrap();
            assert_eq!(r.symbol.address, addr);
            assert_eq!(r.provider, ProviderId(7));
        }
        assert!(t.resolve(&Lookup::new("beta", None)).is_none());
    }

    #[test]
    fn duplicates_are_rejected() {
        static SORTED: [SymbolEntry<'static>; 2] = [
            SymbolEntry::new("a", 1, SymbolKind::Object),
            SymbolEntry::new("a", 2, SymbolKind::Object),
        ];
        let err = SymbolTable::new(alloc::vec![entry("a", 1), entry("a", 2)], ProviderId(0));
        assert_eq!(err.unwrap_err().name, "a");
        assert!(SymbolTable::from_sorted(&SORTED, ProviderId(0)).is_err());
    }

    /// Names packed into one buffer: found, listed in order, and a repeat
    /// refused, as with entries of their own.
    #[test]
    fn packed_names() {
        let sym = |address| Symbol {
            address,
            size: 0,
            kind: SymbolKind::Function,
        };
        let t = SymbolTable::packed(
            [("zeta", sym(1)), ("alpha", sym(2)), ("mid", sym(3))],
            11,
            ProviderId(3),
        )
        .unwrap();
        assert_eq!(t.get("alpha").map(|s| s.address), Some(2));
        assert_eq!(t.get("zeta").map(|s| s.address), Some(1));
        assert_eq!(t.get("mid").map(|s| s.address), Some(3));
        assert!(t.get("nope").is_none());
        assert_eq!(t.len(), 3);
        let names: Vec<&str> = t.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["alpha", "mid", "zeta"]);
        let r = t.resolve(&Lookup::new("mid", None)).unwrap();
        assert_eq!((r.symbol.address, r.provider), (3, ProviderId(3)));
        let dup = SymbolTable::packed([("a", sym(1)), ("a", sym(2))], 0, ProviderId(0));
        assert_eq!(dup.unwrap_err().name, "a");
    }
}
