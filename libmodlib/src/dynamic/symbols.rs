//! A shared object's dynamic symbol table and its lookup structures
//! (`DT_GNU_HASH` with its bloom filter, `DT_HASH`), and symbol versions
//! (`DT_VERSYM`, `DT_VERDEF`, `DT_VERNEED`). The same code reads the tables
//! from the file while loading and from the image afterwards.

use alloc::string::String;
use alloc::vec::Vec;

use elf::abi::{SHN_ABS, SHN_UNDEF, STB_GLOBAL, STB_GNU_UNIQUE, STB_WEAK};

use crate::class::Class;
use crate::hash::sysv_hash;
use crate::memory::{Held, Memory, Reservation};
use crate::symbol::{Lookup, Symbol, SymbolKind};

const VERSYM_HIDDEN: u16 = 0x8000;

/// An address range of a table, in unbiased (file) addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub vaddr: u64,
    pub len: usize,
}

/// Which hash table the object has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashKind {
    Gnu,
    Sysv,
    None,
}

/// Where the symbol tables of a loaded shared object are.
#[derive(Debug, Clone)]
pub(crate) struct DynSymbols {
    pub symtab: Span,
    pub strtab: Span,
    pub hash: Span,
    pub hash_kind: HashKind,
    pub versym: Option<Span>,
    pub verdef: Option<Span>,
    pub count: usize,
    /// The object's class (the layout of its symbols and hash table).
    pub class: Class,
    /// Unbiased address of the reservation's first byte.
    pub image_vaddr: u64,
    /// The tables' places in the loaded image, once checked (see `place`).
    pub placed: Option<Placed>,
}

/// Where each table lies in a loaded image, as `(offset, len)` from the
/// reservation's start, checked against it once, and the GNU hash header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placed {
    tables: [(usize, usize); 5],
    gnu: Option<GnuParams>,
    /// Whether lookups can take [`DynSymbols::lookup_gnu`]: a GNU hash
    /// table and no version definitions (so every definition is of the
    /// base version, which any lookup accepts).
    lean: bool,
}

/// The tables as byte slices.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub symtab: &'a [u8],
    pub strtab: &'a [u8],
    pub hash: &'a [u8],
    pub hash_kind: HashKind,
    pub versym: &'a [u8],
    pub verdef: &'a [u8],
    pub count: usize,
    pub class: Class,
}

/// The header of a `DT_GNU_HASH` table, with what lookups derive from it
/// worked out once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GnuParams {
    pub nbuckets: u32,
    pub symoffset: usize,
    pub bloom_size: u32,
    pub shift: u32,
    /// The table's class: its bloom filter words are 32 or 64 bits.
    pub class: Class,
    /// `bloom_size - 1` when it is a power of two (every linker makes it
    /// one), for a mask instead of a division; 0 otherwise.
    bloom_mask: u32,
    /// `2^64 / nbuckets` rounded up (wrapping to 0 for one bucket): the
    /// bucket is then found with two multiplications instead of a
    /// division (Lemire's "fastmod", exact for every 32-bit hash).
    bucket_magic: u64,
    /// Byte offsets of the buckets and of the chains in the table.
    buckets: usize,
    chains: usize,
}

impl GnuParams {
    /// The header, if the table has buckets and a bloom filter.
    fn parse(h: &[u8], class: Class) -> Option<GnuParams> {
        let nbuckets = u32_at(h, 0)?;
        let bloom_size = u32_at(h, 8)?;
        if nbuckets == 0 || bloom_size == 0 {
            return None;
        }
        let buckets = (bloom_size as usize)
            .checked_mul(class.word())?
            .checked_add(16)?;
        let chains = (nbuckets as usize).checked_mul(4)?.checked_add(buckets)?;
        Some(GnuParams {
            nbuckets,
            symoffset: u32_at(h, 4)? as usize,
            bloom_size,
            shift: u32_at(h, 12)?,
            bloom_mask: if bloom_size.is_power_of_two() {
                bloom_size - 1
            } else {
                0
            },
            bucket_magic: (u64::MAX / u64::from(nbuckets)).wrapping_add(1),
            buckets,
            chains,
            class,
        })
    }

