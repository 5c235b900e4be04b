//! The host process's own objects, found through the link map the system
//! dynamic linker publishes (`_r_debug`), never through `dlopen`/`dlsym`/
//! `dl_iterate_phdr` (which may be ours). Each object's dynamic symbol table
//! is read in place through `modlib::symtab`, bounded by its segments.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, c_void, CStr};

use modlib::symtab::{DynamicSymbols, HashTable};
use modlib::{Lookup, Symbol};

use dl_core::platform::{HostObject, HostScope};

#[repr(C)]
#[allow(clippy::struct_field_names)]
struct LinkMap {
    l_addr: usize,
    l_name: *const c_char,
    l_ld: *const core::ffi::c_void,
    l_next: *const LinkMap,
    l_prev: *const LinkMap,
}

#[repr(C)]
#[allow(clippy::struct_field_names)]
struct RDebug {
    r_version: c_int,
    r_map: *const LinkMap,
    r_brk: usize,
    r_state: c_int,
    r_ldbase: usize,
}

extern "C" {
    static _r_debug: RDebug;
}

const PT_LOAD: u32 = 1;
const DT_NULL: u64 = 0;
const DT_HASH: u64 = 4;
const DT_STRTAB: u64 = 5;
const DT_SYMTAB: u64 = 6;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_GNU_HASH: u64 = 0x6fff_fef5;
const DT_VERSYM: u64 = 0x6fff_fff0;
const DT_VERDEF: u64 = 0x6fff_fffc;

/// One host object, read out of the link map.
struct Entry {
    map: usize,
    base: u64,
    /// The path the object was loaded from.
    path: &'static str,
    file_name: &'static str,
    soname: Option<&'static str>,
    symbols: Option<DynamicSymbols<'static>>,
    loads: Vec<(u64, u64)>,
}

impl Entry {
    fn contains(&self, addr: u64) -> bool {
        self.loads.iter().any(|&(a, b)| a <= addr && addr < b)
    }
}

/// The host's global scope, cached and refreshed when the link map changes.
/// The lock guards only the swap of one copy for the next: lookups read a
/// copy with it released (an IFUNC resolver called during a load may look
/// symbols up again).
pub struct HostLinkMap {
    cache: spin::Mutex<Option<Arc<Cache>>>,
}

/// The host's objects, the link map they were read from, and the filter
/// over their symbols.
struct Cache {
    maps: Vec<usize>,
    entries: Vec<Entry>,
    filter: Filter,
    /// The file identity of each entry, in order: found when first needed.
    identities: spin::Once<Vec<String>>,
}

impl Cache {
    /// Reads the host's objects from the link map as it is now.
    fn read() -> Cache {
        let maps = link_maps();
        let entries: Vec<Entry> = maps
            .iter()
            .enumerate()
            .filter_map(|(i, &m)| read_entry(m, i == 0))
            .collect();
        let filter = Filter::new(&entries);
        Cache {
            maps,
            entries,
            filter,
            identities: spin::Once::new(),
        }
    }
}

/// Words of the host filter: 1024 words of 64 bits (8 KiB), about 0.5%
/// false positives for the few thousand symbols of libc and its company.
const FILTER_WORDS: usize = 1024;

/// A bloom filter over the GNU hashes of every symbol of every host object
/// that has a `DT_GNU_HASH` table: a name it rejects is defined by none of
/// them, so one check replaces one per object for the many lookups that
/// the host cannot answer (a library's references to its own symbols).
///
/// Blocked: a hash picks one word and three bits in it, so a check reads
/// one word. The word and bits come from the hash multiplied by a large odd
/// constant, whose high bits depend on all of the hash's bits: the GNU
/// hashes of short names (`f1`, `v42`) differ in their low bits only, and
/// bits taken straight from the hash would be the same for all of them.
struct Filter {
    words: Vec<u64>,
    /// Objects with symbols but no `DT_GNU_HASH` table, not covered.
    uncovered: Vec<usize>,
}

