//! Relocatable objects (`ET_REL`) compiled from C at test time, loaded and
//! executed: `module.c` in every build of the matrix (gcc and clang, -O0/-O2,
//! PIC and not, and each machine's other code models), calls to far host
//! functions through synthesised stubs, `.eh_frame` relocated in place, the
//! relocation types the fixtures exercise (x86-64; the other machines'
//! tables are in the `diff_*` tests), and the overflow a non-PIC object
//! meets when it references far host addresses (on a 64-bit machine; on a
//! 32-bit one such references reach everything). Runs on the machine it is
//! built for: natively on x86-64, under qemu-user for riscv64, aarch64 and
//! 32-bit Arm (where `.ARM.exidx` takes the place of `.eh_frame`).

mod common;

use elf::abi::{SHT_REL, SHT_RELA};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{load, LoadOptions, LoadedImage, Memory, ObjectKind, Protection};
use testkit::{CountingMemory, HostMemory, Placement};

use common::{
    check_protections, code_address, exercise_module, fn_addr, host_add, host_table, image_bytes,
    protection_at, rel_matrix, HostData,
};

const TWO_GIB: u64 = 1 << 31;

/// This machine's 64-bit absolute relocation, which reaches anything.
#[cfg(target_pointer_width = "64")]
const ABS64: u32 = if cfg!(target_arch = "riscv64") {
    elf::abi::R_RISCV_64
} else if cfg!(target_arch = "aarch64") {
    elf::abi::R_AARCH64_ABS64
} else {
    elf::abi::R_X86_64_64
};

/// The relocation types with which small-model non-PIC code reaches other
/// addresses, and which overflow when those are far away.
#[cfg(target_pointer_width = "64")]
const NEAR_TYPES: &[u32] = if cfg!(target_arch = "riscv64") {
    &[elf::abi::R_RISCV_HI20, elf::abi::R_RISCV_PCREL_HI20]
} else if cfg!(target_arch = "aarch64") {
    &[elf::abi::R_AARCH64_ADR_PREL_PG_HI21]
} else {
    &[
        elf::abi::R_X86_64_PC32,
        elf::abi::R_X86_64_32,
        elf::abi::R_X86_64_32S,
    ]
};

#[test]
fn module_object_runs_in_every_build() {
    for build in rel_matrix() {
        let ctx = build.to_string();
        let fx = build.object("module.c", &[]);
        let mem = CountingMemory::new(HostMemory::new(build.placement));
        {
            let host = HostData::new();
            let table = host_table(&host);
            let image = load(&fx.bytes, &LoadOptions::default(), &mem, &table)
                .unwrap_or_else(|e| panic!("{ctx}: load: {e}"));
            assert_eq!(image.kind(), ObjectKind::Relocatable, "{ctx}");
            if build.placement == Placement::Low2G {
                let end = image.start() + image.size() as u64;
                assert!(end <= TWO_GIB, "{ctx}: non-PIC image at {image:?}");
            }
            exercise_module(&image, &build, &host);
            check_eh_frame(&image, &fx.bytes, &ctx);
        }
        assert_eq!(mem.live_bytes(), 0, "{ctx}: memory leaked");
        assert_eq!(mem.live_reservations(), 0, "{ctx}: reservation leaked");
    }
}