    /// Byte offset of the chains in the table.
    pub(crate) fn chains(&self) -> usize {
        self.chains
    }

    /// `hash % nbuckets`, without a division.
    #[inline]
    fn bucket(&self, hash: u32) -> usize {
        let low = self.bucket_magic.wrapping_mul(u64::from(hash));
        ((u128::from(low) * u128::from(self.nbuckets)) >> 64) as usize
    }

    /// Index of the bloom filter word for `hash`.
    #[inline]
    fn bloom_word(&self, hash: u32) -> usize {
        let word = hash / self.class.bits();
        if self.bloom_mask != 0 || self.bloom_size == 1 {
            (word & self.bloom_mask) as usize
        } else {
            (word % self.bloom_size) as usize
        }
    }

    /// The GNU hash search of table `h` for `hash`: the bloom filter, then
    /// the bucket's chain, calling `accept` with the index of each symbol
    /// whose hash matches until it gives an answer. Every read is
    /// bounds-checked.
    #[inline]
    fn search<T>(
        &self,
        h: &[u8],
        hash: u32,
        mut accept: impl FnMut(usize) -> Option<T>,
    ) -> Option<T> {
        let bits = self.class.bits();
        let word = self
            .class
            .word_at(h, 16 + self.bloom_word(hash) * self.class.word())?;
        let mask = (1u64 << (hash % bits)) | (1u64 << ((hash >> (self.shift % 32)) % bits));
        if word & mask != mask {
            return None;
        }
        let mut i = u32_at(h, self.buckets + self.bucket(hash) * 4)? as usize;
        let chains = h.get(self.chains..)?;
        let mut at = i.checked_sub(self.symoffset)?.checked_mul(4)?;
        loop {
            let ch = u32_at(chains, at)?;
            if (ch | 1) == (hash | 1) {
                if let Some(found) = accept(i) {
                    return Some(found);
                }
            }
            if ch & 1 != 0 {
                return None;
            }
            i += 1;
            at += 4;
        }
    }
}

/// Whether the string at `off` of `strtab` is `name`: compared as bytes (no
/// UTF-8 check, no scan for the terminator first).
#[inline]
fn name_at(strtab: &[u8], off: u32, name: &[u8]) -> bool {
    let start = off as usize;
    start
        .checked_add(name.len())
        .and_then(|end| strtab.get(start..=end))
        .is_some_and(|s| s[name.len()] == 0 && same_bytes(&s[..name.len()], name))
}

/// One `Elf32_Sym` or `Elf64_Sym`, decoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSym {
    pub name: u32,
    pub info: u8,
    pub other: u8,
    pub shndx: u16,
    pub value: u64,
    pub size: u64,
}

impl RawSym {
    /// Entry `index` of the symbol table `symtab` of class `class`, if it
    /// lies in it.
    #[inline]
    fn at(symtab: &[u8], index: usize, class: Class) -> Option<RawSym> {
        match class {
            Class::Elf64 => {
                let off = index.checked_mul(24)?;
                let e: &[u8; 24] = symtab.get(off..off.checked_add(24)?)?.try_into().ok()?;
                let [n0, n1, n2, n3, info, other, x0, x1, v @ .., _, _, _, _, _, _, _, _] = *e;
                let [.., z0, z1, z2, z3, z4, z5, z6, z7] = *e;
                Some(RawSym {
                    name: u32::from_le_bytes([n0, n1, n2, n3]),
                    info,
                    other,
                    shndx: u16::from_le_bytes([x0, x1]),
                    value: u64::from_le_bytes(v),
                    size: u64::from_le_bytes([z0, z1, z2, z3, z4, z5, z6, z7]),
                })
            }
            Class::Elf32 => {
                let off = index.checked_mul(16)?;
                let e: &[u8; 16] = symtab.get(off..off.checked_add(16)?)?.try_into().ok()?;
                let [n0, n1, n2, n3, v0, v1, v2, v3, z0, z1, z2, z3, info, other, x0, x1] = *e;
                Some(RawSym {
                    name: u32::from_le_bytes([n0, n1, n2, n3]),
                    info,
                    other,
                    shndx: u16::from_le_bytes([x0, x1]),
                    value: u64::from(u32::from_le_bytes([v0, v1, v2, v3])),
                    size: u64::from(u32::from_le_bytes([z0, z1, z2, z3])),
                })
            }
        }
    }

