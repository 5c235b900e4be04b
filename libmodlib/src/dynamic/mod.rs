//! Loading `ET_DYN` shared objects in two steps. [`map`]: map the
//! `PT_LOAD` segments into one reservation, read `PT_DYNAMIC` and check the
//! symbol tables, which then answer lookups. [`Mapped::relocate`]: bind
//! symbols once each, apply `DT_RELR`/`DT_RELA`/`DT_REL`/`DT_JMPREL`,
//! protect (W^X), run the object's IFUNC resolvers, then RELRO, and collect
//! init/fini — unless references to IFUNCs of objects not relocated yet
//! wait for [`Pending::finish`].

mod pages;
pub(crate) mod symbols;
mod tags;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use elf::abi::{PF_W, PF_X, PT_DYNAMIC, PT_GNU_RELRO, PT_LOAD, PT_TLS};
use elf::segment::ProgramHeader;

use crate::call;
use crate::error::LoadError;
use crate::header::{file_range, File};
use crate::image::{DynamicInfo, Exports, Import, LoadedImage, ObjectKind, Region};
use crate::machine::Machine;
use crate::memory::{align_down, align_up, FileMapping, Held, Memory, Protection};
use crate::modinfo::ModInfo;
use crate::reloc::{self, DynamicClass, Fixup, RelocFault};
use crate::symbol::{Lookup, ProviderId, Symbol, SymbolKind, SymbolResolver};
use crate::{Binding, LoadOptions};

use pages::Segment;
use symbols::{c_str, gnu_hash_count, gnu_hash_len, u32_at, DynSymbols, HashKind, Span, View};

/// Largest image span accepted (1 TiB): anything bigger is a corrupt header.
const MAX_SPAN: u64 = 1 << 40;

/// Fewest whole pages of a segment worth mapping from the file rather than
/// copying (below this, a copy costs less than the mapping's system call).
const MAP_AT_LEAST: u64 = 4;

/// How a dynamic symbol was bound.
#[derive(Debug, Clone, Copy)]
enum Bound {
    Unknown,
    Address(u64),
    /// The object's own IFUNC: its resolver runs after relocation.
    OwnIfunc(u64),
    /// An IFUNC of an object not relocated yet (index into the binder's
    /// `waiting`): its resolver runs when the image is finished.
    Waiting(usize),
}

/// Where the value of a deferred relocation comes from.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// An IFUNC resolver of this object (or an `IRELATIVE` one), called
    /// once the object is relocated and its code executable.
    Resolver(u64),
    /// A symbol bound to an IFUNC of another object that was not relocated
    /// yet (index into `Pending::symbols`).
    Waiting(usize),
}

/// A relocation whose value comes from an IFUNC resolver.
struct Deferred {
    place: u64,
    r_type: u32,
    target: Target,
    addend: i64,
    table: &'static str,
}

/// A symbol bound to an IFUNC of an object that was not relocated yet.
///
/// Why wait rather than order the relocations so that this cannot happen:
/// objects are relocated dependencies first (as glibc does), so the IFUNCs
/// of an object's dependencies are ready when it is relocated; but a
/// dependency may bind to an IFUNC of the object that needs it (the group's
/// root interposing it, or the other side of a `DT_NEEDED` cycle), and no
/// order relocates both sides first. glibc calls such a resolver in its
/// unrelocated object; here the reference waits until that object is
/// relocated and the caller finishes the image. (A resolver that itself
/// calls through a reference still waiting would find it unfilled: a
/// resolver should call nothing outside its object, as glibc requires.)
struct WaitingSymbol {
    name: String,
    /// Address of the IFUNC's resolver.
    resolver: u64,
    size: u64,
    provider: ProviderId,
    /// Index of its entry in the imports, whose address is filled in then.
    import: Option<usize>,
}

/// The object's segments and the file-side view of its tables.
struct Layout<'a> {
    bytes: &'a [u8],
    segments: Vec<Segment>,
    /// Unbiased address of the reservation start.
    lo: u64,
}

impl<'a> Layout<'a> {
    /// The file bytes at unbiased address `vaddr`, `len` long, if they lie in
    /// the file-backed part of one segment.
    fn file(&self, vaddr: u64, len: u64) -> Option<&'a [u8]> {
        let s = self
            .segments
            .iter()
            .find(|s| s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz)?;
        if vaddr.checked_add(len)? > s.vaddr + s.filesz {
            return None;
        }
        file_range(self.bytes, s.offset + (vaddr - s.vaddr), len, "").ok()
    }

    /// The file bytes from `vaddr` to the end of its segment's file data.
    fn file_tail(&self, vaddr: u64) -> Option<&'a [u8]> {
        let s = self
            .segments
            .iter()
            .find(|s| s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz)?;
        self.file(vaddr, s.vaddr + s.filesz - vaddr)
    }

    /// Index of the segment whose memory holds `vaddr`.
    fn segment_of(&self, vaddr: u64) -> Option<usize> {
        self.segments
            .iter()
            .position(|s| s.vaddr <= vaddr && vaddr < s.vaddr + s.memsz)
    }

    /// The segment a relocation from `table` may write at `place`: a
    /// writable one, or any with text relocations (`textrel`).
    fn target(&self, place: u64, textrel: bool, table: &str) -> Result<Segment, LoadError> {
        let s = self.segments[self
            .segment_of(place)
            .ok_or_else(|| out_of_bounds(table, place))?];
        if s.prot == Protection::ReadWrite || textrel {
            Ok(s)
        } else {
            Err(LoadError::RelocationInReadOnly {
                section: String::from(table),
                offset: place,
            })
        }
    }
}

fn segment_protection(ph: &ProgramHeader) -> Result<Protection, LoadError> {
    match (ph.p_flags & PF_W != 0, ph.p_flags & PF_X != 0) {
        (true, true) => Err(LoadError::Unsupported {
            what: "a writable and executable segment (W^X)",
        }),
        (false, true) => Ok(Protection::ReadExecute),
        (true, false) => Ok(Protection::ReadWrite),
        (false, false) => Ok(Protection::Read),
    }
}