impl Filter {
    /// The word and the mask of a hash (its lowest bit is not kept in the
    /// tables, so it is left out).
    #[inline]
    fn place(hash: u32) -> (usize, u64) {
        let x = u64::from(hash >> 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let word = (x >> 54) as usize % FILTER_WORDS;
        let mask =
            (1u64 << ((x >> 48) & 63)) | (1u64 << ((x >> 42) & 63)) | (1u64 << ((x >> 36) & 63));
        (word, mask)
    }

    fn new(entries: &[Entry]) -> Filter {
        let mut words = alloc::vec![0u64; FILTER_WORDS];
        let mut uncovered = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let Some(symbols) = &e.symbols else { continue };
            let Some(hashes) = symbols.gnu_hashes() else {
                uncovered.push(i);
                continue;
            };
            for hash in hashes {
                let (word, mask) = Filter::place(hash);
                words[word] |= mask;
            }
        }
        Filter { words, uncovered }
    }

    /// Whether no object the filter covers can define a name of this hash.
    #[inline]
    fn rejects(&self, hash: u32) -> bool {
        let (word, mask) = Filter::place(hash);
        self.words.get(word).is_none_or(|w| w & mask != mask)
    }
}

impl HostLinkMap {
    /// An empty cache; filled on first use.
    pub const fn new() -> Self {
        HostLinkMap {
            cache: spin::Mutex::new(None),
        }
    }

    /// The copy of the host's objects as the link map is now (the link map
    /// is walked and compared in place; read again only when it changed).
    fn current(&self) -> Arc<Cache> {
        let mut cache = self.cache.lock();
        match &*cache {
            Some(c) if link_map_is(&c.maps) => Arc::clone(c),
            _ => {
                let fresh = Arc::new(Cache::read());
                *cache = Some(Arc::clone(&fresh));
                fresh
            }
        }
    }

    fn with<R>(&self, f: impl FnOnce(&Cache) -> R) -> R {
        f(&self.current())
    }
}

impl Default for HostLinkMap {
    fn default() -> Self {
        Self::new()
    }
}

/// The link map entries, in order.
fn link_maps() -> Vec<usize> {
    let mut out = Vec::new();
    // SAFETY: `_r_debug` is the dynamic linker's exported debugger interface;
    // its `r_map` list is valid and only changed by the dynamic linker under
    // its own lock, never with entries freed while still linked.
    let mut map = unsafe { (&raw const _r_debug).read_volatile().r_map };
    while !map.is_null() && out.len() < 4096 {
        out.push(map as usize);
        // SAFETY: `map` is a live link map entry (see above).
        map = unsafe { (*map).l_next };
    }
    out
}

/// Whether the link map lists exactly `maps`, in order: checked on every
/// lookup, so it walks the list without allocating.
fn link_map_is(maps: &[usize]) -> bool {
    // SAFETY: as in `link_maps`.
    let mut map = unsafe { (&raw const _r_debug).read_volatile().r_map };
    for &m in maps {
        if map as usize != m {
            return false;
        }
        // SAFETY: `map` is a live link map entry (see `link_maps`).
        map = unsafe { (*map).l_next };
    }
    map.is_null()
}

/// The host's ELF header and program header layouts: its objects are of
/// its own class (ELF64 on 64-bit machines, ELF32 on 32-bit ones).
#[cfg(target_pointer_width = "64")]
type Ehdr = libc::Elf64_Ehdr;
/// See [`Ehdr`].
#[cfg(target_pointer_width = "64")]
type Phdr = libc::Elf64_Phdr;
/// See [`Ehdr`].
#[cfg(target_pointer_width = "32")]
type Ehdr = libc::Elf32_Ehdr;
/// See [`Ehdr`].
#[cfg(target_pointer_width = "32")]
type Phdr = libc::Elf32_Phdr;

/// A dynamic entry (`ElfW(Dyn)`): a word-sized tag and value.
const DYN_SIZE: usize = 2 * core::mem::size_of::<usize>();

