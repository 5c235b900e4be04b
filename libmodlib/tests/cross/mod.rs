//! Shared by the differential tests of the foreign machines
//! (`diff_riscv64.rs`, `diff_riscv32.rs`, `diff_aarch64.rs`, `diff_arm.rs`):
//! compiles fixtures for the target with clang and, when installed, the
//! cross gcc; loads each object with modlib into a buffer standing at a
//! fixed run-time address; links the same object with a reference linker (`ld.lld --no-relax`, and the cross GNU
//! `ld --no-relax` when installed) at exactly the section addresses modlib
//! chose, with the same symbol values; and compares the relocated bytes.
//!
//! Synthesised entries are placed differently by each linker, so places
//! whose relocation goes through a GOT slot or a range-extension stub are
//! compared by what they reach: the slot must hold the symbol's value, the
//! stub must jump to it. Far functions (beyond direct branch range) are
//! given to the reference linker at a near "proxy" address, since lld
//! makes no RISC-V range-extension thunks: a call there must land on the
//! proxy (or the linker's own veneer for it), and modlib's call on a stub
//! jumping to the real far address. Words holding a far function's address
//! are compared by value, GOT-relative ones against each image's GOT
//! origin.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use elf::abi::{SHN_ABS, SHN_UNDEF, SHT_NOBITS, SHT_NOTE, SHT_REL, SHT_RELA, STT_SECTION};
use elf::endian::LittleEndian;
use elf::section::SectionHeader;
use elf::ElfBytes;
use modlib::inspect::{relocatable_layout, RelocatableLayout};
use modlib::{
    load, LoadError, LoadOptions, LoadedImage, Machine, Protection, ProviderId, SymbolEntry,
    SymbolKind, SymbolTable,
};
use testkit::{fixtures, BufferMemory, Compiler, Fixture};

pub mod riscv;

/// Where every image is loaded, and where the reference links are placed.
pub const BASE: u64 = 0x1000_0000;
/// Host data lives half a MiB below the image (within reach of the tiny
/// model's ±1 MiB), host functions a quarter MiB below.
const NEAR_DATA: u64 = BASE - 0x8_0000;
const NEAR_CODE: u64 = BASE - 0x4_0000;
/// Far host functions of the 64-bit machines: 128 GiB, beyond every
/// direct branch.
pub const FAR_64: u64 = 0x20_0000_0000;

/// A symbol the host provides to the fixtures.
#[derive(Debug, Clone, Copy)]
pub struct HostSymbol {
    /// Name.
    pub name: &'static str,
    /// Value modlib binds to.
    pub value: u64,
    /// Value the reference linker gets instead (far branch targets only).
    pub proxy: Option<u64>,
    /// Function or data.
    pub kind: SymbolKind,
}

const fn host(name: &'static str, value: u64, kind: SymbolKind) -> HostSymbol {
    HostSymbol {
        name,
        value,
        proxy: None,
        kind,
    }
}

/// The host symbols every fixture of `I` may use: `far_*` at `I::FAR`,
/// `abs_big` at `I::ABS_BIG`, and `abs_negative` as a word of `I`'s class.
pub fn host_symbols<I: Isa>() -> Vec<HostSymbol> {
    let (far, bit) = (I::FAR, I::FUNCTION_BIT);
    let negative = 0u64.wrapping_sub(0x1234) & class_max::<I>();
    let mut out = vec![
        host("near_value", NEAR_DATA, SymbolKind::Object),
        host("near_array", NEAR_DATA + 0x40, SymbolKind::Object),
        host("near_wide", NEAR_DATA + 0x80, SymbolKind::Object),
        host("near_fn", NEAR_CODE | bit, SymbolKind::Function),
        HostSymbol {
            name: "far_fn",
            value: (far + 0x1000) | bit,
            proxy: Some((NEAR_CODE + 0x100) | bit),
            kind: SymbolKind::Function,
        },
        HostSymbol {
            name: "far_tail",
            value: (far + 0x2000) | bit,
            proxy: Some((NEAR_CODE + 0x200) | bit),
            kind: SymbolKind::Function,
        },
        host("far_data", far + 0x3000, SymbolKind::Object),
        host("abs_small", 0x1234, SymbolKind::Object),
        host("abs_mid", 0x1234_5678, SymbolKind::Object),
        host("abs_big", I::ABS_BIG, SymbolKind::Object),
        host("abs_negative", negative, SymbolKind::Object),
        host("ext_data", NEAR_DATA + 0x100, SymbolKind::Object),
        host("ext_fn", (NEAR_CODE + 0x300) | bit, SymbolKind::Function),
    ];
    for (i, &name) in I::RUNTIME.iter().enumerate() {
        let value = (NEAR_CODE + 0x400 + 0x40 * i as u64) | bit;
        out.push(host(name, value, SymbolKind::Function));
    }
    out
}

/// The largest address of `I`'s class.
pub fn class_max<I: Isa>() -> u64 {
    if I::MACHINE.word_size() == 4 {
        u64::from(u32::MAX)
    } else {
        u64::MAX
    }
}

/// `symbols` as the table modlib binds against.
pub fn table(symbols: &[HostSymbol]) -> SymbolTable<'static> {
    SymbolTable::new(
        symbols
            .iter()
            .map(|s| SymbolEntry::new(s.name, s.value, s.kind))
            .collect(),
        ProviderId(1),
    )
    .expect("unique host names")
}

/// The host symbols of `I` with `name` moved to `value`.
pub fn moved<I: Isa>(name: &str, value: u64) -> Vec<HostSymbol> {
    let mut out = host_symbols::<I>();
    out.iter_mut()
        .find(|s| s.name == name)
        .expect("known host symbol")
        .value = value;
    out
}

// ---------------------------------------------------------------------------
// What differs between the machines
// ---------------------------------------------------------------------------

/// What one machine's relocations reach, for the places compared by meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A branch lands here.
    Branch(u64),
    /// A load reads the GOT slot here.
    Slot(u64),
    /// The page (4 KiB) of a GOT slot.
    SlotPage(u64),
    /// The low 12 bits of a GOT slot's address.
    SlotLow(u64),
    /// The page of the GOT itself.
    GotPage(u64),
    /// A slot's offset from the page of the GOT.
    SlotFromGotPage(u64),
    /// A branch landing here; when that is a stub, on its entry at this
    /// offset (Arm's veneers have a second entry for Arm state).
    BranchEntry(u64, u64),
    /// A word holding `S + A`: modlib's with the real value of a far
    /// symbol, the reference's with its proxy.
    Value(u64),
    /// `S + A - GOT_ORG`: an address relative to the GOT origin (modlib's
    /// synthesised GOT, the reference's `_GLOBAL_OFFSET_TABLE_`).
    FromGot(u64),
    /// `GOT(S) - GOT_ORG`: a slot relative to the GOT origin.
    SlotFromGot(u64),
    /// The GOT origin itself.
    GotOrigin(u64),
}

/// A place compared by what it reaches: the instruction words it covers
/// (with the immediate bits, which may differ), and what it reaches.
#[derive(Debug, Clone)]
pub struct Semantic {
    /// `(address, immediate mask)` of each instruction word involved.
    pub words: Vec<(u64, u32)>,
    /// What the instruction(s) reach, if this relocation decides it.
    pub reach: Option<Reach>,
}