/// A shared object whose segments are in memory (read-write) and whose
/// symbol tables answer lookups, not yet relocated: none of its code may
/// run. Dropping it gives its memory back.
pub(crate) struct Mapped<'a, M: Memory> {
    held: Held<M>,
    layout: Layout<'a>,
    tags: tags::Tags,
    dynsyms: DynSymbols,
    /// Page ranges and their protections before RELRO (unbiased).
    ranges: Vec<(u64, u64, Protection)>,
    /// The whole pages of `PT_GNU_RELRO` (unbiased), if any.
    relro: Option<(u64, u64)>,
    /// Page ranges (unbiased, sorted) placed at their final protection
    /// when mapped: never written, and left alone by `protect`.
    preset: Vec<(u64, u64)>,
    base: u64,
    machine: Machine,
    symbolic: bool,
    info: DynamicInfo,
    entry: Option<u64>,
    modinfo: ModInfo,
}

/// A relocated shared object, to be handed out by [`Pending::finish`]:
/// complete, or with references to IFUNCs of objects that were not
/// relocated yet still unfilled (and its RELRO still writable).
pub(crate) struct Pending<'a, M: Memory> {
    mapped: Box<Mapped<'a, M>>,
    imports: Vec<Import>,
    /// The relocations that wait (their `target` is `Target::Waiting`).
    waiting: Vec<Deferred>,
    symbols: Vec<WaitingSymbol>,
}

/// Maps the segments of the shared object `file` into memory from
/// `memory` (whole pages of large segments through `mapping` when given)
/// and checks its symbol tables, without relocating anything. Boxed: the
/// image moves through several steps, and is large.
pub(crate) fn map<'a, M: Memory>(
    file: &File<'a>,
    options: LoadOptions,
    memory: M,
    mapping: Option<&dyn FileMapping>,
) -> Result<Box<Mapped<'a, M>>, LoadError> {
    let machine = options.machine;
    let page = memory.page_size() as u64;
    let Parsed {
        phdrs,
        layout,
        relro,
        max_align,
        hi,
        ranges,
        tags,
    } = parse(file, page)?;
    let lo = layout.lo;
    let span = (hi - lo) as usize;
    let mut dynsyms = locate_symbols(&layout, &tags)?;
    let strtab = file_view(&layout, &dynsyms)
        .ok_or(LoadError::malformed("dynamic symbol tables", 0))?
        .strtab;

    // The ranges to commit, adjacent ones merged.
    let mut commits: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(a, b, _) in &ranges {
        match commits.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => commits.push((a, b)),
        }
    }
    let align = max_align.max(page) as usize;
    let whole = commits.as_slice() == [(lo, hi)];
    let res = if whole {
        memory.reserve_committed(span, align)
    } else {
        memory.reserve(span, align)
    }
    .map_err(|_| LoadError::OutOfMemory { size: span })?;
    let mut held = Held {
        memory,
        res: Some(res),
    };
    let start = held.res().addr();
    let base = start.wrapping_sub(lo);
    if !whole {
        for &(a, b) in &commits {
            held.memory
                .commit(held.res(), (a - lo) as usize, (b - a) as usize)?;
        }
    }
    let mut preset: Vec<(u64, u64)> = Vec::new();
    for s in &layout.segments {
        let data = file_range(
            file.data,
            s.offset,
            s.filesz,
            "segment data outside the file",
        )?;
        // Whole pages of a large segment come from the file's own pages
        // when the host can map them; only the partial pages at its ends
        // are copied.
        let (mut head, mut tail) = (data.len(), data.len());
        if let Some(mapping) = mapping {
            let first = align_up(s.vaddr, page).unwrap_or(u64::MAX);
            let end = align_down(s.vaddr + s.filesz, page);
            let file_first = s.offset + first.wrapping_sub(s.vaddr);
            // Pages nothing writes get their final protection at once
            // (no later `protect`, and never writable); with text
            // relocations every page is written, so all start writable.
            let protection = match pages::uniform(&ranges, first, end) {
                Some(p) if !tags.textrel => p,
                _ => Protection::ReadWrite,
            };
            if first < end
                && end - first >= MAP_AT_LEAST * page
                && file_first % page == 0
                && mapping.map_file(
                    held.res(),
                    (first - lo) as usize,
                    (end - first) as usize,
                    file_first,
                    protection,
                )
            {
                head = (first - s.vaddr) as usize;
                tail = (end - s.vaddr) as usize;
                if protection != Protection::ReadWrite {
                    preset.push((first, end));
                }
            }
        }
        for (from, to) in [(0, head), (tail, data.len())] {
            if from == to {
                continue;
            }
            // SAFETY: the segment's pages were committed read-write above
            // (mapped ones stay read-write) and no other slice of the
            // reservation is alive.
            let dst = unsafe {
                held.res_mut()
                    .bytes_mut((s.vaddr - lo) as usize + from, to - from)
            }
            .ok_or(LoadError::malformed("segment outside the image", s.offset))?;
            dst.copy_from_slice(&data[from..to]);
        }
    }
    if !dynsyms.place(held.res()) {
        return Err(LoadError::malformed("dynamic symbol tables", 0));
    }
    let relro = relro.and_then(|ph| {
        let (a, b) = (
            align_down(ph.p_vaddr, page),
            align_down(ph.p_vaddr.saturating_add(ph.p_memsz), page),
        );
        (a < b && a >= lo && b <= hi).then_some((a, b))
    });
    Ok(Box::new(Mapped {
        held,
        info: dynamic_info(&tags, strtab, phdrs),
        symbolic: options.binding == Binding::Symbolic || tags.symbolic,
        layout,
        tags,
        dynsyms,
        ranges,
        relro,
        preset,
        base,
        machine,
        entry: (file.elf.ehdr.e_entry != 0).then(|| base.wrapping_add(file.elf.ehdr.e_entry)),
        modinfo: modinfo(file),
    }))
}

impl<'a, M: Memory> Mapped<'a, M> {
    pub(crate) fn held(&self) -> &Held<M> {
        &self.held
    }

    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    pub(crate) fn info(&self) -> &DynamicInfo {
        &self.info
    }

    /// An exported symbol, at its run-time address (for an IFUNC, its
    /// resolver's, which must not be called before relocation).
    pub(crate) fn lookup(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.dynsyms.lookup(self.held.res(), self.base, lookup)
    }

