//! The `PT_DYNAMIC` table, read into the values the loader uses.

use alloc::vec::Vec;

use elf::abi::{
    DF_1_NOW, DF_BIND_NOW, DF_SYMBOLIC, DF_TEXTREL, DT_FINI, DT_FINI_ARRAY, DT_FINI_ARRAYSZ,
    DT_FLAGS, DT_FLAGS_1, DT_GNU_HASH, DT_HASH, DT_INIT, DT_INIT_ARRAY, DT_INIT_ARRAYSZ, DT_JMPREL,
    DT_NEEDED, DT_NULL, DT_PLTREL, DT_PLTRELSZ, DT_REL, DT_RELA, DT_RELAENT, DT_RELASZ, DT_RELENT,
    DT_RELSZ, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB, DT_SYMBOLIC, DT_SYMENT,
    DT_SYMTAB, DT_TEXTREL, DT_VERDEF, DT_VERNEED, DT_VERNEEDNUM, DT_VERSYM,
};

use crate::class::Class;
use crate::error::LoadError;

const DT_RELRSZ: i64 = 35;
const DT_RELR: i64 = 36;
const DT_RELRENT: i64 = 37;

/// The dynamic tags the loader reads; addresses are unbiased.
#[derive(Debug, Default, Clone)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct Tags {
    pub needed: Vec<u64>,
    pub soname: Option<u64>,
    pub runpath: Option<u64>,
    pub rpath: Option<u64>,
    pub strtab: Option<u64>,
    pub strsz: u64,
    pub symtab: Option<u64>,
    pub hash: Option<u64>,
    pub gnu_hash: Option<u64>,
    pub rela: Option<(u64, u64)>,
    pub rel: Option<(u64, u64)>,
    pub relr: Option<(u64, u64)>,
    pub jmprel: Option<(u64, u64)>,
    pub pltrel_is_rela: bool,
    pub init: Option<u64>,
    pub fini: Option<u64>,
    pub init_array: Option<(u64, u64)>,
    pub fini_array: Option<(u64, u64)>,
    pub versym: Option<u64>,
    pub verdef: Option<u64>,
    pub verneed: Option<(u64, u64)>,
    pub symbolic: bool,
    pub textrel: bool,
    pub bind_now: bool,
}

/// Reads the tags from the bytes of `PT_DYNAMIC` of an object of `class`.
pub(crate) fn parse(dynamic: &[u8], offset: u64, class: Class) -> Result<Tags, LoadError> {
    let mut t = Tags::default();
    let (mut rela, mut relasz, mut rel, mut relsz, mut relr, mut relrsz) =
        (None, 0, None, 0, None, 0);
    let (mut jmprel, mut pltrelsz, mut pltrel) = (None, 0, None);
    let (mut init_array, mut init_arraysz, mut fini_array, mut fini_arraysz) = (None, 0, None, 0);
    let (mut verneed, mut verneednum) = (None, 0);
    let (size, word) = (class.dyn_size(), class.word());
    for entry in 0..dynamic.len() / size {
        let (Some(tag), Some(val)) = (
            class.signed_at(dynamic, entry * size),
            class.word_at(dynamic, entry * size + word),
        ) else {
            break;
        };
        match tag {
            DT_NULL => break,
            DT_NEEDED => t.needed.push(val),
            DT_SONAME => t.soname = Some(val),
            DT_RUNPATH => t.runpath = Some(val),
            DT_RPATH => t.rpath = Some(val),
            DT_STRTAB => t.strtab = Some(val),
            DT_STRSZ => t.strsz = val,
            DT_SYMTAB => t.symtab = Some(val),
            DT_SYMENT if val != class.sym_size() as u64 => {
                return Err(LoadError::malformed(
                    "DT_SYMENT is not the class's symbol size",
                    offset,
                ))
            }
            DT_HASH => t.hash = Some(val),
            DT_GNU_HASH => t.gnu_hash = Some(val),
            DT_RELA => rela = Some(val),
            DT_RELASZ => relasz = val,
            DT_RELAENT | DT_RELENT | DT_RELRENT if val != entry_size(tag, class) => {
                return Err(LoadError::malformed(
                    "unexpected relocation entry size",
                    offset,
                ))
            }
            DT_REL => rel = Some(val),
            DT_RELSZ => relsz = val,
            DT_RELR => relr = Some(val),
            DT_RELRSZ => relrsz = val,
            DT_JMPREL => jmprel = Some(val),
            DT_PLTRELSZ => pltrelsz = val,
            DT_PLTREL => pltrel = Some(val),
            DT_INIT => t.init = Some(val),
            DT_FINI => t.fini = Some(val),
            DT_INIT_ARRAY => init_array = Some(val),
            DT_INIT_ARRAYSZ => init_arraysz = val,
            DT_FINI_ARRAY => fini_array = Some(val),
            DT_FINI_ARRAYSZ => fini_arraysz = val,
            DT_VERSYM => t.versym = Some(val),
            DT_VERDEF => t.verdef = Some(val),
            DT_VERNEED => verneed = Some(val),
            DT_VERNEEDNUM => verneednum = val,
            DT_SYMBOLIC => t.symbolic = true,
            DT_TEXTREL => t.textrel = true,
            DT_FLAGS => {
                t.symbolic |= val & (DF_SYMBOLIC as u64) != 0;
                t.textrel |= val & (DF_TEXTREL as u64) != 0;
                t.bind_now |= val & (DF_BIND_NOW as u64) != 0;
            }
            DT_FLAGS_1 => t.bind_now |= val & (DF_1_NOW as u64) != 0,
            _ => {}
        }
    }
    t.rela = rela.map(|a| (a, relasz));
    t.rel = rel.map(|a| (a, relsz));
    t.relr = relr.map(|a| (a, relrsz));
    t.jmprel = jmprel.map(|a| (a, pltrelsz));
    t.pltrel_is_rela = pltrel.is_none_or(|p| p == DT_RELA as u64);
    t.init_array = init_array.map(|a| (a, init_arraysz));
    t.fini_array = fini_array.map(|a| (a, fini_arraysz));
    t.verneed = verneed.map(|a| (a, verneednum));
    Ok(t)
}

fn entry_size(tag: i64, class: Class) -> u64 {
    (match tag {
        DT_RELAENT => class.rel_size(true),
        DT_RELENT => class.rel_size(false),
        _ => class.word(),
    }) as u64
}
