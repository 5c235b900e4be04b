//! Loading `ET_DYN` shared objects in two steps. [`map`]: map the
//! `PT_LOAD` segments into one reservation, read `PT_DYNAMIC` and check the
//! symbol tables, which then answer lookups. [`Mapped::relocate`]: bind
//! symbols once each, apply `DT_RELR`/`DT_RELA`/`DT_REL`/`DT_JMPREL`,
//! protect (W^X), run the object's IFUNC resolvers, then RELRO, and collect
//! init/fini — unless references to IFUNCs of objects not relocated yet
//! wait for [`Pending::finish`].

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::call;
use crate::error::LoadError;
use crate::header::{file_range, File};
use crate::image::{CodeBounds, Exports, LoadedImage};
use crate::kinds::{DynamicInfo, Import, ObjectKind, Region, ThreadLocal, UnresolvedCall};
use crate::machine::Machine;
use crate::memory::{align_down, align_up, FileMapping, Held, Memory, Protection};
use crate::modinfo::ModInfo;
use crate::options::{ArmAbi, Binding, LoadOptions};
use crate::symbol::{Lookup, Symbol, SymbolKind, SymbolResolver};

use super::apply::{self, run_ifunc_resolvers, store_resolved, writable, Descriptors, Relocator};
use super::bind::{Binder, Bound, Deferred, Target, WaitingSymbol};
use super::parse::{
    dynamic_info, file_view, locate_symbols, parse, section_by_name, Headers, Layout, Parsed,
    TlsSegment,
};
use super::symbols::{self, DynSymbols};
use super::{pages, tags};