    /// Binds the symbols and applies the relocations, protects the image
    /// (W^X) and runs its own IFUNC resolvers. References to IFUNCs of
    /// objects `resolver` says are not relocated yet are left for
    /// [`Pending::finish`], as is RELRO then (the places must stay
    /// writable).
    pub(crate) fn relocate(
        mut self: Box<Self>,
        resolver: &dyn SymbolResolver,
    ) -> Result<Pending<'a, M>, LoadError> {
        let machine = self.machine;
        let base = self.base;
        let tags = &self.tags;
        let view = file_view(&self.layout, &self.dynsyms)
            .ok_or(LoadError::malformed("dynamic symbol tables", 0))?;
        let needs = match tags.verneed {
            Some((vaddr, count)) => self
                .layout
                .file_tail(vaddr)
                .map(|b| symbols::version_needs(b, view.strtab, count as usize))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let mut binder = Binder {
            view,
            needs,
            resolver,
            machine,
            base,
            symbolic: self.symbolic,
            bound: vec![Bound::Unknown; self.dynsyms.count],
            imports: Vec::new(),
            waiting: Vec::new(),
        };
        let mut deferred = Vec::new();
        let mut relocator = Relocator {
            layout: &self.layout,
            textrel: tags.textrel,
            held: &mut self.held,
            machine,
            base,
            window: (0, 0, core::ptr::null_mut()),
            word_limit: None,
        };
        if let Some((vaddr, size)) = tags.relr {
            relocator.relr(vaddr, size)?;
        }
        if let Some((vaddr, size)) = tags.rela {
            relocator.table(vaddr, size, true, ".rela.dyn", &mut binder, &mut deferred)?;
        }
        if let Some((vaddr, size)) = tags.rel {
            relocator.table(vaddr, size, false, ".rel.dyn", &mut binder, &mut deferred)?;
        }
        if let Some((vaddr, size)) = tags.jmprel {
            let (rela, name) = if tags.pltrel_is_rela {
                (true, ".rela.plt")
            } else {
                (false, ".rel.plt")
            };
            relocator.table(vaddr, size, rela, name, &mut binder, &mut deferred)?;
        }
        let Binder {
            imports,
            waiting: symbols,
            ..
        } = binder;
        let (own, waiting): (Vec<Deferred>, Vec<Deferred>) = deferred
            .into_iter()
            .partition(|d| matches!(d.target, Target::Resolver(_)));

        // Committed pages are read-write already: only the other
        // protections take a call. Without IFUNC resolvers to run or
        // references waiting in between, RELRO is applied in the same pass.
        if own.is_empty() && waiting.is_empty() {
            self.protect(&self.final_ranges())?;
        } else {
            self.protect(&self.ranges)?;
            if !own.is_empty() {
                run_ifunc_resolvers(
                    &self.layout,
                    self.tags.textrel,
                    &self.ranges,
                    &mut self.held,
                    machine,
                    base,
                    &own,
                )?;
            }
            if waiting.is_empty() {
                self.protect_relro()?;
            }
        }
        Ok(Pending {
            mapped: self,
            imports,
            waiting,
            symbols,
        })
    }

    /// The protections once RELRO is read-only.
    fn final_ranges(&self) -> Vec<(u64, u64, Protection)> {
        match self.relro {
            Some((a, b)) => pages::with_read_only(&self.ranges, a, b),
            None => self.ranges.clone(),
        }
    }

    /// Sets `list`'s protections (committed pages are read-write already)
    /// and makes code visible to instruction fetch.
    fn protect(&self, list: &[(u64, u64, Protection)]) -> Result<(), LoadError> {
        let lo = self.layout.lo;
        for (a, b, prot) in pages::without(list, &self.preset) {
            let (offset, len) = ((a - lo) as usize, (b - a) as usize);
            if prot != Protection::ReadWrite {
                self.held
                    .memory
                    .protect(self.held.res(), offset, len, prot)?;
            }
            if prot == Protection::ReadExecute {
                self.held.memory.sync_icache(self.held.res(), offset, len);
            }
        }
        Ok(())
    }

    /// Makes the RELRO pages read-only.
    fn protect_relro(&self) -> Result<(), LoadError> {
        if let Some((a, b)) = self.relro {
            let lo = self.layout.lo;
            self.held.memory.protect(
                self.held.res(),
                (a - lo) as usize,
                (b - a) as usize,
                Protection::Read,
            )?;
        }
        Ok(())
    }

    /// The finished image: relocated and fully protected.
    fn into_image(self, imports: Vec<Import>) -> Result<LoadedImage<M>, LoadError> {
        let regions = self
            .final_ranges()
            .iter()
            .map(|&(a, b, protection)| Region {
                addr: self.base.wrapping_add(a),
                size: (b - a) as usize,
                protection,
            })
            .collect();
        let (init, fini) = init_fini(&self.tags, &self.layout, &self.held, self.base)?;
        Ok(LoadedImage {
            held: self.held,
            machine: self.machine,
            kind: ObjectKind::Shared,
            base: self.base,
            regions,
            exports: Exports::Dynamic(self.dynsyms),
            init,
            fini,
            entry: self.entry,
            modinfo: self.modinfo,
            imports,
            dynamic: Some(self.info),
        })
    }
}

impl<M: Memory> Pending<'_, M> {
    pub(crate) fn mapped(&self) -> &Mapped<'_, M> {
        &self.mapped
    }

    /// Calls the resolvers of the IFUNCs that references waited for (whose
    /// objects `resolver` must now report relocated), stores what they
    /// return, makes RELRO read-only and hands back the finished image.
    pub(crate) fn finish(self, resolver: &dyn SymbolResolver) -> Result<LoadedImage<M>, LoadError> {
        let Pending {
            mut mapped,
            mut imports,
            waiting,
            symbols,
        } = self;
        if waiting.is_empty() {
            // Complete already, RELRO included.
            return (*mapped).into_image(imports);
        }
        let mut values = Vec::with_capacity(symbols.len());
        for s in symbols {
            if !resolver.is_relocated(s.provider) {
                return Err(LoadError::UnrelocatedIfunc { name: s.name });
            }
            let symbol = Symbol {
                address: s.resolver,
                size: s.size,
                kind: SymbolKind::Ifunc,
            };
            // The provider is relocated now (asked just above), as
            // `bound_address` requires of an IFUNC it calls.
            let value = call::bound_address(symbol, mapped.machine)?;
            if let Some(import) = s.import.and_then(|i| imports.get_mut(i)) {
                import.address = value;
            }
            values.push(value);
        }
        for d in &waiting {
            let Target::Waiting(w) = d.target else {
                continue;
            };
            if !writable(&mapped.ranges, d.place) {
                return Err(LoadError::Unsupported {
                    what: "IFUNC relocation in read-only memory",
                });
            }
            store_resolved(
                &mapped.layout,
                mapped.tags.textrel,
                &mut mapped.held,
                mapped.machine,
                mapped.base,
                d,
                values[w],
            )?;
        }
        mapped.protect_relro()?;
        (*mapped).into_image(imports)
    }
}

