//! A sorted symbol table: the form of the kernel's and the user runtime's
//! exported symbols, and of a relocatable module's exports. Lookup is a
//! binary search, O(log n).

use alloc::borrow::Cow;
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
    pub name: alloc::string::String,
}

/// Named symbols sorted by name; a [`SymbolResolver`] that reports a fixed
/// provider.
#[derive(Debug, Clone)]
pub struct SymbolTable<'a> {
    entries: Cow<'a, [SymbolEntry<'a>]>,
    provider: ProviderId,
}

impl<'a> SymbolTable<'a> {
    /// Sorts `entries` by name; fails if a name repeats.
    pub fn new(
        mut entries: Vec<SymbolEntry<'a>>,
        provider: ProviderId,
    ) -> Result<Self, DuplicateSymbol> {
        crate::sort::sort_by(&mut entries, |a, b| a.name < b.name);
        Self::check_unique(&entries)?;
        Ok(SymbolTable {
            entries: Cow::Owned(entries),
            provider,
        })
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
        Self::check_unique(entries)?;
        Ok(SymbolTable {
            entries: Cow::Borrowed(entries),
            provider,
        })
    }

    fn check_unique(sorted: &[SymbolEntry<'_>]) -> Result<(), DuplicateSymbol> {
        match sorted.windows(2).find(|w| w[0].name == w[1].name) {
            Some(w) => Err(DuplicateSymbol {
                name: w[0].name.clone().into_owned(),
            }),
            None => Ok(()),
        }
    }

    /// The symbol called `name`.
    pub fn get(&self, name: &str) -> Option<&Symbol> {
        self.entries
            .binary_search_by(|e| e.name.as_ref().cmp(name))
            .ok()
            .map(|i| &self.entries[i].symbol)
    }

    /// All entries, sorted by name.
    pub fn entries(&self) -> &[SymbolEntry<'a>] {
        &self.entries
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The provider this table reports.
    pub fn provider(&self) -> ProviderId {
        self.provider
    }
}

impl SymbolResolver for SymbolTable<'_> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        self.get(lookup.name).map(|&symbol| Resolved {
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
}