/// One relocation of the object, with addresses as both images have them.
#[derive(Debug, Clone)]
pub struct Rel {
    /// Relocation type.
    pub r_type: u32,
    /// Run-time address of the place.
    pub place: u64,
    /// Symbol name (its section's for a section symbol).
    pub symbol: String,
    /// S as the reference linker sees it (proxies for far functions).
    pub value: u64,
    /// A.
    pub addend: i64,
    /// Whether the symbol is a far function (reached through a stub).
    pub far: bool,
}

/// Reads run-time addresses of an image.
pub trait Image {
    /// The bytes at `addr..addr+len`, if mapped.
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>>;
}

/// The machine-specific side of the comparison.
pub trait Isa {
    /// The machine.
    const MACHINE: Machine;
    /// clang flags selecting the target.
    const CLANG: &'static [&'static str];
    /// The cross gcc driver.
    const GCC: &'static str;
    /// Flags every gcc build starts with (the architecture and ABI when the
    /// driver's default is another one).
    const GCC_FLAGS: &'static [&'static str] = &[];
    /// The cross GNU linker.
    const GNU_LD: &'static str;
    /// Flags ld.lld needs (platform choices it defaults otherwise).
    const LLD_FLAGS: &'static [&'static str] = &[];
    /// Flags the GNU linker needs first (its emulation, for one).
    const GNU_LD_FLAGS: &'static [&'static str] = &[];
    /// Relocation types ld.lld 14 does not know (objects with them are
    /// compared against GNU ld only).
    const LLD_UNKNOWN: &'static [u32];
    /// Size of one of modlib's stubs: its code, then the target as a word
    /// of the machine's class.
    const STUB_SIZE: usize;
    /// The instructions of modlib's stubs.
    const STUB_CODE: &'static [u32];
    /// Prefix of the relocation names (`R_RISCV_`).
    const PREFIX: &'static str;
    /// Which fixture exercises which relocation type: (type, name without
    /// the prefix, fixture).
    const TABLE: &'static [(u32, &'static str, &'static str)];
    /// Where far host functions and data live: beyond direct branch range
    /// yet within the class (below 4 GiB on the 32-bit machines).
    const FAR: u64 = FAR_64;
    /// The `abs_big` host symbol: a large absolute the class still holds.
    const ABS_BIG: u64 = 0x1234_5678_9abc;
    /// Set in host functions' values: Arm's Thumb bit (host code is Thumb).
    const FUNCTION_BIT: u64 = 0;
    /// Compiler runtime functions the fixtures may call (Arm's division
    /// helpers and unwinder personality routines), given as host functions.
    const RUNTIME: &'static [&'static str] = &[];
    /// When set, the reference linkers get the host symbols from an ELF32
    /// object of this `e_machine` that gives each its type (function or
    /// object) instead of as untyped `--defsym`s: Arm linkers interwork
    /// (and read bit 0 as the Thumb bit) only for typed functions.
    const TYPED_HOST_SYMBOLS: Option<u16> = None;
    /// Relocation types that are thread-local storage.
    fn is_tls(r_type: u32) -> bool;
    /// The addend a `REL` entry of `r_type` implies, read from `field` (the
    /// object's bytes from the place on). Only machines using `REL` need it.
    fn implicit_addend(r_type: u32, field: &[u8]) -> i64 {
        let _ = (r_type, field);
        0
    }
    /// How relocation `i` of a section is compared, if not by bytes.
    fn semantic(rels: &[Rel], i: usize, image: &dyn Image) -> Option<Semantic>;

    /// Where a stub of modlib's jumps, if `stub` is one.
    fn stub_target(stub: &[u8]) -> Option<u64> {
        let code_len = Self::STUB_CODE.len() * 4;
        let code: Vec<u32> = stub
            .get(..code_len)?
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let target = stub.get(code_len..code_len + Self::MACHINE.word_size())?;
        (code == Self::STUB_CODE).then(|| le_word(target))
    }

    /// A readable name of a relocation type.
    fn type_name(r_type: u32) -> String {
        Self::TABLE.iter().find(|(t, ..)| *t == r_type).map_or_else(
            || r_type.to_string(),
            |(_, n, _)| format!("{}{n}", Self::PREFIX),
        )
    }
}

/// The 32-bit little-endian word at `addr` of `image`.
pub fn word_at(image: &dyn Image, addr: u64) -> Option<u32> {
    image
        .read(addr, 4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
}

/// `bytes` (4 or 8 of them) as a little-endian word, zero-extended.
pub fn le_word(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// The word of `I`'s class at `addr` of `image`.
pub fn class_word_at<I: Isa>(image: &dyn Image, addr: u64) -> Option<u64> {
    image
        .read(addr, I::MACHINE.word_size())
        .map(|b| le_word(&b))
}

/// `v`'s low `bits` bits, sign-extended.
pub fn sext(v: u64, bits: u32) -> i64 {
    ((v << (64 - bits)) as i64) >> (64 - bits)
}

// ---------------------------------------------------------------------------
// Fixtures and builds
// ---------------------------------------------------------------------------

/// Path of a fixture source in `tests/fixtures/cross`.
pub fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cross")
        .join(name)
}

/// Whether a tool answers `--version`.
fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether `tool` is installed; when not, says so, and fails the test if
/// `MODLIB_REQUIRE_CROSS` is set (as the project's test script does).
pub fn available(tool: &str) -> bool {
    if installed(tool) {
        return true;
    }
    assert!(
        std::env::var_os("MODLIB_REQUIRE_CROSS").is_none(),
        "{tool} is required (MODLIB_REQUIRE_CROSS is set) but not installed"
    );
    eprintln!("note: {tool} not installed; its builds are skipped");
    false
}

/// One way of building a fixture.
#[derive(Debug, Clone)]
pub struct Build {
    /// Source file in `tests/fixtures/cross`.
    pub fixture: &'static str,
    /// The compiler driver.
    pub compiler: Compiler,
    /// Every flag (target selection included).
    pub flags: Vec<&'static str>,
}

impl Build {
    /// A clang build for `I` with `flags`.
    pub fn clang<I: Isa>(fixture: &'static str, flags: &[&'static str]) -> Self {
        let mut all = I::CLANG.to_vec();
        all.extend_from_slice(flags);
        Build {
            fixture,
            compiler: Compiler::Clang,
            flags: all,
        }
    }

    /// A build with the cross gcc for `I` with `flags`.
    pub fn gcc<I: Isa>(fixture: &'static str, flags: &[&'static str]) -> Self {
        let mut all = I::GCC_FLAGS.to_vec();
        all.extend_from_slice(flags);
        Build {
            fixture,
            compiler: Compiler::Named(I::GCC.into()),
            flags: all,
        }
    }

    /// Compiles to a relocatable object.
    pub fn object(&self) -> Fixture {
        fixtures::object(&self.compiler, &source(self.fixture), &self.flags)
    }

    /// Compiles with `-fPIC` and links with `ld.lld -shared`.
    pub fn shared_object(&self) -> Fixture {
        let object = self.object();
        let out = object.path.with_extension("so");
        run(
            Command::new("ld.lld")
                .arg("-shared")
                .arg(&object.path)
                .arg("-o")
                .arg(&out),
            "ld.lld -shared",
        )
        .unwrap_or_else(|e| panic!("{self}: {e}"));
        let bytes = std::fs::read(&out).expect("read shared object");
        Fixture { path: out, bytes }
    }

    /// Whether the flags include `flag`.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{} {} {}]",
            self.fixture,
            self.compiler.command(),
            self.flags.join(" ")
        )
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("run {what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

// ---------------------------------------------------------------------------
// Reading objects
// ---------------------------------------------------------------------------

/// One entry of a relocation section: its `r_addend` for `SHT_RELA`,
/// `None` for `SHT_REL` (whose addend is implicit in the place).
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// `r_offset`.
    pub offset: u64,
    /// Symbol index.
    pub sym: u32,
    /// Relocation type.
    pub r_type: u32,
    /// `r_addend`, if the section has one.
    pub addend: Option<i64>,
}