/// What loading needs from the headers, before any memory is taken.
struct Parsed<'a> {
    phdrs: Vec<ProgramHeader>,
    layout: Layout<'a>,
    relro: Option<ProgramHeader>,
    max_align: u64,
    /// Unbiased end of the image, page-aligned.
    hi: u64,
    ranges: Vec<(u64, u64, Protection)>,
    tags: tags::Tags,
}

/// Reads and checks the program headers and the dynamic table.
fn parse<'a>(file: &File<'a>, page: u64) -> Result<Parsed<'a>, LoadError> {
    let phdrs: Vec<ProgramHeader> = file
        .elf
        .segments()
        .ok_or(LoadError::malformed(
            "shared object without program headers",
            0,
        ))?
        .iter()
        .collect();
    let mut segments = Vec::new();
    let (mut dynamic, mut relro, mut max_align) = (None, None, 0u64);
    for ph in &phdrs {
        match ph.p_type {
            PT_LOAD => {
                if ph.p_filesz > ph.p_memsz {
                    return Err(LoadError::malformed(
                        "segment file size exceeds memory size",
                        ph.p_offset,
                    ));
                }
                file_range(
                    file.data,
                    ph.p_offset,
                    ph.p_filesz,
                    "segment data outside the file",
                )?;
                if ph.p_memsz == 0 {
                    continue;
                }
                if ph.p_align.is_power_of_two() {
                    max_align = max_align.max(ph.p_align);
                }
                segments.push(Segment {
                    vaddr: ph.p_vaddr,
                    memsz: ph.p_memsz,
                    filesz: ph.p_filesz,
                    offset: ph.p_offset,
                    prot: segment_protection(ph)?,
                });
            }
            PT_DYNAMIC => dynamic = Some(*ph),
            PT_GNU_RELRO => relro = Some(*ph),
            PT_TLS => {
                return Err(LoadError::ThreadLocalStorage {
                    what: "PT_TLS segment",
                })
            }
            _ => {}
        }
    }
    segments.sort_by_key(|s| s.vaddr);
    if segments.is_empty() {
        return Err(LoadError::malformed("no loadable segment", 0));
    }
    for w in segments.windows(2) {
        if w[0]
            .vaddr
            .checked_add(w[0].memsz)
            .is_none_or(|end| end > w[1].vaddr)
        {
            return Err(LoadError::malformed("overlapping segments", w[1].offset));
        }
    }
    let lo = align_down(segments[0].vaddr, page);
    let last = segments[segments.len() - 1];
    let hi = last
        .vaddr
        .checked_add(last.memsz)
        .and_then(|end| align_up(end, page))
        .filter(|&hi| hi - lo <= MAX_SPAN)
        .ok_or(LoadError::malformed(
            "segments span too much address space",
            last.offset,
        ))?;
    let ranges = pages::protections(&segments, page)?;
    let layout = Layout {
        bytes: file.data,
        segments,
        lo,
    };
    let tags = match dynamic {
        Some(ph) => {
            let raw = file_range(
                file.data,
                ph.p_offset,
                ph.p_filesz,
                "PT_DYNAMIC outside the file",
            )?;
            tags::parse(raw, ph.p_offset)?
        }
        None => tags::Tags::default(),
    };
    Ok(Parsed {
        phdrs,
        layout,
        relro,
        max_align,
        hi,
        ranges,
        tags,
    })
}

/// Dependencies, name and search path of a shared object, read from the
/// file without loading it.
pub(crate) fn describe(file: &File<'_>) -> Result<DynamicInfo, LoadError> {
    let parsed = parse(file, 4096)?;
    let strtab = match parsed.tags.strtab {
        Some(a) => parsed
            .layout
            .file(a, parsed.tags.strsz)
            .ok_or(LoadError::malformed(
                "DT_STRTAB outside the loaded file data",
                a,
            ))?,
        None => &[],
    };
    Ok(dynamic_info(&parsed.tags, strtab, parsed.phdrs))
}

/// The caller-facing summary of the dynamic table.
fn dynamic_info(tags: &tags::Tags, strtab: &[u8], phdrs: Vec<ProgramHeader>) -> DynamicInfo {
    let string = |off: u64| c_str(strtab, off as usize).map(String::from);
    DynamicInfo {
        needed: tags.needed.iter().filter_map(|&o| string(o)).collect(),
        soname: tags.soname.and_then(string),
        runpath: tags
            .runpath
            .or(tags.rpath)
            .and_then(string)
            .map(|p| {
                p.split(':')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default(),
        runpath_is_rpath: tags.runpath.is_none() && tags.rpath.is_some(),
        program_headers: phdrs,
    }
}

/// Finds and bounds-checks the dynamic symbol, string, hash and version tables.
fn locate_symbols(layout: &Layout<'_>, tags: &tags::Tags) -> Result<DynSymbols, LoadError> {
    let strtab = match tags.strtab {
        Some(a) => {
            layout.file(a, tags.strsz).ok_or(LoadError::malformed(
                "DT_STRTAB outside the loaded file data",
                a,
            ))?;
            Span {
                vaddr: a,
                len: tags.strsz as usize,
            }
        }
        None => Span {
            vaddr: layout.lo,
            len: 0,
        },
    };
    let (hash_kind, hash_vaddr, count, hash_len) = if let Some(a) = tags.gnu_hash {
        let tail = layout.file_tail(a).ok_or(LoadError::malformed(
            "DT_GNU_HASH outside the loaded file data",
            a,
        ))?;
        let count = gnu_hash_count(tail).ok_or(LoadError::malformed("DT_GNU_HASH table", a))?;
        let len = gnu_hash_len(tail, count).filter(|&l| l <= tail.len());
        (
            HashKind::Gnu,
            a,
            count,
            len.ok_or(LoadError::malformed("DT_GNU_HASH table", a))?,
        )
    } else if let Some(a) = tags.hash {
        let tail = layout.file_tail(a).ok_or(LoadError::malformed(
            "DT_HASH outside the loaded file data",
            a,
        ))?;
        let nbucket = u32_at(tail, 0).ok_or(LoadError::malformed("DT_HASH table", a))? as usize;
        let nchain = u32_at(tail, 4).ok_or(LoadError::malformed("DT_HASH table", a))? as usize;
        let len = 8 + (nbucket + nchain) * 4;
        if len > tail.len() {
            return Err(LoadError::malformed("DT_HASH table", a));
        }
        (HashKind::Sysv, a, nchain, len)
    } else if tags.symtab.is_some() {
        return Err(LoadError::malformed(
            "dynamic symbols without DT_GNU_HASH or DT_HASH",
            0,
        ));
    } else {
        (HashKind::None, layout.lo, 0, 0)
    };
    let symtab = match tags.symtab {
        Some(a) => {
            let len = count
                .checked_mul(symbols::SYM_SIZE)
                .ok_or(LoadError::malformed("DT_SYMTAB", a))?;
            layout.file(a, len as u64).ok_or(LoadError::malformed(
                "DT_SYMTAB outside the loaded file data",
                a,
            ))?;
            Span { vaddr: a, len }
        }
        None => Span {
            vaddr: layout.lo,
            len: 0,
        },
    };
    let versym = match tags.versym {
        Some(a) if count > 0 => {
            layout
                .file(a, count as u64 * 2)
                .ok_or(LoadError::malformed(
                    "DT_VERSYM outside the loaded file data",
                    a,
                ))?;
            Some(Span {
                vaddr: a,
                len: count * 2,
            })
        }
        _ => None,
    };
    let verdef = match tags.verdef {
        Some(a) => {
            let tail = layout.file_tail(a).ok_or(LoadError::malformed(
                "DT_VERDEF outside the loaded file data",
                a,
            ))?;
            Some(Span {
                vaddr: a,
                len: tail.len(),
            })
        }
        None => None,
    };
    Ok(DynSymbols {
        symtab,
        strtab,
        hash: Span {
            vaddr: hash_vaddr,
            len: hash_len,
        },
        hash_kind,
        versym,
        verdef,
        count: if tags.symtab.is_some() { count } else { 0 },
        image_vaddr: layout.lo,
        placed: None,
    })
}

fn file_view<'a>(layout: &Layout<'a>, d: &DynSymbols) -> Option<View<'a>> {
    let get = |s: Span| {
        layout
            .file(s.vaddr, s.len as u64)
            .or((s.len == 0).then_some(&[][..]))
    };
    Some(View {
        symtab: get(d.symtab)?,
        strtab: get(d.strtab)?,
        hash: get(d.hash)?,
        hash_kind: d.hash_kind,
        versym: d.versym.map_or(Some(&[][..]), get)?,
        verdef: d.verdef.map_or(Some(&[][..]), get)?,
        count: d.count,
    })
}

