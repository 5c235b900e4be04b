//! RISC-V 64 relocations checked differentially: every fixture object, built
//! by clang and the cross gcc at -O0/-O2, PIC and not, medlow and medany,
//! with and without relaxation, is loaded by modlib at a fixed address and
//! compared with `ld.lld --no-relax` (and GNU ld) output at the same section
//! addresses. Also: which fixture exercises which relocation type, the
//! refusal of `ALIGN` padding that must shrink and of TLS, overflow of
//! out-of-range references, and shared objects' dynamic relocations.

mod cross;

use elf::abi::{
    R_RISCV_32, R_RISCV_32_PCREL, R_RISCV_64, R_RISCV_ADD16, R_RISCV_ADD32, R_RISCV_ADD64,
    R_RISCV_ADD8, R_RISCV_ALIGN, R_RISCV_BRANCH, R_RISCV_CALL, R_RISCV_CALL_PLT, R_RISCV_GOT_HI20,
    R_RISCV_HI20, R_RISCV_IRELATIVE, R_RISCV_JAL, R_RISCV_JUMP_SLOT, R_RISCV_LO12_I,
    R_RISCV_LO12_S, R_RISCV_PCREL_HI20, R_RISCV_PCREL_LO12_I, R_RISCV_PCREL_LO12_S,
    R_RISCV_RELATIVE, R_RISCV_RELAX, R_RISCV_RVC_BRANCH, R_RISCV_RVC_JUMP, R_RISCV_SET16,
    R_RISCV_SET32, R_RISCV_SET6, R_RISCV_SET8, R_RISCV_SUB16, R_RISCV_SUB32, R_RISCV_SUB6,
    R_RISCV_SUB64, R_RISCV_SUB8, R_RISCV_TLS_GD_HI20, R_RISCV_TLS_GOT_HI20, R_RISCV_TPREL_ADD,
    R_RISCV_TPREL_HI20, R_RISCV_TPREL_LO12_I, R_RISCV_TPREL_LO12_S,
};
use modlib::{LoadError, Machine};

use cross::{
    check_builds, check_coverage, check_shared_objects, first_relocation, host_symbols, load_error,
    moved, riscv, Build, Image, Isa, Rel, Semantic, SharedTypes,
};

struct Riscv64;

/// `auipc t3, 0; ld t3, 16(t3); jr t3; nop`, then the 64-bit target.
const STUB_CODE: [u32; 4] = [0x0000_0e17, 0x010e_3e03, 0x000e_0067, 0x0000_0013];

impl Isa for Riscv64 {
    const MACHINE: Machine = Machine::Riscv64;
    const CLANG: &'static [&'static str] = &["--target=riscv64-linux-gnu", "-march=rv64gc"];
    const GCC: &'static str = "riscv64-linux-gnu-gcc";
    const GNU_LD: &'static str = "riscv64-linux-gnu-ld";
    const LLD_UNKNOWN: &'static [u32] = &[];
    const STUB_SIZE: usize = 24;
    const STUB_CODE: &'static [u32] = &STUB_CODE;
    const PREFIX: &'static str = "R_RISCV_";
    const TABLE: &'static [(u32, &'static str, &'static str)] = &TABLE;

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
        riscv::semantic(rels, i, image, u64::MAX)
    }
}

/// Which fixture exercises which relocation type (verified by
/// `fixtures_exercise_every_listed_type`). `SET_ULEB128`/`SUB_ULEB128` are
/// not listed: binutils 2.40 and clang 14 never emit them (the unit tests
/// of `reloc::riscv64` cover them).
const TABLE: [(u32, &str, &str); 32] = [
    (R_RISCV_64, "64", "relocs.c"),
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
    (R_RISCV_JAL, "JAL", "riscv64.S"),
    (R_RISCV_RVC_BRANCH, "RVC_BRANCH", "riscv64.S"),
    (R_RISCV_RVC_JUMP, "RVC_JUMP", "relocs.c"),
    (R_RISCV_GOT_HI20, "GOT_HI20", "relocs.c"),
    (R_RISCV_ADD8, "ADD8", "riscv64.S"),
    (R_RISCV_ADD16, "ADD16", "riscv64.S"),
    (R_RISCV_ADD32, "ADD32", "relocs.c"),
    (R_RISCV_ADD64, "ADD64", "riscv64.S"),
    (R_RISCV_SUB6, "SUB6", "relocs.c"),
    (R_RISCV_SUB8, "SUB8", "relocs.c"),
    (R_RISCV_SUB16, "SUB16", "riscv64.S"),
    (R_RISCV_SUB32, "SUB32", "relocs.c"),
    (R_RISCV_SUB64, "SUB64", "riscv64.S"),
    (R_RISCV_SET6, "SET6", "relocs.c"),
    (R_RISCV_SET8, "SET8", "relocs.c"),
    (R_RISCV_SET16, "SET16", "riscv64.S"),
    (R_RISCV_SET32, "SET32", "riscv64.S"),
    (R_RISCV_RELAX, "RELAX", "relocs.c"),
    (R_RISCV_ALIGN, "ALIGN", "align.S"),
    (R_RISCV_TPREL_HI20, "TPREL_HI20 (refused)", "tls.c"),
];

/// Flags of every C build: `.eh_frame` everywhere, no stack protector.
const C: [&str; 2] = ["-fasynchronous-unwind-tables", "-fno-stack-protector"];

