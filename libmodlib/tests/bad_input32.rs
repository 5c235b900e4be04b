//! Hostile ELF32 objects, for both 32-bit machines (Arm, RV32): every
//! truncation of a relocatable and a shared object, a deterministic
//! mutation corpus over their ELF32 tables, and the checks only the 32-bit
//! class has (an image or a symbol beyond 4 GiB, a segment that wraps the
//! 32-bit address space, ELF64-sized entries). Each one is a typed error
//! or a clean load; never a panic, and never a byte of memory kept.
//! Nothing loaded here is executed (the code is for another machine).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{
    load, ArmAbi, LoadError, LoadOptions, Machine, ProviderId, SymbolEntry, SymbolKind,
    SymbolResolver, SymbolTable,
};
use testkit::{fixtures, BufferMemory, Compiler, CountingMemory, HostMemory, Placement};

/// A 32-bit machine's fixture objects: a relocatable and a shared one.
struct Fixtures {
    machine: Machine,
    rel: Vec<u8>,
    dyn_: Vec<u8>,
}

fn source(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bad")
        .join(name)
}

fn require(compiler: &Compiler) -> bool {
    if compiler.available() {
        return true;
    }
    assert!(
        std::env::var_os("MODLIB_REQUIRE_CROSS").is_none(),
        "{} is required (MODLIB_REQUIRE_CROSS)",
        compiler.command()
    );
    eprintln!("skipping: {} is not installed", compiler.command());
    false
}

/// The bad-input fixtures built for Arm (Thumb-2, Cortex-M4) and RV32.
fn machines() -> Vec<Fixtures> {
    let mut out = Vec::new();
    let arm = Compiler::Named(String::from("arm-none-eabi-gcc"));
    if require(&arm) {
        let flags = ["-mcpu=cortex-m4", "-mthumb", "-O2"];
        let mut rel_flags = flags.to_vec();
        rel_flags.push("-fno-pic");
        let mut so_flags = flags.to_vec();
        so_flags.extend(["-fPIC", "-nostdlib"]);
        out.push(Fixtures {
            machine: Machine::Arm,
            rel: fixtures::object(&arm, &source("small.c"), &rel_flags).bytes,
            dyn_: fixtures::shared(&arm, &[&source("small_so.c")], &so_flags).bytes,
        });
    }
    // The Linux triple: clang's bare-metal driver would ignore `-shared`.
    let rv32 = Compiler::ClangTarget(String::from("riscv32-unknown-linux-gnu"));
    if require(&rv32) {
        let flags = ["-march=rv32imac", "-mabi=ilp32", "-O2", "-mno-relax"];
        let mut rel_flags = flags.to_vec();
        rel_flags.extend(["-fno-pic", "-mcmodel=medany"]);
        let mut so_flags = flags.to_vec();
        so_flags.extend(["-fPIC", "-nostdlib", "-fuse-ld=lld", "-Wl,-z,undefs"]);
        out.push(Fixtures {
            machine: Machine::Riscv32,
            rel: fixtures::object(&rv32, &source("small.c"), &rel_flags).bytes,
            dyn_: fixtures::shared(&rv32, &[&source("small_so.c")], &so_flags).bytes,
        });
    }
    out
}

/// The imports of the fixtures, below 4 GiB (never called: nothing runs).
fn host(counter: u64, add: u64) -> SymbolTable<'static> {
    SymbolTable::new(
        vec![
            SymbolEntry::new("host_counter", counter, SymbolKind::Object),
            SymbolEntry::new("host_add", add, SymbolKind::Function),
        ],
        ProviderId(1),
    )
    .expect("unique host symbols")
}

/// The imports in the low 2 GiB: `host_add` is a Thumb function (odd) for
/// Arm, an even address for RV32.
fn low_host_for(machine: Machine) -> SymbolTable<'static> {
    host(0x10_0000, 0x10_1000 + u64::from(machine == Machine::Arm))
}

fn options(machine: Machine) -> LoadOptions {
    LoadOptions {
        machine,
        arm: ArmAbi {
            target2_got_relative: false,
            arm_state: false,
        },
        ..LoadOptions::default()
    }
}

