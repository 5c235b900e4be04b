//! Where each allocated section, common symbol, GOT slot and stub of a
//! relocatable object goes: three page-aligned groups (code, read-only
//! data, writable data) in one reservation.

use alloc::vec;
use alloc::vec::Vec;

use elf::abi::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_ABS, SHN_COMMON, SHN_UNDEF};
use elf::section::SectionHeader;
use elf::symbol::Symbol as ElfSymbol;

use crate::error::LoadError;
use crate::memory::{align_up, Protection};

/// The permission groups, in address order.
pub(crate) const GROUPS: [Protection; 3] = [
    Protection::ReadExecute,
    Protection::Read,
    Protection::ReadWrite,
];
const TEXT: usize = 0;
const RODATA: usize = 1;
const DATA: usize = 2;

const STUB_ALIGN: u64 = 16;

/// Marks no slot or stub in the per-symbol tables.
pub(crate) const NONE: u32 = u32::MAX;

/// The planned layout, as offsets from the reservation start.
pub(crate) struct Layout {
    /// Offset of each section, `None` if it is not loaded.
    pub sections: Vec<Option<usize>>,
    /// Offset of each common symbol's storage (by symbol index).
    pub commons: Vec<Option<usize>>,
    /// GOT slot index of each symbol, else `NONE`.
    pub got_slot: Vec<u32>,
    /// Stub index of each symbol, else `NONE`.
    pub stub: Vec<u32>,
    /// Offset of the GOT (valid when `got_needed`).
    pub got: usize,
    /// Whether any relocation refers to the GOT.
    pub got_needed: bool,
    /// Offset of the first stub.
    pub stubs: usize,
    /// `(offset, size)` of each group, page-aligned; size 0 if empty.
    pub groups: [(usize, usize); 3],
    /// Total size, whole pages.
    pub total: usize,
    /// Alignment the reservation needs: the page size, or the largest
    /// section alignment if that is larger.
    pub align: usize,
    /// `(offset, size)` of the exception index (every section of the
    /// machine's index type, `index_type`: Arm's `SHT_ARM_EXIDX`, placed
    /// together in the order of the code they describe, as a linker merges
    /// them), if the object has one.
    pub exception_index: Option<(usize, usize)>,
}

/// The permission group (index into [`GROUPS`]) a section is placed in.
pub(crate) fn group_of(shdr: &SectionHeader) -> usize {
    if shdr.sh_flags & u64::from(SHF_EXECINSTR) != 0 {
        TEXT
    } else if shdr.sh_flags & u64::from(SHF_WRITE) != 0 {
        DATA
    } else {
        RODATA
    }
}

/// Largest section size, and largest alignment, accepted.
const MAX_SIZE: u64 = 1 << 40;

/// Places `size` bytes aligned to `align` at the end of `cursor`, and
/// raises `max_align` to `align`.
fn place(
    cursor: &mut u64,
    max_align: &mut u64,
    size: u64,
    align: u64,
    offset: u64,
) -> Result<u64, LoadError> {
    if !align.is_power_of_two() {
        return Err(LoadError::malformed(
            "alignment is not a power of two",
            offset,
        ));
    }
    if align > MAX_SIZE {
        return Err(LoadError::malformed("alignment too large", offset));
    }
    *max_align = (*max_align).max(align);
    let at = align_up(*cursor, align).ok_or(LoadError::malformed("section too large", offset))?;
    *cursor = at
        .checked_add(size)
        .filter(|&end| end < MAX_SIZE)
        .ok_or(LoadError::malformed("section too large", offset))?;
    Ok(at)
}

/// Per-symbol needs found by scanning the relocations.
pub(crate) struct SymbolNeeds {
    /// Symbol needs a GOT slot.
    pub got: Vec<bool>,
    /// Symbol may need a stub.
    pub stub: Vec<bool>,
    /// Some relocation uses the GOT address.
    pub got_base: bool,
}

impl SymbolNeeds {
    pub(crate) fn new(count: usize) -> Self {
        SymbolNeeds {
            got: vec![false; count],
            stub: vec![false; count],
            got_base: false,
        }
    }
}