/// Images placed far from the test executable cannot reach host functions
/// with a direct call (x86-64 PLT32/PC32, RISC-V CALL, AArch64 CALL26, Arm
/// THM_CALL and CALL): calls must go through a stub the loader writes into
/// the image. On 32-bit Arm both Thumb-2 and Arm-state callers.
#[test]
fn far_calls_go_through_stubs() {
    let target = fn_addr(host_add as *const ());
    let builds = rel_matrix()
        .into_iter()
        .filter(|b| b.is_basic() || b.has("-marm"));
    for build in builds {
        let ctx = build.to_string();
        let fx = build.object("module.c", &[]);
        // Far from the executable even where fresh mappings land near it.
        let placement = match build.placement {
            Placement::Anywhere => Placement::Far,
            other => other,
        };
        let mem = CountingMemory::new(HostMemory::new(placement));
        {
            let host = HostData::new();
            let table = host_table(&host);
            let image = load(&fx.bytes, &LoadOptions::default(), &mem, &table)
                .unwrap_or_else(|e| panic!("{ctx}: load: {e}"));
            let distance = target.abs_diff(image.start());
            assert!(
                distance > common::BRANCH_REACH,
                "{ctx}: host_add ({target:#x}) is only {distance:#x} from the image ({:#x})",
                image.start()
            );
            assert!(
                common::calls_through_stub(&image, "add_via_host", target),
                "{ctx}: add_via_host does not reach host_add through a stub"
            );
            // SAFETY: `add_via_host` is `int (int, int)` in module.c; its
            // constructors are not needed for it.
            let add: extern "C" fn(i32, i32) -> i32 =
                unsafe { common::get(&image, "add_via_host") };
            assert_eq!(add(20, 22), 49, "{ctx}: far call through the stub");
        }
        assert_eq!(mem.live_bytes(), 0, "{ctx}: memory leaked");
    }
}

/// Small-model non-PIC code reaches other addresses with 32-bit fields; the
/// host is more than 2 GiB away, so a data reference (or a function's
/// address) cannot be relocated: the load fails naming the symbol, and
/// gives everything back.
#[cfg(target_pointer_width = "64")]
#[test]
fn far_non_pic_references_overflow() {
    use common::Build;
    use modlib::LoadError;
    use testkit::Compiler;

    static FAR_VALUE: i32 = 5;
    for cc in Compiler::host_compilers() {
        for opt in ["-O0", "-O2"] {
            let build = Build::new(&cc, &[opt, "-fno-pic"]);
            for (define, symbol) in [(&["-DFAR_DATA"][..], "host_value"), (&[][..], "host_add")] {
                let ctx = format!("{build} {define:?}");
                let fx = build.object("far.c", define);
                let mem = CountingMemory::new(HostMemory::new(Placement::Low2G));
                let host = HostData::new();
                let mut entries = owned_entries(&host_table(&host));
                let value = entries.iter_mut().find(|e| e.name == "host_value").unwrap();
                value.symbol.address = std::ptr::from_ref(&FAR_VALUE) as u64;
                let table = modlib::SymbolTable::new(entries, common::HOST).unwrap();
                let far = table.get(symbol).unwrap().address;
                assert!(far > 1 << 32, "{ctx}: host symbol {far:#x} is not far away");

                let types = relocations_against(&fx.bytes, symbol);
                let wide = types.iter().all(|&t| t == ABS64);
                match load(&fx.bytes, &LoadOptions::default(), &mem, &table) {
                    Err(LoadError::RelocationOverflow {
                        r_type, symbol: s, ..
                    }) => {
                        assert!(
                            !wide,
                            "{ctx}: overflow although only 64-bit fields are used"
                        );
                        assert_eq!(s, symbol, "{ctx}: overflow names the wrong symbol");
                        assert!(
                            NEAR_TYPES.contains(&r_type),
                            "{ctx}: overflow of relocation type {r_type}"
                        );
                    }
                    Ok(image) => {
                        // Only a 64-bit absolute reference (clang -O0 takes
                        // function addresses with movabs) can reach the host.
                        assert!(
                            wide,
                            "{ctx}: loaded although {types:?} cannot reach {far:#x}"
                        );
                        // SAFETY: `far_function_address` is `void *(void)`.
                        let f: extern "C" fn() -> u64 =
                            unsafe { common::get(&image, "far_function_address") };
                        assert_eq!(f(), far, "{ctx}: function address");
                    }
                    Err(e) => panic!("{ctx}: unexpected error {e}"),
                }
                assert_eq!(mem.live_bytes(), 0, "{ctx}: memory leaked");
                assert_eq!(mem.live_reservations(), 0, "{ctx}: reservation leaked");
            }
        }
    }
}