/// Loads `bytes` into fresh counting memory in the low 2 GiB and checks
/// that nothing is held afterwards, whatever the outcome.
fn try_load(
    bytes: &[u8],
    machine: Machine,
    resolver: &dyn SymbolResolver,
) -> Result<(), LoadError> {
    let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
    let result = load(bytes, &options(machine), &mem, resolver).map(drop);
    assert_eq!(
        mem.live_reservations(),
        0,
        "{machine}: reservation leaked ({result:?})"
    );
    assert_eq!(mem.live_bytes(), 0, "{machine}: bytes leaked ({result:?})");
    result
}

#[test]
fn fixtures_load_cleanly() {
    for f in machines() {
        try_load(&f.rel, f.machine, &low_host_for(f.machine))
            .unwrap_or_else(|e| panic!("{}: rel: {e}", f.machine));
        try_load(&f.dyn_, f.machine, &low_host_for(f.machine))
            .unwrap_or_else(|e| panic!("{}: dyn: {e}", f.machine));
    }
}

#[test]
fn every_truncation_fails() {
    for f in machines() {
        for (kind, bytes) in [("rel", &f.rel), ("dyn", &f.dyn_)] {
            for len in 0..bytes.len() {
                let result = catch_unwind(AssertUnwindSafe(|| {
                    try_load(&bytes[..len], f.machine, &low_host_for(f.machine))
                }));
                match result {
                    Ok(Ok(())) => panic!("{} {kind}: a {len}-byte prefix loaded", f.machine),
                    Ok(Err(_)) => {}
                    Err(panic) => {
                        eprintln!(
                            "{} {kind}: loader panicked on a {len}-byte prefix",
                            f.machine
                        );
                        std::panic::resume_unwind(panic);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ELF32 layout

const EHDR_SIZE: u64 = 52;
const SHDR_SIZE: u64 = 40;
const PHDR_SIZE: u64 = 32;
const SYM_SIZE: u64 = 16;
const REL_SIZE: u64 = 8;
const RELA_SIZE: u64 = 12;
const DYN_SIZE: u64 = 8;

const EHDR_FIELDS: &[(u64, usize)] = &[
    (4, 1),
    (16, 2),
    (18, 2),
    (24, 4),
    (28, 4),
    (32, 4),
    (42, 2),
    (44, 2),
    (46, 2),
    (48, 2),
    (50, 2),
];
const SHDR_FIELDS: &[(u64, usize)] = &[
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
];
const PHDR_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 4), (8, 4), (16, 4), (20, 4), (24, 4), (28, 4)];
const SYM_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 4), (8, 4), (12, 1), (13, 1), (14, 2)];
const REL_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 1), (5, 3)];
const RELA_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 1), (5, 3), (8, 4)];
const DYN_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 4)];
const WORD_FIELDS: &[(u64, usize)] = &[(0, 4)];

/// A table of the file: start, entry size, entry count, fields to attack.
struct Table {
    start: u64,
    entry: u64,
    count: u64,
    fields: &'static [(u64, usize)],
}

fn tables(bytes: &[u8]) -> Vec<Table> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).expect("fixture parses");
    assert_eq!(file.ehdr.class, elf::file::Class::ELF32);
    let mut out = vec![Table {
        start: 0,
        entry: EHDR_SIZE,
        count: 1,
        fields: EHDR_FIELDS,
    }];
    out.push(Table {
        start: file.ehdr.e_shoff,
        entry: SHDR_SIZE,
        count: u64::from(file.ehdr.e_shnum),
        fields: SHDR_FIELDS,
    });
    if file.ehdr.e_phnum > 0 {
        out.push(Table {
            start: file.ehdr.e_phoff,
            entry: PHDR_SIZE,
            count: u64::from(file.ehdr.e_phnum),
            fields: PHDR_FIELDS,
        });
    }
    let shdrs = file.section_headers().expect("section headers");
    for shdr in shdrs.iter() {
        let (entry, fields) = match shdr.sh_type {
            elf::abi::SHT_SYMTAB | elf::abi::SHT_DYNSYM => (SYM_SIZE, SYM_FIELDS),
            elf::abi::SHT_REL => (REL_SIZE, REL_FIELDS),
            elf::abi::SHT_RELA => (RELA_SIZE, RELA_FIELDS),
            elf::abi::SHT_DYNAMIC => (DYN_SIZE, DYN_FIELDS),
            elf::abi::SHT_GNU_HASH | elf::abi::SHT_HASH => (4, WORD_FIELDS),
            _ => continue,
        };
        out.push(Table {
            start: shdr.sh_offset,
            entry,
            count: shdr.sh_size / entry,
            fields,
        });
    }
    out
}