/// Plans the layout of `shdrs` and `symbols` with the given needs; GOT
/// slots are `got_slot_size` bytes (the machine's word).
pub(crate) fn plan(
    shdrs: &[SectionHeader],
    symbols: &[ElfSymbol],
    needs: &SymbolNeeds,
    stub_size: usize,
    got_slot_size: usize,
    index_type: Option<u32>,
    page: u64,
) -> Result<Layout, LoadError> {
    let mut cursors = [0u64; 3];
    let mut aligns = [page; 3];
    let mut rel_offsets: Vec<Option<(usize, u64)>> = vec![None; shdrs.len()];
    let loaded =
        |shdr: &SectionHeader| shdr.sh_flags & u64::from(SHF_ALLOC) != 0 && shdr.sh_size != 0;
    let is_index = |shdr: &SectionHeader| Some(shdr.sh_type) == index_type;
    for (i, shdr) in shdrs.iter().enumerate() {
        if !loaded(shdr) || is_index(shdr) {
            continue;
        }
        let g = group_of(shdr);
        let at = place(
            &mut cursors[g],
            &mut aligns[g],
            shdr.sh_size,
            shdr.sh_addralign.max(1),
            shdr.sh_offset,
        )?;
        rel_offsets[i] = Some((g, at));
    }
    // The exception index sections, one table sorted by code address: in
    // the order their code (`sh_link`) was placed, one after another.
    let mut index: Vec<usize> = (0..shdrs.len())
        .filter(|&i| loaded(&shdrs[i]) && is_index(&shdrs[i]))
        .collect();
    crate::sort::sort_by_key(&mut index, |&i| {
        rel_offsets
            .get(shdrs[i].sh_link as usize)
            .copied()
            .flatten()
    });
    let mut index_span: Option<(u64, u64)> = None;
    for &i in &index {
        let shdr = &shdrs[i];
        let g = group_of(shdr);
        let at = place(
            &mut cursors[g],
            &mut aligns[g],
            shdr.sh_size,
            shdr.sh_addralign.max(1),
            shdr.sh_offset,
        )?;
        rel_offsets[i] = Some((g, at));
        index_span = match index_span {
            None => Some((at, at + shdr.sh_size)),
            // Entries are 8 bytes, 4-aligned: the sections abut.
            Some((start, end)) if end == at && group_of(&shdrs[index[0]]) == g => {
                Some((start, at + shdr.sh_size))
            }
            Some(_) => {
                return Err(LoadError::malformed(
                    "exception index sections that cannot form one table",
                    shdr.sh_offset,
                ))
            }
        };
    }
    let mut commons_rel = vec![None; symbols.len()];
    for (i, sym) in symbols.iter().enumerate() {
        if sym.st_shndx == SHN_COMMON {
            // For a common symbol st_value is its alignment.
            let at = place(
                &mut cursors[DATA],
                &mut aligns[DATA],
                sym.st_size,
                sym.st_value.max(1),
                0,
            )?;
            commons_rel[i] = Some(at);
        }
    }
    let mut got_slot = vec![NONE; symbols.len()];
    let mut slots = 0u32;
    for (i, &need) in needs.got.iter().enumerate() {
        if need {
            got_slot[i] = slots;
            slots += 1;
        }
    }
    let got_needed = needs.got_base || slots > 0;
    let got_rel = if got_needed {
        place(
            &mut cursors[RODATA],
            &mut aligns[RODATA],
            u64::from(slots.max(1)) * got_slot_size as u64,
            got_slot_size as u64,
            0,
        )?
    } else {
        0
    };
    let mut stub = vec![NONE; symbols.len()];
    let mut stub_count = 0u32;
    if stub_size > 0 {
        for (i, sym) in symbols.iter().enumerate() {
            if needs.stub[i] && matches!(sym.st_shndx, SHN_UNDEF | SHN_ABS) {
                stub[i] = stub_count;
                stub_count += 1;
            }
        }
    }
    let stubs_rel = if stub_count > 0 {
        place(
            &mut cursors[TEXT],
            &mut aligns[TEXT],
            u64::from(stub_count) * stub_size as u64,
            STUB_ALIGN,
            0,
        )?
    } else {
        0
    };

    // Each group starts at a multiple of its largest alignment, so sections
    // aligned beyond a page keep their alignment in the reservation.
    let mut groups = [(0usize, 0usize); 3];
    let mut total = 0u64;
    for g in 0..3 {
        let too_large = || LoadError::malformed("image too large", 0);
        let size = align_up(cursors[g], page).ok_or_else(too_large)?;
        let offset = if size == 0 {
            total
        } else {
            align_up(total, aligns[g]).ok_or_else(too_large)?
        };
        groups[g] = (offset as usize, size as usize);
        total = offset.checked_add(size).ok_or_else(too_large)?;
    }
    // What a 32-bit host cannot address is refused, never truncated.
    let total = total.max(page);
    let total = usize::try_from(total).map_err(|_| LoadError::ImageTooLarge {
        size: total,
        limit: usize::MAX,
    })?;
    let align = aligns.iter().copied().max().unwrap_or(page);
    let align = usize::try_from(align).map_err(|_| LoadError::ImageTooLarge {
        size: align,
        limit: usize::MAX,
    })?;
    let abs = |g: usize, rel: u64| groups[g].0 + rel as usize;
    Ok(Layout {
        sections: rel_offsets
            .iter()
            .map(|o| o.map(|(g, at)| abs(g, at)))
            .collect(),
        commons: commons_rel
            .iter()
            .map(|o| o.map(|at| abs(DATA, at)))
            .collect(),
        got_slot,
        stub,
        got: abs(RODATA, got_rel),
        got_needed,
        stubs: abs(TEXT, stubs_rel),
        groups,
        total,
        align,
        exception_index: index_span.map(|(start, end)| {
            (
                abs(group_of(&shdrs[index[0]]), start),
                (end - start) as usize,
            )
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(flags: u32, size: u64, align: u64) -> SectionHeader {
        SectionHeader {
            sh_name: 0,
            sh_type: elf::abi::SHT_PROGBITS,
            sh_flags: u64::from(SHF_ALLOC | flags),
            sh_addr: 0,
            sh_offset: 0,
            sh_size: size,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: align,
            sh_entsize: 0,
        }
    }

    #[test]
    fn alignment_beyond_a_page_is_kept() {
        let shdrs = [
            section(SHF_EXECINSTR, 0x100, 16),
            section(SHF_WRITE, 0x40, 0x1_0000),
        ];
        let plan = plan(&shdrs, &[], &SymbolNeeds::new(0), 16, 8, None, 0x1000).unwrap();
        assert_eq!(plan.align, 0x1_0000);
        let data = plan.sections[1].unwrap();
        assert_eq!(data % 0x1_0000, 0);
        assert!(plan.total >= data + 0x40);
    }

    #[test]
    fn absurd_alignment_is_malformed() {
        let shdrs = [section(0, 8, 1 << 62)];
        let result = plan(&shdrs, &[], &SymbolNeeds::new(0), 16, 8, None, 0x1000);
        assert!(matches!(result, Err(LoadError::Malformed { .. })));
    }
}