/// The `(address, number)` of an object's program headers, from its ELF
/// header at `base`, or from the auxiliary vector for the executable.
///
/// # Safety
/// For a shared object (`is_main` false), `base` must be its load bias,
/// where its first segment (starting with its ELF header) is mapped.
unsafe fn program_headers(base: usize, is_main: bool) -> Option<(usize, usize)> {
    if is_main {
        // SAFETY: getauxval has no preconditions.
        let (phdr, phnum) = unsafe {
            (
                libc::getauxval(libc::AT_PHDR),
                libc::getauxval(libc::AT_PHNUM),
            )
        };
        // `c_ulong` is the width of a pointer on Linux.
        return Some((phdr as usize, phnum as usize));
    }
    if base == 0 {
        return None;
    }
    // SAFETY: per the contract, the header is mapped at `base`; the magic
    // and class are checked before the rest is used.
    unsafe {
        let ident = (base as *const [u8; 5]).read();
        let class = if cfg!(target_pointer_width = "64") {
            2
        } else {
            1
        };
        if ident[..4] != *b"\x7fELF" || ident[4] != class {
            return None;
        }
        let header = (base as *const Ehdr).read_unaligned();
        Some((
            base.wrapping_add(header.e_phoff as usize),
            usize::from(header.e_phnum),
        ))
    }
}

fn read_entry(map: usize, is_main: bool) -> Option<Entry> {
    // SAFETY: `map` is a live link map entry.
    let lm = unsafe { &*(map as *const LinkMap) };
    let bias = lm.l_addr;
    let base = bias as u64;
    // SAFETY: a shared object's first segment maps its ELF header at its
    // load bias (the link map's `l_addr`).
    let (phdr, phnum) = unsafe { program_headers(bias, is_main) }?;
    if phdr == 0 || phnum == 0 || phnum > 256 {
        return None;
    }
    let mut loads = Vec::new();
    for i in 0..phnum {
        let p = phdr + i * core::mem::size_of::<Phdr>();
        // SAFETY: the program header table is mapped (it lies in the first
        // segment, or AT_PHDR says where it is).
        let ph = unsafe { (p as *const Phdr).read_unaligned() };
        if ph.p_type == PT_LOAD {
            let start = base.wrapping_add(ph.p_vaddr as u64);
            loads.push((start, start.wrapping_add(ph.p_memsz as u64)));
        }
    }
    let bounded = |addr: u64| -> Option<&'static [u8]> {
        let &(_, end) = loads.iter().find(|&&(a, b)| a <= addr && addr < b)?;
        // SAFETY: `addr..end` lies inside a loaded segment of a live object.
        Some(unsafe { core::slice::from_raw_parts(addr as *const u8, (end - addr) as usize) })
    };
    // A tag the object does not have reads as 0, which is no table's
    // address (it would be taken for the load bias, the ELF header).
    let absolute = |v: u64| -> Option<u64> {
        let inside = |a: u64| loads.iter().any(|&(lo, hi)| lo <= a && a < hi);
        if v == 0 {
            None
        } else if inside(v) {
            Some(v)
        } else if inside(v.wrapping_add(base)) {
            Some(v.wrapping_add(base))
        } else {
            None
        }
    };
    let dynamic = bounded(lm.l_ld as u64)?;
    let mut tags = [0u64; 8];
    for entry in dynamic.chunks_exact(DYN_SIZE) {
        let (tag, val) = entry.split_at(DYN_SIZE / 2);
        let tag = usize::from_ne_bytes(tag.try_into().ok()?) as u64;
        let val = usize::from_ne_bytes(val.try_into().ok()?) as u64;
        let slot = match tag {
            DT_NULL => break,
            DT_HASH => 0,
            DT_STRTAB => 1,
            DT_SYMTAB => 2,
            DT_STRSZ => 3,
            DT_SONAME => 4,
            DT_GNU_HASH => 5,
            DT_VERSYM => 6,
            DT_VERDEF => 7,
            _ => continue,
        };
        tags[slot] = val;
    }
    let strtab = absolute(tags[1])
        .and_then(bounded)
        .map(|s| &s[..s.len().min(tags[3] as usize)]);
    let symbols = (|| {
        let strtab = strtab?;
        let hash = match (
            absolute(tags[5]).and_then(bounded),
            absolute(tags[0]).and_then(bounded),
        ) {
            (Some(gnu), _) => HashTable::Gnu(gnu),
            (None, Some(sysv)) => HashTable::Sysv(sysv),
            (None, None) => return None,
        };
        let symtab = absolute(tags[2]).and_then(bounded)?;
        let versym = absolute(tags[6]).and_then(bounded).unwrap_or(&[]);
        let verdef = absolute(tags[7]).and_then(bounded).unwrap_or(&[]);
        DynamicSymbols::new(symtab, strtab, hash, versym, verdef)
    })();
    let soname = match (strtab, tags[4]) {
        (Some(s), off) if off != 0 => c_str(s.get(off as usize..)?),
        _ => None,
    };
    let name: *const u8 = if is_main || lm.l_name.is_null() {
        // SAFETY: getauxval has no preconditions; AT_EXECFN is a string on
        // the initial stack, valid for the life of the process.
        let execfn = unsafe { libc::getauxval(libc::AT_EXECFN) } as *const u8;
        if execfn.is_null() {
            c"".as_ptr().cast()
        } else {
            execfn
        }
    } else {
        lm.l_name.cast()
    };
    // SAFETY: `name` is NUL-terminated and lives as long as the object.
    let full = unsafe { CStr::from_ptr(name.cast()) }
        .to_str()
        .unwrap_or("");
    let file_name = full.rsplit('/').next().unwrap_or(full);
    Some(Entry {
        map,
        base,
        path: full,
        file_name,
        soname,
        symbols,
        loads,
    })
}

