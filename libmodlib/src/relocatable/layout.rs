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

const GOT_SLOT: u64 = 8;
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
}

fn group_of(shdr: &SectionHeader) -> usize {
    if shdr.sh_flags & u64::from(SHF_EXECINSTR) != 0 {
        TEXT
    } else if shdr.sh_flags & u64::from(SHF_WRITE) != 0 {
        DATA
    } else {
        RODATA
    }
}

/// Places `size` bytes aligned to `align` at the end of `cursor`.
fn place(cursor: &mut u64, size: u64, align: u64, offset: u64) -> Result<u64, LoadError> {
    if !align.is_power_of_two() {
        return Err(LoadError::malformed(
            "alignment is not a power of two",
            offset,
        ));
    }
    let at = align_up(*cursor, align).ok_or(LoadError::malformed("section too large", offset))?;
    *cursor = at
        .checked_add(size)
        .filter(|&end| end < (1 << 40))
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

/// Plans the layout of `shdrs` and `symbols` with the given needs.
pub(crate) fn plan(
    shdrs: &[SectionHeader],
    symbols: &[ElfSymbol],
    needs: &SymbolNeeds,
    stub_size: usize,
    page: u64,
) -> Result<Layout, LoadError> {
    let mut cursors = [0u64; 3];
    let mut rel_offsets: Vec<Option<(usize, u64)>> = vec![None; shdrs.len()];
    for (i, shdr) in shdrs.iter().enumerate() {
        if shdr.sh_flags & u64::from(SHF_ALLOC) == 0 || shdr.sh_size == 0 {
            continue;
        }
        let g = group_of(shdr);
        let at = place(
            &mut cursors[g],
            shdr.sh_size,
            shdr.sh_addralign.max(1),
            shdr.sh_offset,
        )?;
        rel_offsets[i] = Some((g, at));
    }
    let mut commons_rel = vec![None; symbols.len()];
    for (i, sym) in symbols.iter().enumerate() {
        if sym.st_shndx == SHN_COMMON {
            // For a common symbol st_value is its alignment.
            let at = place(&mut cursors[DATA], sym.st_size, sym.st_value.max(1), 0)?;
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
            u64::from(slots.max(1)) * GOT_SLOT,
            GOT_SLOT,
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
            u64::from(stub_count) * stub_size as u64,
            STUB_ALIGN,
            0,
        )?
    } else {
        0
    };

    let mut groups = [(0usize, 0usize); 3];
    let mut total = 0u64;
    for g in 0..3 {
        let size = align_up(cursors[g], page).ok_or(LoadError::malformed("image too large", 0))?;
        groups[g] = (total as usize, size as usize);
        total += size;
    }
    let total = total.max(page) as usize;
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
    })
}
