//! AArch64 relocations checked differentially: every fixture object, built
//! by clang and the cross gcc at -O0/-O2 in the tiny, small and large code
//! models, PIC (`-fpic`, `-fPIC`) and not, is loaded by modlib at a fixed
//! address and compared with `ld.lld --no-relax` (and GNU ld) output at the
//! same section addresses. Also: which fixture exercises which relocation
//! type, the refusal of TLS, overflow of out-of-range references, and
//! shared objects' dynamic relocations.

mod cross;

use elf::abi::{
    R_AARCH64_ABS16, R_AARCH64_ABS32, R_AARCH64_ABS64, R_AARCH64_ADD_ABS_LO12_NC,
    R_AARCH64_ADR_GOT_PAGE, R_AARCH64_ADR_PREL_LO21, R_AARCH64_ADR_PREL_PG_HI21,
    R_AARCH64_ADR_PREL_PG_HI21_NC, R_AARCH64_CALL26, R_AARCH64_CONDBR19, R_AARCH64_GLOB_DAT,
    R_AARCH64_GOT_LD_PREL19, R_AARCH64_IRELATIVE, R_AARCH64_JUMP26, R_AARCH64_JUMP_SLOT,
    R_AARCH64_LD64_GOTPAGE_LO15, R_AARCH64_LD64_GOT_LO12_NC, R_AARCH64_LDST128_ABS_LO12_NC,
    R_AARCH64_LDST16_ABS_LO12_NC, R_AARCH64_LDST32_ABS_LO12_NC, R_AARCH64_LDST64_ABS_LO12_NC,
    R_AARCH64_LDST8_ABS_LO12_NC, R_AARCH64_LD_PREL_LO19, R_AARCH64_MOVW_PREL_G0,
    R_AARCH64_MOVW_PREL_G0_NC, R_AARCH64_MOVW_PREL_G1, R_AARCH64_MOVW_PREL_G1_NC,
    R_AARCH64_MOVW_PREL_G2, R_AARCH64_MOVW_PREL_G2_NC, R_AARCH64_MOVW_PREL_G3,
    R_AARCH64_MOVW_SABS_G0, R_AARCH64_MOVW_SABS_G1, R_AARCH64_MOVW_SABS_G2, R_AARCH64_MOVW_UABS_G0,
    R_AARCH64_MOVW_UABS_G0_NC, R_AARCH64_MOVW_UABS_G1, R_AARCH64_MOVW_UABS_G1_NC,
    R_AARCH64_MOVW_UABS_G2, R_AARCH64_MOVW_UABS_G2_NC, R_AARCH64_MOVW_UABS_G3, R_AARCH64_PREL16,
    R_AARCH64_PREL32, R_AARCH64_PREL64, R_AARCH64_RELATIVE, R_AARCH64_TSTBR14,
};
use modlib::{LoadError, Machine};

use cross::{
    check_builds, check_coverage, check_shared_objects, first_relocation, host_symbols, load_error,
    moved, sext, word_at, Build, Image, Isa, Reach, Rel, Semantic, SharedTypes, BASE,
};

struct Aarch64;

const ADR_MASK: u32 = 0x60ff_ffe0;
const IMM12_MASK: u32 = 0x003f_fc00;
const B26_MASK: u32 = 0x03ff_ffff;
const IMM19_MASK: u32 = 0x00ff_ffe0;
const STUB_CODE: [u32; 2] = [0x5800_0050, 0xd61f_0200];

fn page(x: u64) -> u64 {
    x & !0xfff
}

/// The page an ADRP at `p` reaches.
fn adrp_target(p: u64, insn: u32) -> u64 {
    let imm = (((insn >> 5) & 0x7_ffff) << 2) | ((insn >> 29) & 3);
    page(p).wrapping_add((sext(u64::from(imm), 21) << 12) as u64)
}

fn imm12(insn: u32) -> u64 {
    u64::from((insn >> 10) & 0xfff)
}