/// The absolute relocation types with which non-PIC code of this 32-bit
/// machine reaches other addresses: Arm's literal words and MOVW/MOVT
/// pairs (Arm and Thumb-2).
#[cfg(target_pointer_width = "32")]
const ABSOLUTE_TYPES: &[u32] = &[
    elf::abi::R_ARM_ABS32,
    elf::abi::R_ARM_MOVW_ABS_NC,
    elf::abi::R_ARM_MOVT_ABS,
    elf::abi::R_ARM_THM_MOVW_ABS_NC,
    elf::abi::R_ARM_THM_MOVT_ABS,
];

/// On a 32-bit machine non-PIC code reaches other addresses with absolute
/// 32-bit fields, which cover the whole address space: host data and a host
/// function's address beyond every direct branch from an image placed far
/// from the executable relocate, and the code sees them. (What overflows on
/// a 64-bit machine, see `far_non_pic_references_overflow`.)
#[cfg(target_pointer_width = "32")]
#[test]
fn far_non_pic_references_reach_the_whole_address_space() {
    static FAR_VALUE: i32 = 5;
    for build in rel_matrix().into_iter().filter(|b| b.has("-fno-pic")) {
        for (define, symbol) in [(&["-DFAR_DATA"][..], "host_value"), (&[][..], "host_add")] {
            let ctx = format!("{build} {define:?}");
            let fx = build.object("far.c", define);
            let types = relocations_against(&fx.bytes, symbol);
            assert!(
                types.iter().all(|t| ABSOLUTE_TYPES.contains(t)),
                "{ctx}: {types:?} are not all absolute"
            );
            let mem = CountingMemory::new(HostMemory::new(Placement::Far));
            {
                let host = HostData::new();
                let mut entries = owned_entries(&host_table(&host));
                let value = entries.iter_mut().find(|e| e.name == "host_value").unwrap();
                value.symbol.address = std::ptr::from_ref(&FAR_VALUE) as u64;
                let table = modlib::SymbolTable::new(entries, common::HOST).unwrap();
                let far = table.get(symbol).unwrap().address;
                let image = load(&fx.bytes, &LoadOptions::default(), &mem, &table)
                    .unwrap_or_else(|e| panic!("{ctx}: load: {e}"));
                let distance = far.abs_diff(image.start());
                assert!(
                    distance > common::BRANCH_REACH,
                    "{ctx}: {symbol} ({far:#x}) is only {distance:#x} from the image"
                );
                if symbol == "host_value" {
                    // SAFETY: `read_far` is `int (void)` in far.c.
                    let read: extern "C" fn() -> i32 = unsafe { common::get(&image, "read_far") };
                    assert_eq!(read(), FAR_VALUE + 1, "{ctx}: far host data");
                } else {
                    // SAFETY: `far_function_address` is `void *(void)`.
                    let f: extern "C" fn() -> usize =
                        unsafe { common::get(&image, "far_function_address") };
                    assert_eq!(f() as u64, far, "{ctx}: far function address");
                }
            }
            assert_eq!(mem.live_bytes(), 0, "{ctx}: memory leaked");
            assert_eq!(mem.live_reservations(), 0, "{ctx}: reservation leaked");
        }
    }
}

