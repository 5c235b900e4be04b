//! Reading a shared object before it is mapped: program headers, the
//! dynamic table, the symbol tables and `.modinfo`, all bounds-checked
//! against the file.

use alloc::string::String;
use alloc::vec::Vec;

use elf::abi::{PF_W, PF_X, PT_DYNAMIC, PT_GNU_RELRO, PT_LOAD, PT_TLS};
use elf::segment::ProgramHeader;

use crate::class::Class;
use crate::error::LoadError;
use crate::header::{file_range, File};
use crate::kinds::{DynamicInfo, ProgramHeader as PublicHeader};
use crate::memory::{align_down, align_up, Protection};

use super::pages::{self, Segment};
use super::symbols::{
    self, c_str, gnu_hash_count, gnu_hash_len, u32_at, DynSymbols, GnuCount, HashKind, Span, View,
};
use super::tags;

/// Largest image span accepted (1 TiB): anything bigger is a corrupt header.
const MAX_SPAN: u64 = 1 << 40;

/// The object's segments and the file-side view of its tables.
pub(super) struct Layout<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) segments: Vec<Segment>,
    /// Unbiased address of the reservation start.
    pub(super) lo: u64,
}

impl<'a> Layout<'a> {
    /// The file bytes at unbiased address `vaddr`, `len` long, if they lie in
    /// the file-backed part of one segment.
    pub(super) fn file(&self, vaddr: u64, len: u64) -> Option<&'a [u8]> {
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
    pub(super) fn file_tail(&self, vaddr: u64) -> Option<&'a [u8]> {
        let s = self
            .segments
            .iter()
            .find(|s| s.vaddr <= vaddr && vaddr < s.vaddr + s.filesz)?;
        self.file(vaddr, s.vaddr + s.filesz - vaddr)
    }

    /// Index of the segment whose memory holds `vaddr`.
    pub(super) fn segment_of(&self, vaddr: u64) -> Option<usize> {
        self.segments
            .iter()
            .position(|s| s.vaddr <= vaddr && vaddr < s.vaddr + s.memsz)
    }

    /// The segment a relocation from `table` may write at `place`: a
    /// writable one, or any with text relocations (`textrel`).
    pub(super) fn target(
        &self,
        place: u64,
        textrel: bool,
        table: &str,
    ) -> Result<Segment, LoadError> {
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

pub(super) fn segment_protection(ph: &ProgramHeader) -> Result<Protection, LoadError> {
    match (ph.p_flags & PF_W != 0, ph.p_flags & PF_X != 0) {
        (true, true) => Err(LoadError::Unsupported {
            what: "a writable and executable segment (W^X)",
        }),
        (false, true) => Ok(Protection::ReadExecute),
        (true, false) => Ok(Protection::ReadWrite),
        (false, false) => Ok(Protection::Read),
    }
}

/// What loading needs from the headers, before any memory is taken.
pub(super) struct Parsed<'a> {
    pub(super) phdrs: Vec<ProgramHeader>,
    pub(super) layout: Layout<'a>,
    pub(super) relro: Option<ProgramHeader>,
    pub(super) max_align: u64,
    /// Unbiased end of the image, page-aligned.
    pub(super) hi: u64,
    pub(super) ranges: Vec<(u64, u64, Protection)>,
    pub(super) tags: tags::Tags,
    /// `PT_TLS`, checked: its initialisation image lies in one segment's
    /// file data.
    pub(super) tls: Option<TlsSegment>,
}

/// A checked `PT_TLS` segment, in unbiased addresses.
#[derive(Debug, Clone, Copy)]
pub(super) struct TlsSegment {
    pub(super) vaddr: u64,
    pub(super) filesz: u64,
    pub(super) memsz: u64,
    pub(super) align: u64,
}

/// Largest thread-local block accepted (1 GiB): each thread gets one.
const MAX_TLS: u64 = 1 << 30;

