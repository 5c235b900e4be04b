//! What the fuzz targets share: a structure-aware ELF mutator. It finds the
//! fields an ELF object is made of (the file header, program and section
//! headers, dynamic tags, relocation and symbol entries, hash and version
//! tables, init/fini arrays) in ELF32 and ELF64 objects and sets one of
//! them to a boundary value; one mutation in four is libFuzzer's own byte
//! mutation, so that whatever the mutator does not know is reached too.

use testkit::Rng;

/// A field: where it is in the file and how many bytes it has.
#[derive(Clone, Copy)]
struct Field {
    at: usize,
    width: usize,
}

fn read(data: &[u8], at: usize, width: usize) -> u64 {
    data.get(at..at.saturating_add(width)).map_or(0, |b| {
        b.iter()
            .rev()
            .fold(0u64, |v, &byte| (v << 8) | u64::from(byte))
    })
}

fn write(data: &mut [u8], field: Field, value: u64) {
    if let Some(bytes) = data.get_mut(field.at..field.at.saturating_add(field.width)) {
        for (k, b) in bytes.iter_mut().enumerate() {
            *b = (value >> (8 * k)) as u8;
        }
    }
}

/// Offsets and widths of the fields of one ELF structure, per class.
struct Layout {
    header: &'static [(usize, usize)],
    phdr: &'static [(usize, usize)],
    shdr: &'static [(usize, usize)],
    sym: &'static [(usize, usize)],
    word: usize,
}

const ELF64: Layout = Layout {
    header: &[
        (16, 2),
        (18, 2),
        (24, 8),
        (32, 8),
        (40, 8),
        (48, 4),
        (52, 2),
        (54, 2),
        (56, 2),
        (58, 2),
        (60, 2),
        (62, 2),
    ],
    phdr: &[(0, 4), (4, 4), (8, 8), (16, 8), (32, 8), (40, 8), (48, 8)],
    shdr: &[
        (0, 4),
        (4, 4),
        (8, 8),
        (16, 8),
        (24, 8),
        (32, 8),
        (40, 4),
        (44, 4),
        (48, 8),
        (56, 8),
    ],
    sym: &[(0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8)],
    word: 8,
};

const ELF32: Layout = Layout {
    header: &[
        (16, 2),
        (18, 2),
        (24, 4),
        (28, 4),
        (32, 4),
        (36, 4),
        (40, 2),
        (42, 2),
        (44, 2),
        (46, 2),
        (48, 2),
        (50, 2),
    ],
    phdr: &[(0, 4), (4, 4), (8, 4), (16, 4), (20, 4), (24, 4), (28, 4)],
    shdr: &[
        (0, 4),
        (4, 4),
        (8, 4),
        (12, 4),
        (16, 4),
        (20, 4),
        (24, 4),
        (28, 4),
        (32, 4),
        (36, 4),
    ],
    sym: &[(0, 4), (4, 4), (8, 4), (12, 1), (13, 1), (14, 2)],
    word: 4,
};

const SHT_SYMTAB: u64 = 2;
const SHT_RELA: u64 = 4;
const SHT_HASH: u64 = 5;
const SHT_DYNAMIC: u64 = 6;
const SHT_REL: u64 = 9;
const SHT_DYNSYM: u64 = 11;
const SHT_INIT_ARRAY: u64 = 14;
const SHT_PREINIT_ARRAY: u64 = 16;
const SHT_GNU_HASH: u64 = 0x6fff_fff6;
const SHT_GNU_VERDEF: u64 = 0x6fff_fffd;
const SHT_GNU_VERSYM: u64 = 0x6fff_ffff;