    #[inline]
    pub fn bind(&self) -> u8 {
        self.info >> 4
    }
    pub fn kind(&self) -> SymbolKind {
        SymbolKind::from_st_type(self.info & 0xf)
    }
    pub fn is_defined(&self) -> bool {
        self.shndx != SHN_UNDEF
    }
    #[inline]
    pub fn is_exported(&self) -> bool {
        self.is_defined()
            && matches!(self.bind(), STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE)
            && matches!(
                self.other & 3,
                elf::abi::STV_DEFAULT | elf::abi::STV_PROTECTED
            )
    }
    /// Run-time address given the load bias.
    pub fn address(&self, base: u64) -> u64 {
        if self.shndx == SHN_ABS {
            self.value
        } else {
            base.wrapping_add(self.value)
        }
    }
}

pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// Whether `a` and `b` (of equal length) hold the same bytes: compared
/// eight bytes at a time in place (symbol names are short, and a call to
/// `memcmp` costs more than the comparison).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0 => true,
        1 => a[0] == b[0],
        // Two words overlapping in the middle cover every length up to
        // twice the word size.
        2..=3 => word_eq::<2>(a, b, 0) && word_eq::<2>(a, b, n - 2),
        4..=7 => word_eq::<4>(a, b, 0) && word_eq::<4>(a, b, n - 4),
        _ => {
            let mut at = 0;
            while at + 8 < n {
                if !word_eq::<8>(a, b, at) {
                    return false;
                }
                at += 8;
            }
            // The last eight bytes, overlapping the previous word if need be.
            word_eq::<8>(a, b, n - 8)
        }
    }
}

/// Whether the `N`-byte words at `at` of `a` and `b` (inside both, by the
/// caller's lengths) are equal, compared as one integer load each.
#[inline]
fn word_eq<const N: usize>(a: &[u8], b: &[u8], at: usize) -> bool {
    let word = |s: &[u8]| s.get(at..at + N).and_then(|w| <[u8; N]>::try_from(w).ok());
    word(a) == word(b)
}

/// The NUL-terminated string at `off` of a string table (`None` if it is
/// unterminated or not UTF-8).
///
/// Symbol names are nearly always ASCII: the terminator is found eight
/// bytes at a time, noting on the way whether every byte before it is
/// ASCII, and only a name that is not goes through the full UTF-8 check.
#[inline]
pub(crate) fn c_str(strtab: &[u8], off: usize) -> Option<&str> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let tail = strtab.get(off..)?;
    let mut at = 0usize;
    let mut high = 0u64;
    let len = loop {
        let Some(chunk) = tail.get(at..at + 8) else {
            // Fewer than eight bytes left: byte by byte.
            let rest = &tail[at..];
            let n = rest.iter().position(|&b| b == 0)?;
            high |= rest[..n].iter().fold(0u64, |h, &b| h | u64::from(b & 0x80));
            break at + n;
        };
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        // The lowest flagged byte is the first zero byte (a borrow can only
        // flag bytes above a real zero).
        let zero = w.wrapping_sub(ONES) & !w & HIGH;
        if zero != 0 {
            let n = (zero.trailing_zeros() / 8) as usize;
            // The bytes before the terminator only.
            high |= w & HIGH & ((1u64 << (n * 8)) - 1);
            break at + n;
        }
        high |= w & HIGH;
        at += 8;
    };
    let bytes = &tail[..len];
    if high == 0 {
        // SAFETY: no byte of `bytes` has its high bit set: all are ASCII,
        // which is valid UTF-8.
        Some(unsafe { core::str::from_utf8_unchecked(bytes) })
    } else {
        core::str::from_utf8(bytes).ok()
    }
}

/// What a GNU hash table tells of the length of its symbol table (it
/// holds no count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GnuCount {
    /// The table hashes some symbols: linkers put the hashed symbols last,
    /// so the last chain ends the symbol table.
    Exact(usize),
    /// The table hashes nothing: every symbol is unhashed (imports only),
    /// and `symoffset`, the first hashed index, says nothing (GNU ld leaves
    /// it at 1): the table has at least this many entries.
    AtLeast(usize),
}