/// Checks `PT_TLS`: sizes, alignment, and an initialisation image that the
/// image's memory holds.
fn thread_local(layout: &Layout<'_>, ph: &ProgramHeader) -> Result<TlsSegment, LoadError> {
    let bad = |what| LoadError::malformed(what, ph.p_offset);
    if ph.p_filesz > ph.p_memsz || ph.p_memsz > MAX_TLS {
        return Err(bad("PT_TLS sizes"));
    }
    let align = ph.p_align.max(1);
    if !align.is_power_of_two() || align > MAX_TLS {
        return Err(bad("PT_TLS alignment"));
    }
    if ph.p_filesz > 0 && layout.file(ph.p_vaddr, ph.p_filesz).is_none() {
        return Err(bad(
            "PT_TLS initialisation image outside the loaded file data",
        ));
    }
    Ok(TlsSegment {
        vaddr: ph.p_vaddr,
        filesz: ph.p_filesz,
        memsz: ph.p_memsz,
        align,
    })
}

/// What a shared object's headers say, read and checked once, before any
/// page size is known: program headers, loadable segments (sorted, none
/// overlapping), the dynamic table's tags, `PT_GNU_RELRO` and `PT_TLS`.
#[derive(Clone)]
pub(crate) struct Headers<'a> {
    bytes: &'a [u8],
    class: Class,
    phdrs: Vec<ProgramHeader>,
    segments: Vec<Segment>,
    relro: Option<ProgramHeader>,
    tls: Option<ProgramHeader>,
    max_align: u64,
    tags: tags::Tags,
}

/// Reads and checks the program headers and the dynamic table.
pub(crate) fn headers<'a>(file: &File<'a>) -> Result<Headers<'a>, LoadError> {
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
    let (mut dynamic, mut relro, mut tls, mut max_align) = (None, None, None, 0u64);
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
            PT_TLS if tls.is_some() => {
                return Err(LoadError::malformed("two PT_TLS segments", ph.p_offset));
            }
            PT_TLS => tls = Some(*ph),
            _ => {}
        }
    }
    crate::sort::sort_by_key(&mut segments, |s| s.vaddr);
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
    // An Arm exception index is read by unwinders: it must lie in the
    // image's memory.
    let index_type = crate::reloc::exception_index_type(file.machine);
    if let Some(ph) = phdrs.iter().find(|p| Some(p.p_type) == index_type) {
        let inside = segments.iter().any(|s| {
            s.vaddr <= ph.p_vaddr
                && ph
                    .p_vaddr
                    .checked_add(ph.p_memsz)
                    .is_some_and(|end| end <= s.vaddr + s.memsz)
        });
        if !inside {
            return Err(LoadError::malformed(
                "PT_ARM_EXIDX outside the loaded segments",
                ph.p_offset,
            ));
        }
    }
    let tags = match dynamic {
        Some(ph) => {
            let raw = file_range(
                file.data,
                ph.p_offset,
                ph.p_filesz,
                "PT_DYNAMIC outside the file",
            )?;
            tags::parse(raw, ph.p_offset, file.class)?
        }
        None => tags::Tags::default(),
    };
    Ok(Headers {
        bytes: file.data,
        class: file.class,
        phdrs,
        segments,
        relro,
        tls,
        max_align,
        tags,
    })
}

/// Lays the checked headers out in pages of `page` bytes.
pub(super) fn parse(headers: Headers<'_>, page: u64) -> Result<Parsed<'_>, LoadError> {
    let Headers {
        bytes,
        class,
        phdrs,
        segments,
        relro,
        tls,
        max_align,
        tags,
    } = headers;
    let lo = align_down(segments[0].vaddr, page);
    let last = segments[segments.len() - 1];
    let hi = last
        .vaddr
        .checked_add(last.memsz)
        .and_then(|end| align_up(end, page))
        .filter(|&hi| hi - lo <= MAX_SPAN && hi - 1 <= class.max_address())
        .ok_or(LoadError::malformed(
            "segments span too much address space",
            last.offset,
        ))?;
    let ranges = pages::protections(&segments, page)?;
    let layout = Layout {
        bytes,
        segments,
        lo,
    };
    let tls = tls.map(|ph| thread_local(&layout, &ph)).transpose()?;
    Ok(Parsed {
        phdrs,
        layout,
        relro,
        max_align,
        hi,
        ranges,
        tags,
        tls,
    })
}

/// Dependencies, name and search path of a shared object, read from its
/// headers without loading it.
pub(crate) fn describe(headers: &Headers<'_>) -> Result<DynamicInfo, LoadError> {
    let parsed = parse(headers.clone(), 4096)?;
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
    Ok(dynamic_info(&parsed.tags, strtab, &parsed.phdrs))
}

/// The caller-facing summary of the dynamic table.
pub(super) fn dynamic_info(
    tags: &tags::Tags,
    strtab: &[u8],
    phdrs: &[ProgramHeader],
) -> DynamicInfo {
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
        program_headers: phdrs.iter().map(PublicHeader::from).collect(),
    }
}

