//! Arm exception index tables (`.ARM.exidx`, EHABI): a C++ Thumb object
//! with one index section per function is loaded at a fixed address; the
//! loader must place every index section together, in the order of the
//! code they describe, as one table (what `__gnu_Unwind_Find_exidx`
//! reports), with each entry's `PREL31` offset pointing into the loaded
//! code and entries sorted by code address. Executing the unwinder over it
//! is done by the Arm Linux and Cortex-M suites; this checks the table on
//! any host.

use modlib::{
    load, ArmAbi, LoadOptions, Machine, ProviderId, SymbolEntry, SymbolKind, SymbolTable,
};
use testkit::{fixtures, BufferMemory, Compiler};

const BASE: u64 = 0x1000_0000;

/// The C++ fixture built for a Cortex-M4 and for Arm Linux, when the
/// compilers are installed (required where `MODLIB_REQUIRE_CROSS` is set).
fn objects() -> Vec<(String, Vec<u8>)> {
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arm/throws.cpp");
    let builds: [(&str, &[&str]); 2] = [
        (
            "arm-none-eabi-g++",
            &[
                "-mcpu=cortex-m4",
                "-mthumb",
                "-O2",
                "-ffunction-sections",
                "-fno-rtti",
            ],
        ),
        (
            "arm-linux-gnueabihf-g++",
            &["-mthumb", "-O2", "-ffunction-sections", "-fno-pic"],
        ),
    ];
    let mut out = Vec::new();
    for (driver, flags) in builds {
        let compiler = Compiler::Named(String::from(driver));
        if !compiler.available() {
            assert!(
                std::env::var_os("MODLIB_REQUIRE_CROSS").is_none(),
                "{driver} is required (MODLIB_REQUIRE_CROSS)"
            );
            eprintln!("skipping {driver}: not installed");
            continue;
        }
        let fixture = fixtures::object(&compiler, &source, flags);
        out.push((format!("{driver} {}", flags.join(" ")), fixture.bytes));
    }
    out
}

fn host() -> SymbolTable<'static> {
    // Thumb functions of the host: odd addresses. The unwinder's
    // personality routines are resolved to a host stand-in as well.
    let names = [
        "host_value",
        "__cxa_allocate_exception",
        "__cxa_throw",
        "__cxa_begin_catch",
        "__cxa_end_catch",
        "__cxa_end_cleanup",
        "__cxa_free_exception",
        "__gxx_personality_v0",
        "__aeabi_unwind_cpp_pr0",
        "__aeabi_unwind_cpp_pr1",
        "_Unwind_Resume",
        "__cxa_call_unexpected",
        "_ZTIi",
    ];
    SymbolTable::new(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let kind = if n.starts_with("_ZTI") {
                    SymbolKind::Object
                } else {
                    SymbolKind::Function
                };
                let addr =
                    BASE - 0x1_0000 + 0x100 * i as u64 + u64::from(kind == SymbolKind::Function);
                SymbolEntry::new(n, addr, kind)
            })
            .collect(),
        ProviderId(1),
    )
    .expect("unique names")
}

#[test]
fn index_sections_form_one_sorted_table_over_the_code() {
    for (what, bytes) in objects() {
        let memory = BufferMemory::new(BASE);
        let options = LoadOptions {
            machine: Machine::Arm,
            arm: ArmAbi {
                target2_got_relative: what.contains("linux"),
                arm_state: what.contains("linux"),
            },
            ..LoadOptions::default()
        };
        let image =
            load(&bytes, &options, &memory, &host()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let (table, size) = image
            .exception_index()
            .unwrap_or_else(|| panic!("{what}: no index"));
        assert!(
            size >= 4 * 8,
            "{what}: one entry per function at least, got {size} bytes"
        );
        assert_eq!(size % 8, 0, "{what}");
        let bytes = memory.read(table, size).expect("table in the image");
        let code = image
            .regions()
            .iter()
            .find(|r| r.protection == modlib::Protection::ReadExecute)
            .copied()
            .expect("code region");
        let mut last = 0u64;
        for (i, entry) in bytes.chunks_exact(8).enumerate() {
            let word = u32::from_le_bytes(entry[..4].try_into().unwrap());
            assert_eq!(
                word >> 31,
                0,
                "{what}: entry {i}: bit 31 of the offset word is clear"
            );
            // PREL31: a signed 31-bit offset from the entry itself.
            let offset = i64::from(((word << 1) as i32) >> 1);
            let place = table + 8 * i as u64;
            let function = place.wrapping_add(offset as u64);
            assert!(
                code.addr <= function && function < code.addr + code.size as u64,
                "{what}: entry {i} points at {function:#x}, outside the code"
            );
            assert!(function > last, "{what}: entry {i} is out of order");
            last = function;
        }
        for name in ["catch_here", "pass_through", "unwind_with_cleanup"] {
            let f = image
                .symbol(name)
                .unwrap_or_else(|| panic!("{what}: {name}"))
                .address;
            assert_eq!(f & 1, 1, "{what}: {name} keeps its Thumb bit");
        }
        drop(image);
        assert_eq!(memory.live_reservations(), 0, "{what}: memory returned");
    }
}

/// The section type of Arm's index is processor-specific: x86_64 uses the
/// same number for `.eh_frame` (`SHT_X86_64_UNWIND`), which is no Arm
/// index and must not be reported as one.
#[test]
fn other_machines_unwind_sections_are_not_an_arm_index() {
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arm/throws.cpp");
    // clang's assembler types `.eh_frame` SHT_X86_64_UNWIND (GNU as keeps
    // it PROGBITS).
    let compiler = Compiler::Named(String::from("clang++"));
    if cfg!(not(target_arch = "x86_64")) || !compiler.available() {
        eprintln!("skipping: needs an x86_64 host with clang++");
        return;
    }
    let object = fixtures::object(&compiler, &source, &["-O2", "-ffunction-sections", "-fPIC"]);
    let file =
        elf::ElfBytes::<elf::endian::LittleEndian>::minimal_parse(&object.bytes).expect("parses");
    let unwind = file
        .section_headers()
        .expect("sections")
        .iter()
        .filter(|s| s.sh_type == 0x7000_0001)
        .count();
    assert!(unwind > 0, "clang++ marks .eh_frame SHT_X86_64_UNWIND");
    let memory = testkit::HostMemory::new(testkit::Placement::Low2G);
    let options = LoadOptions {
        machine: Machine::X86_64,
        ..LoadOptions::default()
    };
    let image = load(&object.bytes, &options, &memory, &host()).expect("loads");
    assert_eq!(image.exception_index(), None);
}
