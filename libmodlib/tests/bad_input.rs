//! Malformed input: every broken object yields the right `LoadError`, never
//! a panic, and never leaks memory — hand-made cases, every truncation, a
//! deterministic mutation corpus, and a failure at every memory operation.
//! The cases patch x86-64 objects (relocation numbers, code models), so the
//! suite runs on x86-64 hosts; the other machines' relocation tables are
//! checked by the `diff_*` tests.
#![cfg(target_arch = "x86_64")]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicI32;

use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{
    load, LoadError, LoadOptions, Machine, NoSymbols, ProviderId, SymbolEntry, SymbolKind,
    SymbolResolver, SymbolTable,
};
use testkit::{fixtures, Compiler, CountingMemory, HostMemory, Placement};

// ---------------------------------------------------------------------------
// Fixtures and loading

fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bad")
        .join(name)
}

fn object(name: &str, flags: &[&str]) -> Vec<u8> {
    fixtures::object(&Compiler::Gcc, &source(name), flags).bytes
}

fn shared(name: &str, flags: &[&str]) -> Vec<u8> {
    let mut all = vec!["-O2", "-fPIC", "-nostdlib"];
    all.extend_from_slice(flags);
    fixtures::shared(&Compiler::Gcc, &[&source(name)], &all).bytes
}

/// The small relocatable module (position-independent).
fn rel_object() -> Vec<u8> {
    object("small.c", &["-O2", "-fPIC"])
}

/// The same module without `-fPIC` (absolute 32-bit relocations).
fn rel_object_nopic() -> Vec<u8> {
    object("small.c", &["-O1", "-fno-pic"])
}

/// The small shared object.
fn shared_object() -> Vec<u8> {
    shared("small_so.c", &[])
}

static HOST_COUNTER: AtomicI32 = AtomicI32::new(0);

extern "C" fn host_add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

/// What the fixtures import, as real items of this process. No test runs
/// module code, but a mutant may turn a function into an IFUNC resolver,
/// which the loader calls; its calls and loads then land on these.
fn host() -> SymbolTable<'static> {
    SymbolTable::new(
        vec![
            SymbolEntry::new(
                "host_counter",
                HOST_COUNTER.as_ptr() as u64,
                SymbolKind::Object,
            ),
            SymbolEntry::new(
                "host_add",
                host_add as *const () as u64,
                SymbolKind::Function,
            ),
        ],
        ProviderId(1),
    )
    .expect("unique host symbols")
}

/// The imports at low addresses, for non-PIC relocatable code whose 32-bit
/// absolute and PC-relative data references must reach them from the
/// image in the low 2 GiB. Relocatable objects never run code while loading.
fn host_low() -> SymbolTable<'static> {
    SymbolTable::new(
        vec![
            SymbolEntry::new("host_counter", 0x10_0000, SymbolKind::Object),
            SymbolEntry::new("host_add", 0x10_1000, SymbolKind::Function),
        ],
        ProviderId(1),
    )
    .expect("unique host symbols")
}

/// Loads `bytes` into fresh counting memory, drops the image if the load
/// succeeded (its code is never run), and checks nothing is still held.
fn try_load_with(
    bytes: &[u8],
    options: LoadOptions,
    resolver: &dyn SymbolResolver,
) -> Result<(), LoadError> {
    let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
    let result = load(bytes, &options, &mem, resolver).map(drop);
    assert_eq!(
        mem.live_reservations(),
        0,
        "reservation leaked ({result:?})"
    );
    assert_eq!(mem.live_bytes(), 0, "bytes leaked ({result:?})");
    result
}

fn try_load(bytes: &[u8]) -> Result<(), LoadError> {
    try_load_with(bytes, LoadOptions::default(), &host())
}

/// The error loading `bytes` gives; panics if the load succeeds.
fn load_err(bytes: &[u8]) -> LoadError {
    match try_load(bytes) {
        Ok(()) => panic!("a malformed object loaded"),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// Locating and patching ELF64 fields

const EHDR_SIZE: u64 = 64;
const SHDR_SIZE: u64 = 64;
const PHDR_SIZE: u64 = 56;
const SYM_SIZE: u64 = 24;
const RELA_SIZE: u64 = 24;
const DYN_SIZE: u64 = 16;

// Field offsets (ELF64).
const E_TYPE: u64 = 16;
const E_MACHINE: u64 = 18;
const E_PHOFF: u64 = 32;
const E_SHOFF: u64 = 40;
const E_PHNUM: u64 = 56;
const E_SHNUM: u64 = 60;
const E_SHSTRNDX: u64 = 62;
const SH_OFFSET: u64 = 24;
const SH_SIZE: u64 = 32;
const SH_LINK: u64 = 40;
const SH_ADDRALIGN: u64 = 48;
const SH_ENTSIZE: u64 = 56;
const P_FLAGS: u64 = 4;
const P_OFFSET: u64 = 8;
const P_VADDR: u64 = 16;
const P_FILESZ: u64 = 32;
const P_MEMSZ: u64 = 40;
const R_OFFSET: u64 = 0;
const R_INFO: u64 = 8;
const ST_INFO: u64 = 4;
const ST_SHNDX: u64 = 6;
const ST_VALUE: u64 = 8;

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

/// Where a section is: its header's file offset and the header itself.
#[derive(Clone)]
struct Section {
    name: String,
    header_at: u64,
    shdr: elf::section::SectionHeader,
}

/// The section and program headers of a valid fixture.
struct Parts {
    sections: Vec<Section>,
    /// `(header file offset, header)` of each program header.
    segments: Vec<(u64, elf::segment::ProgramHeader)>,
}

fn parts(bytes: &[u8]) -> Parts {
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).expect("fixture parses");
    let (shdrs, names) = file.section_headers_with_strtab().expect("section headers");
    let names = names.expect("section names");
    let sections = shdrs
        .expect("fixture has section headers")
        .iter()
        .enumerate()
        .map(|(i, shdr)| Section {
            name: names
                .get(shdr.sh_name as usize)
                .expect("section name")
                .to_string(),
            header_at: file.ehdr.e_shoff + i as u64 * SHDR_SIZE,
            shdr,
        })
        .collect();
    let segments = file
        .segments()
        .map(|table| {
            table
                .iter()
                .enumerate()
                .map(|(i, ph)| (file.ehdr.e_phoff + i as u64 * PHDR_SIZE, ph))
                .collect()
        })
        .unwrap_or_default();
    Parts { sections, segments }
}

impl Parts {
    fn section(&self, name: &str) -> &Section {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("fixture has no {name}"))
    }

    fn segment(&self, p_type: u32, nth: usize) -> u64 {
        self.segments
            .iter()
            .filter(|(_, ph)| ph.p_type == p_type)
            .nth(nth)
            .unwrap_or_else(|| panic!("fixture has no segment {p_type} #{nth}"))
            .0
    }

    fn loads(&self) -> Vec<u64> {
        self.segments
            .iter()
            .filter(|(_, ph)| ph.p_type == elf::abi::PT_LOAD)
            .map(|&(at, _)| at)
            .collect()
    }

    /// File offset of entry `index` of section `name` (entries of `size`).
    fn entry(&self, name: &str, index: u64, size: u64) -> u64 {
        let s = self.section(name);
        assert!(index * size < s.shdr.sh_size, "{name} has no entry {index}");
        s.shdr.sh_offset + index * size
    }

    /// File offset of the first RELA entry of section `name` with type
    /// `r_type` whose addend satisfies `addend`.
    fn rela_of_type(
        &self,
        bytes: &[u8],
        name: &str,
        r_type: u32,
        addend: impl Fn(u64) -> bool,
    ) -> u64 {
        let s = self.section(name);
        (0..s.shdr.sh_size / RELA_SIZE)
            .map(|i| s.shdr.sh_offset + i * RELA_SIZE)
            .find(|&at| {
                get(bytes, at + R_INFO, 4) == u64::from(r_type) && addend(get(bytes, at + 16, 8))
            })
            .unwrap_or_else(|| panic!("{name} has no relocation of type {r_type}"))
    }

    /// File offset of the value of the first dynamic entry tagged `tag`.
    fn dynamic_value(&self, bytes: &[u8], tag: i64) -> u64 {
        let s = self.section(".dynamic");
        (0..s.shdr.sh_size / DYN_SIZE)
            .map(|i| s.shdr.sh_offset + i * DYN_SIZE)
            .find(|&at| get(bytes, at, 8) as i64 == tag)
            .unwrap_or_else(|| panic!("no dynamic tag {tag}"))
            + 8
    }
}