/// Fewest whole pages of a segment worth mapping from the file rather than
/// copying (below this, a copy costs less than the mapping's system call).
const MAP_AT_LEAST: u64 = 4;

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
    /// `PT_TLS`, if the object has thread-local storage.
    tls: Option<TlsSegment>,
    /// The TLS module id the host gave it (required with `PT_TLS`).
    tls_module: Option<u64>,
    /// The PLT calls left to the lazy handler, once relocated.
    unresolved: Vec<UnresolvedCall>,
    /// Where the `tls_index` records of TLS descriptors go (unbiased) and
    /// how many there are.
    descriptors: Option<(u64, usize)>,
    /// The host's resolver for TLS descriptors (required with any).
    descriptor_resolver: Option<u64>,
    base: u64,
    machine: Machine,
    /// How Arm objects are read.
    arm: ArmAbi,
    /// The CPU's capabilities, for IFUNC resolvers.
    hwcaps: crate::HwCaps,
    symbolic: bool,
    /// Where calls to functions nothing defines go (lazy binding), if
    /// they may stay unresolved.
    lazy_calls: Option<u64>,
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
    headers: Headers<'a>,
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
        mut ranges,
        tags,
        tls,
    } = parse(headers, page)?;
    let lo = layout.lo;
    // TLS descriptors each get a `tls_index` in pages after the segments
    // (read-only once relocated), which their resolver passes on.
    let descriptors = if tls.is_some() {
        apply::count_tls_descriptors(&layout, &tags, machine)
    } else {
        0
    };
    let descriptor_area = (descriptors > 0).then(|| {
        let record = 2 * machine.word_size() as u64;
        let end = align_up(hi + descriptors as u64 * record, page).unwrap_or(hi);
        (hi, end)
    });
    let hi = match descriptor_area {
        Some((from, to)) => {
            ranges.push((from, to, Protection::Read));
            to
        }
        None => hi,
    };
    let mut dynsyms = locate_symbols(&layout, &tags, file.class)?;
    let strtab = file_view(&layout, &dynsyms)
        .ok_or(LoadError::malformed("dynamic symbol tables", 0))?
        .strtab;
    // Everything the file alone can show wrong is found before any memory
    // is reserved, and the image's size is checked against the limit.
    ifunc_resolvers_in_code(&layout, &dynsyms, machine)?;
    validate_tables(&layout, &tags, machine, file.elf.ehdr.e_entry)?;
    let span = options.image_size(hi - lo)?;

    // The ranges to commit, adjacent ones merged.
    let mut commits: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for &(a, b, _) in &ranges {
        match commits.last_mut() {
            Some(last) if last.1 == a => last.1 = b,
            _ => commits.push((a, b)),
        }
    }
    let align = max_align.max(page) as usize;
    // With a file the host can map, the pages it maps are never committed
    // first (committing them would zero, and on some hosts populate, pages
    // the file mapping then replaces): the span is reserved, the file's
    // whole pages mapped, and only the rest committed.
    let whole = mapping.is_none() && commits.as_slice() == [(lo, hi)];
    let mut held = Held::reserve(memory, span, align, whole)
        .map_err(|_| LoadError::OutOfMemory { size: span })?;
    let start = held.res().addr();
    if start.saturating_add(span as u64) > machine.class().max_address() {
        return Err(LoadError::AddressBeyondClass {
            addr: start,
            size: span,
        });
    }
    let base = start.wrapping_sub(lo);
    // Which bytes of each segment came from the file's own pages: the
    // segment's `head..tail` (all of it copied when nothing was mapped).
    let mut from_file: Vec<(usize, usize)> = Vec::with_capacity(layout.segments.len());
    let mut mapped: Vec<(u64, u64)> = Vec::new();
    let mut preset: Vec<(u64, u64)> = Vec::new();
    for (index, s) in layout.segments.iter().enumerate() {
        let len = file_range(
            file.data,
            s.offset,
            s.filesz,
            "segment data outside the file",
        )?
        .len();
        let (mut head, mut tail) = (len, len);
        let pages = mapping.and_then(|m| {
            pages::from_file(&layout.segments, index, &ranges, page, MAP_AT_LEAST)
                .map(|range| (m, range))
        });
        if let Some((mapping, (first, end, file_first))) = pages {
            // Pages nothing writes get their final protection at once
            // (no later `protect`, and never writable); with text
            // relocations every page is written, so all start writable.
            let protection = match pages::uniform(&ranges, first, end) {
                Some(p) if !tags.textrel => p,
                _ => Protection::ReadWrite,
            };
            if held.map_file(
                mapping,
                (first - lo) as usize,
                (end - first) as usize,
                file_first,
                protection,
            ) {
                head = first.saturating_sub(s.vaddr) as usize;
                tail = (end - s.vaddr).min(s.filesz) as usize;
                mapped.push((first, end));
                if protection != Protection::ReadWrite {
                    preset.push((first, end));
                }
            }
        }
        from_file.push((head, tail));
    }
    if !whole {
        let wanted: Vec<_> = commits
            .iter()
            .map(|&(a, b)| (a, b, Protection::ReadWrite))
            .collect();
        for (a, b, _) in pages::without(&wanted, &mapped) {
            held.commit((a - lo) as usize, (b - a) as usize)?;
        }
    }
    for (s, &(head, tail)) in layout.segments.iter().zip(&from_file) {
        let data = file_range(
            file.data,
            s.offset,
            s.filesz,
            "segment data outside the file",
        )?;
        for (from, to) in [(0, head), (tail, data.len())] {
            if from == to {
                continue;
            }
            let dst = held
                .bytes_mut((s.vaddr - lo) as usize + from, to - from)
                .ok_or(LoadError::malformed("segment outside the image", s.offset))?;
            dst.copy_from_slice(&data[from..to]);
        }
    }
    if !dynsyms.place(&held) {
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
        info: dynamic_info(&tags, strtab, &phdrs),
        symbolic: options.binding == Binding::Symbolic || tags.symbolic,
        lazy_calls: options.lazy_calls.filter(|_| !tags.bind_now),
        layout,
        tags,
        dynsyms,
        ranges,
        relro,
        preset,
        tls,
        tls_module: None,
        unresolved: Vec::new(),
        descriptors: descriptor_area.map(|(from, _)| (from, descriptors)),
        descriptor_resolver: None,
        base,
        machine,
        arm: options.arm,
        hwcaps: options.hwcaps,
        entry: (file.elf.ehdr.e_entry != 0).then(|| base.wrapping_add(file.elf.ehdr.e_entry)),
        modinfo: section_by_name(file, ".modinfo")
            .map(ModInfo::parse)
            .unwrap_or_default(),
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

    /// The object's thread-local storage, with the module id given so far.
    pub(crate) fn thread_local(&self) -> Option<ThreadLocal> {
        self.tls.map(|t| ThreadLocal {
            init: self.base.wrapping_add(t.vaddr),
            init_size: t.filesz as usize,
            size: t.memsz as usize,
            align: t.align as usize,
            module: self.tls_module.unwrap_or(0),
        })
    }

    /// Gives the object its TLS module id, before it is relocated.
    pub(crate) fn set_tls_module(&mut self, module: u64) {
        self.tls_module = Some(module);
    }

    /// Gives the object the host's TLS descriptor resolver.
    pub(crate) fn set_tls_descriptor_resolver(&mut self, resolver: u64) {
        self.descriptor_resolver = Some(resolver);
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
        if self.tls.is_some() && self.tls_module.is_none() {
            return Err(LoadError::ThreadLocalStorage {
                what: "a PT_TLS segment, and the host provides no thread-local storage",
            });
        }
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
            hwcaps: self.hwcaps,
            base,
            symbolic: self.symbolic,
            lazy_calls: self.lazy_calls,
            bound: vec![Bound::Unknown; self.dynsyms.count],
            imports: Vec::new(),
            waiting: Vec::new(),
            unresolved: Vec::new(),
        };
        let mut deferred = Vec::new();
        let mut relocator = Relocator {
            layout: &self.layout,
            textrel: tags.textrel,
            tls_module: self.tls_module,
            descriptors: self.descriptors.map(|(area, count)| Descriptors {
                next: area,
                end: area + count as u64 * 2 * machine.word_size() as u64,
                resolver: self.descriptor_resolver,
            }),
            held: &mut self.held,
            machine,
            arm: self.arm,
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
            unresolved,
            ..
        } = binder;
        self.unresolved = unresolved;
        let (own, waiting): (Vec<Deferred>, Vec<Deferred>) = deferred
            .into_iter()
            .partition(|d| matches!(d.target, Target::Resolver(_)));

        // Committed pages are read-write already: only the other
        // protections take a call. Without IFUNC resolvers to run or
        // references waiting in between, RELRO is applied in the same pass.
        if own.is_empty() && waiting.is_empty() {
            self.protect(&self.final_ranges())?;
        } else {
            let ranges = self.ranges.clone();
            self.protect(&ranges)?;
            if !own.is_empty() {
                run_ifunc_resolvers(
                    &self.layout,
                    self.tags.textrel,
                    &self.ranges,
                    &mut self.held,
                    (machine, self.arm, self.hwcaps),
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
    fn protect(&mut self, list: &[(u64, u64, Protection)]) -> Result<(), LoadError> {
        let lo = self.layout.lo;
        for (a, b, prot) in pages::without(list, &self.preset) {
            let (offset, len) = ((a - lo) as usize, (b - a) as usize);
            if prot != Protection::ReadWrite {
                self.held.protect(offset, len, prot)?;
            }
            if prot == Protection::ReadExecute {
                self.held.sync_icache(offset, len);
            }
        }
        Ok(())
    }

    /// Makes the RELRO pages read-only.
    fn protect_relro(&mut self) -> Result<(), LoadError> {
        if let Some((a, b)) = self.relro {
            let lo = self.layout.lo;
            self.held
                .protect((a - lo) as usize, (b - a) as usize, Protection::Read)?;
        }
        Ok(())
    }

    /// The finished image: relocated and fully protected.
    fn into_image(self, imports: Vec<Import>) -> Result<LoadedImage<M>, LoadError> {
        let regions: Vec<Region> = self
            .final_ranges()
            .iter()
            .map(|&(a, b, protection)| Region {
                addr: self.base.wrapping_add(a),
                size: (b - a) as usize,
                protection,
            })
            .collect();
        let bounds = CodeBounds {
            regions: &regions,
            imports: &imports,
            machine: self.machine,
        };
        if let Some(entry) = self.entry {
            bounds.check("e_entry", entry, false)?;
        }
        let (init, fini) = init_fini(&self.tags, &self.layout, &self.held, self.base, &bounds)?;
        let thread_local = self.thread_local();
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
            thread_local,
            unresolved: self.unresolved,
            exception_index: self
                .info
                .exception_index(crate::reloc::exception_index_type(self.machine), self.base),
            dynamic: Some(self.info),
        })
    }
}

impl<'a, M: Memory> Pending<'a, M> {
    pub(crate) fn mapped(&self) -> &Mapped<'a, M> {
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
            let value = call::bound_address(symbol, mapped.machine, mapped.hwcaps)?;
            if let Some(import) = s.import.and_then(|i| imports.get_mut(i)) {
                import.address = value;
            }
            values.push(value);
        }
        for d in &waiting {
            let Target::Waiting(w) = d.target else {
                continue;
            };
            if !writable(&mapped.ranges, d.place, mapped.machine.word_size()) {
                return Err(LoadError::Unsupported {
                    what: "IFUNC relocation in read-only memory",
                });
            }
            store_resolved(
                &mapped.layout,
                mapped.tags.textrel,
                &mut mapped.held,
                (mapped.machine, mapped.arm),
                mapped.base,
                d,
                values[w],
            )?;
        }
        mapped.protect_relro()?;
        (*mapped).into_image(imports)
    }
}

