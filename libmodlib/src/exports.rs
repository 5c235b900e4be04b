//! A relocatable object's exported symbols: names packed into one buffer
//! (one allocation for all of them, not one each), entries sorted by name
//! for binary search.

use alloc::string::String;
use alloc::vec::Vec;

use crate::symbol::Symbol;

/// One export: where its name lies in the buffer, and the symbol.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    len: usize,
    symbol: Symbol,
}

/// Exported symbols by name.
#[derive(Debug, Default)]
pub(crate) struct ExportTable {
    names: String,
    entries: Vec<Entry>,
}

impl ExportTable {
    /// A table of `items`; `Err` with the first name that repeats.
    pub(crate) fn new<'a>(
        items: impl Iterator<Item = (&'a str, Symbol)>,
        names_len: usize,
    ) -> Result<Self, String> {
        let mut table = ExportTable {
            names: String::with_capacity(names_len),
            entries: Vec::new(),
        };
        for (name, symbol) in items {
            table.entries.push(Entry {
                start: table.names.len(),
                len: name.len(),
                symbol,
            });
            table.names.push_str(name);
        }
        let names = &table.names;
        let name = |e: &Entry| &names[e.start..e.start + e.len];
        crate::sort::sort_by(&mut table.entries, |a, b| name(a) < name(b));
        if let Some([first, _]) = table
            .entries
            .windows(2)
            .find(|w| name(&w[0]) == name(&w[1]))
        {
            return Err(String::from(name(first)));
        }
        Ok(table)
    }

    fn name(&self, e: &Entry) -> &str {
        &self.names[e.start..e.start + e.len]
    }

    /// The export named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Symbol> {
        self.entries
            .binary_search_by(|e| self.name(e).cmp(name))
            .ok()
            .map(|i| self.entries[i].symbol)
    }

    /// Every export, by name.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, Symbol)> + '_ {
        self.entries.iter().map(|e| (self.name(e), e.symbol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbol::SymbolKind;

    fn sym(address: u64) -> Symbol {
        Symbol {
            address,
            size: 0,
            kind: SymbolKind::Function,
        }
    }

    #[test]
    fn finds_each_name_and_refuses_repeats() {
        let t = ExportTable::new(
            [("zeta", sym(1)), ("alpha", sym(2)), ("mid", sym(3))].into_iter(),
            0,
        )
        .unwrap();
        assert_eq!(t.get("alpha").map(|s| s.address), Some(2));
        assert_eq!(t.get("zeta").map(|s| s.address), Some(1));
        assert_eq!(t.get("mid").map(|s| s.address), Some(3));
        assert!(t.get("nope").is_none());
        let names: Vec<&str> = t.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["alpha", "mid", "zeta"]);
        let dup = ExportTable::new([("a", sym(1)), ("a", sym(2))].into_iter(), 0);
        assert_eq!(dup.unwrap_err(), "a");
    }
}
