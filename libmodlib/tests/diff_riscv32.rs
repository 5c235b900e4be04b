//! RISC-V 32 relocations checked differentially: every fixture object, built
//! by clang and the bare-metal gcc for RV32IMAC/ilp32 (and RV32IMAFC/ilp32f)
//! at -O0/-O2, PIC and not, medlow and medany, with and without relaxation,
//! is loaded by modlib at a fixed address and compared with
//! `ld.lld --no-relax` (and GNU ld) output at the same section addresses.
//! Also: which fixture exercises which relocation type, the refusal of
//! `ALIGN` padding that must shrink, of TLS, of 64-bit-only types and of
//! symbols above 4 GiB, `SET_ULEB128`/`SUB_ULEB128` pairs, and shared
//! objects' dynamic relocations (TLS ones included).
//!
//! "Far" here is 256 MiB above the image: beyond `jal` (±1 MiB), while an
//! `auipc` pair reaches every RV32 address, so far calls need no stub.

mod cross;

use elf::abi::{
    R_RISCV_32, R_RISCV_32_PCREL, R_RISCV_64, R_RISCV_ADD16, R_RISCV_ADD32, R_RISCV_ADD8,
    R_RISCV_ALIGN, R_RISCV_BRANCH, R_RISCV_CALL, R_RISCV_CALL_PLT, R_RISCV_GOT_HI20, R_RISCV_HI20,
    R_RISCV_JAL, R_RISCV_JUMP_SLOT, R_RISCV_LO12_I, R_RISCV_LO12_S, R_RISCV_PCREL_HI20,
    R_RISCV_PCREL_LO12_I, R_RISCV_PCREL_LO12_S, R_RISCV_RELATIVE, R_RISCV_RELAX,
    R_RISCV_RVC_BRANCH, R_RISCV_RVC_JUMP, R_RISCV_RVC_LUI, R_RISCV_SET16, R_RISCV_SET32,
    R_RISCV_SET6, R_RISCV_SET8, R_RISCV_SUB16, R_RISCV_SUB32, R_RISCV_SUB6, R_RISCV_SUB8,
    R_RISCV_TLS_DTPMOD32, R_RISCV_TLS_DTPREL32, R_RISCV_TLS_GD_HI20, R_RISCV_TLS_GOT_HI20,
    R_RISCV_TPREL_ADD, R_RISCV_TPREL_HI20, R_RISCV_TPREL_LO12_I, R_RISCV_TPREL_LO12_S,
};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{LoadError, LoadOptions, LoadedImage, Machine};
use testkit::BufferMemory;

use cross::{
    check_builds, check_coverage, check_shared_objects, first_relocation, host_symbols, load_error,
    moved, riscv, table, Build, HostSymbol, Image, Isa, Rel, Semantic, SharedTypes, BASE,
};

struct Riscv32;

/// `auipc t3, 0; lw t3, 12(t3); jr t3`, then the 32-bit target.
const STUB_CODE: [u32; 3] = [0x0000_0e17, 0x00ce_2e03, 0x000e_0067];

impl Isa for Riscv32 {
    const MACHINE: Machine = Machine::Riscv32;
    const CLANG: &'static [&'static str] = &[
        "--target=riscv32-unknown-elf",
        "-march=rv32imac",
        "-mabi=ilp32",
    ];
    const GCC: &'static str = "riscv64-unknown-elf-gcc";
    const GCC_FLAGS: &'static [&'static str] = &["-march=rv32imac", "-mabi=ilp32"];
    const GNU_LD: &'static str = "riscv64-unknown-elf-ld";
    const GNU_LD_FLAGS: &'static [&'static str] = &["-m", "elf32lriscv"];
    const LLD_UNKNOWN: &'static [u32] = &[];
    const STUB_SIZE: usize = 16;
    const STUB_CODE: &'static [u32] = &STUB_CODE;
    const PREFIX: &'static str = "R_RISCV_";
    const TABLE: &'static [(u32, &'static str, &'static str)] = &TABLE;
    const FAR: u64 = BASE + 0x1000_0000;
    /// Above 2 GiB: a `lui` of it is only right modulo 2^32.
    const ABS_BIG: u64 = 0x9abc_def0;

    fn is_tls(r_type: u32) -> bool {
        matches!(
            r_type,
            R_RISCV_TPREL_HI20
                | R_RISCV_TPREL_LO12_I
                | R_RISCV_TPREL_LO12_S
                | R_RISCV_TPREL_ADD
                | R_RISCV_TLS_GOT_HI20
                | R_RISCV_TLS_GD_HI20
        )
    }

    fn semantic(rels: &[Rel], i: usize, image: &dyn Image) -> Option<Semantic> {
        riscv::semantic(rels, i, image, u64::from(u32::MAX))
    }
}