/// The fixtures exercise every relocation type the loader handles for
/// x86-64 objects, and the section kinds the suite claims to cover.
#[cfg(target_arch = "x86_64")]
#[test]
fn fixtures_exercise_every_relocation_type_and_section_kind() {
    use elf::abi::{
        R_X86_64_32, R_X86_64_32S, R_X86_64_64, R_X86_64_GOT64, R_X86_64_GOTOFF64,
        R_X86_64_GOTPC32, R_X86_64_GOTPC64, R_X86_64_GOTPCREL, R_X86_64_GOTPCRELX, R_X86_64_PC32,
        R_X86_64_PC64, R_X86_64_PLT32, R_X86_64_PLTOFF64, R_X86_64_REX_GOTPCRELX, SHF_ALLOC,
        SHF_MERGE, SHF_STRINGS, SHN_COMMON,
    };
    const REQUIRED: [(u32, &str); 14] = [
        (R_X86_64_64, "64"),
        (R_X86_64_PC32, "PC32"),
        (R_X86_64_PLT32, "PLT32"),
        (R_X86_64_32, "32"),
        (R_X86_64_32S, "32S"),
        (R_X86_64_PC64, "PC64"),
        (R_X86_64_GOTPCREL, "GOTPCREL"),
        (R_X86_64_GOTPCRELX, "GOTPCRELX"),
        (R_X86_64_REX_GOTPCRELX, "REX_GOTPCRELX"),
        (R_X86_64_GOTOFF64, "GOTOFF64"),
        (R_X86_64_GOTPC32, "GOTPC32"),
        (R_X86_64_GOTPC64, "GOTPC64"),
        (R_X86_64_GOT64, "GOT64"),
        (R_X86_64_PLTOFF64, "PLTOFF64"),
    ];
    let mut seen = std::collections::BTreeSet::new();
    let mut merged_strings = false;
    for build in rel_matrix() {
        let ctx = build.to_string();
        let fx = build.object("module.c", &[]);
        let types = relocation_types(&fx.bytes);
        if build.is_basic() && build.has("-fno-pic") && build.has("-O0") {
            for t in [R_X86_64_32, R_X86_64_32S] {
                assert!(
                    types.contains(&t),
                    "{ctx}: no relocation of type {t}: {types:?}"
                );
            }
        }
        seen.extend(types);

        let file = ElfBytes::<LittleEndian>::minimal_parse(&fx.bytes).unwrap();
        let (shdrs, names) = file.section_headers_with_strtab().unwrap();
        let (shdrs, names) = (shdrs.unwrap(), names.unwrap());
        let named = |want: &str| {
            shdrs
                .iter()
                .find(|s| names.get(s.sh_name as usize).is_ok_and(|n| n == want))
        };
        let eh = named(".eh_frame").unwrap_or_else(|| panic!("{ctx}: no .eh_frame"));
        assert!(
            eh.sh_flags & u64::from(SHF_ALLOC) != 0,
            "{ctx}: .eh_frame not allocated"
        );
        let modinfo = named(".modinfo").unwrap_or_else(|| panic!("{ctx}: no .modinfo"));
        assert!(modinfo.sh_flags & u64::from(SHF_ALLOC) != 0, "{ctx}");
        let strings = u64::from(SHF_MERGE | SHF_STRINGS);
        merged_strings |= shdrs.iter().any(|s| s.sh_flags & strings == strings);

        let (symtab, strtab) = file.symbol_table().unwrap().unwrap();
        let common = symtab
            .iter()
            .find(|s| {
                strtab
                    .get(s.st_name as usize)
                    .is_ok_and(|n| n == "common_counter")
            })
            .unwrap_or_else(|| panic!("{ctx}: no common_counter"));
        assert_eq!(
            common.st_shndx, SHN_COMMON,
            "{ctx}: common_counter is not SHN_COMMON"
        );

        if build.is_basic() {
            assert!(
                has_jump_table(&fx.path, "dense_switch"),
                "{ctx}: dense_switch compiled without an indirect jump"
            );
        }
    }
    for (t, name) in REQUIRED {
        assert!(
            seen.contains(&t),
            "no fixture has an R_X86_64_{name} relocation"
        );
    }
    assert!(
        merged_strings,
        "no fixture has a SHF_MERGE|SHF_STRINGS section"
    );
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A table's entries with names of their own, to edit and build anew.
fn owned_entries(table: &modlib::SymbolTable<'_>) -> Vec<modlib::SymbolEntry<'static>> {
    table
        .iter()
        .map(|(name, symbol)| modlib::SymbolEntry {
            name: name.to_owned().into(),
            symbol,
        })
        .collect()
}

/// Every relocation type in the `SHT_RELA` sections of an object.
#[cfg(target_arch = "x86_64")]
fn relocation_types(object: &[u8]) -> std::collections::BTreeSet<u32> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).unwrap();
    let mut out = std::collections::BTreeSet::new();
    for shdr in file.section_headers().unwrap().iter() {
        if shdr.sh_type == SHT_RELA {
            out.extend(file.section_data_as_relas(&shdr).unwrap().map(|r| r.r_type));
        }
    }
    out
}