/// The entries of `shdr` if it is a `SHT_REL` or `SHT_RELA` section.
pub fn entries(file: &ElfBytes<'_, LittleEndian>, shdr: &SectionHeader) -> Option<Vec<Entry>> {
    match shdr.sh_type {
        SHT_RELA => Some(
            file.section_data_as_relas(shdr)
                .expect("RELA entries")
                .map(|r| Entry {
                    offset: r.r_offset,
                    sym: r.r_sym,
                    r_type: r.r_type,
                    addend: Some(r.r_addend),
                })
                .collect(),
        ),
        SHT_REL => Some(
            file.section_data_as_rels(shdr)
                .expect("REL entries")
                .map(|r| Entry {
                    offset: r.r_offset,
                    sym: r.r_sym,
                    r_type: r.r_type,
                    addend: None,
                })
                .collect(),
        ),
        _ => None,
    }
}

/// Every relocation type in the object's `SHT_REL` and `SHT_RELA` sections.
pub fn relocation_types(object: &[u8]) -> BTreeSet<u32> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).expect("parse object");
    let mut out = BTreeSet::new();
    for shdr in file.section_headers().expect("section headers").iter() {
        out.extend(
            entries(&file, &shdr)
                .into_iter()
                .flatten()
                .map(|r| r.r_type),
        );
    }
    out
}

/// The first relocation (in the order modlib applies them) whose type
/// satisfies `pred`: type, relocation section name, offset.
pub fn first_relocation(object: &[u8], pred: impl Fn(u32) -> bool) -> Option<(u32, String, u64)> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).expect("parse object");
    let (shdrs, names) = file.section_headers_with_strtab().expect("sections");
    let (shdrs, names) = (shdrs?, names?);
    for shdr in shdrs.iter() {
        let Some(list) = entries(&file, &shdr) else {
            continue;
        };
        let target = shdrs.get(shdr.sh_info as usize).ok()?;
        if target.sh_flags & u64::from(elf::abi::SHF_ALLOC) == 0 {
            continue;
        }
        for r in list {
            if pred(r.r_type) {
                let name = names.get(shdr.sh_name as usize).ok()?.to_string();
                return Some((r.r_type, name, r.offset));
            }
        }
    }
    None
}

/// `object` with its `NONE` relocations that name a symbol given the types
/// `types`, in table order (for types no assembler here emits).
pub fn retype(object: &[u8], types: &[u32]) -> Vec<u8> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).expect("parse object");
    let wide = file.ehdr.class == elf::file::Class::ELF64;
    let word = if wide { 8 } else { 4 };
    let mut out = object.to_vec();
    let mut next = types.iter();
    for shdr in file.section_headers().expect("section headers").iter() {
        let Some(list) = entries(&file, &shdr) else {
            continue;
        };
        let size = if shdr.sh_type == SHT_RELA { 3 } else { 2 } * word;
        for (i, r) in list.iter().enumerate() {
            if r.r_type != 0 || r.sym == 0 {
                continue;
            }
            let Some(&t) = next.next() else {
                return out;
            };
            let at = shdr.sh_offset as usize + i * size + word;
            if wide {
                out[at..at + 4].copy_from_slice(&t.to_le_bytes());
            } else {
                out[at] = u8::try_from(t).expect("an ELF32 type fits a byte");
            }
        }
    }
    assert!(next.next().is_none(), "fewer NONE relocations than types");
    out
}

/// A linked (or loaded) image as sections at run-time addresses.
struct Sections(Vec<(u64, Vec<u8>)>);

impl Image for Sections {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        self.0.iter().find_map(|(a, bytes)| {
            let off = usize::try_from(addr.checked_sub(*a)?).ok()?;
            bytes.get(off..off.checked_add(len)?).map(<[u8]>::to_vec)
        })
    }
}

/// An image in a `BufferMemory`.
struct Buffer<'a>(&'a BufferMemory);

impl Image for Buffer<'_> {
    fn read(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        self.0.read(addr, len)
    }
}

/// The reference link of an object: sections by name, symbols by name.
struct Linked {
    linker: String,
    sections: BTreeMap<String, (u64, Vec<u8>)>,
    symbols: BTreeMap<String, u64>,
}

impl Linked {
    fn image(&self) -> Sections {
        Sections(self.sections.values().cloned().collect())
    }
}

/// Links `object` with `linker` at the addresses of `layout`.
fn link<I: Isa>(
    linker: &str,
    object: &Fixture,
    layout: &RelocatableLayout,
    symbols: &[HostSymbol],
) -> Result<Linked, String> {
    let mut script = String::from("SECTIONS {\n");
    for s in &layout.sections {
        writeln!(
            script,
            "  {} {:#x} : {{ *({}) }}",
            s.name,
            BASE + s.offset as u64,
            s.name
        )
        .unwrap();
    }
    let got = (BASE + layout.size as u64 + 0x1fff) & !0xfff;
    writeln!(script, "  .got {got:#x} : {{ *(.got) }}").unwrap();
    writeln!(script, "  .got.plt : {{ *(.got.plt) }}").unwrap();
    script.push_str("}\n");
    let tag = Path::new(linker)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("ld");
    let script_path = object.path.with_extension(format!("{tag}.ld"));
    let out = object.path.with_extension(format!("{tag}.elf"));
    std::fs::write(&script_path, &script).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(linker);
    if linker == I::GNU_LD {
        cmd.args(I::GNU_LD_FLAGS);
    }
    cmd.args(["--no-relax", "-static", "-z", "norelro", "-T"])
        .arg(&script_path)
        .arg(&object.path)
        .arg("-o")
        .arg(&out);
    if let Some(machine) = I::TYPED_HOST_SYMBOLS {
        let path = object.path.with_extension("host.o");
        std::fs::write(&path, host_object(machine, symbols)).map_err(|e| e.to_string())?;
        cmd.arg(&path);
    }
    for s in symbols.iter().filter(|_| I::TYPED_HOST_SYMBOLS.is_none()) {
        let value = s.proxy.unwrap_or(s.value);
        if linker == I::GNU_LD && I::MACHINE.word_size() == 4 && value > i32::MAX as u64 {
            // GNU ld's 64-bit BFD range-checks some ELF32 fields (RISC-V
            // `c.lui`) without wrapping at 2^32: give it the same 32-bit
            // address as a negative number.
            let negative = (1u64 << 32) - value;
            cmd.arg(format!("--defsym={}=-{negative:#x}", s.name));
        } else {
            cmd.arg(format!("--defsym={}={value:#x}", s.name));
        }
    }
    if linker.ends_with("lld") {
        cmd.args(I::LLD_FLAGS);
        // -O0: keep mergeable strings where the object has them (lld's
        // string merging reorders them by hash).
        cmd.arg("-O0");
    }
    run(&mut cmd, linker)?;
    let bytes = std::fs::read(&out).map_err(|e| e.to_string())?;
    let file = ElfBytes::<LittleEndian>::minimal_parse(&bytes).map_err(|e| e.to_string())?;
    let (shdrs, names) = file
        .section_headers_with_strtab()
        .map_err(|e| e.to_string())?;
    let (shdrs, names) = (shdrs.ok_or("no sections")?, names.ok_or("no names")?);
    let mut sections = BTreeMap::new();
    for shdr in shdrs.iter() {
        if shdr.sh_flags & u64::from(elf::abi::SHF_ALLOC) == 0 {
            continue;
        }
        let name = names
            .get(shdr.sh_name as usize)
            .map_err(|e| e.to_string())?;
        let data = if shdr.sh_type == SHT_NOBITS {
            vec![0; shdr.sh_size as usize]
        } else {
            file.section_data(&shdr)
                .map_err(|e| e.to_string())?
                .0
                .to_vec()
        };
        sections.insert(name.to_string(), (shdr.sh_addr, data));
    }
    let mut syms = BTreeMap::new();
    if let Some((symtab, strtab)) = file.symbol_table().map_err(|e| e.to_string())? {
        for s in symtab.iter() {
            if let Ok(name) = strtab.get(s.st_name as usize) {
                if !name.is_empty() && s.st_symtype() != STT_SECTION {
                    syms.entry(name.to_string()).or_insert(s.st_value);
                }
            }
        }
    }
    Ok(Linked {
        linker: linker.to_string(),
        sections,
        symbols: syms,
    })
}