/// `SET_ULEB128` (60) and `SUB_ULEB128` (61): `elf` 0.7 does not name them.
const R_RISCV_SET_ULEB128: u32 = 60;
const R_RISCV_SUB_ULEB128: u32 = 61;

/// Which fixture exercises which relocation type (verified by
/// `fixtures_exercise_every_listed_type`). `SET_ULEB128`/`SUB_ULEB128` are
/// not listed: binutils 2.40 and clang 14 neither emit nor accept them, so
/// `uleb128_pairs_are_applied` retypes a pair of `NONE`s.
const TABLE: [(u32, &str, &str); 30] = [
    (R_RISCV_32, "32", "relocs.c"),
    (R_RISCV_32_PCREL, "32_PCREL", "relocs.c"),
    (R_RISCV_HI20, "HI20", "relocs.c"),
    (R_RISCV_LO12_I, "LO12_I", "relocs.c"),
    (R_RISCV_LO12_S, "LO12_S", "relocs.c"),
    (R_RISCV_PCREL_HI20, "PCREL_HI20", "relocs.c"),
    (R_RISCV_PCREL_LO12_I, "PCREL_LO12_I", "relocs.c"),
    (R_RISCV_PCREL_LO12_S, "PCREL_LO12_S", "relocs.c"),
    (R_RISCV_CALL, "CALL", "relocs.c"),
    (R_RISCV_CALL_PLT, "CALL_PLT", "relocs.c"),
    (R_RISCV_BRANCH, "BRANCH", "relocs.c"),
    (R_RISCV_JAL, "JAL", "riscv32.S"),
    (R_RISCV_RVC_BRANCH, "RVC_BRANCH", "riscv32.S"),
    (R_RISCV_RVC_JUMP, "RVC_JUMP", "relocs.c"),
    (R_RISCV_RVC_LUI, "RVC_LUI", "riscv32.S"),
    (R_RISCV_GOT_HI20, "GOT_HI20", "relocs.c"),
    (R_RISCV_ADD8, "ADD8", "riscv32.S"),
    (R_RISCV_ADD16, "ADD16", "riscv32.S"),
    (R_RISCV_ADD32, "ADD32", "relocs.c"),
    (R_RISCV_SUB6, "SUB6", "relocs.c"),
    (R_RISCV_SUB8, "SUB8", "relocs.c"),
    (R_RISCV_SUB16, "SUB16", "riscv32.S"),
    (R_RISCV_SUB32, "SUB32", "relocs.c"),
    (R_RISCV_SET6, "SET6", "relocs.c"),
    (R_RISCV_SET8, "SET8", "relocs.c"),
    (R_RISCV_SET16, "SET16", "riscv32.S"),
    (R_RISCV_SET32, "SET32", "riscv32.S"),
    (R_RISCV_RELAX, "RELAX", "relocs.c"),
    (R_RISCV_ALIGN, "ALIGN", "align.S"),
    (R_RISCV_TPREL_HI20, "TPREL_HI20 (refused)", "tls.c"),
];

/// Flags of every C build: `.eh_frame` everywhere, no stack protector.
const C: [&str; 2] = ["-fasynchronous-unwind-tables", "-fno-stack-protector"];
/// The single-precision float ABI instead of the soft one.
const ILP32F: [&str; 2] = ["-march=rv32imafc", "-mabi=ilp32f"];

