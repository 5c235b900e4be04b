//! Arm (AAELF32, `REL` with implicit addends) relocations checked
//! differentially: Thumb-2 objects from clang and `arm-none-eabi-gcc` for
//! several M-profile cores and options (PIC among them), Armv7-A Linux
//! objects in both states, and the assembly fixture, are loaded by modlib
//! at a fixed address and compared with `ld.lld --no-relax` and GNU ld
//! output at the same section addresses. The linkers get the host symbols
//! typed, so they interwork with Thumb functions as modlib does.
//!
//! Compared by meaning instead of bytes: far calls (256 MiB away, beyond
//! `bl`'s ±16 MiB) by where and in which state they land (modlib's on its
//! veneer's Thumb or Arm entry, the veneer jumping to the function);
//! `-mlong-calls` literals of far functions by value; GOT-relative words
//! against each image's own GOT origin and slots. Shared objects and the
//! M-profile refusal of interworking are checked against modlib alone.

mod cross;

use elf::abi::{
    R_ARM_ABS32, R_ARM_CALL, R_ARM_GLOB_DAT, R_ARM_GOTOFF32, R_ARM_GOT_PREL, R_ARM_JUMP24,
    R_ARM_JUMP_SLOT, R_ARM_MOVT_ABS, R_ARM_MOVW_ABS_NC, R_ARM_NONE, R_ARM_PREL31, R_ARM_REL32,
    R_ARM_RELATIVE, R_ARM_TARGET1, R_ARM_TARGET2, R_ARM_THM_ALU_PREL_11_0, R_ARM_THM_CALL,
    R_ARM_THM_JUMP11, R_ARM_THM_JUMP19, R_ARM_THM_JUMP24, R_ARM_THM_JUMP8, R_ARM_THM_MOVT_ABS,
    R_ARM_THM_MOVT_PREL, R_ARM_THM_MOVW_ABS_NC, R_ARM_THM_MOVW_PREL_NC, R_ARM_THM_PC12,
    R_ARM_THM_PC8, R_ARM_TLS_DTPMOD32, R_ARM_TLS_DTPOFF32, R_ARM_V4BX,
};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::inspect::relocatable_layout;
use modlib::{ArmAbi, LoadError, LoadOptions, Machine, SymbolKind};
use testkit::{BufferMemory, Compiler};

use cross::{
    check_builds, check_coverage, check_shared, check_shared_objects, sext, word_at, Build,
    HostSymbol, Image, Isa, Reach, Rel, Semantic, SharedTypes, BASE,
};

struct Arm;

/// `R_ARM_GOT_BREL` (26): the `elf` crate has only its withdrawn name.
const R_ARM_GOT_BREL: u32 = 26;
/// `R_ARM_BASE_PREL` (25).
const R_ARM_BASE_PREL: u32 = 25;

/// A veneer's Thumb entry, `push {r0, r1}; ldr r0, [pc, #4];
/// str r0, [sp, #4]; pop {r0, pc}`, as little-endian words; the literal
/// follows.
const STUB_CODE: [u32; 2] = [0x4801_b403, 0xbd01_9001];
/// Immediate bits of a Thumb `BL`/`B.W` (first halfword in the low half).
const T_B24_MASK: u32 = 0x2fff_07ff;
/// Immediate bits of an Arm `BL`/`B`.
const A_B24_MASK: u32 = 0x00ff_ffff;

/// Offset of a veneer's Arm-state entry (see arm.rs).
const STUB_ARM_ENTRY: u64 = 12;
/// Bit 12 of a Thumb `BL`'s second halfword: clear in `BLX`.
const T_BL_BIT: u32 = 0x1000_0000;
/// Condition and opcode bits of an Arm `BL`, which `BLX` (immediate, with
/// its H bit) replaces.
const A_BL_BITS: u32 = 0xff00_0000;

/// Where a Thumb `BL`, `BLX` or `B.W` at `p` branches, and whether it
/// lands in Arm state (`BLX`).
fn thumb_branch(p: u64, insn: u32) -> (u64, bool) {
    let (hw1, hw2) = (insn & 0xffff, insn >> 16);
    let s = (hw1 >> 10) & 1;
    let i1 = !((hw2 >> 13) ^ s) & 1;
    let i2 = !((hw2 >> 11) ^ s) & 1;
    let imm = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3ff) << 12) | ((hw2 & 0x7ff) << 1);
    let blx = insn & T_BL_BIT == 0;
    let from = if blx { (p + 4) & !3 } else { p + 4 };
    let to = from.wrapping_add(sext(u64::from(imm), 25) as u64) & 0xffff_ffff;
    (to, blx)
}