/// A relocatable ELF32 (little-endian) object of `machine` that only
/// defines `symbols` as absolute global functions or objects, at their
/// proxies where they have one. It has no attributes section, so it takes
/// no part in the linker's merging of those.
fn host_object(machine: u16, symbols: &[HostSymbol]) -> Vec<u8> {
    const EHDR: usize = 52;
    const SHDR: usize = 40;
    let mut strtab = vec![0u8];
    let mut symtab = vec![0u8; 16];
    for s in symbols {
        let name = strtab.len() as u32;
        strtab.extend_from_slice(s.name.as_bytes());
        strtab.push(0);
        let kind = match s.kind {
            SymbolKind::Function => elf::abi::STT_FUNC,
            _ => elf::abi::STT_OBJECT,
        };
        let value = s.proxy.unwrap_or(s.value) as u32;
        symtab.extend_from_slice(&name.to_le_bytes());
        symtab.extend_from_slice(&value.to_le_bytes());
        symtab.extend_from_slice(&0u32.to_le_bytes());
        symtab.extend_from_slice(&[(elf::abi::STB_GLOBAL << 4) | kind, 0]);
        symtab.extend_from_slice(&SHN_ABS.to_le_bytes());
    }
    let shstrtab = b"\0.symtab\0.strtab\0.shstrtab\0";
    let symtab_at = EHDR;
    let strtab_at = symtab_at + symtab.len();
    let shstrtab_at = strtab_at + strtab.len();
    let shoff = (shstrtab_at + shstrtab.len() + 3) & !3;
    let mut out = vec![0u8; shoff];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4..7].copy_from_slice(&[1, 1, 1]); // ELFCLASS32, little-endian, v1
    let half = |out: &mut Vec<u8>, at: usize, v: u16| {
        out[at..at + 2].copy_from_slice(&v.to_le_bytes());
    };
    half(&mut out, 16, elf::abi::ET_REL);
    half(&mut out, 18, machine);
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[32..36].copy_from_slice(&(shoff as u32).to_le_bytes());
    // EABI version 5, as every Arm object here has.
    out[36..40].copy_from_slice(&0x0500_0000u32.to_le_bytes());
    for (at, v) in [(40, EHDR), (46, SHDR), (48, 4), (50, 3)] {
        half(&mut out, at, v as u16);
    }
    out[symtab_at..strtab_at].copy_from_slice(&symtab);
    out[strtab_at..shstrtab_at].copy_from_slice(&strtab);
    out[shstrtab_at..shstrtab_at + shstrtab.len()].copy_from_slice(shstrtab);
    // name, type, flags, addr, offset, size, link, info, align, entsize
    let headers: [[u32; 10]; 4] = [
        [0; 10],
        [
            1,
            elf::abi::SHT_SYMTAB,
            0,
            0,
            symtab_at as u32,
            symtab.len() as u32,
            2,
            1,
            4,
            16,
        ],
        [
            9,
            elf::abi::SHT_STRTAB,
            0,
            0,
            strtab_at as u32,
            strtab.len() as u32,
            0,
            0,
            1,
            0,
        ],
        [
            17,
            elf::abi::SHT_STRTAB,
            0,
            0,
            shstrtab_at as u32,
            shstrtab.len() as u32,
            0,
            0,
            1,
            0,
        ],
    ];
    for field in headers.iter().flatten() {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out
}