/// PIC and not, in both code models.
const MODELS: [[&str; 2]; 3] = [
    ["-fPIC", "-mcmodel=medlow"],
    ["-fno-pic", "-mcmodel=medlow"],
    ["-fno-pic", "-mcmodel=medany"],
];

/// Every build of the differential fixtures.
fn builds() -> Vec<Build> {
    let gcc = cross::available(Riscv32::GCC);
    let mut out = Vec::new();
    let mut both = |fixture: &'static str, flags: &[&'static str]| {
        out.push(Build::clang::<Riscv32>(fixture, flags));
        if gcc {
            out.push(Build::gcc::<Riscv32>(fixture, flags));
        }
    };
    for opt in ["-O0", "-O2"] {
        for model in MODELS {
            both("relocs.c", &[opt, model[0], model[1], C[0], C[1]]);
        }
    }
    both("relocs.c", &["-O2", "-fPIC", "-mcmodel=medany", C[0], C[1]]);
    for model in MODELS {
        both(
            "relocs.c",
            &["-O2", model[0], model[1], ILP32F[0], ILP32F[1], C[0], C[1]],
        );
    }
    both("riscv32.S", &[]);
    both("riscv32.S", &["-mno-relax"]);
    if gcc {
        for model in MODELS {
            out.push(Build::gcc::<Riscv32>(
                "relocs.c",
                &["-O2", "-mno-relax", model[0], model[1], C[0], C[1]],
            ));
        }
    }
    out
}

/// Builds of the refusal fixtures.
fn refusal_builds() -> Vec<Build> {
    let gcc = cross::available(Riscv32::GCC);
    let mut out = Vec::new();
    let mut both = |fixture: &'static str, flags: &[&'static str]| {
        out.push(Build::clang::<Riscv32>(fixture, flags));
        if gcc {
            out.push(Build::gcc::<Riscv32>(fixture, flags));
        }
    };
    for flags in [&[][..], &["-DEXACT"][..]] {
        both("align.S", flags);
    }
    for pic in ["-fPIC", "-fno-pic"] {
        both("tls.c", &["-O2", pic]);
    }
    both("riscv32.S", &["-DWIDE"]);
    out
}

#[test]
fn objects_match_the_reference_linkers() {
    check_builds::<Riscv32>(&builds());
}

#[test]
fn fixtures_exercise_every_listed_type() {
    let mut all = builds();
    all.extend(refusal_builds());
    check_coverage::<Riscv32>(&all);
}

/// Loads `object` for RV32 into `memory` with the standard host symbols.
fn load_ok<'m>(memory: &'m BufferMemory, object: &[u8]) -> LoadedImage<&'m BufferMemory> {
    let options = LoadOptions {
        machine: Machine::Riscv32,
        ..LoadOptions::default()
    };
    modlib::load(object, &options, memory, &table(&host_symbols::<Riscv32>()))
        .unwrap_or_else(|e| panic!("modlib load: {e}"))
}

/// `ALIGN` padding is refused unless it is already exactly right; either
/// way the image is not half-loaded.
#[test]
fn align_padding_is_kept_only_when_exact() {
    for build in refusal_builds()
        .into_iter()
        .filter(|b| b.fixture == "align.S")
    {
        let object = build.object();
        let align = first_relocation(&object.bytes, |t| t == R_RISCV_ALIGN)
            .unwrap_or_else(|| panic!("{build}: no R_RISCV_ALIGN"));
        if build.has("-DEXACT") {
            let memory = BufferMemory::new(BASE);
            let image = load_ok(&memory, &object.bytes);
            let target = image.symbol("aligned_target").expect("exported").address;
            assert_eq!(target % 8, 0, "{build}: aligned_target at {target:#x}");
            let ret = memory.read(target, 2).unwrap();
            assert_eq!(
                ret,
                [0x82, 0x80],
                "{build}: the code after the padding moved"
            );
        } else {
            let e = load_error::<Riscv32>(&object.bytes, &host_symbols::<Riscv32>());
            assert_eq!(
                e,
                LoadError::RelaxationRequired {
                    r_type: R_RISCV_ALIGN,
                    section: align.1.clone(),
                    offset: align.2,
                },
                "{build}"
            );
        }
    }
}