/// Where an Arm `B`, `BL` or `BLX` (immediate) at `p` branches, and whether
/// it lands in Arm state (not `BLX`).
fn arm_branch(p: u64, insn: u32) -> (u64, bool) {
    let blx = insn >> 28 == 0xf;
    let h = if blx {
        u64::from((insn >> 24) & 1) << 1
    } else {
        0
    };
    let off = sext(u64::from(insn & A_B24_MASK) << 2, 26) as u64;
    let to = p.wrapping_add(8).wrapping_add(off).wrapping_add(h) & 0xffff_ffff;
    (to, !blx)
}

/// A branch landing on `to`, in Arm state when `arm` (on a veneer's Arm
/// entry, then).
fn landing((to, arm): (u64, bool)) -> Reach {
    Reach::BranchEntry(to, if arm { STUB_ARM_ENTRY } else { 0 })
}

impl Isa for Arm {
    const MACHINE: Machine = Machine::Arm;
    const CLANG: &'static [&'static str] = &["--target=thumbv7em-none-eabi", "-mthumb"];
    const GCC: &'static str = "arm-none-eabi-gcc";
    const GCC_FLAGS: &'static [&'static str] = &["-mthumb"];
    const GNU_LD: &'static str = "arm-none-eabi-ld";
    /// `TARGET2` as bare metal reads it (`REL32`); lld defaults to Linux's.
    const LLD_FLAGS: &'static [&'static str] = &["--target2=rel"];
    const LLD_UNKNOWN: &'static [u32] = &[];
    const STUB_SIZE: usize = 16;
    const STUB_CODE: &'static [u32] = &STUB_CODE;
    const PREFIX: &'static str = "R_ARM_";
    const TABLE: &'static [(u32, &'static str, &'static str)] = &TABLE;
    const FAR: u64 = BASE + 0x1000_0000;
    const ABS_BIG: u64 = 0x9abc_def0;
    const FUNCTION_BIT: u64 = 1;
    const TYPED_HOST_SYMBOLS: Option<u16> = Some(elf::abi::EM_ARM);
    const RUNTIME: &'static [&'static str] = &[
        "__aeabi_unwind_cpp_pr0",
        "__aeabi_unwind_cpp_pr1",
        "__aeabi_idiv",
        "__aeabi_idivmod",
        "__aeabi_uidiv",
        "__aeabi_uidivmod",
        "__gnu_thumb1_case_uqi",
    ];

    fn is_tls(r_type: u32) -> bool {
        (104..=108).contains(&r_type) || (17..=19).contains(&r_type)
    }

    fn implicit_addend(r_type: u32, field: &[u8]) -> i64 {
        let Some(word) = field.get(..4).map(cross::le_word) else {
            return 0;
        };
        match r_type {
            R_ARM_ABS32 | R_ARM_REL32 | R_ARM_TARGET1 | R_ARM_TARGET2 | R_ARM_GOT_BREL
            | R_ARM_GOT_PREL | R_ARM_BASE_PREL | R_ARM_GOTOFF32 => i64::from(word as u32 as i32),
            R_ARM_PREL31 => sext(word, 31),
            _ => 0,
        }
    }

    fn semantic(rels: &[Rel], i: usize, image: &dyn Image) -> Option<Semantic> {
        let r = &rels[i];
        let p = r.place;
        let word = |mask: u32, reach: Reach| {
            Some(Semantic {
                words: vec![(p, mask)],
                reach: Some(reach),
            })
        };
        // A 32-bit data field, less its (implicit) addend.
        let field = || word_at(image, p).map(u64::from);
        let less_addend = |v: u64| v.wrapping_sub(r.addend as u64) & 0xffff_ffff;
        match r.r_type {
            R_ARM_THM_CALL | R_ARM_THM_JUMP24 if r.far => word(
                T_B24_MASK | T_BL_BIT,
                landing(thumb_branch(p, word_at(image, p)?)),
            ),
            R_ARM_CALL if r.far => word(
                A_B24_MASK | A_BL_BITS,
                landing(arm_branch(p, word_at(image, p)?)),
            ),
            R_ARM_JUMP24 if r.far => word(A_B24_MASK, landing(arm_branch(p, word_at(image, p)?))),
            // `-mlong-calls` literals: the real address against the proxy.
            R_ARM_ABS32 | R_ARM_TARGET1 if r.far => word(!0, Reach::Value(field()?)),
            R_ARM_GOTOFF32 => word(!0, Reach::FromGot(field()?)),
            R_ARM_GOT_BREL => word(!0, Reach::SlotFromGot(less_addend(field()?))),
            R_ARM_BASE_PREL => word(!0, Reach::GotOrigin(less_addend(field()? + p))),
            R_ARM_GOT_PREL => word(!0, Reach::Slot(less_addend(field()? + p))),
            _ => None,
        }
    }
}