impl GnuCount {
    /// The symbols a lookup can reach: every hashed one lies below this.
    pub(crate) fn hashed_bound(self) -> usize {
        match self {
            GnuCount::Exact(n) | GnuCount::AtLeast(n) => n,
        }
    }
}

/// What the GNU hash table `hash` of class `class` tells of the number of
/// symbols.
pub(crate) fn gnu_hash_count(hash: &[u8], class: Class) -> Option<GnuCount> {
    let nbuckets = u32_at(hash, 0)? as usize;
    let symoffset = u32_at(hash, 4)? as usize;
    let bloom_size = u32_at(hash, 8)? as usize;
    let buckets = 16usize.checked_add(bloom_size.checked_mul(class.word())?)?;
    let chains = buckets.checked_add(nbuckets.checked_mul(4)?)?;
    let mut last = 0usize;
    for b in 0..nbuckets {
        let first = u32_at(hash, buckets.checked_add(b.checked_mul(4)?)?)? as usize;
        // A chain starts at a hashed symbol (0: an empty bucket).
        if first != 0 && first < symoffset {
            return None;
        }
        last = last.max(first);
    }
    if last == 0 {
        // Index 0 is the null symbol, never hashed: no bucket has a chain.
        return Some(GnuCount::AtLeast(symoffset.max(1)));
    }
    loop {
        let ch = u32_at(
            hash,
            chains.checked_add((last - symoffset).checked_mul(4)?)?,
        )?;
        last += 1;
        if ch & 1 != 0 {
            return Some(GnuCount::Exact(last));
        }
    }
}

/// Byte length of a GNU hash table of class `class` for `count` symbols.
pub(crate) fn gnu_hash_len(hash: &[u8], count: usize, class: Class) -> Option<usize> {
    let nbuckets = u32_at(hash, 0)? as usize;
    let symoffset = u32_at(hash, 4)? as usize;
    let bloom_size = u32_at(hash, 8)? as usize;
    16usize
        .checked_add(bloom_size.checked_mul(class.word())?)?
        .checked_add(nbuckets.checked_mul(4)?)?
        .checked_add(count.saturating_sub(symoffset).checked_mul(4)?)
}

impl<'a> View<'a> {
    /// The GNU hash header, read once (not per lookup) and passed to
    /// [`View::find`].
    pub fn gnu_params(&self) -> Option<GnuParams> {
        match self.hash_kind {
            HashKind::Gnu => GnuParams::parse(self.hash, self.class),
            HashKind::Sysv | HashKind::None => None,
        }
    }

    #[inline]
    pub fn sym(&self, index: usize) -> Option<RawSym> {
        if index >= self.count {
            return None;
        }
        RawSym::at(self.symtab, index, self.class)
    }