/// Every field of the object the mutator knows, found through the file
/// header and the section headers (bounds-checked: a field outside the
/// file is not listed).
fn fields(data: &[u8]) -> Vec<Field> {
    let layout = match data.get(4) {
        Some(1) => &ELF32,
        Some(2) => &ELF64,
        _ => return Vec::new(),
    };
    let w = layout.word;
    let mut out = Vec::new();
    let mut add = |at: usize, width: usize| {
        if at.checked_add(width).is_some_and(|end| end <= data.len()) {
            out.push(Field { at, width });
        }
    };
    for &(at, width) in layout.header {
        add(at, width);
    }
    let (phoff, phentsize, phnum, shoff, shentsize, shnum) = if w == 8 {
        (
            read(data, 32, 8),
            read(data, 54, 2),
            read(data, 56, 2),
            read(data, 40, 8),
            read(data, 58, 2),
            read(data, 60, 2),
        )
    } else {
        (
            read(data, 28, 4),
            read(data, 42, 2),
            read(data, 44, 2),
            read(data, 32, 4),
            read(data, 46, 2),
            read(data, 48, 2),
        )
    };
    let table = |off: u64, size: u64, n: u64| {
        (0..n.min(4096))
            .filter_map(move |k| usize::try_from(off.checked_add(k.checked_mul(size)?)?).ok())
    };
    for base in table(phoff, phentsize, phnum) {
        for &(at, width) in layout.phdr {
            add(base.saturating_add(at), width);
        }
    }
    for base in table(shoff, shentsize, shnum) {
        for &(at, width) in layout.shdr {
            add(base.saturating_add(at), width);
        }
        let sh_type = read(data, base.saturating_add(4), 4);
        let (offset, size, entsize) = if w == 8 {
            (
                read(data, base.saturating_add(24), 8),
                read(data, base.saturating_add(32), 8),
                read(data, base.saturating_add(56), 8),
            )
        } else {
            (
                read(data, base.saturating_add(16), 4),
                read(data, base.saturating_add(20), 4),
                read(data, base.saturating_add(36), 4),
            )
        };
        let entries = |entry: u64| table(offset, entry, size / entry.max(1));
        match sh_type {
            SHT_DYNAMIC => {
                for e in entries(2 * w as u64) {
                    add(e, w);
                    add(e.saturating_add(w), w);
                }
            }
            SHT_RELA | SHT_REL => {
                let entry = if sh_type == SHT_RELA { 3 } else { 2 } * w as u64;
                for e in entries(entry) {
                    add(e, w);
                    // r_info: the type and the symbol index separately.
                    if w == 8 {
                        add(e.saturating_add(8), 4);
                        add(e.saturating_add(12), 4);
                    } else {
                        add(e.saturating_add(4), 1);
                        add(e.saturating_add(5), 3);
                    }
                    if sh_type == SHT_RELA {
                        add(e.saturating_add(2 * w), w);
                    }
                }
            }
            SHT_SYMTAB | SHT_DYNSYM => {
                for e in entries(entsize.max(if w == 8 { 24 } else { 16 })) {
                    for &(at, width) in layout.sym {
                        add(e.saturating_add(at), width);
                    }
                }
            }
            SHT_HASH | SHT_GNU_HASH | SHT_GNU_VERDEF => {
                for e in entries(4) {
                    add(e, 4);
                }
            }
            SHT_GNU_VERSYM => {
                for e in entries(2) {
                    add(e, 2);
                }
            }
            SHT_INIT_ARRAY..=SHT_PREINIT_ARRAY => {
                for e in entries(w as u64) {
                    add(e, w);
                }
            }
            _ => {}
        }
    }
    out
}

/// A boundary value for `field`, which holds `old` in a file of `len`
/// bytes.
fn boundary(rng: &mut Rng, field: Field, old: u64, len: usize) -> u64 {
    let max = if field.width >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * field.width)) - 1
    };
    let len = len as u64;
    let value = match rng.below(16) {
        0 => 0,
        1 => 1,
        2 => max,
        3 => max >> 1,
        4 => (max >> 1) + 1,
        5 => old.wrapping_add(1),
        6 => old.wrapping_sub(1),
        7 => old.wrapping_mul(2),
        8 => len,
        9 => len.wrapping_sub(1),
        10 => len + 1,
        11 => 0x1000,
        12 => 0x1_0000_0000,
        13 => old ^ (1 << rng.below(8 * field.width)),
        14 => old.wrapping_add(rng.next_u64() % 64).wrapping_sub(32),
        _ => rng.next_u64(),
    };
    value & max
}

/// Mutates the object in `data[..size]` in place (`data` may grow up to
/// `max_size` through libFuzzer's own mutation); returns the new size.
pub fn mutate(data: &mut [u8], size: usize, max_size: usize, seed: u32) -> usize {
    let mut rng = Rng(u64::from(seed) | 1 << 40);
    let known = fields(&data[..size]);
    if known.is_empty() || rng.below(4) == 0 {
        return libfuzzer_sys::fuzzer_mutate(data, size, max_size);
    }
    for _ in 0..=rng.below(3) {
        let field = known[rng.below(known.len())];
        let old = read(data, field.at, field.width);
        let value = boundary(&mut rng, field, old, size);
        write(&mut data[..size], field, value);
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_real_object_lie_in_it_and_include_its_tables() {
        let object = std::fs::read(std::env::current_exe().expect("exe")).expect("reads");
        let found = fields(&object);
        assert!(found.len() > 1000, "{} fields", found.len());
        assert!(found.iter().all(|f| f.at + f.width <= object.len()));
    }
}