/// The types of the relocations (`RELA` or `REL`) against the symbol
/// called `name`.
fn relocations_against(object: &[u8], name: &str) -> Vec<u32> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).unwrap();
    let (symtab, strtab) = file.symbol_table().unwrap().unwrap();
    let index = symtab
        .iter()
        .position(|s| strtab.get(s.st_name as usize).is_ok_and(|n| n == name))
        .unwrap_or_else(|| panic!("no symbol {name}"));
    let mut out = Vec::new();
    for shdr in file.section_headers().unwrap().iter() {
        if shdr.sh_type == SHT_RELA {
            let relas = file.section_data_as_relas(&shdr).unwrap();
            out.extend(
                relas
                    .filter(|r| r.r_sym as usize == index)
                    .map(|r| r.r_type),
            );
        } else if shdr.sh_type == SHT_REL {
            let rels = file.section_data_as_rels(&shdr).unwrap();
            out.extend(rels.filter(|r| r.r_sym as usize == index).map(|r| r.r_type));
        }
    }
    assert!(!out.is_empty(), "no relocation against {name}");
    out
}

/// Whether `objdump` shows an indirect jump through a register or a scaled
/// table index in `function` (how a jump table is dispatched).
#[cfg(target_arch = "x86_64")]
fn has_jump_table(object: &std::path::Path, function: &str) -> bool {
    let out = std::process::Command::new("objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(object)
        .output()
        .expect("run objdump");
    assert!(out.status.success(), "objdump failed");
    let text = String::from_utf8_lossy(&out.stdout);
    let header = format!("<{function}>:");
    text.lines()
        .skip_while(|l| !l.ends_with(&header))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .any(|l| l.contains("jmp") && (l.contains("*%r") || l.contains("(,%")))
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

fn uleb(b: &[u8], off: &mut usize) -> u64 {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = b[*off];
        *off += 1;
        value |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            return value;
        }
    }
}

/// The FDE pointer encoding (`R` augmentation) of the CIE at the start of `cie`.
fn fde_encoding(cie: &[u8]) -> u8 {
    let version = cie[8];
    let aug_end = 9 + cie[9..].iter().position(|&b| b == 0).unwrap();
    let aug = &cie[9..aug_end];
    let mut off = aug_end + 1;
    uleb(cie, &mut off); // code alignment
    uleb(cie, &mut off); // data alignment (sleb; only skipped)
    if version == 1 {
        off += 1;
    } else {
        uleb(cie, &mut off);
    }
    assert_eq!(aug.first(), Some(&b'z'), "CIE augmentation {aug:?}");
    uleb(cie, &mut off); // augmentation data length
    for &c in &aug[1..] {
        match c {
            b'R' => return cie[off],
            b'L' => off += 1,
            other => panic!("unexpected CIE augmentation {}", other as char),
        }
    }
    panic!("CIE without an FDE encoding");
}

