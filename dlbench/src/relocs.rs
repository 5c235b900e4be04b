//! Counts the dynamic relocations a library really has, by type, from its
//! `SHT_RELA`/`SHT_REL`/`SHT_RELR` sections (read with the `elf` crate).

use std::collections::BTreeMap;
use std::path::Path;

use elf::abi::{SHT_REL, SHT_RELA};
use elf::endian::AnyEndian;
use elf::ElfBytes;

/// `SHT_RELR` (not in the `elf` crate's constants).
const SHT_RELR: u32 = 19;

/// Relocation counts of one file.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Count per relocation type name (`RELATIVE`, `JUMP_SLOT`…).
    pub by_type: BTreeMap<&'static str, usize>,
}

impl Counts {
    /// All relocations.
    pub fn total(&self) -> usize {
        self.by_type.values().sum()
    }

    /// `TYPE=n` pairs, largest first.
    pub fn summary(&self) -> String {
        let mut v: Vec<_> = self.by_type.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1));
        v.iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn type_name(r_type: u32) -> &'static str {
    match r_type {
        elf::abi::R_X86_64_RELATIVE => "RELATIVE",
        elf::abi::R_X86_64_64 => "64",
        elf::abi::R_X86_64_GLOB_DAT => "GLOB_DAT",
        elf::abi::R_X86_64_JUMP_SLOT => "JUMP_SLOT",
        elf::abi::R_X86_64_IRELATIVE => "IRELATIVE",
        _ => "other",
    }
}

/// Counts the dynamic relocations of the ELF file at `path`.
pub fn count(path: &Path) -> Result<Counts, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = ElfBytes::<AnyEndian>::minimal_parse(&data)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let shdrs = file
        .section_headers()
        .ok_or_else(|| format!("{}: no section headers", path.display()))?;
    let mut counts = Counts::default();
    for shdr in shdrs.iter() {
        match shdr.sh_type {
            SHT_RELA => {
                let relas = file
                    .section_data_as_relas(&shdr)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                for r in relas {
                    *counts.by_type.entry(type_name(r.r_type)).or_default() += 1;
                }
            }
            SHT_REL => {
                let rels = file
                    .section_data_as_rels(&shdr)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                for r in rels {
                    *counts.by_type.entry(type_name(r.r_type)).or_default() += 1;
                }
            }
            SHT_RELR => {
                // Each address entry is one relocation; each bitmap entry
                // holds up to 63.
                let (bytes, _) = file
                    .section_data(&shdr)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                let n: usize = bytes
                    .chunks_exact(8)
                    .map(|c| {
                        let e = u64::from_le_bytes(c.try_into().unwrap_or_default());
                        if e & 1 == 0 {
                            1
                        } else {
                            (e >> 1).count_ones() as usize
                        }
                    })
                    .sum();
                *counts.by_type.entry("RELATIVE (RELR)").or_default() += n;
            }
            _ => {}
        }
    }
    Ok(counts)
}