/// Init and fini functions in call order, read from the relocated image;
/// each must lie in the object's code, or for the arrays be a function it
/// imported (`bounds`), else the load is refused naming the tag.
fn init_fini<M: Memory>(
    tags: &tags::Tags,
    layout: &Layout<'_>,
    held: &Held<M>,
    base: u64,
    bounds: &CodeBounds<'_>,
) -> Result<(Vec<u64>, Vec<u64>), LoadError> {
    let class = bounds.machine.class();
    let array = |range: Option<(u64, u64)>, what: &str| -> Result<Vec<u64>, LoadError> {
        let Some((vaddr, size)) = range else {
            return Ok(Vec::new());
        };
        if size == 0 {
            return Ok(Vec::new());
        }
        array_in_file(layout, vaddr, size)?;
        let bad = LoadError::malformed("init/fini array outside the file data", vaddr);
        let bytes = held
            .bytes((vaddr - layout.lo) as usize, size as usize)
            .ok_or(bad)?;
        class
            .words(bytes)
            .filter(|&f| f != 0 && f != class.max_address())
            .map(|f| bounds.check(what, f, true).map(|()| f))
            .collect()
    };
    let function = |tag: Option<u64>, what: &str| -> Result<Option<u64>, LoadError> {
        tag.map(|f| {
            let f = base.wrapping_add(f);
            bounds.check(what, f, false).map(|()| f)
        })
        .transpose()
    };
    let mut init: Vec<u64> = function(tags.init, "DT_INIT")?.into_iter().collect();
    init.extend(array(tags.init_array, "DT_INIT_ARRAY")?);
    let mut fini = array(tags.fini_array, "DT_FINI_ARRAY")?;
    fini.reverse();
    fini.extend(function(tags.fini, "DT_FINI")?);
    Ok((init, fini))
}

