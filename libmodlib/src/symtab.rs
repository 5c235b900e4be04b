//! A read-only view of an ELF dynamic symbol table that lies in memory (for
//! example an object the host's own dynamic linker loaded): lookups through
//! its GNU or SysV hash table, honouring symbol versions, and address-to-
//! symbol queries. The same code answers lookups in loaded images. Tables
//! in memory are the host's own, so they have the host's class.

use crate::class::Class;
use crate::dynamic::symbols::{gnu_hash_count, u32_at, GnuCount, GnuParams, HashKind, View};
use crate::symbol::{Lookup, Symbol};

/// The hash table a dynamic symbol table comes with.
#[derive(Debug, Clone, Copy)]
pub enum HashTable<'a> {
    /// `DT_GNU_HASH` contents (from its start to at least its end).
    Gnu(&'a [u8]),
    /// `DT_HASH` contents.
    Sysv(&'a [u8]),
}

impl<'a> HashTable<'a> {
    /// Number of symbols a lookup through the hash can reach: every hashed
    /// symbol lies below it (the unhashed ones of a table that hashes
    /// nothing may not).
    pub fn symbol_count(&self) -> Option<usize> {
        match self {
            HashTable::Gnu(h) => gnu_hash_count(h, Class::HOST).map(GnuCount::hashed_bound),
            HashTable::Sysv(h) => u32_at(h, 4).map(|n| n as usize),
        }
    }

    fn parts(self) -> (&'a [u8], HashKind) {
        match self {
            HashTable::Gnu(h) => (h, HashKind::Gnu),
            HashTable::Sysv(h) => (h, HashKind::Sysv),
        }
    }
}

/// A dynamic symbol table with its strings, hash and version tables.
#[derive(Clone, Copy)]
pub struct DynamicSymbols<'a> {
    view: View<'a>,
    /// The GNU hash header, read once.
    gnu: Option<GnuParams>,
}

impl<'a> DynamicSymbols<'a> {
    /// A view over the tables; `versym`/`verdef` may be empty. `None` if the
    /// hash table is unreadable or `symtab` is shorter than it says.
    pub fn new(
        symtab: &'a [u8],
        strtab: &'a [u8],
        hash: HashTable<'a>,
        versym: &'a [u8],
        verdef: &'a [u8],
    ) -> Option<Self> {
        let count = hash.symbol_count()?;
        if symtab.len() < count.checked_mul(Class::HOST.sym_size())? {
            return None;
        }
        let (hash, hash_kind) = hash.parts();
        let view = View {
            symtab,
            strtab,
            hash,
            hash_kind,
            versym: if versym.len() >= count * 2 {
                versym
            } else {
                &[]
            },
            verdef,
            count,
            class: Class::HOST,
        };
        Some(DynamicSymbols {
            gnu: view.gnu_params(),
            view,
        })
    }

    pub(crate) fn from_view(view: View<'a>, gnu: Option<GnuParams>) -> Self {
        DynamicSymbols { view, gnu }
    }

    /// The GNU hashes of the symbols the `DT_GNU_HASH` table indexes (each
    /// with its lowest bit unreliable: the table uses it to end chains), or
    /// `None` for a table with only `DT_HASH`. Lets a caller build a filter
    /// over several tables.
    pub fn gnu_hashes(&self) -> Option<impl Iterator<Item = u32> + 'a> {
        let p = self.gnu?;
        let chains = p.chains();
        let n = self.view.count.checked_sub(p.symoffset)?;
        let table = self
            .view
            .hash
            .get(chains..chains.checked_add(n.checked_mul(4)?)?)?;
        Some(
            table
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
        )
    }

    /// Number of symbols (including the null symbol 0).
    pub fn len(&self) -> usize {
        self.view.count
    }

    /// Whether the table has no symbols.
    pub fn is_empty(&self) -> bool {
        self.view.count == 0
    }

    /// The exported definition matching `lookup`, relocated by `base`.
    pub fn lookup(&self, lookup: &Lookup<'_>, base: u64) -> Option<Symbol> {
        self.view
            .find(self.gnu.as_ref(), lookup)
            .map(|(_, s)| Symbol {
                address: s.address(base),
                size: s.size,
                kind: s.kind(),
            })
    }

    /// The exported symbol whose extent contains `addr` (or the nearest one
    /// below it when sizes are unknown), for `dladdr`.
    pub fn containing(&self, addr: u64, base: u64) -> Option<(&'a str, Symbol)> {
        let mut best: Option<(&'a str, Symbol)> = None;
        for i in 1..self.view.count {
            let Some(s) = self.view.sym(i) else { continue };
            if !s.is_exported() {
                continue;
            }
            let start = s.address(base);
            let inside = start <= addr && (addr < start.saturating_add(s.size) || s.size == 0);
            if inside && best.is_none_or(|(_, b)| start > b.address) {
                if let Some(name) = self.view.name(&s) {
                    best = Some((
                        name,
                        Symbol {
                            address: start,
                            size: s.size,
                            kind: s.kind(),
                        },
                    ));
                }
            }
        }
        best
    }
}