/// A copy of `bytes` with one field set.
fn patched(bytes: &[u8], at: u64, width: usize, value: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    put(&mut out, at, width, value);
    out
}

// ---------------------------------------------------------------------------
// Identification and header

#[test]
fn fixtures_load_cleanly() {
    for bytes in [rel_object(), shared_object()] {
        try_load(&bytes).expect("the unmodified fixture loads");
    }
    try_load_with(&rel_object_nopic(), LoadOptions::default(), &host_low())
        .expect("the unmodified non-PIC fixture loads");
}

#[test]
fn non_elf_bytes_are_not_elf() {
    let cases: [&[u8]; 6] = [
        b"",
        b"\x7f",
        b"\x7fEL",
        b"#!/bin/sh\necho not an object\n",
        &[0u8; 256],
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
    ];
    for bytes in cases {
        let e = load_err(bytes);
        assert!(matches!(e, LoadError::NotElf), "{bytes:?}: {e:?}");
    }
    let mut elf = rel_object();
    elf[1] = b'e';
    assert!(matches!(load_err(&elf), LoadError::NotElf));
}

#[test]
fn class_and_encoding_are_checked() {
    let bytes = rel_object();
    // An ELFCLASS32 header on an object for a 64-bit machine.
    let e = load_err(&patched(&bytes, 4, 1, 1));
    assert!(matches!(e, LoadError::WrongClass { class: 1, .. }), "{e:?}");
    for class in [0u8, 3, 0xff] {
        let e = load_err(&patched(&bytes, 4, 1, u64::from(class)));
        assert!(
            matches!(e, LoadError::UnsupportedClass { class: c } if c == class),
            "class {class}: {e:?}"
        );
    }
    for encoding in [0u8, 2, 0x80] {
        let e = load_err(&patched(&bytes, 5, 1, u64::from(encoding)));
        assert!(
            matches!(e, LoadError::UnsupportedEncoding { encoding: d } if d == encoding),
            "encoding {encoding}: {e:?}"
        );
    }
    // Identification cut short right after the magic.
    let e = load_err(&bytes[..5]);
    assert!(matches!(e, LoadError::Malformed { .. }), "{e:?}");
}