/// Binds each dynamic symbol once and remembers the answer.
struct Binder<'a, 'r> {
    view: View<'a>,
    needs: Vec<(u16, &'a str)>,
    resolver: &'r dyn SymbolResolver,
    machine: Machine,
    base: u64,
    symbolic: bool,
    bound: Vec<Bound>,
    imports: Vec<Import>,
    waiting: Vec<WaitingSymbol>,
}

impl Binder<'_, '_> {
    fn bind(&mut self, index: usize) -> Result<(Bound, u64), LoadError> {
        let sym = self.view.sym(index).ok_or(LoadError::malformed(
            "relocation symbol index out of range",
            index as u64,
        ))?;
        if let Bound::Unknown = self.bound[index] {
        } else {
            return Ok((self.bound[index], sym.size));
        }
        let name = self.view.name(&sym).ok_or(LoadError::malformed(
            "dynamic symbol name",
            u64::from(sym.name),
        ))?;
        let own = || {
            if sym.kind() == SymbolKind::Ifunc {
                Bound::OwnIfunc(sym.address(self.base))
            } else {
                Bound::Address(sym.address(self.base))
            }
        };
        let local = sym.bind() == elf::abi::STB_LOCAL || sym.other & 3 == elf::abi::STV_PROTECTED;
        let bound = if sym.is_defined() && (self.symbolic || local) {
            own()
        } else {
            let version = self.view.needed_version(index, &self.needs);
            let lookup = Lookup::new(name, version);
            let found = if sym.is_defined() {
                self.resolver.resolve_defined(&lookup)
            } else {
                self.resolver.resolve(&lookup)
            };
            match found {
                Some(found)
                    if found.symbol.kind == SymbolKind::Ifunc
                        && !self.resolver.is_relocated(found.provider) =>
                {
                    let import = (!sym.is_defined()).then(|| {
                        self.imports.push(Import {
                            name: String::from(name),
                            version: version.map(String::from),
                            address: 0,
                            provider: Some(found.provider),
                        });
                        self.imports.len() - 1
                    });
                    self.waiting.push(WaitingSymbol {
                        name: String::from(name),
                        resolver: found.symbol.address,
                        size: found.symbol.size,
                        provider: found.provider,
                        import,
                    });
                    Bound::Waiting(self.waiting.len() - 1)
                }
                Some(found) => {
                    let address = call::bound_address(found.symbol, self.machine)?;
                    if !sym.is_defined() {
                        self.imports.push(Import {
                            name: String::from(name),
                            version: version.map(String::from),
                            address,
                            provider: Some(found.provider),
                        });
                    }
                    Bound::Address(address)
                }
                None if sym.is_defined() => own(),
                None if sym.bind() == elf::abi::STB_WEAK => {
                    self.imports.push(Import {
                        name: String::from(name),
                        version: version.map(String::from),
                        address: 0,
                        provider: None,
                    });
                    Bound::Address(0)
                }
                None => {
                    return Err(LoadError::UndefinedSymbol {
                        name: String::from(name),
                        version: version.map(String::from),
                    })
                }
            }
        };
        self.bound[index] = bound;
        Ok((bound, sym.size))
    }