/// The relocations of each loaded section, with run-time addresses.
fn relocations<I: Isa>(
    object: &[u8],
    layout: &RelocatableLayout,
    symbols: &[HostSymbol],
    linked: &Linked,
) -> Result<BTreeMap<usize, Vec<Rel>>, String> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).map_err(|e| e.to_string())?;
    let (shdrs, names) = file
        .section_headers_with_strtab()
        .map_err(|e| e.to_string())?;
    let (shdrs, names) = (shdrs.ok_or("no sections")?, names.ok_or("no names")?);
    let (symtab, strtab) = file
        .symbol_table()
        .map_err(|e| e.to_string())?
        .ok_or("no symbols")?;
    let addr_of = |index: usize| {
        layout
            .sections
            .iter()
            .find(|s| s.index == index)
            .map(|s| BASE + s.offset as u64)
    };
    let mut out = BTreeMap::new();
    for shdr in shdrs.iter() {
        let Some(list) = entries(&file, &shdr) else {
            continue;
        };
        let target = shdr.sh_info as usize;
        let Some(section_addr) = addr_of(target) else {
            continue;
        };
        let data = shdrs
            .get(target)
            .ok()
            .filter(|t| t.sh_type != SHT_NOBITS)
            .and_then(|t| file.section_data(&t).ok())
            .map_or(&[][..], |(d, _)| d);
        let mut rels = Vec::new();
        for r in list {
            let sym = symtab.get(r.sym as usize).map_err(|e| e.to_string())?;
            let (symbol, value) = if sym.st_symtype() == STT_SECTION {
                let index = usize::from(sym.st_shndx);
                let name = shdrs
                    .get(index)
                    .ok()
                    .and_then(|s| names.get(s.sh_name as usize).ok())
                    .unwrap_or("?");
                (name.to_string(), addr_of(index).unwrap_or(0))
            } else {
                let name = strtab.get(sym.st_name as usize).unwrap_or("").to_string();
                let value = match sym.st_shndx {
                    _ if r.sym == 0 => 0,
                    SHN_UNDEF => match symbols.iter().find(|h| h.name == name) {
                        Some(h) => h.proxy.unwrap_or(h.value),
                        None => *linked.symbols.get(&name).unwrap_or(&0),
                    },
                    SHN_ABS => sym.st_value,
                    index => addr_of(usize::from(index)).unwrap_or(0) + sym.st_value,
                };
                (name, value)
            };
            let far = symbols
                .iter()
                .any(|h| h.name == symbol && h.proxy.is_some());
            let addend = r.addend.unwrap_or_else(|| {
                let field = usize::try_from(r.offset)
                    .ok()
                    .and_then(|o| data.get(o..))
                    .unwrap_or_default();
                I::implicit_addend(r.r_type, field)
            });
            rels.push(Rel {
                r_type: r.r_type,
                place: section_addr + r.offset,
                symbol,
                value,
                addend,
                far,
            });
        }
        out.insert(target, rels);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// The comparison
// ---------------------------------------------------------------------------

/// Per-symbol GOT evidence gathered from one image.
#[derive(Debug, Default)]
struct GotEvidence {
    slots: BTreeMap<String, BTreeSet<u64>>,
    pages: BTreeMap<String, BTreeSet<u64>>,
    lows: BTreeMap<String, BTreeSet<u64>>,
    from_got_page: BTreeMap<String, BTreeSet<u64>>,
    got_pages: BTreeSet<u64>,
    /// (symbol, place, destination, stub entry offset).
    branches: Vec<(String, u64, u64, u64)>,
    /// The GOT origin, if the image has one.
    origin: Option<u64>,
    /// Places holding a value, checked once the symbol's value is known.
    values: Vec<(Rel, Reach)>,
    /// What could not be taken as evidence.
    problems: Vec<String>,
    /// The largest address of the class.
    mask: u64,
}

impl GotEvidence {
    fn add(&mut self, rel: &Rel, reach: Reach) {
        let entry = |m: &mut BTreeMap<String, BTreeSet<u64>>, v| {
            m.entry(rel.symbol.clone()).or_default().insert(v);
        };
        match reach {
            Reach::Branch(to) => self.branches.push((rel.symbol.clone(), rel.place, to, 0)),
            Reach::BranchEntry(to, entry) => {
                self.branches
                    .push((rel.symbol.clone(), rel.place, to, entry));
            }
            Reach::SlotFromGot(off) => match self.origin {
                Some(origin) => entry(&mut self.slots, origin.wrapping_add(off) & self.mask),
                None => self.problems.push(format!(
                    "GOT-relative slot of `{}` at {:#x}, but no GOT",
                    rel.symbol, rel.place
                )),
            },
            Reach::Value(_) | Reach::FromGot(_) | Reach::GotOrigin(_) => {
                self.values.push((rel.clone(), reach));
            }
            Reach::Slot(a) => entry(&mut self.slots, a),
            Reach::SlotPage(a) => entry(&mut self.pages, a),
            Reach::SlotLow(a) => entry(&mut self.lows, a),
            Reach::SlotFromGotPage(a) => entry(&mut self.from_got_page, a),
            Reach::GotPage(a) => {
                self.got_pages.insert(a);
            }
        }
    }

    /// Checks the places holding values: `value` gives a symbol's value
    /// (`S`) in this image.
    fn check_values(&self, errors: &mut Vec<String>, who: &str, value: impl Fn(&Rel) -> u64) {
        errors.extend(self.problems.iter().map(|p| format!("{who}: {p}")));
        let sa = |r: &Rel| value(r).wrapping_add(r.addend as u64) & self.mask;
        for (r, reach) in &self.values {
            let (held, want) = match (*reach, self.origin) {
                (Reach::Value(v), _) => (v, sa(r)),
                (Reach::FromGot(v), Some(origin)) => (v.wrapping_add(origin) & self.mask, sa(r)),
                (Reach::GotOrigin(v), Some(origin)) => (v, origin),
                (_, None) => {
                    errors.push(format!("{who}: {:#x} is GOT-relative, but no GOT", r.place));
                    continue;
                }
                _ => unreachable!("only values are kept"),
            };
            if held != want {
                errors.push(format!(
                    "{who}: {:#x} ({reach:x?} against `{}`{:+#x}) gives {held:#x}, not {want:#x}",
                    r.place, r.symbol, r.addend
                ));
            }
        }
    }

    /// The one slot address each symbol's GOT references agree on.
    fn resolve(&self, errors: &mut Vec<String>, who: &str) -> BTreeMap<String, u64> {
        let mut names: BTreeSet<&String> = self.slots.keys().collect();
        names.extend(self.pages.keys());
        names.extend(self.lows.keys());
        names.extend(self.from_got_page.keys());
        let mut out = BTreeMap::new();
        for name in names {
            let mut candidates = BTreeSet::new();
            candidates.extend(self.slots.get(name).into_iter().flatten());
            for page in self.pages.get(name).into_iter().flatten() {
                for low in self.lows.get(name).into_iter().flatten() {
                    candidates.insert(page | low);
                }
            }
            for off in self.from_got_page.get(name).into_iter().flatten() {
                for page in &self.got_pages {
                    candidates.insert(page + off);
                }
            }
            if candidates.len() == 1 {
                out.insert(name.clone(), *candidates.first().unwrap());
            } else {
                errors.push(format!(
                    "{who}: GOT references to `{name}` do not agree on one slot: {candidates:x?}"
                ));
            }
        }
        out
    }
}

/// What a reference linker's symbol value stands for in modlib's image.
fn real_value(symbols: &[HostSymbol], value: u64) -> u64 {
    symbols
        .iter()
        .find(|s| s.proxy == Some(value))
        .map_or(value, |s| s.value)
}

/// The outcome of one build against one reference linker.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Bytes compared.
    pub bytes: usize,
    /// Relocations compared by what they reach.
    pub semantic: usize,
    /// Relocations in the object.
    pub relocations: usize,
    /// Everything that differs.
    pub errors: Vec<String>,
}