impl Isa for Aarch64 {
    const MACHINE: Machine = Machine::Aarch64;
    const CLANG: &'static [&'static str] = &["--target=aarch64-linux-gnu"];
    const GCC: &'static str = "aarch64-linux-gnu-gcc";
    const GNU_LD: &'static str = "aarch64-linux-gnu-ld";
    const LLD_UNKNOWN: &'static [u32] = &[R_AARCH64_GOT_LD_PREL19];
    const STUB_SIZE: usize = 16;
    const STUB_CODE: &'static [u32] = &STUB_CODE;
    const PREFIX: &'static str = "R_AARCH64_";
    const TABLE: &'static [(u32, &'static str, &'static str)] = &TABLE;

    fn is_tls(r_type: u32) -> bool {
        (512..=573).contains(&r_type)
    }

    fn semantic(rels: &[Rel], i: usize, image: &dyn Image) -> Option<Semantic> {
        let r = &rels[i];
        let p = r.place;
        let one = |mask: u32, reach: Reach| {
            Some(Semantic {
                words: vec![(p, mask)],
                reach: Some(reach),
            })
        };
        match r.r_type {
            R_AARCH64_CALL26 | R_AARCH64_JUMP26 if r.far => {
                let insn = word_at(image, p)?;
                let to = p.wrapping_add((sext(u64::from(insn & B26_MASK), 26) << 2) as u64);
                one(B26_MASK, Reach::Branch(to))
            }
            R_AARCH64_ADR_GOT_PAGE => one(
                ADR_MASK,
                Reach::SlotPage(adrp_target(p, word_at(image, p)?)),
            ),
            R_AARCH64_ADR_PREL_PG_HI21 if r.symbol == "_GLOBAL_OFFSET_TABLE_" => {
                one(ADR_MASK, Reach::GotPage(adrp_target(p, word_at(image, p)?)))
            }
            R_AARCH64_LD64_GOT_LO12_NC => {
                one(IMM12_MASK, Reach::SlotLow(imm12(word_at(image, p)?) << 3))
            }
            R_AARCH64_LD64_GOTPAGE_LO15 => one(
                IMM12_MASK,
                Reach::SlotFromGotPage(imm12(word_at(image, p)?) << 3),
            ),
            R_AARCH64_GOT_LD_PREL19 => {
                let insn = word_at(image, p)?;
                let off = sext(u64::from((insn & IMM19_MASK) >> 5), 19) << 2;
                one(IMM19_MASK, Reach::Slot(p.wrapping_add(off as u64)))
            }
            _ => None,
        }
    }
}