/// Which fixture exercises which relocation type (verified by
/// `fixtures_exercise_every_listed_type`).
const TABLE: [(u32, &str, &str); 27] = [
    (R_ARM_ABS32, "ABS32", "relocs.c"),
    (R_ARM_REL32, "REL32", "arm.S"),
    (R_ARM_PREL31, "PREL31", "relocs.c"),
    (R_ARM_THM_CALL, "THM_CALL", "relocs.c"),
    (R_ARM_THM_JUMP24, "THM_JUMP24", "relocs.c"),
    (R_ARM_THM_JUMP19, "THM_JUMP19", "arm.S"),
    (R_ARM_THM_JUMP11, "THM_JUMP11", "arm.S"),
    (R_ARM_THM_JUMP8, "THM_JUMP8", "arm.S"),
    (R_ARM_THM_MOVW_ABS_NC, "THM_MOVW_ABS_NC", "relocs.c"),
    (R_ARM_THM_MOVT_ABS, "THM_MOVT_ABS", "relocs.c"),
    (R_ARM_THM_MOVW_PREL_NC, "THM_MOVW_PREL_NC", "arm.S"),
    (R_ARM_THM_MOVT_PREL, "THM_MOVT_PREL", "arm.S"),
    (R_ARM_THM_PC8, "THM_PC8", "arm.S"),
    (R_ARM_THM_PC12, "THM_PC12", "arm.S"),
    (R_ARM_THM_ALU_PREL_11_0, "THM_ALU_PREL_11_0", "arm.S"),
    (R_ARM_TARGET1, "TARGET1", "arm.S"),
    (R_ARM_TARGET2, "TARGET2", "arm.S"),
    (R_ARM_V4BX, "V4BX", "arm.S"),
    (R_ARM_GOT_BREL, "GOT_BREL", "arm.S"),
    (R_ARM_GOTOFF32, "GOTOFF32", "arm.S"),
    (R_ARM_CALL, "CALL", "arm.S"),
    (R_ARM_JUMP24, "JUMP24", "arm.S"),
    (R_ARM_MOVW_ABS_NC, "MOVW_ABS_NC", "arm.S"),
    (R_ARM_MOVT_ABS, "MOVT_ABS", "arm.S"),
    (R_ARM_NONE, "NONE", "relocs.c"),
    (R_ARM_GOT_PREL, "GOT_PREL", "relocs.c"),
    (R_ARM_BASE_PREL, "BASE_PREL", "relocs.c"),
];

/// Flags of every C build: unwind tables, no stack protector.
const C: [&str; 2] = ["-funwind-tables", "-fno-stack-protector"];

/// The Arm Linux gcc (Thumb-2 or Arm state for Armv7-A, PIE by default).
const LINUX_GCC: &str = "arm-linux-gnueabihf-gcc";
/// clang's target for the same.
const LINUX_CLANG: &str = "--target=armv7a-linux-gnueabihf";

/// Every build compared: M-profile Thumb-2 objects from clang and bare-metal
/// gcc, position-dependent and PIC, the assembly fixture in both states,
/// and Armv7-A Linux objects (Thumb-2 and Arm state, PIE and PIC).
fn builds() -> Vec<Build> {
    let gcc = cross::available(Arm::GCC);
    let mut out = vec![
        Build::clang::<Arm>("relocs.c", &["-O0", C[0], C[1]]),
        Build::clang::<Arm>("relocs.c", &["-O2", C[0], C[1]]),
        Build::clang::<Arm>("relocs.c", &["-O2", "-fPIC", C[0], C[1]]),
    ];
    if gcc {
        for cpu in [
            "-mcpu=cortex-m4",
            "-mcpu=cortex-m0plus",
            "-mcpu=cortex-m3",
            "-mcpu=cortex-m7",
            "-mcpu=cortex-m33",
        ] {
            out.push(Build::gcc::<Arm>("relocs.c", &[cpu, "-O2", C[0], C[1]]));
        }
        for extra in ["-O0", "-mlong-calls", "-mpure-code", "-ffunction-sections"] {
            out.push(Build::gcc::<Arm>(
                "relocs.c",
                &["-mcpu=cortex-m4", "-O2", extra, C[0], C[1]],
            ));
        }
        for cpu in ["-mcpu=cortex-m4", "-mcpu=cortex-m0plus"] {
            out.push(Build::gcc::<Arm>(
                "relocs.c",
                &[cpu, "-O2", "-fPIC", C[0], C[1]],
            ));
        }
        out.push(Build::gcc::<Arm>("arm.S", &["-mcpu=cortex-m4"]));
        out.push(Build::gcc::<Arm>(
            "arm.S",
            &["-mcpu=cortex-a7", "-DARM_STATE"],
        ));
    }
    for flags in [&["-mthumb"][..], &["-mthumb", "-fPIC"], &["-marm", "-fPIC"]] {
        let mut all = flags.to_vec();
        all.extend(["-O2", C[0], C[1]]);
        out.extend(linux_builds("relocs.c", &all));
    }
    out
}