/// `object` with its unwind tables as plain data: `.eh_frame` renamed
/// `.eh_bytes`, and Arm's `SHT_ARM_EXIDX` sections retyped `SHT_PROGBITS`
/// and renamed from `.ARM.exidx*` to `.exidx.raw*` (lld always makes a
/// synthetic `.ARM.exidx`, which may not share an output section with
/// plain data). Linkers rewrite both (padding CIEs, merging or sorting
/// entries, adding `EXIDX_CANTUNWIND` ones), so only as plain sections do
/// they relocate them in place like any other; modlib treats them the same
/// either way.
fn eh_frame_as_plain_data(object: &Fixture) -> Fixture {
    const SHT_ARM_EXIDX: u32 = 0x7000_0001;
    const EXIDX: &[u8] = b".ARM.exidx";
    let file = ElfBytes::<LittleEndian>::minimal_parse(&object.bytes).expect("parse object");
    let (shdrs, names) = file.section_headers_with_strtab().expect("sections");
    let (Some(shdrs), Some(names)) = (shdrs, names) else {
        return object.clone();
    };
    let mut bytes = object.bytes.clone();
    let eh_frame = shdrs
        .iter()
        .find(|s| {
            names
                .get(s.sh_name as usize)
                .is_ok_and(|n| n == ".eh_frame")
        })
        .map(|s| s.sh_name as usize);
    if let Some(at) = eh_frame {
        let shstrtab = shdrs
            .get(usize::from(file.ehdr.e_shstrndx))
            .expect("section name table");
        let offset = shstrtab.sh_offset as usize + at;
        bytes[offset..offset + 9].copy_from_slice(b".eh_bytes");
    }
    let (shoff, shentsize) = (
        file.ehdr.e_shoff as usize,
        usize::from(file.ehdr.e_shentsize),
    );
    let shstrtab = shdrs
        .get(usize::from(file.ehdr.e_shstrndx))
        .expect("section name table");
    let names_at = shstrtab.sh_offset as usize;
    let name_bytes = &mut bytes[names_at..names_at + shstrtab.sh_size as usize];
    // Same length, so every name (shared tails included) stays in place.
    for at in 0..name_bytes.len().saturating_sub(EXIDX.len() - 1) {
        if name_bytes[at..].starts_with(EXIDX) {
            name_bytes[at..at + EXIDX.len()].copy_from_slice(b".exidx.raw");
        }
    }
    for (i, s) in shdrs.iter().enumerate() {
        if s.sh_type == SHT_ARM_EXIDX {
            // sh_type follows the 4-byte sh_name in both classes.
            let at = shoff + i * shentsize + 4;
            bytes[at..at + 4].copy_from_slice(&elf::abi::SHT_PROGBITS.to_le_bytes());
        }
    }
    if bytes == object.bytes {
        return object.clone();
    }
    let path = object.path.with_extension("plain.o");
    std::fs::write(&path, &bytes).expect("write renamed object");
    Fixture { path, bytes }
}

/// Loads `object` with modlib and checks the image against every available
/// reference linker. Returns one comparison per linker used.
pub fn compare<I: Isa>(object: &Fixture, symbols: &[HostSymbol]) -> Vec<(String, Comparison)> {
    let object = &eh_frame_as_plain_data(object);
    let layout = relocatable_layout(&object.bytes, I::MACHINE, 4096)
        .unwrap_or_else(|e| panic!("layout: {e}"));
    let memory = BufferMemory::new(BASE);
    let options = LoadOptions {
        machine: I::MACHINE,
        ..LoadOptions::default()
    };
    let image = load(&object.bytes, &options, &memory, &table(symbols))
        .unwrap_or_else(|e| panic!("modlib load: {e}"));
    assert_eq!(image.start(), BASE, "image not at the requested address");
    assert_eq!(image.size(), layout.size, "layout disagrees with the load");
    let mut structural = Vec::new();
    check_icache(&image, &memory, &mut structural);

    let types = relocation_types(&object.bytes);
    let lld_knows_all = !types.iter().any(|t| I::LLD_UNKNOWN.contains(t));
    let mut linkers = Vec::new();
    if lld_knows_all {
        linkers.push("ld.lld".to_string());
    }
    if installed(I::GNU_LD) || (!lld_knows_all && available(I::GNU_LD)) {
        linkers.push(I::GNU_LD.to_string());
    }
    let mut out = Vec::new();
    if linkers.is_empty() {
        // No reference can link it here (noted above); still report what
        // modlib itself got wrong.
        out.push((
            "no reference linker".to_string(),
            Comparison {
                errors: structural.clone(),
                ..Comparison::default()
            },
        ));
    }
    for linker in linkers {
        let mut cmp = Comparison {
            errors: structural.clone(),
            ..Comparison::default()
        };
        match link::<I>(&linker, object, &layout, symbols) {
            Ok(linked) => {
                let loaded = Loaded {
                    image: &image,
                    memory: &memory,
                    layout: &layout,
                };
                compare_with::<I, _>(&linked, &loaded, object, symbols, &mut cmp);
            }
            Err(e) => cmp.errors.push(e),
        }
        out.push((linker, cmp));
    }
    drop(image);
    assert_eq!(memory.live_reservations(), 0, "modlib kept memory");
    out
}

/// Every executable region was synced (after its last write) and ended
/// read-execute.
fn check_icache<M: modlib::Memory>(
    image: &LoadedImage<M>,
    memory: &BufferMemory,
    errors: &mut Vec<String>,
) {
    let syncs = memory.icache_syncs();
    for r in image.regions() {
        if r.protection != Protection::ReadExecute {
            continue;
        }
        let (a, b) = (r.addr, r.addr + r.size as u64);
        let covered = syncs.iter().any(|&(s, len)| s <= a && b <= s + len as u64);
        if !covered {
            errors.push(format!(
                "executable region {a:#x}..{b:#x} was never synced ({syncs:x?})"
            ));
        }
    }
}

/// modlib's loaded image, where it lives and how it was laid out.
struct Loaded<'a, M: modlib::Memory> {
    image: &'a LoadedImage<M>,
    memory: &'a BufferMemory,
    layout: &'a RelocatableLayout,
}