/// Checks that every IFUNC the object defines has its resolver in the file
/// data of one of its executable segments: whoever binds to it (this
/// object, another of its group, `dlsym`) calls that resolver.
fn ifunc_resolvers_in_code(
    layout: &Layout<'_>,
    dynsyms: &DynSymbols,
    machine: Machine,
) -> Result<(), LoadError> {
    let view =
        file_view(layout, dynsyms).ok_or(LoadError::malformed("dynamic symbol tables", 0))?;
    for i in 1..view.count {
        let Some(sym) = view.sym(i) else { break };
        if sym.kind() != SymbolKind::Ifunc || !sym.is_defined() {
            continue;
        }
        if sym.shndx == elf::abi::SHN_ABS || !in_code(layout, machine, sym.value) {
            return Err(LoadError::CodeOutsideObject {
                what: String::from("IFUNC resolver"),
                address: sym.value,
            });
        }
    }
    Ok(())
}

/// Whether the unbiased `vaddr` lies in the file data of an executable
/// segment (on Arm, with the Thumb bit masked).
fn in_code(layout: &Layout<'_>, machine: Machine, vaddr: u64) -> bool {
    let vaddr = crate::reloc::code_address(machine, vaddr);
    layout.segments.iter().any(|s| {
        s.prot == Protection::ReadExecute
            && vaddr.checked_sub(s.vaddr).is_some_and(|d| d < s.filesz)
    })
}

/// Checks, before the object is placed, what the dynamic table points at:
/// the relocation tables lie in the file's data, the init and fini arrays
/// in one segment's file data, and `DT_INIT`, `DT_FINI` and the entry
/// point (`entry`, if not 0) in the object's code. (The arrays' entries are
/// checked once relocated.)
fn validate_tables(
    layout: &Layout<'_>,
    tags: &tags::Tags,
    machine: Machine,
    entry: u64,
) -> Result<(), LoadError> {
    for (table, what) in [
        (tags.relr, "DT_RELR outside the loaded file data"),
        (tags.rela, "relocation table outside the loaded file data"),
        (tags.rel, "relocation table outside the loaded file data"),
        (tags.jmprel, "relocation table outside the loaded file data"),
    ] {
        if let Some((vaddr, size)) = table {
            layout
                .file(vaddr, size)
                .ok_or(LoadError::malformed(what, vaddr))?;
        }
    }
    for (vaddr, size) in [tags.init_array, tags.fini_array].into_iter().flatten() {
        if size != 0 {
            array_in_file(layout, vaddr, size)?;
        }
    }
    let functions = [(tags.init, "DT_INIT"), (tags.fini, "DT_FINI")];
    let entry = [((entry != 0).then_some(entry), "e_entry")];
    for (vaddr, what) in functions.into_iter().chain(entry) {
        if let Some(vaddr) = vaddr.filter(|&v| !in_code(layout, machine, v)) {
            return Err(LoadError::CodeOutsideObject {
                what: String::from(what),
                address: vaddr,
            });
        }
    }
    Ok(())
}

/// The segment an init or fini array at unbiased `vaddr`, `size` bytes,
/// lies in the file data of (a linker never puts one in zero-filled
/// memory): checked once, so that its length is bounded by the file's,
/// however large the tag says.
fn array_in_file(layout: &Layout<'_>, vaddr: u64, size: u64) -> Result<(), LoadError> {
    let bad = LoadError::malformed("init/fini array outside the file data", vaddr);
    let s = layout.segments[layout.segment_of(vaddr).ok_or(bad.clone())?];
    if vaddr
        .checked_add(size)
        .is_none_or(|end| end > s.vaddr + s.filesz)
    {
        return Err(bad);
    }
    Ok(())
}