/// Which fixture exercises which relocation type (verified by
/// `fixtures_exercise_every_listed_type`).
const TABLE: [(u32, &str, &str); 42] = [
    (R_AARCH64_ABS64, "ABS64", "relocs.c"),
    (R_AARCH64_ABS32, "ABS32", "aarch64.S"),
    (R_AARCH64_ABS16, "ABS16", "aarch64.S"),
    (R_AARCH64_PREL64, "PREL64", "relocs.c"),
    (R_AARCH64_PREL32, "PREL32", "relocs.c"),
    (R_AARCH64_PREL16, "PREL16", "aarch64.S"),
    (R_AARCH64_ADR_PREL_PG_HI21, "ADR_PREL_PG_HI21", "relocs.c"),
    (
        R_AARCH64_ADR_PREL_PG_HI21_NC,
        "ADR_PREL_PG_HI21_NC",
        "aarch64.S",
    ),
    (R_AARCH64_ADR_PREL_LO21, "ADR_PREL_LO21", "relocs.c"),
    (R_AARCH64_ADD_ABS_LO12_NC, "ADD_ABS_LO12_NC", "relocs.c"),
    (R_AARCH64_LDST8_ABS_LO12_NC, "LDST8_ABS_LO12_NC", "relocs.c"),
    (
        R_AARCH64_LDST16_ABS_LO12_NC,
        "LDST16_ABS_LO12_NC",
        "relocs.c",
    ),
    (
        R_AARCH64_LDST32_ABS_LO12_NC,
        "LDST32_ABS_LO12_NC",
        "relocs.c",
    ),
    (
        R_AARCH64_LDST64_ABS_LO12_NC,
        "LDST64_ABS_LO12_NC",
        "relocs.c",
    ),
    (
        R_AARCH64_LDST128_ABS_LO12_NC,
        "LDST128_ABS_LO12_NC",
        "relocs.c",
    ),
    (R_AARCH64_LD_PREL_LO19, "LD_PREL_LO19", "relocs.c"),
    (R_AARCH64_CALL26, "CALL26", "relocs.c"),
    (R_AARCH64_JUMP26, "JUMP26", "relocs.c"),
    (R_AARCH64_CONDBR19, "CONDBR19", "aarch64.S"),
    (R_AARCH64_TSTBR14, "TSTBR14", "aarch64.S"),
    (R_AARCH64_ADR_GOT_PAGE, "ADR_GOT_PAGE", "relocs.c"),
    (R_AARCH64_LD64_GOT_LO12_NC, "LD64_GOT_LO12_NC", "relocs.c"),
    (R_AARCH64_LD64_GOTPAGE_LO15, "LD64_GOTPAGE_LO15", "relocs.c"),
    (R_AARCH64_GOT_LD_PREL19, "GOT_LD_PREL19", "relocs.c"),
    (R_AARCH64_MOVW_UABS_G0, "MOVW_UABS_G0", "aarch64.S"),
    (R_AARCH64_MOVW_UABS_G0_NC, "MOVW_UABS_G0_NC", "relocs.c"),
    (R_AARCH64_MOVW_UABS_G1, "MOVW_UABS_G1", "aarch64.S"),
    (R_AARCH64_MOVW_UABS_G1_NC, "MOVW_UABS_G1_NC", "relocs.c"),
    (R_AARCH64_MOVW_UABS_G2, "MOVW_UABS_G2", "aarch64.S"),
    (R_AARCH64_MOVW_UABS_G2_NC, "MOVW_UABS_G2_NC", "relocs.c"),
    (R_AARCH64_MOVW_UABS_G3, "MOVW_UABS_G3", "relocs.c"),
    (R_AARCH64_MOVW_SABS_G0, "MOVW_SABS_G0", "aarch64.S"),
    (R_AARCH64_MOVW_SABS_G1, "MOVW_SABS_G1", "aarch64.S"),
    (R_AARCH64_MOVW_SABS_G2, "MOVW_SABS_G2", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G0, "MOVW_PREL_G0", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G0_NC, "MOVW_PREL_G0_NC", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G1, "MOVW_PREL_G1", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G1_NC, "MOVW_PREL_G1_NC", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G2, "MOVW_PREL_G2", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G2_NC, "MOVW_PREL_G2_NC", "aarch64.S"),
    (R_AARCH64_MOVW_PREL_G3, "MOVW_PREL_G3", "aarch64.S"),
    (
        elf::abi::R_AARCH64_TLSLE_ADD_TPREL_HI12,
        "TLSLE_ADD_TPREL_HI12 (refused)",
        "tls.c",
    ),
];

/// Flags of every C build: `.eh_frame` everywhere, no stack protector.
const C: [&str; 2] = ["-fasynchronous-unwind-tables", "-fno-stack-protector"];

/// Every build of the differential fixtures.
fn builds() -> Vec<Build> {
    let gcc = cross::available(Aarch64::GCC);
    let mut out = Vec::new();
    let mut both = |fixture: &'static str, flags: &[&'static str]| {
        out.push(Build::clang::<Aarch64>(fixture, flags));
        if gcc {
            out.push(Build::gcc::<Aarch64>(fixture, flags));
        }
    };
    for opt in ["-O0", "-O2"] {
        for model in [
            ["-fPIC", "-mcmodel=small"],
            ["-fno-pic", "-mcmodel=small"],
            ["-fno-pic", "-mcmodel=tiny"],
            ["-fno-pic", "-mcmodel=large"],
        ] {
            both("relocs.c", &[opt, model[0], model[1], C[0], C[1]]);
        }
        both("relocs.c", &[opt, "-fpic", "-mcmodel=small", C[0], C[1]]);
    }
    both("relocs.c", &["-O2", "-fPIC", "-mcmodel=tiny", C[0], C[1]]);
    both("aarch64.S", &[]);
    out
}