fn compare_with<I: Isa, M: modlib::Memory>(
    linked: &Linked,
    loaded: &Loaded<'_, M>,
    object: &Fixture,
    symbols: &[HostSymbol],
    cmp: &mut Comparison,
) {
    let (image, layout) = (loaded.image, loaded.layout);
    let ours = Buffer(loaded.memory);
    let (semantic, stub_target, stub_size, type_name) =
        (I::semantic, I::stub_target, I::STUB_SIZE, I::type_name);
    let theirs = linked.image();
    let errors = &mut cmp.errors;

    // The reference linker put every section where modlib did, and agrees
    // on the address of every symbol both know.
    for s in &layout.sections {
        match linked.sections.get(&s.name) {
            Some(&(addr, _)) if addr == BASE + s.offset as u64 => {}
            Some(&(addr, _)) => errors.push(format!(
                "{} placed at {addr:#x}, modlib at {:#x}",
                s.name,
                BASE + s.offset as u64
            )),
            None => errors.push(format!("{} missing from the reference link", s.name)),
        }
    }
    for (name, symbol) in image.exports() {
        if let Some(&theirs) = linked.symbols.get(&name) {
            if theirs != symbol.address {
                errors.push(format!(
                    "`{name}` at {:#x}, reference at {theirs:#x}",
                    symbol.address
                ));
            }
        }
    }

    let rels = match relocations::<I>(&object.bytes, layout, symbols, linked) {
        Ok(r) => r,
        Err(e) => {
            errors.push(e);
            return;
        }
    };
    let mut masks: BTreeMap<u64, u32> = BTreeMap::new();
    let mut mine = GotEvidence {
        origin: layout.got.map(|(at, _)| BASE + at as u64),
        mask: class_max::<I>(),
        ..GotEvidence::default()
    };
    let mut other = GotEvidence {
        // Both linkers compute GOT-relative values from the start of the
        // output `.got` (GNU ld's `_GLOBAL_OFFSET_TABLE_` is in `.got.plt`,
        // a section of its own in the script).
        origin: linked.sections.get(".got").map(|&(at, _)| at),
        mask: class_max::<I>(),
        ..GotEvidence::default()
    };
    for list in rels.values() {
        cmp.relocations += list.len();
        for i in 0..list.len() {
            let (Some(m), Some(l)) = (semantic(list, i, &ours), semantic(list, i, &theirs)) else {
                continue;
            };
            cmp.semantic += 1;
            for &(addr, imm) in &m.words {
                masks.insert(addr, imm);
            }
            if let Some(reach) = m.reach {
                mine.add(&list[i], reach);
            }
            if let Some(reach) = l.reach {
                other.add(&list[i], reach);
            }
        }
    }

    // Bytes, except the immediates of the places compared by meaning.
    let by_place: BTreeMap<u64, &Rel> = rels.values().flatten().map(|r| (r.place, r)).collect();
    for s in &layout.sections {
        let addr = BASE + s.offset as u64;
        let Some(a) = ours.read(addr, s.size) else {
            errors.push(format!("{} not readable in modlib's image", s.name));
            continue;
        };
        if is_note(&object.bytes, s.index) {
            // Linkers merge property notes into their own section.
            continue;
        }
        let Some(b) = theirs.read(addr, s.size) else {
            errors.push(format!("{} not readable in the reference link", s.name));
            continue;
        };
        cmp.bytes += s.size;
        let mut i = 0;
        while i < s.size {
            let at = addr + i as u64;
            if let Some(&imm) = masks.get(&at) {
                let w = |v: &[u8]| u32::from_le_bytes(v[i..i + 4].try_into().unwrap()) & !imm;
                if i + 4 <= s.size && w(&a) != w(&b) {
                    errors.push(format!("{}+{i:#x}: opcode bits differ", s.name));
                }
                i += 4;
                continue;
            }
            if a[i] != b[i] {
                let near = by_place
                    .range(..=at)
                    .next_back()
                    .filter(|(p, _)| at - **p < 8)
                    .map(|(_, r)| {
                        format!(
                            " (relocation {} against `{}`{:+#x})",
                            type_name(r.r_type),
                            r.symbol,
                            r.addend
                        )
                    })
                    .unwrap_or_default();
                errors.push(format!(
                    "{}+{i:#x} ({at:#x}): modlib {:#04x}, reference {:#04x}{near}",
                    s.name, a[i], b[i]
                ));
                if errors.len() > 40 {
                    errors.push("... (more differences)".into());
                    return;
                }
            }
            i += 1;
        }
    }

    // Far branches: through a stub, or straight to the symbol where the
    // encoding reaches it (an RV32 `auipc` pair reaches all 4 GiB).
    let stub_of = |name: &str| {
        layout
            .stub_entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, off)| BASE + *off as u64)
    };
    for (name, place, to, entry) in &mine.branches {
        let want = symbols.iter().find(|s| s.name == name).map(|s| s.value);
        if want.map(|v| v & !I::FUNCTION_BIT) == Some(*to) {
            continue;
        }
        match stub_of(name) {
            Some(stub) if stub + entry == *to => {
                let reached = ours.read(stub, stub_size).and_then(|b| stub_target(&b));
                if reached != want {
                    errors.push(format!(
                        "stub for `{name}` at {stub:#x} jumps to {reached:x?}, not {want:x?}"
                    ));
                }
            }
            other => errors.push(format!(
                "branch at {place:#x} to `{name}` lands on {to:#x}, not its stub {other:x?} + {entry}"
            )),
        }
    }
    for (name, place, to, _) in &other.branches {
        let want = symbols
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.proxy)
            .map(|v| v & !I::FUNCTION_BIT);
        // Or the linker's own veneer for it (an Arm-state jump to a Thumb
        // function), which its symbol table names after the target.
        let veneer = linked
            .symbols
            .iter()
            .any(|(n, &at)| n.starts_with("__") && n.contains(name.as_str()) && at & !1 == *to);
        if Some(*to) != want && !veneer {
            errors.push(format!(
                "reference branch at {place:#x} to `{name}` lands on {to:#x}, not {want:x?}"
            ));
        }
    }

    // GOT slots: modlib's must be the ones its layout gives the symbol, and
    // both must hold the symbol's value.
    let value_of = |name: &str| -> Option<u64> {
        rels.values()
            .flatten()
            .find(|r| r.symbol == name)
            .map(|r| r.value)
    };
    mine.check_values(errors, "modlib", |r| real_value(symbols, r.value));
    other.check_values(errors, &linked.linker, |r| r.value);
    let ours_slots = mine.resolve(errors, "modlib");
    let theirs_slots = other.resolve(errors, &linked.linker);
    for (name, slot) in &ours_slots {
        let planned = layout
            .got_entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, off)| BASE + *off as u64);
        if planned != Some(*slot) {
            errors.push(format!(
                "modlib reaches GOT slot {slot:#x} for `{name}`, its layout says {planned:x?}"
            ));
        }
        let want = value_of(name).map(|v| real_value(symbols, v));
        let held = class_word_at::<I>(&ours, *slot);
        if held != want {
            errors.push(format!(
                "modlib's GOT slot for `{name}` holds {held:x?}, not {want:x?}"
            ));
        }
    }
    if let Some((got, _)) = layout.got {
        let page = (BASE + got as u64) & !0xfff;
        if mine.got_pages.iter().any(|&p| p != page) {
            errors.push(format!(
                "modlib's GOT page is {page:#x}, code reaches {:x?}",
                mine.got_pages
            ));
        }
    }
    for (name, slot) in &theirs_slots {
        let want = value_of(name);
        let held = class_word_at::<I>(&theirs, *slot);
        if held != want {
            errors.push(format!(
                "reference GOT slot for `{name}` holds {held:x?}, not {want:x?}"
            ));
        }
    }
    if ours_slots.keys().ne(theirs_slots.keys()) {
        errors.push(format!(
            "GOT symbols differ: modlib {:?}, reference {:?}",
            ours_slots.keys(),
            theirs_slots.keys()
        ));
    }
}

fn is_note(object: &[u8], index: usize) -> bool {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).expect("parse object");
    file.section_headers()
        .and_then(|t| t.get(index).ok())
        .is_some_and(|s| s.sh_type == SHT_NOTE)
}