fn c_str(bytes: &'static [u8]) -> Option<&'static str> {
    let len = bytes.iter().position(|&b| b == 0)?;
    core::str::from_utf8(&bytes[..len]).ok()
}

fn lookup_entry(e: &Entry, lookup: &Lookup<'_>) -> Option<Symbol> {
    e.symbols.as_ref()?.lookup(lookup, e.base)
}

impl Cache {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        if self.filter.rejects(lookup.gnu_hash) {
            // Only objects the filter does not cover can still answer.
            self.filter
                .uncovered
                .iter()
                .find_map(|&i| lookup_entry(&self.entries[i], lookup))
        } else {
            self.entries.iter().find_map(|e| lookup_entry(e, lookup))
        }
    }

    fn object(&self, name: &str) -> Option<HostObject> {
        self.entries
            .iter()
            .skip(1)
            .find(|e| e.soname == Some(name) || e.file_name == name)
            .map(|e| HostObject(e.map))
    }

    fn resolve_in(&self, object: HostObject, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.entries
            .iter()
            .find(|e| e.map == object.0)
            .and_then(|e| lookup_entry(e, lookup))
    }

    // The shape of `HostScope::resolve_after`, which this answers.
    #[allow(clippy::option_option)]
    fn resolve_after(&self, addr: u64, lookup: &Lookup<'_>) -> Option<Option<Symbol>> {
        let at = self.entries.iter().position(|e| e.contains(addr))?;
        Some(
            self.entries[at + 1..]
                .iter()
                .find_map(|e| lookup_entry(e, lookup)),
        )
    }

    fn name(&self, object: HostObject) -> String {
        self.entries
            .iter()
            .find(|e| e.map == object.0)
            .map_or_else(String::new, |e| String::from(e.file_name))
    }
}