fn put(bytes: &mut [u8], at: u64, width: usize, value: u64) {
    let at = usize::try_from(at).expect("offset fits");
    bytes[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
}

fn get(bytes: &[u8], at: u64, width: usize) -> u64 {
    let at = usize::try_from(at).expect("offset fits");
    let mut out = [0u8; 8];
    out[..width].copy_from_slice(&bytes[at..at + width]);
    u64::from_le_bytes(out)
}

/// xorshift64: deterministic mutations.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// One mutation: a random byte, a flipped bit in a table, a table field at
/// a 32-bit boundary value or nudged, or a cut or extended file.
fn mutate(bytes: &mut Vec<u8>, tables: &[Table], rng: &mut XorShift) {
    let len = bytes.len() as u64;
    let field = |rng: &mut XorShift| {
        let t = &tables[rng.below(tables.len() as u64) as usize];
        let (field, width) = rng.pick(t.fields);
        (t.start + rng.below(t.count) * t.entry + field, width)
    };
    match rng.below(8) {
        0 => {
            let at = rng.below(len) as usize;
            bytes[at] = rng.next() as u8;
        }
        1 => {
            let t = &tables[rng.below(tables.len() as u64) as usize];
            let at = t.start + rng.below(t.entry * t.count);
            if at < len {
                bytes[at as usize] ^= 1 << rng.below(8);
            }
        }
        2..=4 => {
            let (at, width) = field(rng);
            if at + width as u64 <= len {
                let random = rng.next();
                let value = rng.pick(&[
                    0,
                    1,
                    4,
                    8,
                    0x7f,
                    0x80,
                    0xff,
                    0x1000,
                    0xffff,
                    0x7fff_ffff,
                    0x8000_0000,
                    0xffff_f000,
                    0xffff_fffc,
                    0xffff_ffff,
                    len - 1,
                    len,
                    len + 1,
                    random,
                ]);
                put(bytes, at, width, value);
            }
        }
        5 | 6 => {
            let (at, width) = field(rng);
            if at + width as u64 <= len {
                let delta = rng.pick(&[1u64, 4, 8, 12, 16, 0x1000]);
                let old = get(bytes, at, width);
                let value = if rng.below(2) == 0 {
                    old.wrapping_add(delta)
                } else {
                    old.wrapping_sub(delta)
                };
                put(bytes, at, width, value);
            }
        }
        _ => {
            if rng.below(2) == 0 {
                bytes.truncate(rng.below(len) as usize);
            } else {
                let extra = rng.below(64) as usize;
                bytes.extend(std::iter::repeat_n(0u8, extra));
            }
        }
    }
}

#[test]
fn mutation_corpus_never_panics_or_leaks() {
    let mutants: usize = std::env::var("MODLIB_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    for f in machines() {
        for (kind, bytes, seed) in [
            ("rel", &f.rel, 0x9e37_79b9_7f4a_7c15u64),
            ("dyn", &f.dyn_, 0x2545_f491_4f6c_dd1d),
        ] {
            let tables = tables(bytes);
            let mut rng = XorShift(seed ^ f.machine.e_machine() as u64);
            let mut loaded = 0;
            for i in 0..mutants {
                let mut mutant = bytes.clone();
                for _ in 0..=rng.below(3) {
                    if mutant.len() < 2 {
                        break;
                    }
                    mutate(&mut mutant, &tables, &mut rng);
                }
                match catch_unwind(AssertUnwindSafe(|| {
                    try_load(&mutant, f.machine, &low_host_for(f.machine))
                })) {
                    Ok(Ok(())) => loaded += 1,
                    Ok(Err(_)) => {}
                    Err(panic) => {
                        let path = std::env::temp_dir()
                            .join(format!("modlib-mutant32-{}-{kind}-{i}.bin", f.machine));
                        let _ = std::fs::write(&path, &mutant);
                        eprintln!(
                            "{} {kind}: mutant {i} panicked; saved to {}",
                            f.machine,
                            path.display()
                        );
                        std::panic::resume_unwind(panic);
                    }
                }
            }
            eprintln!(
                "{} {kind}: {loaded} of {mutants} mutants loaded, the rest were refused",
                f.machine
            );
            assert!(
                loaded < mutants,
                "{} {kind}: mutations must be able to break the object",
                f.machine
            );
        }
    }
}

// ---------------------------------------------------------------------------
// What only the 32-bit class can get wrong

#[test]
fn an_image_above_4_gib_is_refused() {
    for f in machines() {
        for (kind, bytes) in [("rel", &f.rel), ("dyn", &f.dyn_)] {
            let memory = BufferMemory::new(0x1_0000_0000 - 0x1000);
            let e = load(
                bytes,
                &options(f.machine),
                &memory,
                &low_host_for(f.machine),
            )
            .map(drop)
            .expect_err("an ELF32 image cannot straddle 4 GiB");
            assert!(
                matches!(e, LoadError::AddressBeyondClass { .. }),
                "{} {kind}: {e:?}",
                f.machine
            );
            assert_eq!(memory.live_reservations(), 0, "{} {kind}", f.machine);
        }
    }
}

#[test]
fn a_symbol_above_4_gib_is_refused_not_truncated() {
    for f in machines() {
        for (kind, bytes) in [("rel", &f.rel), ("dyn", &f.dyn_)] {
            let high = host(
                0x1_0000_0000 + 0x40,
                0x10_1000 + u64::from(f.machine == Machine::Arm),
            );
            let e = try_load(bytes, f.machine, &high).expect_err("host_counter is above 4 GiB");
            assert!(
                matches!(&e, LoadError::SymbolBeyondClass { name, address } if name == "host_counter" && *address == 0x1_0000_0040),
                "{} {kind}: {e:?}",
                f.machine
            );
        }
    }
}

#[test]
fn a_segment_that_wraps_the_address_space_is_malformed() {
    for f in machines() {
        let file = ElfBytes::<LittleEndian>::minimal_parse(&f.dyn_).expect("parses");
        let phoff = file.ehdr.e_phoff;
        let load_index = file
            .segments()
            .expect("program headers")
            .iter()
            .position(|p| p.p_type == elf::abi::PT_LOAD)
            .expect("a PT_LOAD") as u64;
        let mut bytes = f.dyn_.clone();
        let at = phoff + load_index * PHDR_SIZE;
        // p_vaddr near the top, p_memsz reaching past 4 GiB.
        put(&mut bytes, at + 8, 4, 0xffff_f000);
        put(&mut bytes, at + 20, 4, 0x2000);
        let e = try_load(&bytes, f.machine, &low_host_for(f.machine)).expect_err("wraps");
        assert!(
            matches!(e, LoadError::Malformed { .. }),
            "{}: {e:?}",
            f.machine
        );
    }
}

#[test]
fn elf64_sized_entries_are_malformed() {
    for f in machines() {
        let file = ElfBytes::<LittleEndian>::minimal_parse(&f.rel).expect("parses");
        let shoff = file.ehdr.e_shoff;
        let symtab = file
            .section_headers()
            .expect("section headers")
            .iter()
            .position(|s| s.sh_type == elf::abi::SHT_SYMTAB)
            .expect("a symbol table") as u64;
        // sh_entsize of the symbol table: the ELF64 symbol size.
        let mut bytes = f.rel.clone();
        put(&mut bytes, shoff + symtab * SHDR_SIZE + 36, 4, 24);
        let e =
            try_load(&bytes, f.machine, &low_host_for(f.machine)).expect_err("wrong entry size");
        assert!(
            matches!(e, LoadError::Malformed { .. }),
            "{}: {e:?}",
            f.machine
        );
        // And an ELFCLASS64 identification on a 32-bit machine's object.
        let mut bytes = f.rel.clone();
        bytes[4] = elf::abi::ELFCLASS64;
        let e = try_load(&bytes, f.machine, &low_host_for(f.machine)).expect_err("wrong class");
        assert!(
            matches!(e, LoadError::WrongClass { class: 2, .. }),
            "{}: {e:?}",
            f.machine
        );
    }
}