/// Finds and bounds-checks the dynamic symbol, string, hash and version tables.
pub(super) fn locate_symbols(
    layout: &Layout<'_>,
    tags: &tags::Tags,
    class: Class,
) -> Result<DynSymbols, LoadError> {
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
    // The section headers, when kept, say how long the table is; the hash
    // table only bounds it.
    let sections = tags
        .symtab
        .and_then(|a| section_symbol_count(layout.bytes, class, a));
    let (hash_kind, hash_vaddr, count, hash_len) = if let Some(a) = tags.gnu_hash {
        let tail = layout.file_tail(a).ok_or(LoadError::malformed(
            "DT_GNU_HASH outside the loaded file data",
            a,
        ))?;
        let count =
            gnu_hash_count(tail, class).ok_or(LoadError::malformed("DT_GNU_HASH table", a))?;
        let len = gnu_hash_len(tail, count.hashed_bound(), class).filter(|&l| l <= tail.len());
        if sections.is_some_and(|n| n < count.hashed_bound()) {
            return Err(LoadError::malformed(
                "DT_GNU_HASH table beyond the dynamic symbols",
                a,
            ));
        }
        let count = match (sections, count) {
            (Some(n), _) | (None, GnuCount::Exact(n)) => n,
            (None, GnuCount::AtLeast(n)) => n.max(symbols_before_next_table(layout, tags, class)),
        };
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
        let len = nbucket
            .checked_add(nchain)
            .and_then(|n| n.checked_mul(4))
            .and_then(|n| n.checked_add(8));
        if len.is_none_or(|len| len > tail.len()) {
            return Err(LoadError::malformed("DT_HASH table", a));
        }
        (HashKind::Sysv, a, nchain, len.unwrap_or(0))
    } else if tags.symtab.is_some() {
        return Err(LoadError::malformed(
            "dynamic symbols without DT_GNU_HASH or DT_HASH",
            0,
        ));
    } else {
        (HashKind::None, layout.lo, 0, 0)
    };
    let count = sections.unwrap_or(count);
    let symtab = match tags.symtab {
        Some(a) => {
            let len = count
                .checked_mul(class.sym_size())
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
        class,
        image_vaddr: layout.lo,
        placed: None,
    })
}

/// For a symbol table whose hash table hashes nothing and whose section
/// headers are gone: the entries that fit between `DT_SYMTAB` and the next
/// table the dynamic section locates (or the end of its segment's file
/// data), which no linker overlaps with it.
fn symbols_before_next_table(layout: &Layout<'_>, tags: &tags::Tags, class: Class) -> usize {
    let Some(symtab) = tags.symtab else { return 0 };
    let Some(tail) = layout.file_tail(symtab) else {
        return 0;
    };
    let tables = [
        tags.strtab,
        tags.hash,
        tags.gnu_hash,
        tags.versym,
        tags.verdef,
        tags.verneed.map(|t| t.0),
        tags.rela.map(|t| t.0),
        tags.rel.map(|t| t.0),
        tags.jmprel.map(|t| t.0),
        tags.relr.map(|t| t.0),
    ];
    let end = tables
        .into_iter()
        .flatten()
        .filter(|&a| a > symtab)
        .map(|a| a - symtab)
        .fold(tail.len() as u64, u64::min);
    usize::try_from(end).unwrap_or(usize::MAX) / class.sym_size()
}