/// `fixture` for Armv7-A Linux with `flags`: by clang, and by the Linux
/// gcc when installed (PIE by default: GOT_BREL and BASE_PREL even without
/// -fPIC).
fn linux_builds(fixture: &'static str, flags: &[&'static str]) -> Vec<Build> {
    let mut all = vec![LINUX_CLANG];
    all.extend_from_slice(flags);
    let mut out = vec![Build {
        fixture,
        compiler: Compiler::Clang,
        flags: all,
    }];
    if cross::available(LINUX_GCC) {
        out.push(Build {
            fixture,
            compiler: Compiler::Named(LINUX_GCC.into()),
            flags: flags.to_vec(),
        });
    }
    out
}

/// Every build against lld and GNU ld: bytes, except the places compared
/// by what they reach (far branches, far long-call literals, GOT-relative
/// words).
#[test]
fn objects_match_the_reference_linkers() {
    check_builds::<Arm>(&builds());
}

#[test]
fn fixtures_exercise_every_listed_type() {
    check_coverage::<Arm>(&builds());
}

/// The dynamic relocation types of Arm shared objects.
const SHARED: SharedTypes = SharedTypes {
    relative: R_ARM_RELATIVE,
    symbolic: &[R_ARM_ABS32, R_ARM_GLOB_DAT],
    symbol_only: &[R_ARM_JUMP_SLOT],
    jump_slot: R_ARM_JUMP_SLOT,
    irelative: None,
};