/// Runs [`compare`] over `builds` and fails with every difference found.
pub fn check_builds<I: Isa>(builds: &[Build]) {
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for build in builds {
        let object = build.object();
        for (linker, cmp) in compare::<I>(&object, &host_symbols::<I>()) {
            summary.push(format!(
                "{build} vs {linker}: {} bytes, {} relocations ({} by reach)",
                cmp.bytes, cmp.relocations, cmp.semantic
            ));
            if !cmp.errors.is_empty() {
                failures.push(format!(
                    "{build} vs {linker}:\n  {}",
                    cmp.errors.join("\n  ")
                ));
            }
        }
    }
    for line in &summary {
        eprintln!("{line}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Loads `object` expecting an error.
pub fn load_error<I: Isa>(object: &[u8], symbols: &[HostSymbol]) -> LoadError {
    let memory = BufferMemory::new(BASE);
    let options = LoadOptions {
        machine: I::MACHINE,
        ..LoadOptions::default()
    };
    let result = load(object, &options, &memory, &table(symbols));
    let Err(err) = result else {
        panic!("loaded, but an error was expected")
    };
    assert_eq!(memory.live_reservations(), 0, "a failed load kept memory");
    err
}

/// Asserts that each `(type, name, fixture)` of `table` occurs in at least
/// one build of that fixture.
pub fn check_coverage<I: Isa>(builds: &[Build]) {
    let table = I::TABLE;
    let mut seen: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    for b in builds {
        seen.entry(b.fixture)
            .or_default()
            .extend(relocation_types(&b.object().bytes));
    }
    let missing: Vec<String> = table
        .iter()
        .filter(|(t, _, fixture)| !seen.get(fixture).is_some_and(|s| s.contains(t)))
        .map(|(t, name, fixture)| format!("{name} ({t}) in {fixture}"))
        .collect();
    assert!(
        missing.is_empty(),
        "listed relocation types exercised by no build: {missing:?}"
    );
}

// ---------------------------------------------------------------------------
// Shared objects
// ---------------------------------------------------------------------------

/// Loads a shared object and checks every word its dynamic relocations
/// (`REL` or `RELA`) write against the psABI formula, and every other byte
/// against the file.
pub fn check_shared<I: Isa>(so: &Fixture, types: &SharedTypes) -> Vec<String> {
    let memory = BufferMemory::new(BASE);
    let options = LoadOptions {
        machine: I::MACHINE,
        ..LoadOptions::default()
    };
    let symbols = host_symbols::<I>();
    let image = load(&so.bytes, &options, &memory, &table(&symbols))
        .unwrap_or_else(|e| panic!("modlib load: {e}"));
    let mut errors = Vec::new();
    check_icache(&image, &memory, &mut errors);
    let base = image.base();
    let word = I::MACHINE.word_size();
    let file = ElfBytes::<LittleEndian>::minimal_parse(&so.bytes).expect("parse .so");
    let (dynsyms, dynstr) = file
        .dynamic_symbol_table()
        .expect("dynsym")
        .expect("has dynsym");
    let segments: Vec<_> = file
        .segments()
        .expect("segments")
        .iter()
        .filter(|ph| ph.p_type == elf::abi::PT_LOAD)
        .collect();
    // The word at link-time address `vaddr` of the file (a REL addend).
    let file_word = |vaddr: u64| {
        let ph = segments
            .iter()
            .find(|ph| ph.p_vaddr <= vaddr && vaddr + word as u64 <= ph.p_vaddr + ph.p_filesz)?;
        let at = (ph.p_offset + vaddr - ph.p_vaddr) as usize;
        so.bytes.get(at..at + word).map(le_word)
    };
    let mut expected: BTreeMap<u64, u64> = BTreeMap::new();
    for name in [".rela.dyn", ".rela.plt", ".rel.dyn", ".rel.plt"] {
        let Some(shdr) = file.section_header_by_name(name).expect("sections") else {
            continue;
        };
        for r in entries(&file, &shdr).expect("a relocation section") {
            let a = match r.addend {
                Some(a) => a as u64,
                None => file_word(r.offset).expect("REL place in the file"),
            };
            let s = || {
                let sym = dynsyms.get(r.sym as usize).expect("symbol");
                let sname = dynstr.get(sym.st_name as usize).expect("name");
                if sym.st_shndx == SHN_UNDEF {
                    symbols
                        .iter()
                        .find(|h| h.name == sname)
                        .map_or(0, |h| h.value)
                } else {
                    base + sym.st_value
                }
            };
            let value = if r.r_type == types.relative {
                base.wrapping_add(a)
            } else if types.symbolic.contains(&r.r_type) {
                s().wrapping_add(a)
            } else if types.symbol_only.contains(&r.r_type) {
                s()
            } else {
                errors.push(format!(
                    "unexpected dynamic relocation type {}",
                    I::type_name(r.r_type)
                ));
                continue;
            };
            expected.insert(base + r.offset, value & class_max::<I>());
        }
    }
    let ours = Buffer(&memory);
    for ph in &segments {
        let loaded = ours
            .read(base + ph.p_vaddr, ph.p_memsz as usize)
            .expect("segment in the image");
        let data = &so.bytes[ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize];
        let mut i = 0;
        while i < loaded.len() {
            let at = base + ph.p_vaddr + i as u64;
            if let Some(&want) = expected.get(&at) {
                let got = le_word(&loaded[i..i + word]);
                if got != want {
                    errors.push(format!(
                        "relocated word at {at:#x}: {got:#x}, want {want:#x}"
                    ));
                }
                i += word;
                continue;
            }
            let want = data.get(i).copied().unwrap_or(0);
            if loaded[i] != want {
                errors.push(format!(
                    "byte at {at:#x}: {:#04x}, file has {want:#04x}",
                    loaded[i]
                ));
            }
            i += 1;
        }
    }
    errors
}

/// The dynamic relocation types of one machine that shared objects use.
pub struct SharedTypes {
    /// `RELATIVE`: B + A.
    pub relative: u32,
    /// Types writing S + A (`64`, `ABS64`, `GLOB_DAT`...).
    pub symbolic: &'static [u32],
    /// Types writing S alone (RISC-V's `JUMP_SLOT`).
    pub symbol_only: &'static [u32],
    /// `JUMP_SLOT`.
    pub jump_slot: u32,
    /// `IRELATIVE`, if the machine's gcc makes IFUNCs (none on bare metal,
    /// where the IFUNC builds are skipped).
    pub irelative: Option<u32>,
}

/// `shared.c` linked by clang (and the cross gcc when installed), with and
/// without a local IFUNC: without, every word a dynamic relocation writes
/// holds what the psABI formula gives and nothing else changed; with, the
/// object is refused on a host that cannot run its resolver. Every type of
/// `types` must appear in some build (`IRELATIVE` in the gcc ones).
pub fn check_shared_objects<I: Isa>(types: &SharedTypes) {
    let gcc = available(I::GCC);
    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    let variants: &[bool] = if types.irelative.is_some() {
        &[false, true]
    } else {
        &[false]
    };
    for &ifunc in variants {
        let mut flags = vec!["-O2", "-fPIC", "-fno-stack-protector"];
        if ifunc {
            flags.push("-DWITH_IFUNC");
        }
        let mut list = vec![Build::clang::<I>("shared.c", &flags)];
        if gcc {
            list.push(Build::gcc::<I>("shared.c", &flags));
        }
        for build in list {
            let so = build.shared_object();
            seen.extend(relocation_types(&so.bytes));
            if ifunc {
                if Machine::host() != Some(I::MACHINE) {
                    let e = load_error::<I>(&so.bytes, &host_symbols::<I>());
                    assert!(
                        matches!(e, LoadError::Unsupported { what } if what.contains("IFUNC")),
                        "{build}: {e:?}"
                    );
                }
                continue;
            }
            let errors = check_shared::<I>(&so, types);
            if !errors.is_empty() {
                failures.push(format!("{build}:\n  {}", errors.join("\n  ")));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let expected = [types.relative, types.jump_slot];
    for &t in expected.iter().chain(types.symbolic) {
        assert!(
            seen.contains(&t),
            "no shared object has relocation type {}",
            I::type_name(t)
        );
    }
    if let (true, Some(irelative)) = (gcc, types.irelative) {
        assert!(
            seen.contains(&irelative),
            "no shared object has {}",
            I::type_name(irelative)
        );
    }
}