pub(super) fn file_view<'a>(layout: &Layout<'a>, d: &DynSymbols) -> Option<View<'a>> {
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
        class: d.class,
    })
}

/// The bytes of the first section called `name`, if the object keeps its
/// section headers, as `ElfBytes::section_header_by_name` finds it, but
/// read straight from the header bytes (no parsed copy of every header),
/// each read bounds-checked; anything malformed means no such section.
pub(crate) fn section_by_name<'a>(file: &File<'a>, name: &str) -> Option<&'a [u8]> {
    section_bytes_by_name(file.data, file.class, name)
}

/// The section header fields this file reads, by class: offsets of
/// `e_shoff`, `e_shentsize`, and in a section header of `sh_addr`,
/// `sh_offset`, `sh_size`, `sh_link`, `sh_entsize`, and the header size.
struct ShdrFields {
    shoff: usize,
    shentsize: usize,
    addr: usize,
    offset: usize,
    size: usize,
    link: usize,
    entsize: usize,
    shdr_size: usize,
}

impl ShdrFields {
    const fn of(class: Class) -> ShdrFields {
        match class {
            Class::Elf32 => ShdrFields {
                shoff: 0x20,
                shentsize: 0x2e,
                addr: 12,
                offset: 16,
                size: 20,
                link: 24,
                entsize: 36,
                shdr_size: 40,
            },
            Class::Elf64 => ShdrFields {
                shoff: 0x28,
                shentsize: 0x3a,
                addr: 16,
                offset: 24,
                size: 32,
                link: 40,
                entsize: 56,
                shdr_size: 64,
            },
        }
    }
}

/// A file's section header table, read straight from the bytes (no parsed
/// copy of every header), each read bounds-checked.
struct SectionHeaders<'a> {
    data: &'a [u8],
    class: Class,
    fields: ShdrFields,
    shoff: usize,
    shnum: usize,
}

impl<'a> SectionHeaders<'a> {
    /// The table of `data`, if it has one of the expected entry size.
    fn of(data: &'a [u8], class: Class) -> Option<SectionHeaders<'a>> {
        let fields = ShdrFields::of(class);
        let shoff = usize::try_from(class.word_at(data, fields.shoff)?).ok()?;
        if shoff == 0 || usize::from(symbols::u16_at(data, fields.shentsize)?) != fields.shdr_size {
            return None;
        }
        let mut table = SectionHeaders {
            data,
            class,
            fields,
            shoff,
            shnum: 0,
        };
        // Counts too large for the ELF header are kept in section 0; the
        // count field follows `e_shentsize`. Only headers inside the file
        // are counted (a walk over them is bounded by its size).
        let shnum = match symbols::u16_at(data, table.fields.shentsize + 2)? {
            0 => usize::try_from(table.word(table.header(0)?, table.fields.size)?).ok()?,
            n => usize::from(n),
        };
        table.shnum = shnum.min(data.len().saturating_sub(shoff) / table.fields.shdr_size);
        Some(table)
    }

    fn word(&self, h: &[u8], off: usize) -> Option<u64> {
        self.class.word_at(h, off)
    }

    /// Header `i`'s bytes.
    fn header(&self, i: usize) -> Option<&'a [u8]> {
        let at = i
            .checked_mul(self.fields.shdr_size)?
            .checked_add(self.shoff)?;
        self.data.get(at..at.checked_add(self.fields.shdr_size)?)
    }

    /// The section-name string table's index (`e_shstrndx`, or section 0's
    /// `sh_link` when it does not fit).
    fn shstrndx(&self) -> Option<usize> {
        const SHN_XINDEX: u16 = 0xffff;
        match symbols::u16_at(self.data, self.fields.shentsize + 4)? {
            SHN_XINDEX => Some(symbols::u32_at(self.header(0)?, self.fields.link)? as usize),
            n => Some(usize::from(n)),
        }
    }