    pub fn name(&self, sym: &RawSym) -> Option<&'a str> {
        c_str(self.strtab, sym.name as usize)
    }

    #[inline]
    fn versym(&self, index: usize) -> Option<u16> {
        if self.versym.is_empty() {
            None
        } else {
            u16_at(self.versym, index * 2)
        }
    }

    /// The name of version definition `ndx`.
    fn verdef_name(&self, ndx: u16) -> Option<&'a str> {
        let mut off = 0usize;
        for _ in 0..1024 {
            let vd_ndx = u16_at(self.verdef, off + 4)?;
            if vd_ndx == ndx {
                let aux = u32_at(self.verdef, off + 12)? as usize;
                let name = u32_at(self.verdef, off.checked_add(aux)?)?;
                return c_str(self.strtab, name as usize);
            }
            let next = u32_at(self.verdef, off + 16)? as usize;
            if next == 0 {
                return None;
            }
            off = off.checked_add(next)?;
        }
        None
    }

    /// Whether symbol `index` satisfies the version part of `lookup`.
    #[inline]
    fn version_matches(&self, index: usize, version: Option<&str>) -> bool {
        // Without version definitions a defined symbol can only be of the
        // base version (index 0 or 1), which every reference accepts: no
        // need to read its `DT_VERSYM` entry.
        if self.verdef.is_empty() {
            return true;
        }
        let Some(v) = self.versym(index) else {
            return true;
        };
        let ndx = v & !VERSYM_HIDDEN;
        match version {
            // Unversioned reference: the default (non-hidden) definition.
            None => v & VERSYM_HIDDEN == 0 || ndx <= 1,
            Some(want) => ndx <= 1 || self.verdef_name(ndx) == Some(want),
        }
    }

    #[inline]
    fn candidate(&self, index: usize, lookup: &Lookup<'_>) -> Option<RawSym> {
        let sym = self.sym(index)?;
        (sym.is_exported()
            && name_at(self.strtab, sym.name, lookup.name.as_bytes())
            && self.version_matches(index, lookup.version))
        .then_some(sym)
    }

    /// The exported symbol for `lookup`, with its index; `gnu` is the
    /// table's [`View::gnu_params`].
    #[inline]
    pub fn find(&self, gnu: Option<&GnuParams>, lookup: &Lookup<'_>) -> Option<(usize, RawSym)> {
        match self.hash_kind {
            HashKind::Gnu => self.find_gnu(gnu?, lookup),
            HashKind::Sysv => self.find_sysv(lookup),
            HashKind::None => {
                (1..self.count).find_map(|i| self.candidate(i, lookup).map(|s| (i, s)))
            }
        }
    }

    #[inline]
    fn find_gnu(&self, p: &GnuParams, lookup: &Lookup<'_>) -> Option<(usize, RawSym)> {
        p.search(self.hash, lookup.gnu_hash, |i| {
            self.candidate(i, lookup).map(|sym| (i, sym))
        })
    }

    fn find_sysv(&self, lookup: &Lookup<'_>) -> Option<(usize, RawSym)> {
        let h = self.hash;
        let nbucket = u32_at(h, 0)?;
        let nchain = u32_at(h, 4)? as usize;
        if nbucket == 0 {
            return None;
        }
        let hash = sysv_hash(lookup.name.as_bytes());
        // Offsets in `usize`, which a 32-bit host's tables from the file
        // could overflow: checked.
        let offset = |index: usize, from: usize| index.checked_mul(4)?.checked_add(from);
        let mut i = u32_at(h, offset((hash % nbucket) as usize, 8)?)? as usize;
        let chains = offset(nbucket as usize, 8)?;
        // Bounded walk: a malformed chain cannot loop forever.
        for _ in 0..nchain {
            if i == 0 || i >= nchain {
                return None;
            }
            if let Some(sym) = self.candidate(i, lookup) {
                return Some((i, sym));
            }
            i = u32_at(h, offset(i, chains)?)? as usize;
        }
        None
    }

    /// The version a reference from symbol `index` asks for (`DT_VERNEED`).
    pub fn needed_version(&self, index: usize, needs: &[(u16, &'a str)]) -> Option<&'a str> {
        let ndx = self.versym(index)? & !VERSYM_HIDDEN;
        if ndx <= 1 {
            return None;
        }
        needs.iter().find(|(n, _)| *n == ndx).map(|(_, name)| *name)
    }
}

/// The `(vna_other, name)` pairs of a `DT_VERNEED` table.
pub(crate) fn version_needs<'a>(
    verneed: &[u8],
    strtab: &'a [u8],
    count: usize,
) -> Vec<(u16, &'a str)> {
    let mut out = Vec::new();
    let mut off = 0usize;
    for _ in 0..count.min(4096) {
        let (Some(cnt), Some(aux), Some(next)) = (
            u16_at(verneed, off + 2),
            u32_at(verneed, off + 8),
            u32_at(verneed, off + 12),
        ) else {
            break;
        };
        let mut a = off.saturating_add(aux as usize);
        for _ in 0..cnt {
            let (Some(other), Some(name), Some(anext)) = (
                u16_at(verneed, a + 6),
                u32_at(verneed, a + 8),
                u32_at(verneed, a + 12),
            ) else {
                break;
            };
            if let Some(name) = c_str(strtab, name as usize) {
                out.push((other, name));
            }
            if anext == 0 {
                break;
            }
            a = a.saturating_add(anext as usize);
        }
        if next == 0 {
            break;
        }
        off = off.saturating_add(next as usize);
    }
    out
}

impl DynSymbols {
    /// Checks once where the tables lie in the image `held` holds, so that
    /// lookups afterwards need not; `false` if one lies outside its
    /// committed pages. Lookups must then be given that image's
    /// reservation.
    pub fn place<M: Memory>(&mut self, held: &Held<M>) -> bool {
        let lo = self.image_vaddr;
        let offset = |span: Option<Span>| -> Option<(usize, usize)> {
            let Some(span) = span else {
                return Some((0, 0));
            };
            let off = usize::try_from(span.vaddr.checked_sub(lo)?).ok()?;
            held.bytes(off, span.len).map(|_| (off, span.len))
        };
        let tables = [
            offset(Some(self.symtab)),
            offset(Some(self.strtab)),
            offset(Some(self.hash)),
            offset(self.versym),
            offset(self.verdef),
        ];
        if tables.iter().any(Option::is_none) {
            return false;
        }
        let tables = tables.map(Option::unwrap_or_default);
        let gnu = match self.hash_kind {
            HashKind::Gnu => held
                .bytes(tables[2].0, tables[2].1)
                .and_then(|h| GnuParams::parse(h, self.class)),
            HashKind::Sysv | HashKind::None => None,
        };
        let lean = gnu.is_some() && tables[4].1 == 0;
        self.placed = Some(Placed { tables, gnu, lean });
        true
    }

    /// The lookup of [`DynSymbols::lookup`] for a placed image with a GNU
    /// hash table and no version definitions: the same search as
    /// [`View::find`] (and the same bounds check on every read: the tables
    /// lie in the image, whose contents the object could change), kept in
    /// one function without building a [`View`].
    #[inline]
    fn lookup_gnu(
        res: &Reservation,
        placed: &Placed,
        params: &GnuParams,
        base: u64,
        lookup: &Lookup<'_>,
    ) -> Option<Symbol> {
        let table = |(off, len): (usize, usize)| -> &[u8] {
            // SAFETY: as in `view`.
            unsafe { core::slice::from_raw_parts(res.host().as_ptr().add(off), len) }
        };
        let [symtab, strtab, hash, _, _] = placed.tables;
        let (symtab, strtab, hashes) = (table(symtab), table(strtab), table(hash));
        let name = lookup.name.as_bytes();
        params.search(hashes, lookup.gnu_hash, |i| {
            let sym = RawSym::at(symtab, i, params.class)?;
            (name_at(strtab, sym.name, name) && sym.is_exported()).then(|| Symbol {
                address: sym.address(base),
                size: sym.size,
                kind: sym.kind(),
            })
        })
    }

    /// The tables inside a loaded image.
    #[inline]
    fn view<'a>(&self, res: &'a Reservation) -> Option<View<'a>> {
        // Tables never placed were never checked against the image.
        let placed = self.placed.as_ref()?;
        let get = |(off, len): (usize, usize)| -> &'a [u8] {
            if len == 0 {
                return &[];
            }
            // SAFETY: `place` had the image's held reservation lend
            // `off..off+len` (`Held::bytes`), so it lies in the committed
            // pages of this reservation (the one `res` is: the tables are
            // only ever read with their own image's), and committed pages
            // stay committed, and readable at every protection, until the
            // reservation is released, which the borrow `'a` of `res`
            // excludes. Writes to the image (relocation, after the tables
            // were placed) need the held reservation's `&mut`, which that
            // borrow excludes too while the slice lives. This skips
            // `Held::bytes`'s check on every lookup.
            unsafe { core::slice::from_raw_parts(res.host().as_ptr().add(off), len) }
        };
        let [symtab, strtab, hash, versym, verdef] = placed.tables.map(get);
        Some(View {
            symtab,
            strtab,
            hash,
            hash_kind: self.hash_kind,
            versym,
            verdef,
            count: self.count,
            class: self.class,
        })
    }

    /// The tables in the image `res` holds, and the parameters of its GNU
    /// hash table, for the public view type.
    pub fn public_view<'a>(&self, res: &'a Reservation) -> Option<(View<'a>, Option<GnuParams>)> {
        let gnu = self.placed.as_ref()?.gnu;
        self.view(res).map(|view| (view, gnu))
    }

    #[inline]
    pub fn lookup(&self, res: &Reservation, base: u64, lookup: &Lookup<'_>) -> Option<Symbol> {
        let found = match &self.placed {
            Some(
                placed @ Placed {
                    lean: true,
                    gnu: Some(p),
                    ..
                },
            ) => {
                return Self::lookup_gnu(res, placed, p, base, lookup);
            }
            Some(placed) => self.view(res)?.find(placed.gnu.as_ref(), lookup),
            None => return None,
        };
        found.map(|(_, s)| Symbol {
            address: s.address(base),
            size: s.size,
            kind: s.kind(),
        })
    }

    pub fn all(&self, res: &Reservation, base: u64) -> Vec<(String, Symbol)> {
        let Some(view) = self.view(res) else {
            return Vec::new();
        };
        (1..view.count)
            .filter_map(|i| {
                let s = view.sym(i)?;
                if !s.is_exported() || !view.version_matches(i, None) {
                    return None;
                }
                let name = view.name(&s)?;
                Some((
                    String::from(name),
                    Symbol {
                        address: s.address(base),
                        size: s.size,
                        kind: s.kind(),
                    },
                ))
            })
            .collect()
    }
}