/// Thread-local storage in a relocatable object is refused naming the first
/// TLS relocation's type and place.
#[test]
fn tls_relocations_are_refused_by_name() {
    let mut symbols = host_symbols::<Riscv32>();
    symbols.push(HostSymbol {
        name: "__tls_get_addr",
        value: BASE - 0x3_0000,
        proxy: None,
        kind: modlib::SymbolKind::Function,
    });
    for build in refusal_builds()
        .into_iter()
        .filter(|b| b.fixture == "tls.c")
    {
        let object = build.object();
        let (r_type, section, offset) = first_relocation(&object.bytes, Riscv32::is_tls)
            .unwrap_or_else(|| panic!("{build}: no TLS relocation"));
        let e = load_error::<Riscv32>(&object.bytes, &symbols);
        assert_eq!(
            e,
            LoadError::UnsupportedRelocation {
                machine: Machine::Riscv32,
                r_type,
                section,
                offset,
            },
            "{build}"
        );
    }
}

/// `R_RISCV_64` exists only in RV64 objects: an RV32 object holding one is
/// refused, naming the type and place.
#[test]
fn a_64_bit_relocation_is_refused() {
    for build in refusal_builds()
        .into_iter()
        .filter(|b| b.fixture == "riscv32.S")
    {
        let object = build.object();
        let (r_type, section, offset) = first_relocation(&object.bytes, |t| t == R_RISCV_64)
            .unwrap_or_else(|| panic!("{build}: no R_RISCV_64"));
        let e = load_error::<Riscv32>(&object.bytes, &host_symbols::<Riscv32>());
        assert_eq!(
            e,
            LoadError::UnsupportedRelocation {
                machine: Machine::Riscv32,
                r_type,
                section,
                offset,
            },
            "{build}"
        );
    }
}

/// A symbol above 4 GiB cannot be bound in an RV32 object, whether it is
/// called (through a stub or GOT slot that would need a 33-bit word) or
/// its data is reached by `lui`/`auipc` pairs and data words (modulo 2^32
/// it would alias a low address): the load is refused naming it.
#[test]
fn symbols_above_4_gib_are_refused() {
    let beyond = (1 << 32) + 0x1000;
    for (name, pick) in [
        (
            "far_fn",
            (|b: &Build| b.fixture == "relocs.c") as fn(&Build) -> bool,
        ),
        ("near_value", |b: &Build| b.has("-fno-pic")),
    ] {
        let symbols = moved::<Riscv32>(name, beyond);
        for build in builds().into_iter().filter(pick) {
            let e = load_error::<Riscv32>(&build.object().bytes, &symbols);
            assert_eq!(
                e,
                LoadError::SymbolBeyondClass {
                    name: name.into(),
                    address: beyond,
                },
                "{build}"
            );
        }
    }
}

/// `SET_ULEB128` with the `SUB_ULEB128` after it writes the difference of
/// two labels into a ULEB128 field, keeping the field's length; a lone
/// `SUB_ULEB128` is refused. No toolchain here emits them, so the fixture
/// marks the field with two `NONE` relocations that are retyped.
#[test]
fn uleb128_pairs_are_applied() {
    let mut builds = vec![Build::clang::<Riscv32>("uleb128.S", &[])];
    if cross::available(Riscv32::GCC) {
        builds.push(Build::gcc::<Riscv32>("uleb128.S", &[]));
    }
    for build in builds {
        let object = build.object();
        let paired = cross::retype(&object.bytes, &[R_RISCV_SET_ULEB128, R_RISCV_SUB_ULEB128]);
        let memory = BufferMemory::new(BASE);
        let image = load_ok(&memory, &paired);
        let from = image.symbol("uleb_from").expect("exported").address;
        let to = image.symbol("uleb_to").expect("exported").address;
        let field = image.symbol("uleb_field").expect("exported").address;
        let bytes = memory.read(field, 3).unwrap();
        let want = to - from;
        assert!(want >= 0x80, "{build}: the difference must need two bytes");
        assert_eq!(
            bytes,
            [(want & 0x7f) as u8 | 0x80, (want >> 7) as u8 | 0x80, 0],
            "{build}: ULEB128 of {want:#x} padded to the field's 3 bytes"
        );
        drop(image);

        let lone = cross::retype(&object.bytes, &[R_RISCV_SUB_ULEB128, R_RISCV_SUB_ULEB128]);
        let e = load_error::<Riscv32>(&lone, &host_symbols::<Riscv32>());
        assert!(
            matches!(&e, LoadError::Malformed { what, .. } if what.contains("partner")),
            "{build}: {e:?}"
        );
    }
}