    /// The file bytes of the section with header `h` (empty for
    /// `SHT_NOBITS`).
    fn bytes(&self, h: &[u8]) -> Option<&'a [u8]> {
        if symbols::u32_at(h, 4)? == elf::abi::SHT_NOBITS {
            return Some(&[]);
        }
        let start = usize::try_from(self.word(h, self.fields.offset)?).ok()?;
        let len = usize::try_from(self.word(h, self.fields.size)?).ok()?;
        self.data.get(start..start.checked_add(len)?)
    }
}

fn section_bytes_by_name<'a>(data: &'a [u8], class: Class, name: &str) -> Option<&'a [u8]> {
    let table = SectionHeaders::of(data, class)?;
    let shstrndx = table.shstrndx()?;
    if shstrndx >= table.shnum {
        return None;
    }
    let names = table.bytes(table.header(shstrndx)?)?;
    for i in 0..table.shnum {
        let h = table.header(i)?;
        let at = symbols::u32_at(h, 0)? as usize;
        let here = names.get(at..)?;
        if here.len() > name.len() && here[name.len()] == 0 && here.starts_with(name.as_bytes()) {
            return table.bytes(h);
        }
        // A name must at least be terminated within the table.
        here.iter().position(|&b| b == 0)?;
    }
    None
}

/// The number of entries of the dynamic symbol table at unbiased address
/// `symtab`, from the `SHT_DYNSYM` section header that describes it (at
/// that address, with the class's entry size), if the object keeps its
/// section headers.
fn section_symbol_count(data: &[u8], class: Class, symtab: u64) -> Option<usize> {
    let table = SectionHeaders::of(data, class)?;
    let sym_size = class.sym_size() as u64;
    (0..table.shnum).find_map(|i| {
        let h = table.header(i)?;
        let f = &table.fields;
        (symbols::u32_at(h, 4)? == elf::abi::SHT_DYNSYM
            && table.word(h, f.addr)? == symtab
            && table.word(h, f.entsize)? == sym_size)
            .then(|| usize::try_from(table.word(h, f.size)? / sym_size).ok())
            .flatten()
    })
}

/// A relocation from `table` whose place lies outside the image.
pub(super) fn out_of_bounds(table: &str, place: u64) -> LoadError {
    LoadError::RelocationOutOfBounds {
        section: String::from(table),
        offset: place,
    }
}

#[cfg(test)]
mod tests {
    use super::section_bytes_by_name;
    use crate::class::Class;
    use alloc::vec::Vec;

    /// An ELF header and section headers for `sections` (`(name, type,
    /// contents)`), with `.shstrtab` last; `shnum0` puts the count in
    /// section 0 instead.
    pub(super) fn elf(sections: &[(&str, u32, &[u8])], shnum0: bool) -> Vec<u8> {
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

    /// The answer of the `elf` crate's own section lookup, the oracle.
    pub(super) fn by_elf_crate(data: &[u8]) -> Option<&[u8]> {
        let file = elf::ElfBytes::<elf::endian::LittleEndian>::minimal_parse(data).ok()?;
        let shdr = file.section_header_by_name(".modinfo").ok()??;
        if shdr.sh_type == elf::abi::SHT_NOBITS {
            return Some(&[]);
        }
        let start = usize::try_from(shdr.sh_offset).ok()?;
        data.get(start..start.checked_add(usize::try_from(shdr.sh_size).ok()?)?)
    }

    #[test]
    pub(super) fn modinfo_found_as_the_elf_crate_finds_it() {
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
                    section_bytes_by_name(&data, Class::Elf64, ".modinfo"),
                    by_elf_crate(&data),
                    "case {i}, shnum0 {shnum0}"
                );
            }
        }
        let data = elf(cases[0], false);
        assert_eq!(
            section_bytes_by_name(&data, Class::Elf64, ".modinfo"),
            Some(&info[..])
        );
        // Truncated anywhere: never out of bounds, never a different answer
        // from the data that is there.
        for len in 0..data.len() {
            let cut = &data[..len];
            assert!(
                section_bytes_by_name(cut, Class::Elf64, ".modinfo").is_none_or(|m| m == info),
                "len {len}"
            );
        }
    }
}