    fn describe(&self, index: usize) -> String {
        self.view
            .sym(index)
            .and_then(|s| self.view.name(&s))
            .map_or_else(|| alloc::format!("symbol {index}"), String::from)
    }
}

/// Applies relocations to the image through per-segment slices.
struct Relocator<'l, 'a, M: Memory> {
    layout: &'l Layout<'a>,
    /// The object has text relocations: any segment may be written.
    textrel: bool,
    held: &'l mut Held<M>,
    machine: Machine,
    base: u64,
    /// The segment relocations last went to: its unbiased memory range
    /// and where its bytes are (null before the first relocation).
    window: (u64, u64, *mut u8),
    /// The last offset in the window where a 64-bit word fits, or `None`.
    word_limit: Option<u64>,
}

impl<M: Memory> Relocator<'_, '_, M> {
    /// The bytes of the segment holding `place`, which a relocation from
    /// `table` writes, and the offset within them.
    fn place(&mut self, place: u64, table: &str) -> Result<(&mut [u8], usize), LoadError> {
        let (lo, hi, _) = self.window;
        if !(lo <= place && place < hi) {
            let s = self.layout.target(place, self.textrel, table)?;
            // SAFETY: the segment lies inside the reservation and is
            // writable, or (text relocations) committed read-write with
            // nothing mapped at a final protection, until protection;
            // slices made from the window never outlive the `&mut self`
            // borrow that made them.
            let bytes = unsafe {
                self.held
                    .res_mut()
                    .bytes_mut((s.vaddr - self.layout.lo) as usize, s.memsz as usize)
            }
            .ok_or_else(|| out_of_bounds(table, place))?;
            self.window = (s.vaddr, s.vaddr + s.memsz, bytes.as_mut_ptr());
            self.word_limit = s.memsz.checked_sub(8);
        }
        let (lo, hi, ptr) = self.window;
        // SAFETY: `ptr` is the start of the committed, read-write segment
        // `lo..hi` (set above from `bytes_mut`), the reservation is borrowed
        // exclusively by this relocator, and this is the only live slice.
        let bytes = unsafe { core::slice::from_raw_parts_mut(ptr, (hi - lo) as usize) };
        Ok((bytes, (place - lo) as usize))
    }

    fn relr(&mut self, vaddr: u64, size: u64) -> Result<(), LoadError> {
        let table = self.layout.file(vaddr, size).ok_or(LoadError::malformed(
            "DT_RELR outside the loaded file data",
            vaddr,
        ))?;
        let mut next = 0u64;
        for chunk in table.chunks_exact(8) {
            let entry = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            if entry & 1 == 0 {
                self.relative_in_place(entry, ".relr.dyn")?;
                next = entry + 8;
            } else {
                let mut bits = entry >> 1;
                let mut at = next;
                while bits != 0 {
                    if bits & 1 != 0 {
                        self.relative_in_place(at, ".relr.dyn")?;
                    }
                    bits >>= 1;
                    at += 8;
                }
                next += 63 * 8;
            }
        }
        Ok(())
    }

    /// `*place += B` for a RELR entry.
    fn relative_in_place(&mut self, place: u64, table: &'static str) -> Result<(), LoadError> {
        let base = self.base;
        let (bytes, off) = self.place(place, table)?;
        let field = bytes
            .get_mut(off..off + 8)
            .ok_or_else(|| out_of_bounds(table, place))?;
        let value = u64::from_le_bytes((&*field).try_into().unwrap_or_default());
        field.copy_from_slice(&value.wrapping_add(base).to_le_bytes());
        Ok(())
    }