/// Every build of the differential fixtures.
fn builds() -> Vec<Build> {
    let gcc = cross::available(Riscv64::GCC);
    let mut out = Vec::new();
    let mut both = |fixture: &'static str, flags: &[&'static str]| {
        out.push(Build::clang::<Riscv64>(fixture, flags));
        if gcc {
            out.push(Build::gcc::<Riscv64>(fixture, flags));
        }
    };
    for opt in ["-O0", "-O2"] {
        for model in [
            ["-fPIC", "-mcmodel=medlow"],
            ["-fno-pic", "-mcmodel=medlow"],
            ["-fno-pic", "-mcmodel=medany"],
        ] {
            both("relocs.c", &[opt, model[0], model[1], C[0], C[1]]);
        }
    }
    both("relocs.c", &["-O2", "-fPIC", "-mcmodel=medany", C[0], C[1]]);
    both("riscv64.S", &[]);
    both("riscv64.S", &["-mno-relax"]);
    if gcc {
        for model in [
            ["-fPIC", "-mcmodel=medlow"],
            ["-fno-pic", "-mcmodel=medlow"],
            ["-fno-pic", "-mcmodel=medany"],
        ] {
            out.push(Build::gcc::<Riscv64>(
                "relocs.c",
                &["-O2", "-mno-relax", model[0], model[1], C[0], C[1]],
            ));
        }
    }
    out
}

/// Builds of the refusal fixtures.
fn refusal_builds() -> Vec<Build> {
    let gcc = cross::available(Riscv64::GCC);
    let mut out = Vec::new();
    for flags in [&[][..], &["-DEXACT"][..]] {
        out.push(Build::clang::<Riscv64>("align.S", flags));
        if gcc {
            out.push(Build::gcc::<Riscv64>("align.S", flags));
        }
    }
    for pic in ["-fPIC", "-fno-pic"] {
        out.push(Build::clang::<Riscv64>("tls.c", &["-O2", pic]));
        if gcc {
            out.push(Build::gcc::<Riscv64>("tls.c", &["-O2", pic]));
        }
    }
    out
}

#[test]
fn objects_match_the_reference_linkers() {
    check_builds::<Riscv64>(&builds());
}

#[test]
fn fixtures_exercise_every_listed_type() {
    let mut all = builds();
    all.extend(refusal_builds());
    check_coverage::<Riscv64>(&all);
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
            let memory = testkit::BufferMemory::new(cross::BASE);
            let options = modlib::LoadOptions {
                machine: Machine::Riscv64,
                ..modlib::LoadOptions::default()
            };
            let image = modlib::load(
                &object.bytes,
                &options,
                &memory,
                &cross::table(&host_symbols::<Riscv64>()),
            )
            .unwrap_or_else(|e| panic!("{build}: {e}"));
            let target = image.symbol("aligned_target").expect("exported").address;
            assert_eq!(target % 8, 0, "{build}: aligned_target at {target:#x}");
            let ret = memory.read(target, 2).unwrap();
            assert_eq!(
                ret,
                [0x82, 0x80],
                "{build}: the code after the padding moved"
            );
        } else {
            let e = load_error::<Riscv64>(&object.bytes, &host_symbols::<Riscv64>());
            assert_eq!(
                e,
                LoadError::RelaxationRequired {
                    r_type: R_RISCV_ALIGN,
                    section: align.1.clone(),
                    offset: align.2,
                },
                "{build}"
            );
            assert!(e.to_string().contains("-mno-relax"), "{build}: {e}");
        }
    }
}

/// Thread-local storage is refused naming the first TLS relocation's type
/// and place.
#[test]
fn tls_relocations_are_refused_by_name() {
    let mut symbols = host_symbols::<Riscv64>();
    symbols.push(cross::HostSymbol {
        name: "__tls_get_addr",
        value: 0x1000_0000 - 0x3_0000,
        proxy: None,
        kind: modlib::SymbolKind::Function,
    });
    for build in refusal_builds()
        .into_iter()
        .filter(|b| b.fixture == "tls.c")
    {
        let object = build.object();
        let (r_type, section, offset) = first_relocation(&object.bytes, Riscv64::is_tls)
            .unwrap_or_else(|| panic!("{build}: no TLS relocation"));
        let e = load_error::<Riscv64>(&object.bytes, &symbols);
        assert_eq!(
            e,
            LoadError::UnsupportedRelocation {
                machine: Machine::Riscv64,
                r_type,
                section,
                offset,
            },
            "{build}"
        );
    }
}

/// Data out of reach of a 32-bit absolute (medlow) or pc-relative (medany)
/// reference overflows, naming the symbol.
#[test]
fn out_of_range_data_overflows() {
    let symbols = moved::<Riscv64>("near_value", 0x9000_0000);
    for build in builds()
        .into_iter()
        .filter(|b| b.fixture == "relocs.c" && b.has("-fno-pic"))
    {
        let e = load_error::<Riscv64>(&build.object().bytes, &symbols);
        let want = if build.has("-mcmodel=medlow") {
            R_RISCV_HI20
        } else {
            R_RISCV_PCREL_HI20
        };
        assert!(
            matches!(&e, LoadError::RelocationOverflow { r_type, symbol, .. }
                if *r_type == want && symbol == "near_value"),
            "{build}: {e:?}"
        );
    }
}

/// Shared objects linked by lld: every word a dynamic relocation writes
/// holds what the psABI formula gives, and nothing else changed. With a
/// local IFUNC (IRELATIVE, or a JUMP_SLOT to it) the object is refused on a
/// host that cannot run its resolver.
#[test]
fn shared_objects_apply_their_dynamic_relocations() {
    check_shared_objects::<Riscv64>(&SharedTypes {
        relative: R_RISCV_RELATIVE,
        symbolic: &[R_RISCV_64],
        symbol_only: &[R_RISCV_JUMP_SLOT],
        jump_slot: R_RISCV_JUMP_SLOT,
        irelative: Some(R_RISCV_IRELATIVE),
    });
}