#[test]
fn wrong_machine_is_named() {
    for bytes in [rel_object(), shared_object()] {
        for machine in [elf::abi::EM_AARCH64, elf::abi::EM_386, 0, 0x1234, 0xffff] {
            let e = load_err(&patched(&bytes, E_MACHINE, 2, u64::from(machine)));
            assert!(
                matches!(
                    e,
                    LoadError::WrongMachine { expected: Machine::X86_64, found } if found == machine
                ),
                "machine {machine:#x}: {e:?}"
            );
        }
        // An x86-64 object loaded for another machine.
        let options = LoadOptions {
            machine: Machine::Aarch64,
            ..LoadOptions::default()
        };
        let e = try_load_with(&bytes, options, &host()).expect_err("wrong machine");
        assert!(
            matches!(
                e,
                LoadError::WrongMachine {
                    expected: Machine::Aarch64,
                    found: elf::abi::EM_X86_64
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn executables_and_core_files_are_refused() {
    let bytes = shared_object();
    for e_type in [
        elf::abi::ET_NONE,
        elf::abi::ET_EXEC,
        elf::abi::ET_CORE,
        0xfe00,
    ] {
        let e = load_err(&patched(&bytes, E_TYPE, 2, u64::from(e_type)));
        assert!(
            matches!(e, LoadError::UnsupportedType { e_type: t } if t == e_type),
            "{e:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Truncation

/// Every prefix of `bytes` shorter than `needed` must fail; longer ones may
/// load. Nothing may panic or leak.
fn check_truncations(bytes: &[u8], needed: usize, resolver: &dyn SymbolResolver) {
    let options = LoadOptions::default();
    for len in 0..bytes.len() {
        let result = catch_unwind(AssertUnwindSafe(|| {
            try_load_with(&bytes[..len], options, resolver)
        }));
        match result {
            Ok(Ok(())) if len < needed => panic!("a {len}-byte prefix (of {needed}) loaded"),
            Ok(_) => {}
            Err(panic) => {
                eprintln!("loader panicked on a {len}-byte prefix");
                std::panic::resume_unwind(panic);
            }
        }
    }
}

#[test]
fn every_truncation_of_a_relocatable_object_fails() {
    let bytes = rel_object();
    check_truncations(&bytes, bytes.len(), &host());
    let bytes = rel_object_nopic();
    check_truncations(&bytes, bytes.len(), &host_low());
}

#[test]
fn every_truncation_of_a_shared_object_fails() {
    let bytes = shared_object();
    check_truncations(&bytes, bytes.len(), &host());
}

#[test]
fn every_truncation_of_a_shared_object_without_section_headers_fails() {
    // Without section headers only the segments bound the file, so the cut
    // reaches into the segments themselves instead of the header table.
    let mut bytes = shared_object();
    let p = parts(&bytes);
    put(&mut bytes, E_SHOFF, 8, 0);
    put(&mut bytes, E_SHNUM, 2, 0);
    put(&mut bytes, E_SHSTRNDX, 2, 0);
    try_load(&bytes).expect("a shared object loads without section headers");
    let needed = p
        .segments
        .iter()
        .filter(|(_, ph)| matches!(ph.p_type, elf::abi::PT_LOAD | elf::abi::PT_DYNAMIC))
        .map(|(_, ph)| ph.p_offset + ph.p_filesz)
        .max()
        .expect("segments");
    check_truncations(&bytes, usize::try_from(needed).expect("fits"), &host());
}

// ---------------------------------------------------------------------------
// Section headers (ET_REL)

fn assert_malformed(bytes: &[u8], case: &str) {
    let e = load_err(bytes);
    assert!(matches!(e, LoadError::Malformed { .. }), "{case}: {e:?}");
}

#[test]
fn section_header_table_outside_the_file() {
    let bytes = rel_object();
    let len = bytes.len() as u64;
    for shoff in [len, len - 1, len + 0x1000, u64::MAX - 8, u64::MAX] {
        assert_malformed(&patched(&bytes, E_SHOFF, 8, shoff), "e_shoff");
    }
    for shnum in [0x100, 0xfeff, 0xffff] {
        assert_malformed(&patched(&bytes, E_SHNUM, 2, shnum), "e_shnum");
    }
    assert_malformed(&patched(&bytes, E_SHSTRNDX, 2, 0x200), "e_shstrndx");
    assert_malformed(&patched(&bytes, 58, 2, 32), "e_shentsize");
}

#[test]
fn section_data_outside_the_file() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let len = bytes.len() as u64;
    for name in [
        ".text",
        ".data",
        ".rela.text",
        ".symtab",
        ".strtab",
        ".shstrtab",
    ] {
        let at = p.section(name).header_at;
        for offset in [len, len + 0x1000, u64::MAX - 4, u64::MAX] {
            assert_malformed(
                &patched(&bytes, at + SH_OFFSET, 8, offset),
                &format!("{name} sh_offset {offset:#x}"),
            );
        }
        for size in [len, 1 << 40, u64::MAX] {
            assert_malformed(
                &patched(&bytes, at + SH_SIZE, 8, size),
                &format!("{name} sh_size {size:#x}"),
            );
        }
    }
    // A NOBITS section has no file data, but its size must still be sane.
    let bss = p.section(".bss").header_at;
    for size in [1 << 41, u64::MAX] {
        assert_malformed(&patched(&bytes, bss + SH_SIZE, 8, size), "bss sh_size");
    }
}

#[test]
fn inconsistent_section_headers() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let symtab = p.section(".symtab").header_at;
    let rela = p.section(".rela.text").header_at;
    let text = p.section(".text").header_at;
    let cases = [
        ("symtab entry size", symtab + SH_ENTSIZE, 8, 16),
        ("symtab string table link", symtab + SH_LINK, 4, 0x7fff),
        ("relocations not linked to the symtab", rela + SH_LINK, 4, 1),
        ("alignment not a power of two", text + SH_ADDRALIGN, 8, 3),
        ("alignment too large", text + SH_ADDRALIGN, 8, 1 << 63),
    ];
    for (case, at, width, value) in cases {
        assert_malformed(&patched(&bytes, at, width, value), case);
    }
}

/// An allocated section of a type the loader would only ignore (a dynamic
/// table, an unknown extension) is refused by name, not loaded silently.
#[test]
fn allocated_sections_of_unhandled_types_are_refused() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let data = p.section(".data").header_at;
    for sh_type in [
        elf::abi::SHT_DYNAMIC,
        elf::abi::SHT_HASH,
        0x6fff_fff0,
        0x7fff_0000,
    ] {
        let e = load_err(&patched(&bytes, data + 4, 4, u64::from(sh_type)));
        assert!(
            matches!(&e, LoadError::UnsupportedSection { section, sh_type: t } if section == ".data" && *t == sh_type),
            "{sh_type:#x}: {e:?}"
        );
    }
}

/// An init or fini array whose size reaches far beyond the file, inside a
/// segment whose memory size was made huge too, is refused at once (it
/// must lie in the file's data), not walked word by word for minutes.
#[test]
fn absurd_init_and_fini_array_sizes_are_refused_at_once() {
    let bytes = shared("ctor_so.c", &["-Wl,-z,norelro"]);
    let p = parts(&bytes);
    let file = ElfBytes::<LittleEndian>::minimal_parse(&bytes).expect("parses");
    let tag_value = |tag: i64| get(&bytes, p.dynamic_value(&bytes, tag), 8);
    for (array, size_tag) in [
        (elf::abi::DT_INIT_ARRAY, elf::abi::DT_INIT_ARRAYSZ),
        (elf::abi::DT_FINI_ARRAY, elf::abi::DT_FINI_ARRAYSZ),
    ] {
        let vaddr = tag_value(array);
        // The segment holding the array, made 64 GiB long in memory.
        let (index, ph) = file
            .segments()
            .expect("program headers")
            .iter()
            .enumerate()
            .find(|(_, ph)| {
                ph.p_type == elf::abi::PT_LOAD
                    && ph.p_vaddr <= vaddr
                    && vaddr < ph.p_vaddr + ph.p_memsz
            })
            .expect("a segment holds the array");
        let last = file
            .segments()
            .expect("program headers")
            .iter()
            .filter(|p| p.p_type == elf::abi::PT_LOAD)
            .map(|p| p.p_vaddr)
            .max();
        assert_eq!(
            Some(ph.p_vaddr),
            last,
            "the array lies in the last segment (-z norelro)"
        );
        let mut mutant = bytes.clone();
        let huge = 1u64 << 36;
        put(&mut mutant, p.segments[index].0 + P_MEMSZ, 8, huge);
        put(
            &mut mutant,
            p.dynamic_value(&bytes, size_tag),
            8,
            huge - (vaddr - ph.p_vaddr),
        );
        let started = std::time::Instant::now();
        // Anywhere: a 64 GiB reservation does not fit the low 2 GiB.
        let mem = CountingMemory::new(HostMemory::new(Placement::Anywhere));
        let e = load(&mutant, &LoadOptions::default(), &mem, &host())
            .map(drop)
            .expect_err("absurd array");
        assert_eq!(mem.live_bytes(), 0, "{size_tag}: nothing kept");
        assert!(
            matches!(e, LoadError::Malformed { .. }),
            "{size_tag}: {e:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "{size_tag}: refused only after {:?}",
            started.elapsed()
        );
    }
}

/// A global defined twice is named in the error.
#[test]
fn a_global_defined_twice_is_named() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let add = symbol_entry(&bytes, &p, ".symtab", "module_add");
    let sum = symbol_entry(&bytes, &p, ".symtab", "module_sum");
    // module_sum renamed module_add: two definitions of one name.
    let mutant = patched(&bytes, sum, 4, get(&bytes, add, 4));
    let e = load_err(&mutant);
    assert_eq!(
        e,
        LoadError::DuplicateDefinition {
            name: "module_add".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "symbol `module_add` is defined twice in the object"
    );
}

/// File offset of the entry of `name` in the symbol table `table`.
fn symbol_entry(bytes: &[u8], p: &Parts, table: &str, name: &str) -> u64 {
    let symtab = &p.section(table).shdr;
    let strtab = &p.sections[symtab.sh_link as usize].shdr;
    let mut wanted = name.as_bytes().to_vec();
    wanted.push(0);
    (0..symtab.sh_size / SYM_SIZE)
        .map(|i| symtab.sh_offset + i * SYM_SIZE)
        .find(|&at| {
            let name_at = usize::try_from(strtab.sh_offset + get(bytes, at, 4)).expect("fits");
            bytes[name_at..].starts_with(&wanted)
        })
        .unwrap_or_else(|| panic!("{name} not in {table}"))
}

#[test]
fn bad_symbols() {
    let bytes = rel_object();
    let p = parts(&bytes);
    // A global defined in .data.
    let last = symbol_entry(&bytes, &p, ".symtab", "module_counter");
    assert_malformed(
        &patched(&bytes, last + ST_SHNDX, 2, 0x7000),
        "symbol section index out of range",
    );
    assert_malformed(
        &patched(&bytes, last + ST_VALUE, 8, 1 << 32),
        "symbol value beyond its section",
    );
    assert_malformed(
        &patched(&bytes, last, 4, 0xffff_fff0),
        "symbol name outside the string table",
    );
    let e = load_err(&patched(
        &bytes,
        last + ST_SHNDX,
        2,
        u64::from(elf::abi::SHN_XINDEX),
    ));
    assert!(matches!(e, LoadError::Unsupported { .. }), "{e:?}");
    // An empty symbol table that relocations still refer to, by name and
    // by the null symbol (which an empty table lacks too).
    let empty = patched(&bytes, p.section(".symtab").header_at + SH_SIZE, 8, 0);
    assert_malformed(&empty, "empty symbol table");
    let mut null_only = empty;
    for s in p
        .sections
        .iter()
        .filter(|s| s.shdr.sh_type == elf::abi::SHT_RELA)
    {
        for i in 0..s.shdr.sh_size / RELA_SIZE {
            let at = s.shdr.sh_offset + i * RELA_SIZE + R_INFO;
            let r_type = get(&null_only, at, 4);
            put(&mut null_only, at, 8, r_type);
        }
    }
    assert_malformed(
        &null_only,
        "relocations against the null symbol of an empty table",
    );
}

// ---------------------------------------------------------------------------
// Relocations (ET_REL)

#[test]
fn relocation_outside_its_target_section() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let text_size = p.section(".text").shdr.sh_size;
    let data_rel_size = p.section(".data.rel").shdr.sh_size;
    let cases = [
        (".rela.text", text_size),
        (".rela.text", text_size + 0x1000),
        (".rela.text", u64::MAX),
        // In range, but the 8-byte field runs past the end.
        (".rela.data.rel", data_rel_size - 4),
        (".rela.data.rel", data_rel_size),
    ];
    for (section, offset) in cases {
        // Entry 0 of .rela.text is a 4-byte field, of .rela.data.rel an
        // 8-byte one (R_X86_64_64).
        let entry = p.entry(section, 0, RELA_SIZE);
        let e = load_err(&patched(&bytes, entry + R_OFFSET, 8, offset));
        assert!(
            matches!(
                &e,
                LoadError::RelocationOutOfBounds { section: s, offset: o }
                    if s == section && *o == offset
            ),
            "{section} r_offset {offset:#x}: {e:?}"
        );
    }
}

#[test]
fn relocation_symbol_index_out_of_range() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let count = p.section(".symtab").shdr.sh_size / SYM_SIZE;
    let entry = p.entry(".rela.text", 1, RELA_SIZE);
    let info = get(&bytes, entry + R_INFO, 8);
    for sym in [count, count + 1, 0xffff_ffff] {
        let e = load_err(&patched(
            &bytes,
            entry + R_INFO,
            8,
            (sym << 32) | (info & 0xffff_ffff),
        ));
        assert!(matches!(e, LoadError::Malformed { .. }), "sym {sym}: {e:?}");
    }
}

#[test]
fn unsupported_relocation_type_is_named() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let entry = p.entry(".rela.text", 1, RELA_SIZE);
    let r_offset = get(&bytes, entry + R_OFFSET, 8);
    let sym = get(&bytes, entry + R_INFO, 8) >> 32;
    for r_type in [
        200,
        elf::abi::R_X86_64_TPOFF32,
        elf::abi::R_X86_64_GOTTPOFF,
        elf::abi::R_X86_64_TLSGD,
        elf::abi::R_X86_64_COPY,
        0xffff_ffff,
    ] {
        let e = load_err(&patched(
            &bytes,
            entry + R_INFO,
            8,
            (sym << 32) | u64::from(r_type),
        ));
        assert!(
            matches!(
                &e,
                LoadError::UnsupportedRelocation {
                    machine: Machine::X86_64,
                    r_type: t,
                    section,
                    offset,
                } if *t == r_type && section == ".rela.text" && *offset == r_offset
            ),
            "type {r_type}: {e:?}"
        );
        assert!(e.to_string().contains(&r_type.to_string()), "{e}");
    }
}

#[test]
fn undefined_symbol_is_named() {
    let rel = object("undefined.c", &["-O2", "-fPIC"]);
    let so = shared("undefined.c", &[]);
    for bytes in [rel, so] {
        let e = load_err(&bytes);
        assert!(
            matches!(
                &e,
                LoadError::UndefinedSymbol { name, version: None } if name == "modlib_missing_symbol"
            ),
            "{e:?}"
        );
    }
    // The good fixtures need their host symbols too.
    for bytes in [rel_object(), shared_object()] {
        let e = try_load_with(&bytes, LoadOptions::default(), &NoSymbols)
            .expect_err("host symbols are missing");
        assert!(
            matches!(&e, LoadError::UndefinedSymbol { name, .. } if name.starts_with("host_")),
            "{e:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Program headers and dynamic tables (ET_DYN)

#[test]
fn segments_outside_the_file() {
    let bytes = shared_object();
    let p = parts(&bytes);
    let len = bytes.len() as u64;
    let loads = p.loads();
    let (first, last) = (loads[0], loads[loads.len() - 1]);
    let text = loads[1];
    let memsz = |at: u64| get(&bytes, at + P_MEMSZ, 8);
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for &at in &loads {
        for offset in [len, len + 0x1000, u64::MAX - 0x10, u64::MAX] {
            cases.push((
                format!("PT_LOAD@{at:#x} p_offset {offset:#x}"),
                patched(&bytes, at + P_OFFSET, 8, offset),
            ));
        }
        cases.push((
            format!("PT_LOAD@{at:#x} p_filesz > p_memsz"),
            patched(&bytes, at + P_FILESZ, 8, memsz(at) + 1),
        ));
        let mut both = patched(&bytes, at + P_FILESZ, 8, len);
        put(&mut both, at + P_MEMSZ, 8, len);
        cases.push((format!("PT_LOAD@{at:#x} p_filesz past the end"), both));
    }
    for memsz in [1 << 41, 1 << 62, u64::MAX - 0xfff, u64::MAX] {
        cases.push((
            format!("first PT_LOAD p_memsz {memsz:#x}"),
            patched(&bytes, first + P_MEMSZ, 8, memsz),
        ));
        cases.push((
            format!("text PT_LOAD p_memsz {memsz:#x}"),
            patched(&bytes, text + P_MEMSZ, 8, memsz),
        ));
        cases.push((
            format!("last PT_LOAD p_memsz {memsz:#x}"),
            patched(&bytes, last + P_MEMSZ, 8, memsz),
        ));
    }
    for vaddr in [u64::MAX - 0x10, !0xfff_u64, 0x7fff_ffff_ffff_f000] {
        cases.push((
            format!("last PT_LOAD p_vaddr {vaddr:#x}"),
            patched(&bytes, last + P_VADDR, 8, vaddr),
        ));
    }
    // Two segments at the same address.
    cases.push((
        "overlapping segments".into(),
        patched(&bytes, text + P_VADDR, 8, get(&bytes, first + P_VADDR, 8)),
    ));
    let dynamic = p.segment(elf::abi::PT_DYNAMIC, 0);
    for offset in [len, u64::MAX] {
        cases.push((
            format!("PT_DYNAMIC p_offset {offset:#x}"),
            patched(&bytes, dynamic + P_OFFSET, 8, offset),
        ));
    }
    cases.push((
        "PT_DYNAMIC p_filesz".into(),
        patched(&bytes, dynamic + P_FILESZ, 8, len),
    ));
    for phoff in [len, len - 8, u64::MAX] {
        cases.push((
            format!("e_phoff {phoff:#x}"),
            patched(&bytes, E_PHOFF, 8, phoff),
        ));
    }
    cases.push(("e_phoff 0".into(), patched(&bytes, E_PHOFF, 8, 0)));
    cases.push(("e_phnum 0".into(), patched(&bytes, E_PHNUM, 2, 0)));
    cases.push(("e_phnum huge".into(), patched(&bytes, E_PHNUM, 2, 0xfff0)));
    cases.push(("e_phentsize".into(), patched(&bytes, 54, 2, 32)));
    for (case, mutant) in cases {
        assert_malformed(&mutant, &case);
    }
}

#[test]
fn bad_dynamic_tables() {
    let bytes = shared_object();
    let p = parts(&bytes);
    let len = bytes.len() as u64;
    let tag = |t: i64| p.dynamic_value(&bytes, t);
    let cases = [
        ("DT_STRTAB", tag(elf::abi::DT_STRTAB), 0x10_0000),
        ("DT_STRSZ", tag(elf::abi::DT_STRSZ), len),
        ("DT_SYMTAB", tag(elf::abi::DT_SYMTAB), u64::MAX - 8),
        ("DT_SYMENT", tag(elf::abi::DT_SYMENT), 16),
        ("DT_GNU_HASH", tag(elf::abi::DT_GNU_HASH), 0x10_0000),
        ("DT_RELA", tag(elf::abi::DT_RELA), 0x10_0000),
        ("DT_RELASZ", tag(elf::abi::DT_RELASZ), len),
        ("DT_RELAENT", tag(elf::abi::DT_RELAENT), 16),
        ("DT_JMPREL", tag(elf::abi::DT_JMPREL), u64::MAX),
        ("DT_PLTRELSZ", tag(elf::abi::DT_PLTRELSZ), 1 << 40),
    ];
    for (case, at, value) in cases {
        assert_malformed(&patched(&bytes, at, 8, value), case);
    }
    // A GNU hash table whose header claims far more than it has.
    let gnu_hash = p.section(".gnu.hash").shdr.sh_offset;
    for (field, value) in [(0, 0xffff_ffff), (8, 0xffff_ffff), (4, 0xffff)] {
        assert_malformed(
            &patched(&bytes, gnu_hash + field, 4, value),
            &format!("gnu hash word {field}"),
        );
    }
}

#[test]
fn bad_dynamic_relocations() {
    let bytes = shared_object();
    let p = parts(&bytes);
    // A RELATIVE whose addend points at data, and a GLOB_DAT.
    let relative = p.rela_of_type(&bytes, ".rela.dyn", elf::abi::R_X86_64_RELATIVE, |addend| {
        addend >= 0x3000
    });
    let glob_dat = p.rela_of_type(&bytes, ".rela.dyn", elf::abi::R_X86_64_GLOB_DAT, |_| true);
    let place = get(&bytes, relative + R_OFFSET, 8);
    // The end of the last segment: its page is committed, but the bytes
    // after it belong to no segment.
    let (_, last) = p
        .segments
        .iter()
        .filter(|(_, ph)| ph.p_type == elf::abi::PT_LOAD)
        .max_by_key(|(_, ph)| ph.p_vaddr)
        .expect("segments");
    let end = last.p_vaddr + last.p_memsz;

    for offset in [end, end - 4, 0x10_0000, u64::MAX - 4] {
        let e = load_err(&patched(&bytes, relative + R_OFFSET, 8, offset));
        assert!(
            matches!(
                &e,
                LoadError::RelocationOutOfBounds { section, offset: o }
                    if section == ".rela.dyn" && *o == offset
            ),
            "r_offset {offset:#x}: {e:?}"
        );
    }

    // Places in the object's code and read-only data: it has no
    // DT_TEXTREL, so nothing there may be written.
    for (_, ph) in p
        .segments
        .iter()
        .filter(|(_, ph)| ph.p_type == elf::abi::PT_LOAD && ph.p_flags & elf::abi::PF_W == 0)
    {
        let offset = ph.p_vaddr + ph.p_filesz / 2;
        let e = load_err(&patched(&bytes, relative + R_OFFSET, 8, offset));
        assert!(
            matches!(
                &e,
                LoadError::RelocationInReadOnly { section, offset: o }
                    if section == ".rela.dyn" && *o == offset
            ),
            "r_offset {offset:#x}: {e:?}"
        );
    }

    let info = get(&bytes, glob_dat + R_INFO, 8);
    for sym in [0x1000, 0xffff_ffff] {
        let e = load_err(&patched(
            &bytes,
            glob_dat + R_INFO,
            8,
            (sym << 32) | (info & 0xffff_ffff),
        ));
        assert!(matches!(e, LoadError::Malformed { .. }), "sym {sym}: {e:?}");
    }

    for r_type in [200, 0xffff] {
        let e = load_err(&patched(&bytes, relative + R_INFO, 8, r_type));
        assert!(
            matches!(
                &e,
                LoadError::UnsupportedRelocation { r_type: t, section, offset, .. }
                    if u64::from(*t) == r_type && section == ".rela.dyn" && *offset == place
            ),
            "type {r_type}: {e:?}"
        );
    }
    for r_type in [elf::abi::R_X86_64_DTPMOD64, elf::abi::R_X86_64_TPOFF64] {
        let e = load_err(&patched(&bytes, relative + R_INFO, 8, u64::from(r_type)));
        assert!(
            matches!(e, LoadError::ThreadLocalStorage { .. }),
            "type {r_type}: {e:?}"
        );
        assert!(e.to_string().contains("thread-local storage"), "{e}");
    }
    let e = load_err(&patched(
        &bytes,
        relative + R_INFO,
        8,
        u64::from(elf::abi::R_X86_64_COPY),
    ));
    assert!(matches!(e, LoadError::Unsupported { .. }), "{e:?}");

    // An IRELATIVE whose resolver is not in the object's code must not be
    // called: this entry's addend points at data.
    let e = load_err(&patched(
        &bytes,
        relative + R_INFO,
        8,
        u64::from(elf::abi::R_X86_64_IRELATIVE),
    ));
    assert!(
        matches!(&e, LoadError::CodeOutsideObject { what, .. } if what == "IFUNC resolver"),
        "{e:?}"
    );
    let mut far = patched(
        &bytes,
        relative + R_INFO,
        8,
        u64::from(elf::abi::R_X86_64_IRELATIVE),
    );
    put(&mut far, relative + 16, 8, 0x7fff_0000_0000);
    assert!(matches!(
        load_err(&far),
        LoadError::CodeOutsideObject { .. }
    ));
}

#[test]
fn own_ifunc_resolver_outside_code_is_refused() {
    let bytes = shared_object();
    let p = parts(&bytes);
    // Turn the exported data symbol `so_counter` into an IFUNC: its
    // "resolver" would be data, so it must be refused rather than called.
    let at = symbol_entry(&bytes, &p, ".dynsym", "so_counter") + ST_INFO;
    let info = (get(&bytes, at, 1) & 0xf0) | u64::from(elf::abi::STT_GNU_IFUNC);
    let e = load_err(&patched(&bytes, at, 1, info));
    assert!(
        matches!(&e, LoadError::CodeOutsideObject { what, .. } if what == "IFUNC resolver"),
        "{e:?}"
    );
    // The same in a relocatable object: a module binding to it would call
    // its "resolver".
    let bytes = rel_object();
    let p = parts(&bytes);
    let at = symbol_entry(&bytes, &p, ".symtab", "module_counter") + ST_INFO;
    let info = (get(&bytes, at, 1) & 0xf0) | u64::from(elf::abi::STT_GNU_IFUNC);
    let e = load_err(&patched(&bytes, at, 1, info));
    assert!(
        matches!(&e, LoadError::CodeOutsideObject { what, .. } if what == "IFUNC resolver"),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------
// Pointers that leave the object

/// Loads `bytes`, which must be refused because `what` points outside the
/// object's code; nothing may be kept.
fn outside_code(bytes: &[u8], resolver: &dyn SymbolResolver, what: &str) -> u64 {
    match try_load_with(bytes, LoadOptions::default(), resolver) {
        Err(LoadError::CodeOutsideObject { what: w, address }) if w == what => address,
        other => panic!("{what}: expected CodeOutsideObject, got {other:?}"),
    }
}

/// `DT_INIT`, `DT_FINI` and the entry point of a shared object patched to
/// point at its data, or far outside it, are refused when it is loaded
/// (no image is handed out, so nothing can run them).
#[test]
fn shared_object_init_fini_and_entry_outside_code_are_refused() {
    let bytes = shared(
        "ctor_so.c",
        &["-Wl,-init,ctor_value", "-Wl,-fini,ctor_value"],
    );
    try_load(&bytes).expect("the unmodified fixture loads");
    let p = parts(&bytes);
    let data = get(&bytes, p.dynamic_value(&bytes, elf::abi::DT_INIT_ARRAY), 8);
    for (tag, name) in [
        (elf::abi::DT_INIT, "DT_INIT"),
        (elf::abi::DT_FINI, "DT_FINI"),
    ] {
        for value in [data, 0x7fff_0000_0000, u64::MAX - 0x10] {
            let at = p.dynamic_value(&bytes, tag);
            outside_code(&patched(&bytes, at, 8, value), &host(), name);
        }
    }
    // An array entry pointing at the array itself (data).
    let relative = p.rela_of_type(&bytes, ".rela.dyn", elf::abi::R_X86_64_RELATIVE, |a| a != 0);
    let place = get(&bytes, relative + R_OFFSET, 8);
    assert_eq!(place, data, "the first RELATIVE fills .init_array");
    let address = outside_code(
        &patched(&bytes, relative + 16, 8, data),
        &host(),
        "DT_INIT_ARRAY",
    );
    assert_eq!(address % 0x1000, data % 0x1000);
    let entry = patched(&bytes, 24, 8, data);
    outside_code(&entry, &host(), "e_entry");
}

/// A relocatable module whose `.init_array` entry is relocated to a data
/// symbol, and one whose data section is typed `SHT_INIT_ARRAY` (its words
/// are no functions), are refused naming the section.
#[test]
fn relocatable_init_array_outside_code_is_refused() {
    let bytes = object("init_data.c", &["-O2", "-fPIC"]);
    let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
    let e = load(&bytes, &LoadOptions::default(), &mem, &host())
        .map(drop)
        .expect_err("an init_array entry in data");
    assert_eq!(mem.live_bytes(), 0, "nothing kept");
    assert_eq!(mem.live_reservations(), 0, "nothing kept");
    let LoadError::CodeOutsideObject { what, address } = e else {
        panic!("{e:?}");
    };
    assert_eq!(what, ".init_array");
    assert_ne!(address, 0);

    let bytes = rel_object();
    let p = parts(&bytes);
    let data = p.section(".data").header_at;
    let mutant = patched(&bytes, data + 4, 4, u64::from(elf::abi::SHT_INIT_ARRAY));
    // Two of the section's `int`s, read as one word.
    let address = outside_code(&mutant, &host(), ".data");
    assert_ne!(address >> 32, 0, "{address:#x}");
}

#[test]
fn writable_and_executable_segments_are_refused() {
    let linked = shared("small_so.c", &["-Wl,-N"]);
    let e = load_err(&linked);
    assert!(
        matches!(e, LoadError::Unsupported { what } if what.contains("W^X")),
        "--omagic: {e:?}"
    );
    let bytes = shared_object();
    let p = parts(&bytes);
    let rwx = u64::from(elf::abi::PF_R | elf::abi::PF_W | elf::abi::PF_X);
    for at in p.loads() {
        let e = load_err(&patched(&bytes, at + P_FLAGS, 4, rwx));
        assert!(
            matches!(e, LoadError::Unsupported { what } if what.contains("W^X")),
            "PT_LOAD@{at:#x}: {e:?}"
        );
    }
}

#[test]
fn thread_local_storage_is_refused() {
    let e = load_err(&shared("tls.c", &[]));
    assert!(
        matches!(e, LoadError::ThreadLocalStorage { what } if what.contains("PT_TLS")),
        "{e:?}"
    );
    assert!(e.to_string().contains("thread-local storage"), "{e}");

    // Given a module id but no descriptor resolver, an object using TLS
    // descriptors is refused, and what to rebuild with is named.
    let bytes = shared("tls.c", &["-mtls-dialect=gnu2"]);
    let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
    let mut mapped = modlib::map(&bytes, &LoadOptions::default(), &mem).expect("maps");
    assert!(mapped.thread_local().is_some());
    mapped.set_tls_module(1);
    let e = mapped.relocate(&host()).expect_err("no resolver");
    assert!(
        matches!(e, LoadError::ThreadLocalStorage { what } if what.contains("TLS descriptors")
            && what.contains("-mtls-dialect")),
        "{e:?}"
    );
    assert_eq!(mem.live_bytes(), 0, "bytes leaked");
}

// ---------------------------------------------------------------------------
// Address arithmetic on values from the file

const ST_SIZE: u64 = 16;

/// A symbol whose value and size do not fit in an address together (a
/// size of 2^64 - 1, an absolute symbol at the top of the address space)
/// is still found by `symbol_at` for the addresses it covers, and the
/// search never overflows.
#[test]
fn symbol_at_with_sizes_beyond_the_address_space() {
    // A shared object whose exported `so_counter` claims every byte above it.
    let bytes = shared_object();
    let p = parts(&bytes);
    let at = symbol_entry(&bytes, &p, ".dynsym", "so_counter");
    let mutant = patched(&bytes, at + ST_SIZE, 8, u64::MAX);
    let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
    let image = load(&mutant, &LoadOptions::default(), &mem, &host()).expect("loads");
    let counter = image.symbol("so_counter").expect("exported");
    for addr in [counter.address, counter.address + 8, u64::MAX] {
        let (name, symbol) = image.symbol_at(addr).expect("inside so_counter");
        assert_eq!(
            (name.as_str(), symbol),
            ("so_counter", counter),
            "{addr:#x}"
        );
    }
    drop(image);
    assert_eq!(mem.live_bytes(), 0);

    // A relocatable object whose `module_counter` is absolute, 16 bytes
    // long, 4 bytes below the top of the address space.
    let bytes = rel_object();
    let p = parts(&bytes);
    let at = symbol_entry(&bytes, &p, ".symtab", "module_counter");
    let mut mutant = patched(&bytes, at + ST_SHNDX, 2, u64::from(elf::abi::SHN_ABS));
    put(&mut mutant, at + ST_VALUE, 8, u64::MAX - 3);
    put(&mut mutant, at + ST_SIZE, 8, 16);
    let image = load(&mutant, &LoadOptions::default(), &mem, &host_low()).expect("loads");
    let (name, symbol) = image.symbol_at(u64::MAX).expect("inside module_counter");
    assert_eq!(
        (name.as_str(), symbol.address),
        ("module_counter", u64::MAX - 3)
    );
    assert!(image
        .symbol_at(u64::MAX - 4)
        .is_none_or(|(n, _)| n != "module_counter"));
}

// ---------------------------------------------------------------------------
// Validation before reservation, and the image size limit

/// Just under the loader's own limit of 1 TiB.
const ALMOST_A_TIB: u64 = (1 << 40) - (1 << 24);

/// Loads `bytes` with `options` into counting memory placed anywhere (a
/// huge reservation could be granted); returns the error and how many
/// bytes were ever reserved.
fn refused_before_reserving(bytes: &[u8], options: LoadOptions) -> (LoadError, usize) {
    let mem = CountingMemory::new(HostMemory::new(Placement::Anywhere));
    let e = load(bytes, &options, &mem, &host_low())
        .map(drop)
        .expect_err("refused");
    assert_eq!(mem.live_bytes(), 0, "nothing kept");
    (e, mem.reserved_total())
}

/// An object whose bss is almost 1 TiB and which is broken further on (a
/// relocation outside its section, a relocation table outside the file) is
/// refused without a byte reserved: everything the file can show is
/// checked first.
#[test]
fn huge_broken_objects_are_refused_before_any_reservation() {
    let bytes = rel_object();
    let p = parts(&bytes);
    let mut mutant = patched(
        &bytes,
        p.section(".bss").header_at + SH_SIZE,
        8,
        ALMOST_A_TIB,
    );
    let entry = p.entry(".rela.text", 0, RELA_SIZE);
    put(&mut mutant, entry + R_OFFSET, 8, 0x10_0000);
    let (e, reserved) = refused_before_reserving(&mutant, LoadOptions::default());
    assert!(
        matches!(e, LoadError::RelocationOutOfBounds { .. }),
        "{e:?}"
    );
    assert_eq!(reserved, 0, "ET_REL: reserved before refusing");

    let bytes = shared_object();
    let p = parts(&bytes);
    let last = *p.loads().last().expect("segments");
    let mut mutant = patched(&bytes, last + P_MEMSZ, 8, ALMOST_A_TIB);
    put(
        &mut mutant,
        p.dynamic_value(&bytes, elf::abi::DT_RELA),
        8,
        0x10_0000_0000,
    );
    let (e, reserved) = refused_before_reserving(&mutant, LoadOptions::default());
    assert!(matches!(e, LoadError::Malformed { .. }), "{e:?}");
    assert_eq!(reserved, 0, "ET_DYN: reserved before refusing");
}

/// With `max_image_size`, an object that needs more is refused, naming
/// its size and the limit, before anything is reserved; one that fits
/// loads.
#[test]
fn image_size_limit_is_checked_before_reserving() {
    let limit = 1 << 20;
    let options = LoadOptions {
        max_image_size: Some(limit),
        ..LoadOptions::default()
    };
    let rel = rel_object();
    let p = parts(&rel);
    let big_rel = patched(&rel, p.section(".bss").header_at + SH_SIZE, 8, 16 << 20);
    let so = shared_object();
    let p = parts(&so);
    let last = *p.loads().last().expect("segments");
    let big_so = patched(&so, last + P_MEMSZ, 8, 16 << 20);
    for (name, bytes) in [("ET_REL", &big_rel), ("ET_DYN", &big_so)] {
        let (e, reserved) = refused_before_reserving(bytes, options);
        assert!(
            matches!(e, LoadError::ImageTooLarge { size, limit: l } if size > 16 << 20 && l == limit),
            "{name}: {e:?}"
        );
        assert_eq!(reserved, 0, "{name}: reserved before refusing");
        try_load_with(bytes, LoadOptions::default(), &host_low()).expect("loads without the limit");
    }
    for bytes in [rel_object_nopic(), shared_object()] {
        try_load_with(&bytes, options, &host_low()).expect("a small object fits the limit");
    }
}

// ---------------------------------------------------------------------------
// Memory failures

#[test]
fn every_memory_failure_releases_everything() {
    for (name, bytes, resolver) in [
        ("ET_REL", rel_object(), host()),
        ("ET_REL no-pic", rel_object_nopic(), host_low()),
        ("ET_DYN", shared_object(), host()),
    ] {
        let mut failures = 0;
        for n in 0.. {
            assert!(
                n < 256,
                "{name}: a load takes implausibly many memory operations"
            );
            let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
            mem.fail_after(n);
            let result = load(&bytes, &LoadOptions::default(), &mem, &resolver).map(drop);
            assert_eq!(mem.live_reservations(), 0, "{name}: fail_after({n}) leaked");
            assert_eq!(mem.live_bytes(), 0, "{name}: fail_after({n}) leaked bytes");
            match result {
                Ok(()) => break,
                Err(LoadError::OutOfMemory { .. } | LoadError::Memory(_)) => failures += 1,
                Err(e) => panic!("{name}: fail_after({n}) gave {e:?}"),
            }
        }
        eprintln!("{name}: each of {failures} memory operations failed in turn, nothing leaked");
        // Reserve, commit and at least one protect can each fail.
        assert!(failures >= 3, "{name}: only {failures} memory operations");
    }
}

// ---------------------------------------------------------------------------
// Mutation corpus

/// xorshift64: small, deterministic, good enough to scatter mutations.
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

/// A table in the file: where it starts, entry size, entry count, and the
/// `(offset, width)` of the fields worth attacking.
struct Table {
    start: u64,
    entry: u64,
    count: u64,
    fields: &'static [(u64, usize)],
}

const EHDR_FIELDS: &[(u64, usize)] = &[
    (4, 1),
    (5, 1),
    (16, 2),
    (18, 2),
    (24, 8),
    (32, 8),
    (40, 8),
    (52, 2),
    (54, 2),
    (56, 2),
    (58, 2),
    (60, 2),
    (62, 2),
];
const SHDR_FIELDS: &[(u64, usize)] = &[
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
];
const PHDR_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 4), (8, 8), (16, 8), (32, 8), (40, 8), (48, 8)];
const SYM_FIELDS: &[(u64, usize)] = &[(0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8)];
const RELA_FIELDS: &[(u64, usize)] = &[(0, 8), (8, 4), (12, 4), (16, 8)];
const DYN_FIELDS: &[(u64, usize)] = &[(0, 8), (8, 8)];
const WORD_FIELDS: &[(u64, usize)] = &[(0, 4)];

fn tables(bytes: &[u8]) -> Vec<Table> {
    let p = parts(bytes);
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).expect("fixture parses");
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
    if !p.segments.is_empty() {
        out.push(Table {
            start: file.ehdr.e_phoff,
            entry: PHDR_SIZE,
            count: p.segments.len() as u64,
            fields: PHDR_FIELDS,
        });
    }
    for s in &p.sections {
        let (entry, fields) = match s.shdr.sh_type {
            elf::abi::SHT_SYMTAB | elf::abi::SHT_DYNSYM => (SYM_SIZE, SYM_FIELDS),
            elf::abi::SHT_RELA => (RELA_SIZE, RELA_FIELDS),
            elf::abi::SHT_DYNAMIC => (DYN_SIZE, DYN_FIELDS),
            elf::abi::SHT_GNU_HASH | elf::abi::SHT_HASH => (4, WORD_FIELDS),
            _ => continue,
        };
        out.push(Table {
            start: s.shdr.sh_offset,
            entry,
            count: s.shdr.sh_size / entry,
            fields,
        });
    }
    out
}

/// Values at the edges of what a field can hold, and near the file's size.
fn boundary(rng: &mut XorShift, len: u64) -> u64 {
    let random = rng.next();
    rng.pick(&[
        0,
        1,
        2,
        7,
        8,
        0x7f,
        0x80,
        0xff,
        0x1000,
        0x7fff,
        0xffff,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        1 << 40,
        1 << 63,
        u64::MAX - 7,
        u64::MAX,
        len - 1,
        len,
        len + 1,
        random,
    ])
}

fn mutate(bytes: &mut Vec<u8>, tables: &[Table], rng: &mut XorShift) {
    let len = bytes.len() as u64;
    match rng.below(8) {
        // A random byte anywhere.
        0 => {
            let at = rng.below(len) as usize;
            bytes[at] = rng.next() as u8;
        }
        // A flipped bit in a table.
        1 => {
            let t = &tables[rng.below(tables.len() as u64) as usize];
            let at = t.start + rng.below(t.entry * t.count);
            if at < len {
                bytes[at as usize] ^= 1 << rng.below(8);
            }
        }
        // A table field set to a boundary value.
        2..=4 => {
            let t = &tables[rng.below(tables.len() as u64) as usize];
            let (field, width) = rng.pick(t.fields);
            let at = t.start + rng.below(t.count) * t.entry + field;
            if at + width as u64 <= len {
                let value = boundary(rng, len);
                put(bytes, at, width, value);
            }
        }
        // A table field nudged by a small amount (off-by-one, one entry).
        5 | 6 => {
            let t = &tables[rng.below(tables.len() as u64) as usize];
            let (field, width) = rng.pick(t.fields);
            let at = t.start + rng.below(t.count) * t.entry + field;
            if at + width as u64 <= len {
                let delta = rng.pick(&[1u64, 4, 8, 16, 24, 0x1000]);
                let old = get(bytes, at, width);
                let value = if rng.below(2) == 0 {
                    old.wrapping_add(delta)
                } else {
                    old.wrapping_sub(delta)
                };
                put(bytes, at, width, value);
            }
        }
        // Cut or extend the file.
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

/// Loads `count` mutants of `bytes`; returns how many loaded successfully.
fn run_corpus(
    name: &str,
    bytes: &[u8],
    resolver: &dyn SymbolResolver,
    seed: u64,
    count: usize,
) -> usize {
    let options = LoadOptions::default();
    let tables = tables(bytes);
    let mut rng = XorShift(seed);
    // By hand: `MODLIB_TRACE_MUTANTS=1` names each mutant before loading it
    // (to find one that crashes the process), `MODLIB_ONLY_MUTANT=name:i`
    // loads only that one and saves it to the temporary directory.
    let trace = std::env::var_os("MODLIB_TRACE_MUTANTS").is_some();
    let only = std::env::var("MODLIB_ONLY_MUTANT").ok();
    let mut loaded = 0;
    for i in 0..count {
        let mut mutant = bytes.to_vec();
        for _ in 0..=rng.below(3) {
            if mutant.len() < 2 {
                break;
            }
            mutate(&mut mutant, &tables, &mut rng);
        }
        if trace {
            eprintln!("{name} seed {seed:#x} mutant {i}");
        }
        if only.as_deref() == Some(&format!("{name}:{i}")) {
            let path = std::env::temp_dir().join(format!("modlib-mutant-{name}-{i}.bin"));
            std::fs::write(&path, &mutant).expect("save the mutant");
            eprintln!("saved to {}", path.display());
        } else if only.is_some() {
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| {
            try_load_with(&mutant, options, resolver)
        })) {
            Ok(Ok(())) => loaded += 1,
            Ok(Err(_)) => {}
            Err(panic) => {
                let path = std::env::temp_dir().join(format!("modlib-mutant-{name}-{i}.bin"));
                let _ = std::fs::write(&path, &mutant);
                eprintln!(
                    "{name}: mutant {i} (seed {seed:#x}) panicked; saved to {}",
                    path.display()
                );
                std::panic::resume_unwind(panic);
            }
        }
    }
    loaded
}

#[test]
fn mutation_corpus_never_panics_or_leaks() {
    // `MODLIB_MUTANTS=n` runs a longer campaign by hand.
    let mutants: usize = std::env::var("MODLIB_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    // `MODLIB_MUTANT_SEED=n` varies the seeds for such a campaign.
    let salt: u64 = std::env::var("MODLIB_MUTANT_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let corpus = [
        ("et_rel", rel_object(), host(), 0x9e37_79b9_7f4a_7c15),
        (
            "et_rel_nopic",
            rel_object_nopic(),
            host_low(),
            0xd1b5_4a32_d192_ed03,
        ),
        ("et_dyn", shared_object(), host(), 0x2545_f491_4f6c_dd1d),
    ];
    for (name, bytes, resolver, seed) in corpus {
        let loaded = run_corpus(name, &bytes, &resolver, seed ^ salt, mutants);
        eprintln!("{name}: {loaded} of {mutants} mutants loaded, the rest were refused");
        assert!(loaded < mutants, "{name}: no mutant was refused");
    }
}