    fn table(
        &mut self,
        vaddr: u64,
        size: u64,
        rela: bool,
        name: &'static str,
        binder: &mut Binder<'_, '_>,
        deferred: &mut Vec<Deferred>,
    ) -> Result<(), LoadError> {
        let table = self.layout.file(vaddr, size).ok_or(LoadError::malformed(
            "relocation table outside the loaded file data",
            vaddr,
        ))?;
        let word = |e: &[u8], at: usize| {
            e.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        // Classes of the last type seen: tables come in long runs of one.
        let mut last = (u32::MAX, DynamicClass::Unknown);
        if rela {
            // The window in locals, so the loop does not reload it after
            // each store (which the compiler cannot tell apart from `self`);
            // taken again after each relocation of the general path, which
            // may move it.
            let base = self.base;
            let mut window = (self.window.0, self.window.2, self.word_limit);
            for entry in table.chunks_exact(24) {
                let Ok(entry) = <&[u8; 24]>::try_from(entry) else {
                    continue;
                };
                let (place, info, addend) = (word(entry, 0), word(entry, 8), word(entry, 16));
                let r_type = info as u32;
                if r_type != last.0 {
                    last = (r_type, reloc::dynamic_class(self.machine, r_type));
                }
                // B + A into a 64-bit word (every supported machine is
                // ELF64): the bulk of most tables, kept on a short path.
                if last.1 == DynamicClass::Relative {
                    let (lo, ptr, limit) = window;
                    let offset = place.wrapping_sub(lo);
                    if limit.is_some_and(|limit| offset <= limit) {
                        // SAFETY: `ptr` is the start of the window's
                        // committed, read-write segment (set by `place` from
                        // `bytes_mut`) and `limit` its size less 8, so
                        // `offset..offset+8` lies in it; the reservation is
                        // borrowed exclusively by this relocator and no
                        // slice of it is alive.
                        unsafe {
                            ptr.add(offset as usize)
                                .cast::<[u8; 8]>()
                                .write_unaligned(base.wrapping_add(addend).to_le_bytes());
                        }
                        continue;
                    }
                }
                let sym = (info >> 32) as usize;
                self.one(
                    place,
                    r_type,
                    sym,
                    Some(addend as i64),
                    name,
                    binder,
                    deferred,
                )?;
                window = (self.window.0, self.window.2, self.word_limit);
            }
        } else {
            for entry in table.chunks_exact(16) {
                let (place, info) = (word(entry, 0), word(entry, 8));
                let (sym, r_type) = ((info >> 32) as usize, info as u32);
                self.one(place, r_type, sym, None, name, binder, deferred)?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn one(
        &mut self,
        place: u64,
        r_type: u32,
        sym: usize,
        addend: Option<i64>,
        name: &'static str,
        binder: &mut Binder<'_, '_>,
        deferred: &mut Vec<Deferred>,
    ) -> Result<(), LoadError> {
        let machine = self.machine;
        let class = reloc::dynamic_class(machine, r_type);
        let unsupported = || LoadError::UnsupportedRelocation {
            machine,
            r_type,
            section: String::from(name),
            offset: place,
        };
        match class {
            DynamicClass::None => return Ok(()),
            DynamicClass::Tls => {
                return Err(LoadError::ThreadLocalStorage {
                    what: "TLS relocation",
                })
            }
            DynamicClass::Copy => {
                return Err(LoadError::Unsupported {
                    what: "COPY relocations (only valid in executables)",
                })
            }
            DynamicClass::Unknown => return Err(unsupported()),
            DynamicClass::Relative | DynamicClass::IRelative | DynamicClass::Symbolic => {}
        }
        let base = self.base;
        let (bytes, offset) = self.place(place, name)?;
        let addend = match addend {
            Some(a) => a,
            None => {
                reloc::implicit_addend(machine, r_type, bytes, offset).map_err(|_| unsupported())?
            }
        };
        let (symbol, size) = match class {
            DynamicClass::Relative => (0, 0),
            DynamicClass::IRelative => {
                deferred.push(Deferred {
                    place,
                    r_type,
                    target: Target::Resolver(base.wrapping_add(addend as u64)),
                    addend: 0,
                    table: name,
                });
                return Ok(());
            }
            _ if sym == 0 => (0, 0),
            _ => match binder.bind(sym)? {
                (Bound::Address(a), size) => (a, size),
                (Bound::OwnIfunc(resolver), _) => {
                    deferred.push(Deferred {
                        place,
                        r_type,
                        target: Target::Resolver(resolver),
                        addend,
                        table: name,
                    });
                    return Ok(());
                }
                (Bound::Waiting(w), _) => {
                    deferred.push(Deferred {
                        place,
                        r_type,
                        target: Target::Waiting(w),
                        addend,
                        table: name,
                    });
                    return Ok(());
                }
                (Bound::Unknown, _) => unreachable!("bind never leaves a symbol unknown"),
            },
        };
        let fix = Fixup {
            r_type,
            place: base.wrapping_add(place),
            symbol,
            size,
            addend,
            base,
            ..Fixup::default()
        };
        reloc::apply(machine, &fix, bytes, offset).map_err(|f| match f {
            // Dynamic relocations are never paired and never need relaxation.
            RelocFault::Unsupported | RelocFault::Unpaired | RelocFault::NeedsRelaxation => {
                unsupported()
            }
            RelocFault::Overflow => LoadError::RelocationOverflow {
                r_type,
                symbol: binder.describe(sym),
                offset: place,
            },
            RelocFault::OutOfBounds => out_of_bounds(name, place),
        })
    }
}

fn out_of_bounds(table: &str, place: u64) -> LoadError {
    LoadError::RelocationOutOfBounds {
        section: String::from(table),
        offset: place,
    }
}

/// Runs the object's own IFUNC resolvers (code is executable by now) and
/// stores what they return; every target must be in writable memory.
fn run_ifunc_resolvers<M: Memory>(
    layout: &Layout<'_>,
    textrel: bool,
    ranges: &[(u64, u64, Protection)],
    held: &mut Held<M>,
    machine: Machine,
    base: u64,
    deferred: &[Deferred],
) -> Result<(), LoadError> {
    if Machine::host() != Some(machine) {
        return Err(LoadError::Unsupported {
            what: "IFUNC symbols in objects for another machine",
        });
    }
    for d in deferred {
        let Target::Resolver(resolver) = d.target else {
            continue;
        };
        if !writable(ranges, d.place) {
            return Err(LoadError::Unsupported {
                what: "IFUNC relocation in read-only memory",
            });
        }
        // Only code the object itself brought may be called: an address
        // from a corrupt table would otherwise send the loader anywhere.
        let code = resolver.wrapping_sub(base);
        let in_code = layout.segments.iter().any(|s| {
            s.prot == Protection::ReadExecute && s.vaddr <= code && code < s.vaddr + s.filesz
        });
        if !in_code {
            return Err(LoadError::malformed(
                "IFUNC resolver outside the object's code",
                d.place,
            ));
        }
        // SAFETY: the resolver address lies in the file-backed part of one of
        // this image's executable segments, which is relocated, executable
        // and of the host machine (all checked above).
        let value = unsafe { call::ifunc_resolver(resolver) };
        store_resolved(layout, textrel, held, machine, base, d, value)?;
    }
    Ok(())
}

/// Whether the 8 bytes at unbiased `place` lie in one read-write range.
fn writable(ranges: &[(u64, u64, Protection)], place: u64) -> bool {
    ranges.iter().any(|&(a, b, p)| {
        p == Protection::ReadWrite && a <= place && place.checked_add(8).is_some_and(|end| end <= b)
    })
}

/// Applies the deferred relocation `d` with `value`, what its IFUNC
/// resolver returned; the place must be writable (checked by the caller).
fn store_resolved<M: Memory>(
    layout: &Layout<'_>,
    textrel: bool,
    held: &mut Held<M>,
    machine: Machine,
    base: u64,
    d: &Deferred,
    value: u64,
) -> Result<(), LoadError> {
    let s = layout.target(d.place, textrel, d.table)?;
    // SAFETY: the place lies in a read-write page (checked by the caller)
    // of a committed segment that is writable or, with text relocations,
    // was not mapped at a final protection; no other slice of the
    // reservation is alive.
    let bytes = unsafe {
        held.res_mut()
            .bytes_mut((s.vaddr - layout.lo) as usize, s.memsz as usize)
    }
    .ok_or_else(|| out_of_bounds(d.table, d.place))?;
    let fix = Fixup {
        r_type: d.r_type,
        place: base.wrapping_add(d.place),
        symbol: value,
        addend: d.addend,
        base,
        ..Fixup::default()
    };
    let offset = (d.place - s.vaddr) as usize;
    let result = if reloc::dynamic_class(machine, d.r_type) == DynamicClass::IRelative {
        bytes
            .get_mut(offset..offset + 8)
            .map(|f| f.copy_from_slice(&value.to_le_bytes()))
            .ok_or(RelocFault::OutOfBounds)
    } else {
        reloc::apply(machine, &fix, bytes, offset)
    };
    result.map_err(|_| out_of_bounds(d.table, d.place))
}

/// Init and fini functions in call order, read from the relocated image.
fn init_fini<M: Memory>(
    tags: &tags::Tags,
    layout: &Layout<'_>,
    held: &Held<M>,
    base: u64,
) -> Result<(Vec<u64>, Vec<u64>), LoadError> {
    let array = |range: Option<(u64, u64)>| -> Result<Vec<u64>, LoadError> {
        let Some((vaddr, size)) = range else {
            return Ok(Vec::new());
        };
        if size == 0 {
            return Ok(Vec::new());
        }
        let bad = LoadError::malformed("init/fini array outside the image", vaddr);
        let s = layout.segments[layout.segment_of(vaddr).ok_or(bad.clone())?];
        if vaddr
            .checked_add(size)
            .is_none_or(|end| end > s.vaddr + s.memsz)
        {
            return Err(bad);
        }
        // SAFETY: the array lies inside a committed segment, readable in its
        // final protection, and no mutable slice is alive.
        let bytes = unsafe {
            held.res()
                .bytes((vaddr - layout.lo) as usize, size as usize)
        }
        .ok_or(bad)?;
        Ok(bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
            .filter(|&f| f != 0 && f != u64::MAX)
            .collect())
    };
    let mut init: Vec<u64> = tags
        .init
        .map(|f| base.wrapping_add(f))
        .into_iter()
        .collect();
    init.extend(array(tags.init_array)?);
    let mut fini = array(tags.fini_array)?;
    fini.reverse();
    fini.extend(tags.fini.map(|f| base.wrapping_add(f)));
    Ok((init, fini))
}

/// `.modinfo` from the section headers, if the object keeps them: the
/// first section of that name, as `ElfBytes::section_header_by_name` finds
/// it, but read straight from the header bytes (no parsed copy of every
/// header), each read bounds-checked; anything malformed means no metadata.
fn modinfo(file: &File<'_>) -> ModInfo {
    modinfo_bytes(file.data)
        .map(ModInfo::parse)
        .unwrap_or_default()
}

fn modinfo_bytes(data: &[u8]) -> Option<&[u8]> {
    const SHDR_SIZE: usize = 64;
    const SHN_XINDEX: u16 = 0xffff;
    const NAME: &[u8] = b".modinfo\0";
    let u16_at = symbols::u16_at;
    let u32_at = symbols::u32_at;
    let u64_at = symbols::u64_at;
    let shoff = usize::try_from(u64_at(data, 0x28)?).ok()?;
    if shoff == 0 || usize::from(u16_at(data, 0x3a)?) != SHDR_SIZE {
        return None;
    }
    let header = |i: usize| -> Option<&[u8]> {
        let at = i.checked_mul(SHDR_SIZE)?.checked_add(shoff)?;
        data.get(at..at.checked_add(SHDR_SIZE)?)
    };
    // Counts too large for the ELF header are kept in section 0.
    let shnum = match u16_at(data, 0x3c)? {
        0 => usize::try_from(u64_at(header(0)?, 32)?).ok()?,
        n => usize::from(n),
    };
    let shstrndx = match u16_at(data, 0x3e)? {
        SHN_XINDEX => u32_at(header(0)?, 40)? as usize,
        n => usize::from(n),
    };
    let bytes = |h: &[u8]| -> Option<&[u8]> {
        if u32_at(h, 4)? == elf::abi::SHT_NOBITS {
            return Some(&[]);
        }
        let start = usize::try_from(u64_at(h, 24)?).ok()?;
        let len = usize::try_from(u64_at(h, 32)?).ok()?;
        data.get(start..start.checked_add(len)?)
    };
    if shstrndx >= shnum {
        return None;
    }
    let names = bytes(header(shstrndx)?)?;
    for i in 0..shnum {
        let h = header(i)?;
        let at = u32_at(h, 0)? as usize;
        let name = names.get(at..)?;
        if name.starts_with(NAME) {
            return bytes(h);
        }
        // A name must at least be terminated within the table.
        name.iter().position(|&b| b == 0)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::modinfo_bytes;
    use alloc::vec::Vec;

    /// An ELF header and section headers for `sections` (`(name, type,
    /// contents)`), with `.shstrtab` last; `shnum0` puts the count in
    /// section 0 instead.
    fn elf(sections: &[(&str, u32, &[u8])], shnum0: bool) -> Vec<u8> {
        let mut names = alloc::vec![0u8];
        let mut offsets = Vec::new();
        for (name, _, _) in sections.iter().chain([&(".shstrtab", 3, &[][..])]) {
            offsets.push(names.len() as u32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let mut data = alloc::vec![0u8; 64];
        data[..4].copy_from_slice(b"\x7fELF");
        data[4] = 2;
        data[5] = 1;
        data[6] = 1;
        data[16..18].copy_from_slice(&3u16.to_le_bytes());
        data[18..20].copy_from_slice(&62u16.to_le_bytes());
        data[52..54].copy_from_slice(&64u16.to_le_bytes());
        data[58..60].copy_from_slice(&64u16.to_le_bytes());
        let mut placed = Vec::new();
        for (_, _, bytes) in sections {
            placed.push((data.len() as u64, bytes.len() as u64));
            data.extend_from_slice(bytes);
        }
        placed.push((data.len() as u64, names.len() as u64));
        data.extend_from_slice(&names);
        while data.len() % 8 != 0 {
            data.push(0);
        }
        let shoff = data.len() as u64;
        let count = sections.len() + 2;
        data[40..48].copy_from_slice(&shoff.to_le_bytes());
        let shnum = if shnum0 { 0 } else { count as u16 };
        data[60..62].copy_from_slice(&shnum.to_le_bytes());
        data[62..64].copy_from_slice(&((count - 1) as u16).to_le_bytes());
        let mut null = [0u8; 64];
        if shnum0 {
            null[32..40].copy_from_slice(&(count as u64).to_le_bytes());
        }
        data.extend_from_slice(&null);
        let types = sections.iter().map(|s| s.1).chain([3]);
        for ((name, ty), (off, size)) in offsets.iter().zip(types).zip(placed) {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&name.to_le_bytes());
            h[4..8].copy_from_slice(&ty.to_le_bytes());
            h[24..32].copy_from_slice(&off.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            data.extend_from_slice(&h);
        }
        data
    }

    fn by_elf_crate(data: &[u8]) -> Option<&[u8]> {
        crate::inspect::section(data, crate::Machine::X86_64, ".modinfo")
            .ok()
            .flatten()
    }

    #[test]
    fn modinfo_found_as_the_elf_crate_finds_it() {
        let info = b"name=x\0license=MIT\0";
        let cases: [&[(&str, u32, &[u8])]; 5] = [
            &[(".text", 1, b"\x90\x90"), (".modinfo", 1, info)],
            &[(".modinfo.x", 1, b"a=b\0"), (".modinfo", 1, info)],
            &[(".modinfo", 8, b""), (".modinfo", 1, info)],
            &[(".text", 1, b"\xc3")],
            &[],
        ];
        for (i, sections) in cases.iter().enumerate() {
            for shnum0 in [false, true] {
                let data = elf(sections, shnum0);
                assert_eq!(
                    modinfo_bytes(&data),
                    by_elf_crate(&data),
                    "case {i}, shnum0 {shnum0}"
                );
            }
        }
        let data = elf(cases[0], false);
        assert_eq!(modinfo_bytes(&data), Some(&info[..]));
        // Truncated anywhere: never out of bounds, never a different answer
        // from the data that is there.
        for len in 0..data.len() {
            let cut = &data[..len];
            assert!(modinfo_bytes(cut).is_none_or(|m| m == info), "len {len}");
        }
    }
}