/// `.eh_frame` is loaded (it is `SHF_ALLOC`) and relocated: found in the
/// image by its first CIE, every FDE's PC-relative start must point into
/// the image's code, and the FDEs must cover the exported functions. On
/// 32-bit Arm, whose unwind tables are `.ARM.exidx`, that is checked.
fn check_eh_frame<M: Memory>(image: &LoadedImage<M>, object: &[u8], ctx: &str) {
    if cfg!(target_arch = "arm") {
        return check_exidx(image, object, ctx);
    }
    let file = ElfBytes::<LittleEndian>::minimal_parse(object).unwrap();
    let shdr = file.section_header_by_name(".eh_frame").unwrap().unwrap();
    let data = file.section_data(&shdr).unwrap().0;
    let cie = &data[..4 + u32_at(data, 0) as usize];
    assert_eq!(
        u32_at(cie, 4),
        0,
        "{ctx}: .eh_frame does not start with a CIE"
    );
    let at = image
        .regions()
        .iter()
        .filter(|r| r.protection == Protection::Read)
        .find_map(|r| {
            let bytes = image_bytes(image, r.addr, r.size)?;
            let pos = bytes.windows(cie.len()).position(|w| w == cie)?;
            Some(r.addr + pos as u64)
        })
        .unwrap_or_else(|| panic!("{ctx}: .eh_frame not found in the read-only data"));
    let loaded = image_bytes(image, at, data.len()).unwrap();
    let mut starts = Vec::new();
    let mut off = 0;
    while off + 8 <= loaded.len() {
        let len = u32_at(loaded, off) as usize;
        if len == 0 {
            break;
        }
        let id = u32_at(loaded, off + 4) as usize;
        if id != 0 {
            let enc = fde_encoding(&loaded[off + 4 - id..]);
            assert_eq!(
                enc & 0x70,
                0x10,
                "{ctx}: FDE encoding {enc:#x} is not PC-relative"
            );
            let field = at + off as u64 + 8;
            let (begin, range) = match enc & 0x0f {
                0x0b => (
                    i64::from(u32_at(loaded, off + 8) as i32),
                    u64::from(u32_at(loaded, off + 12)),
                ),
                0x0c => (u64_at(loaded, off + 8) as i64, u64_at(loaded, off + 16)),
                other => panic!("{ctx}: FDE value format {other:#x}"),
            };
            let start = field.wrapping_add(begin as u64);
            for a in [start, start + range.max(1) - 1] {
                assert_eq!(
                    protection_at(image, a),
                    Some(Protection::ReadExecute),
                    "{ctx}: FDE at +{off:#x} covers {start:#x}+{range:#x}, outside the code"
                );
            }
            starts.push(start);
        }
        off += 4 + len;
    }
    for f in ["fib", "dense_switch", "add_via_host"] {
        let addr = image.symbol(f).unwrap().address;
        assert!(
            starts.contains(&addr),
            "{ctx}: no FDE starts at {f} ({addr:#x})"
        );
    }
    check_protections(image, ctx);
}

/// A `PREL31` field (Arm's 31-bit place-relative offsets of the unwind
/// tables) at `field`, resolved.
fn prel31(field: u64, word: u32) -> u64 {
    field.wrapping_add(i64::from(((word << 1) as i32) >> 1) as u64)
}

/// Arm's unwind index, `.ARM.exidx` (one per code section), is loaded
/// read-only where the object's layout says and relocated: each entry's
/// `PREL31` function start points into the image's code, its second word is
/// `EXIDX_CANTUNWIND`, inline unwind instructions, or a `PREL31` pointer
/// into the image's read-only `.ARM.extab`; the entries cover the exported
/// functions.
fn check_exidx<M: Memory>(image: &LoadedImage<M>, object: &[u8], ctx: &str) {
    let page = HostMemory::default().page_size();
    let layout = modlib::inspect::relocatable_layout(object, image.machine(), page)
        .unwrap_or_else(|e| panic!("{ctx}: layout: {e}"));
    let mut starts = Vec::new();
    let indexes = layout
        .sections
        .iter()
        .filter(|s| s.name.starts_with(".ARM.exidx"));
    for section in indexes {
        let at = image.start() + section.offset as u64;
        let what = format!("{ctx}: {} at {at:#x}", section.name);
        assert_eq!(
            protection_at(image, at),
            Some(Protection::Read),
            "{what}: not read-only"
        );
        let loaded = image_bytes(image, at, section.size).expect("index bytes");
        for (i, entry) in loaded.chunks_exact(8).enumerate() {
            let field = at + 8 * i as u64;
            let start = code_address(prel31(field, u32_at(entry, 0)));
            assert_eq!(
                protection_at(image, start),
                Some(Protection::ReadExecute),
                "{what}: entry {i} starts at {start:#x}, outside the code"
            );
            let data = u32_at(entry, 4);
            if data != 1 && data & 0x8000_0000 == 0 {
                let table = prel31(field + 4, data);
                assert_eq!(
                    protection_at(image, table),
                    Some(Protection::Read),
                    "{what}: entry {i}'s table at {table:#x} is not read-only data"
                );
            }
            starts.push(start);
        }
    }
    assert!(!starts.is_empty(), "{ctx}: no .ARM.exidx entries");
    for f in ["fib", "dense_switch", "add_via_host"] {
        let addr = code_address(image.symbol(f).unwrap().address);
        assert!(
            starts.contains(&addr),
            "{ctx}: no unwind index entry starts at {f} ({addr:#x})"
        );
    }
    check_protections(image, ctx);
}