/// Shared objects linked by lld from M-profile objects (clang and
/// bare-metal gcc) and Armv7-A Linux ones (both states): every word a
/// dynamic relocation writes holds what AAELF32's formula gives (`GLOB_DAT`
/// with its `REL` addend, `JUMP_SLOT` the symbol alone, Thumb bit
/// included), and nothing else changed.
#[test]
fn shared_objects_apply_their_dynamic_relocations() {
    check_shared_objects::<Arm>(&SHARED);
    let mut failures = Vec::new();
    for build in linux_builds("shared.c", &["-O2", "-fPIC", C[1]]) {
        let errors = check_shared::<Arm>(&build.shared_object(), &SHARED);
        if !errors.is_empty() {
            failures.push(format!("{build}:\n  {}", errors.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Shared objects with general-dynamic TLS (M-profile and Linux objects):
/// given a module id, their `TLS_DTPMOD32` words hold the id and their
/// `TLS_DTPOFF32` words the variable's offset in the block plus the `REL`
/// addend (Arm's `TLS_DTV_OFFSET` is 0).
#[test]
fn shared_tls_words_hold_module_and_offset() {
    const MODULE: u64 = 7;
    let mut symbols = cross::host_symbols::<Arm>();
    symbols.push(HostSymbol {
        name: "__tls_get_addr",
        value: (BASE - 0x3_0000) | 1,
        proxy: None,
        kind: SymbolKind::Function,
    });
    let flags = ["-O2", "-fPIC"];
    let mut list = vec![Build::clang::<Arm>("tls.c", &flags)];
    if cross::available(Arm::GCC) {
        list.push(Build::gcc::<Arm>(
            "tls.c",
            &["-mcpu=cortex-m4", "-O2", "-fPIC"],
        ));
    }
    list.extend(linux_builds("tls.c", &flags));
    for build in list {
        let so = build.shared_object();
        let memory = BufferMemory::new(BASE);
        let options = LoadOptions {
            machine: Machine::Arm,
            ..LoadOptions::default()
        };
        let mut mapped = modlib::map(&so.bytes, &options, &memory)
            .unwrap_or_else(|e| panic!("{build}: map: {e}"));
        assert!(mapped.thread_local().is_some(), "{build}: no PT_TLS");
        mapped.set_tls_module(MODULE);
        let image = mapped
            .relocate(&cross::table(&symbols))
            .unwrap_or_else(|e| panic!("{build}: relocate: {e}"));
        let file = ElfBytes::<LittleEndian>::minimal_parse(&so.bytes).expect("parse .so");
        let dynsyms = file
            .dynamic_symbol_table()
            .expect("dynsym")
            .expect("has dynsym")
            .0;
        let rel = file
            .section_header_by_name(".rel.dyn")
            .expect("sections")
            .expect("has .rel.dyn");
        // The word the file holds at link-time address `vaddr` (the addend).
        let file_word = |vaddr: u64| {
            let shdrs = file.section_headers().expect("sections");
            let s = shdrs
                .iter()
                .find(|s| s.sh_addr <= vaddr && vaddr + 4 <= s.sh_addr + s.sh_size)?;
            let at = (s.sh_offset + vaddr - s.sh_addr) as usize;
            so.bytes.get(at..at + 4).map(cross::le_word)
        };
        let mut seen = (false, false);
        for r in cross::entries(&file, &rel).expect("REL entries") {
            let want = match r.r_type {
                R_ARM_TLS_DTPMOD32 => {
                    seen.0 = true;
                    MODULE
                }
                R_ARM_TLS_DTPOFF32 => {
                    seen.1 = true;
                    let s = dynsyms.get(r.sym as usize).expect("symbol").st_value;
                    let a = file_word(r.offset).expect("addend in the file");
                    s.wrapping_add(a) & 0xffff_ffff
                }
                _ => continue,
            };
            let at = image.base() + r.offset;
            let got = memory.read(at, 4).map(|b| cross::le_word(&b));
            assert_eq!(got, Some(want), "{build}: word at {at:#x}");
        }
        assert_eq!(
            seen,
            (true, true),
            "{build}: DTPMOD32 and DTPOFF32 expected"
        );
    }
}

/// A Thumb object whose `bl near_fn` meets an Arm-state host function
/// (bit 0 clear): refused on M-profile (`arm_state: false`) with
/// `Interworking` naming the symbol and the place, and loaded on A-profile
/// with that call turned into a `BLX` to the function.
#[test]
fn thumb_call_to_arm_state_needs_arm_state() {
    if !cross::available(Arm::GCC) {
        return;
    }
    let object = Build::gcc::<Arm>("arm.S", &["-mcpu=cortex-m4"]).object();
    let (r_type, section, offset) =
        cross::first_relocation(&object.bytes, |t| t == R_ARM_THM_CALL).expect("a THM_CALL");
    assert_eq!(
        (r_type, offset),
        (R_ARM_THM_CALL, 0),
        "`bl near_fn` comes first"
    );
    let near_fn = cross::host_symbols::<Arm>()
        .iter()
        .find(|s| s.name == "near_fn")
        .expect("near_fn")
        .value
        & !1;
    let symbols = cross::moved::<Arm>("near_fn", near_fn);
    let options = |arm_state| LoadOptions {
        machine: Machine::Arm,
        arm: ArmAbi {
            target2_got_relative: false,
            arm_state,
        },
        ..LoadOptions::default()
    };
    let table = cross::table(&symbols);

    let memory = BufferMemory::new(BASE);
    match modlib::load(&object.bytes, &options(false), &memory, &table).map(|_| ()) {
        Err(LoadError::Interworking {
            symbol,
            section: s,
            offset: o,
        }) => {
            assert_eq!((symbol.as_str(), s.as_str(), o), ("near_fn", &*section, 0));
        }
        other => panic!("expected Interworking, got {other:?}"),
    }
    assert_eq!(memory.live_reservations(), 0, "a failed load kept memory");

    let memory = BufferMemory::new(BASE);
    let _image =
        modlib::load(&object.bytes, &options(true), &memory, &table).expect("loads with Arm state");
    let layout = relocatable_layout(&object.bytes, Machine::Arm, 4096).expect("layout");
    let text = layout
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .expect(".text");
    let place = BASE + text.offset as u64;
    let insn = memory
        .read(place, 4)
        .map(|b| cross::le_word(&b) as u32)
        .expect("the call");
    assert_eq!(thumb_branch(place, insn), (near_fn, true), "{insn:#010x}");
}