/// Shared objects linked by lld: every word a dynamic relocation writes
/// holds what the psABI formula gives, and nothing else changed. Bare-metal
/// gcc has no IFUNCs, so there is no `IRELATIVE` build.
#[test]
fn shared_objects_apply_their_dynamic_relocations() {
    check_shared_objects::<Riscv32>(&SharedTypes {
        relative: R_RISCV_RELATIVE,
        symbolic: &[R_RISCV_32],
        symbol_only: &[R_RISCV_JUMP_SLOT],
        jump_slot: R_RISCV_JUMP_SLOT,
        irelative: None,
    });
}

/// A shared object with general-dynamic TLS: given a module id, its
/// `TLS_DTPMOD32` words hold the id and its `TLS_DTPREL32` words the
/// variable's offset in the block less the psABI's 0x800.
#[test]
fn shared_tls_words_hold_module_and_offset() {
    const MODULE: u64 = 7;
    let mut symbols = host_symbols::<Riscv32>();
    symbols.push(HostSymbol {
        name: "__tls_get_addr",
        value: BASE - 0x3_0000,
        proxy: None,
        kind: modlib::SymbolKind::Function,
    });
    let mut list = vec![Build::clang::<Riscv32>("tls.c", &["-O2", "-fPIC"])];
    if cross::available(Riscv32::GCC) {
        list.push(Build::gcc::<Riscv32>("tls.c", &["-O2", "-fPIC"]));
    }
    for build in list {
        let so = build.shared_object();
        let memory = BufferMemory::new(BASE);
        let options = LoadOptions {
            machine: Machine::Riscv32,
            ..LoadOptions::default()
        };
        let mut mapped = modlib::map(&so.bytes, &options, &memory)
            .unwrap_or_else(|e| panic!("{build}: map: {e}"));
        assert!(mapped.thread_local().is_some(), "{build}: no PT_TLS");
        mapped.set_tls_module(MODULE);
        let image = mapped
            .relocate(&table(&symbols))
            .unwrap_or_else(|e| panic!("{build}: relocate: {e}"));
        let file = ElfBytes::<LittleEndian>::minimal_parse(&so.bytes).expect("parse .so");
        let dynsyms = file
            .dynamic_symbol_table()
            .expect("dynsym")
            .expect("has dynsym")
            .0;
        let rela = file
            .section_header_by_name(".rela.dyn")
            .expect("sections")
            .expect("has .rela.dyn");
        let mut seen = (false, false);
        for r in file.section_data_as_relas(&rela).expect("relas") {
            let want = match r.r_type {
                R_RISCV_TLS_DTPMOD32 => {
                    seen.0 = true;
                    MODULE
                }
                R_RISCV_TLS_DTPREL32 => {
                    seen.1 = true;
                    let s = match r.r_sym {
                        0 => 0,
                        i => dynsyms.get(i as usize).expect("symbol").st_value,
                    };
                    s.wrapping_add(r.r_addend as u64).wrapping_sub(0x800) & 0xffff_ffff
                }
                _ => continue,
            };
            let at = image.base() + r.r_offset;
            let got = memory.read(at, 4).map(|b| cross::le_word(&b));
            assert_eq!(got, Some(want), "{build}: word at {at:#x}");
        }
        assert_eq!(
            seen,
            (true, true),
            "{build}: DTPMOD32 and DTPREL32 expected"
        );
    }
}