/// The symbol tables of a loaded shared object.
#[cfg(feature = "shared-objects")]
pub(crate) use DynSymbols as ImageSymbols;

/// A loaded shared object's symbol tables: none can exist in a build
/// without the `shared-objects` feature.
#[cfg(not(feature = "shared-objects"))]
pub(crate) struct ImageSymbols(core::convert::Infallible);

#[cfg(not(feature = "shared-objects"))]
impl ImageSymbols {
    pub(crate) fn lookup(
        &self,
        _res: &Reservation,
        _base: u64,
        _lookup: &Lookup<'_>,
    ) -> Option<Symbol> {
        match self.0 {}
    }
    pub(crate) fn public_view<'a>(
        &self,
        _res: &'a Reservation,
    ) -> Option<(View<'a>, Option<GnuParams>)> {
        match self.0 {}
    }
    pub(crate) fn all(&self, _res: &Reservation, _base: u64) -> Vec<(String, Symbol)> {
        match self.0 {}
    }
}

#[cfg(test)]
mod tests {
    use super::c_str;

    #[test]
    fn c_str_finds_terminator_and_checks_utf8() {
        let mut table = alloc::vec::Vec::new();
        table.extend_from_slice(
            b"\0f1\0a_rather_long_symbol_name_x\0caf\xc3\xa9_\xc3\xa9t\xc3\xa9\0",
        );
        table.extend_from_slice(b"bad\xff\xfe_name_here\0short\x80\0tail");
        assert_eq!(c_str(&table, 0), Some(""));
        assert_eq!(c_str(&table, 1), Some("f1"));
        assert_eq!(c_str(&table, 4), Some("a_rather_long_symbol_name_x"));
        assert_eq!(c_str(&table, 5), Some("_rather_long_symbol_name_x"));
        let cafe = 4 + "a_rather_long_symbol_name_x".len() + 1;
        assert_eq!(c_str(&table, cafe), Some("café_été"));
        let bad = cafe + "café_été".len() + 1;
        assert_eq!(c_str(&table, bad), None);
        let short = bad + b"bad\xff\xfe_name_here".len() + 1;
        assert_eq!(c_str(&table, short), None);
        let tail = short + b"short\x80".len() + 1;
        assert_eq!(c_str(&table, tail), None, "unterminated");
        assert_eq!(c_str(&table, table.len()), None);
        assert_eq!(c_str(&table, table.len() + 1), None);
        // Every offset agrees with the plain definition.
        for off in 0..=table.len() {
            let plain = table.get(off..).and_then(|t| {
                let n = t.iter().position(|&b| b == 0)?;
                core::str::from_utf8(&t[..n]).ok()
            });
            assert_eq!(c_str(&table, off), plain, "offset {off}");
        }
    }
}