fn tls_builds() -> Vec<Build> {
    let gcc = cross::available(Aarch64::GCC);
    let mut out = Vec::new();
    for pic in ["-fPIC", "-fno-pic"] {
        out.push(Build::clang::<Aarch64>("tls.c", &["-O2", pic]));
        if gcc {
            out.push(Build::gcc::<Aarch64>("tls.c", &["-O2", pic]));
        }
    }
    out
}

#[test]
fn objects_match_the_reference_linkers() {
    check_builds::<Aarch64>(&builds());
}

#[test]
fn fixtures_exercise_every_listed_type() {
    let mut all = builds();
    all.extend(tls_builds());
    check_coverage::<Aarch64>(&all);
}

/// Thread-local storage is refused naming the first TLS relocation's type
/// and place.
#[test]
fn tls_relocations_are_refused_by_name() {
    for build in tls_builds() {
        let object = build.object();
        let (r_type, section, offset) = first_relocation(&object.bytes, Aarch64::is_tls)
            .unwrap_or_else(|| panic!("{build}: no TLS relocation"));
        let e = load_error::<Aarch64>(&object.bytes, &host_symbols::<Aarch64>());
        assert_eq!(
            e,
            LoadError::UnsupportedRelocation {
                machine: Machine::Aarch64,
                r_type,
                section,
                offset,
            },
            "{build}"
        );
    }
}

/// Data beyond ±1 MiB (tiny model) or ±4 GiB (small model) of the code
/// overflows, naming the symbol; so does a misaligned scaled access.
#[test]
fn out_of_range_data_overflows() {
    let cases: [(&str, u64, &[u32]); 2] = [
        (
            "-mcmodel=tiny",
            BASE + (4 << 20),
            &[R_AARCH64_ADR_PREL_LO21, R_AARCH64_LD_PREL_LO19],
        ),
        (
            "-mcmodel=small",
            BASE + (8 << 30),
            &[R_AARCH64_ADR_PREL_PG_HI21],
        ),
    ];
    for (model, value, types) in cases {
        let symbols = moved::<Aarch64>("near_value", value);
        for build in builds()
            .into_iter()
            .filter(|b| b.fixture == "relocs.c" && b.has("-fno-pic") && b.has(model))
        {
            let e = load_error::<Aarch64>(&build.object().bytes, &symbols);
            assert!(
                matches!(&e, LoadError::RelocationOverflow { r_type, symbol, .. }
                    if types.contains(r_type) && symbol == "near_value"),
                "{build}: {e:?}"
            );
        }
    }
    // near_array + 2 loaded with LDRH needs 2-byte alignment.
    let symbols = moved::<Aarch64>("near_array", BASE - 0x8_0000 + 0x41);
    let build = Build::clang::<Aarch64>("aarch64.S", &[]);
    let e = load_error::<Aarch64>(&build.object().bytes, &symbols);
    assert!(
        matches!(&e, LoadError::RelocationOverflow { r_type, symbol, .. }
            if *r_type == R_AARCH64_LDST16_ABS_LO12_NC && symbol == "near_array"),
        "{e:?}"
    );
}

/// Shared objects linked by lld: every word a dynamic relocation writes
/// holds what AAELF64 gives, and nothing else changed. With a local IFUNC
/// the object is refused on a host that cannot run its resolver.
#[test]
fn shared_objects_apply_their_dynamic_relocations() {
    check_shared_objects::<Aarch64>(&SharedTypes {
        relative: R_AARCH64_RELATIVE,
        symbolic: &[R_AARCH64_ABS64, R_AARCH64_GLOB_DAT, R_AARCH64_JUMP_SLOT],
        symbol_only: &[],
        jump_slot: R_AARCH64_JUMP_SLOT,
        irelative: Some(R_AARCH64_IRELATIVE),
    });
}