/// Undefined weak references from non-PIC (and PIC) code in an image far
/// from address 0 (beyond every PC-relative reach of it): the guarded call is
/// skipped, the addresses read as null, the PC-relative address sequence
/// of `weak_far.c` gives null as well, and on Arm and AArch64 an unguarded
/// call returns at once (the ABIs make it a no-op).
#[test]
fn undefined_weak_references_from_far_non_pic_code() {
    use common::Build;
    use testkit::Compiler;

    for cc in Compiler::host_compilers() {
        // The default code model of x86-64 (at -O0, clang's `movq %rax,
        // var`) and riscv64's medlow take the module's own addresses as
        // 32-bit absolutes, which only an image in the low 2 GiB satisfies;
        // riscv64 builds far code with medany.
        let mut flags: Vec<&[&str]> = vec![&["-O2", "-fPIC"]];
        if cfg!(target_arch = "riscv64") {
            flags.push(&["-O0", "-fno-pic", "-mcmodel=medany"]);
            flags.push(&["-O2", "-fno-pic", "-mcmodel=medany"]);
        } else {
            flags.push(&["-O2", "-fno-pic"]);
        }
        if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
            flags.push(&["-O0", "-fno-pic"]);
        }
        if cfg!(target_arch = "arm") {
            flags.push(&["-O2", "-fno-pic", "-marm"]);
        }
        for f in flags {
            let build = Build::new(&cc, f);
            let ctx = build.to_string();
            let fx = build.object("weak_far.c", &[]);
            let mem = CountingMemory::new(HostMemory::new(Placement::Far));
            {
                let host = HostData::new();
                let table = host_table(&host);
                let image = load(&fx.bytes, &LoadOptions::default(), &mem, &table)
                    .unwrap_or_else(|e| panic!("{ctx}: load: {e}"));
                let reach = if cfg!(target_pointer_width = "64") {
                    1 << 32
                } else {
                    common::BRANCH_REACH
                };
                assert!(
                    image.start() > reach,
                    "{ctx}: image at {:#x} is not far from address 0",
                    image.start()
                );
                // SAFETY: `probe_weak` and `call_missing` are `int (void)`
                // in weak_far.c.
                let probe: extern "C" fn() -> i32 = unsafe { common::get(&image, "probe_weak") };
                assert_eq!(probe(), 0b1111, "{ctx}: missing symbols are null");
                if cfg!(any(target_arch = "aarch64", target_arch = "arm")) {
                    // SAFETY: as above.
                    let call: extern "C" fn() -> i32 =
                        unsafe { common::get(&image, "call_missing") };
                    assert_eq!(call(), 1, "{ctx}: the unguarded call is a no-op");
                    assert_eq!(call(), 2, "{ctx}: the unguarded call is a no-op");
                }
                if image.symbol("pcrel_address").is_some() {
                    // SAFETY: `pcrel_address` is `void *(void)`.
                    let address: extern "C" fn() -> usize =
                        unsafe { common::get(&image, "pcrel_address") };
                    assert_eq!(
                        address(),
                        0,
                        "{ctx}: PC-relative address of a missing symbol"
                    );
                }
            }
            assert_eq!(mem.live_bytes(), 0, "{ctx}: memory leaked");
            assert_eq!(mem.live_reservations(), 0, "{ctx}: reservation leaked");
        }
    }
}