impl HostScope for HostLinkMap {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.with(|c| c.resolve(lookup))
    }

    fn object(&self, name: &str) -> Option<HostObject> {
        self.with(|c| c.object(name))
    }

    fn resolve_in(&self, object: HostObject, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.with(|c| c.resolve_in(object, lookup))
    }

    fn resolve_after(&self, addr: u64, lookup: &Lookup<'_>) -> Option<Option<Symbol>> {
        self.with(|c| c.resolve_after(addr, lookup))
    }

    fn load(&self, path: &str) -> Option<HostObject> {
        let c_path = with_nul(path);
        self.system_dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL)?;
        let file_name = path.rsplit('/').next().unwrap_or(path);
        self.object(file_name)
    }

    /// Asks the system's loader, which placed the host's thread-local
    /// storage: `dlsym` (or `dlvsym`) on a handle of the object defining
    /// `symbol`.
    fn thread_local_instance(&self, lookup: &Lookup<'_>, symbol: Symbol) -> Option<u64> {
        let cache = self.current();
        let at = cache
            .entries
            .iter()
            .position(|e| lookup_entry(e, lookup) == Some(symbol))?;
        // The executable (first in the link map) is opened as `NULL`.
        let entry = &cache.entries[at];
        let path = (cache.maps.first() != Some(&entry.map)).then(|| with_nul(entry.path));
        let path_ptr = path.as_ref().map_or(core::ptr::null(), Vec::as_ptr);
        let handle = self.system_dlopen(path_ptr, libc::RTLD_LAZY | libc::RTLD_NOLOAD)?;
        let here = link_maps as *const () as u64;
        let name = with_nul(lookup.name);
        let address = match lookup.version {
            None => {
                let dlsym = self.resolve_after(here, &Lookup::new("dlsym", None))??;
                // SAFETY: the system's `dlsym`, found after this library in
                // the host scope, with its C signature; a handle it gave and
                // a NUL-terminated name.
                unsafe {
                    let f: unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void =
                        core::mem::transmute::<usize, _>(dlsym.address as usize);
                    f(handle, name.as_ptr().cast())
                }
            }
            Some(version) => {
                let dlvsym = self.resolve_after(here, &Lookup::new("dlvsym", None))??;
                let version = with_nul(version);
                // SAFETY: as for `dlsym`, with a NUL-terminated version.
                unsafe {
                    let f: unsafe extern "C" fn(
                        *mut c_void,
                        *const c_char,
                        *const c_char,
                    ) -> *mut c_void = core::mem::transmute::<usize, _>(dlvsym.address as usize);
                    f(handle, name.as_ptr().cast(), version.as_ptr().cast())
                }
            }
        };
        if let Some(Some(dlclose)) = self.resolve_after(here, &Lookup::new("dlclose", None)) {
            // SAFETY: the system's `dlclose` on the reference its `dlopen`
            // gave just now.
            unsafe {
                let f: unsafe extern "C" fn(*mut c_void) -> c_int =
                    core::mem::transmute::<usize, _>(dlclose.address as usize);
                f(handle);
            }
        }
        (!address.is_null()).then_some(address as usize as u64)
    }

    fn name(&self, object: HostObject) -> String {
        self.with(|c| c.name(object))
    }

    fn object_with_identity(&self, identity: &str) -> Option<HostObject> {
        let cache = self.current();
        let identities = cache.identities.call_once(|| {
            cache
                .entries
                .iter()
                .map(|e| super::files::identity(e.path))
                .collect()
        });
        let at = identities.iter().position(|i| i == identity)?;
        Some(HostObject(cache.entries[at].map))
    }

    fn for_load(&self, f: &mut dyn FnMut(&dyn HostScope)) -> bool {
        f(&Snapshot(&self.current()));
        true
    }
}

impl HostLinkMap {
    /// The system's `dlopen(path, mode)` (the system's own, found after
    /// this library in the host scope); `None` if it refuses.
    fn system_dlopen(&self, path: *const u8, mode: c_int) -> Option<*mut c_void> {
        let here = link_maps as *const () as u64;
        let dlopen = self.resolve_after(here, &Lookup::new("dlopen", None))??;
        // SAFETY: the symbol is the system's `dlopen`, with its C
        // signature; the callers pass a NUL-terminated path or null.
        let handle = unsafe {
            let f: unsafe extern "C" fn(*const c_char, c_int) -> *mut c_void =
                core::mem::transmute::<usize, _>(dlopen.address as usize);
            f(path.cast(), mode)
        };
        (!handle.is_null()).then_some(handle)
    }
}

/// `s` with a NUL after it.
fn with_nul(s: &str) -> Vec<u8> {
    let mut c = Vec::with_capacity(s.len() + 1);
    c.extend_from_slice(s.as_bytes());
    c.push(0);
    c
}

/// The host's objects as one load sees them: checked against the link map
/// once, when the load starts, rather than on each of its many lookups
/// (each check walks the link map, a chain of cache misses).
struct Snapshot<'a>(&'a Cache);

impl HostScope for Snapshot<'_> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.0.resolve(lookup)
    }

    fn object(&self, name: &str) -> Option<HostObject> {
        self.0.object(name)
    }

    fn resolve_in(&self, object: HostObject, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.0.resolve_in(object, lookup)
    }

    fn resolve_after(&self, addr: u64, lookup: &Lookup<'_>) -> Option<Option<Symbol>> {
        self.0.resolve_after(addr, lookup)
    }

    fn name(&self, object: HostObject) -> String {
        self.0.name(object)
    }

    /// Loading a system library would change the link map under the
    /// snapshot: not done during a load (the linker never asks then).
    fn load(&self, _path: &str) -> Option<HostObject> {
        None
    }
}
