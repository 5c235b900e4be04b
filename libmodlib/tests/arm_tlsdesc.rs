//! 32-bit Arm TLS descriptors (`R_ARM_TLS_DESC`, in `REL` tables): a
//! shared object built with `-mtls-dialect=gnu2` is relocated on any host
//! (nothing runs), and each descriptor must become (address of a
//! `tls_index` record, resolver), argument first as on Arm, with the
//! record holding the module id and the variable's offset: the symbol's
//! value for a named descriptor (whose first word GNU ld fills with a
//! lazy-binding value, no addend), the first word for one without symbol.

use elf::abi::{R_ARM_TLS_DESC, SHT_NOBITS};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{ArmAbi, LoadOptions, Machine, ProviderId, SymbolTable};
use testkit::{fixtures, BufferMemory, Compiler};

const BASE: u64 = 0x1000_0000;
const MODULE: u64 = 7;
const RESOLVER: u64 = 0x0765_4320;

/// The fixture in Thumb-2 and Arm state, without section anchors (each
/// static variable its own descriptor), if the cross compiler is there.
fn objects() -> Vec<(String, Vec<u8>)> {
    let source =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arm/tlsdesc.c");
    let compiler = Compiler::Named(String::from("arm-linux-gnueabihf-gcc"));
    if !compiler.available() {
        assert!(
            std::env::var_os("MODLIB_REQUIRE_CROSS").is_none(),
            "arm-linux-gnueabihf-gcc is required (MODLIB_REQUIRE_CROSS)"
        );
        eprintln!("skipping: arm-linux-gnueabihf-gcc is not installed");
        return Vec::new();
    }
    let common = [
        "-fPIC",
        "-O1",
        "-nostdlib",
        "-mtls-dialect=gnu2",
        "-fno-section-anchors",
    ];
    [&["-mthumb"][..], &["-marm"][..]]
        .into_iter()
        .map(|state| {
            let flags: Vec<&str> = common.iter().chain(state).copied().collect();
            let fixture = fixtures::shared(&compiler, &[&source], &flags);
            (flags.join(" "), fixture.bytes)
        })
        .collect()
}

/// Each `R_ARM_TLS_DESC` of the file: where it is, and the variable's
/// offset in the module's block it must resolve to.
fn descriptors(bytes: &[u8]) -> Vec<(u64, u64)> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(bytes).expect("parses");
    let (symbols, _) = file
        .dynamic_symbol_table()
        .expect("reads")
        .expect("has .dynsym");
    let sections = file.section_headers().expect("has sections");
    // The 32-bit word the file holds at `vaddr`.
    let word_at = |vaddr: u64| {
        let s = sections
            .iter()
            .find(|s| {
                s.sh_type != SHT_NOBITS && (s.sh_addr..s.sh_addr + s.sh_size).contains(&vaddr)
            })
            .expect("in a section");
        let at = (s.sh_offset + vaddr - s.sh_addr) as usize;
        u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()))
    };
    let mut out = Vec::new();
    for name in [".rel.dyn", ".rel.plt"] {
        let Some(header) = file.section_header_by_name(name).expect("reads") else {
            continue;
        };
        for rel in file.section_data_as_rels(&header).expect("REL entries") {
            if rel.r_type != R_ARM_TLS_DESC {
                continue;
            }
            let offset = if rel.r_sym == 0 {
                word_at(rel.r_offset)
            } else {
                symbols.get(rel.r_sym as usize).expect("symbol").st_value
            };
            out.push((rel.r_offset, offset));
        }
    }
    out
}

#[test]
fn descriptors_in_rel_tables_put_the_argument_first() {
    for (what, bytes) in objects() {
        let expected = descriptors(&bytes);
        // Both kinds are there, and an addend the loader must read.
        assert!(expected.len() >= 4, "{what}: {expected:x?}");
        assert!(
            expected.iter().any(|&(_, offset)| offset != 0),
            "{what}: {expected:x?}"
        );
        let memory = BufferMemory::new(BASE);
        let options = LoadOptions {
            machine: Machine::Arm,
            arm: ArmAbi {
                target2_got_relative: true,
                arm_state: true,
            },
            ..LoadOptions::default()
        };
        let mut mapped =
            modlib::map(&bytes, &options, &memory).unwrap_or_else(|e| panic!("{what}: {e}"));
        mapped.set_tls_module(MODULE);
        mapped.set_tls_descriptor_resolver(RESOLVER);
        let host = SymbolTable::new(Vec::new(), ProviderId(1)).expect("empty host");
        let image = mapped
            .relocate(&host)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let word = |addr: u64| {
            let b = memory.read(addr, 4).expect("in the image");
            u64::from(u32::from_le_bytes(b.try_into().unwrap()))
        };
        let mut records = Vec::new();
        for &(place, offset) in &expected {
            let at = image.base() + place;
            let record = word(at);
            assert_eq!(
                word(at + 4),
                RESOLVER,
                "{what}: {place:#x}: the resolver second"
            );
            assert!(
                image.contains(record),
                "{what}: {place:#x}: record {record:#x}"
            );
            assert_eq!(
                (word(record), word(record + 4)),
                (MODULE, offset),
                "{what}: {place:#x}: the record (module, offset)"
            );
            records.push(record);
        }
        records.sort_unstable();
        records.dedup();
        assert_eq!(records.len(), expected.len(), "{what}: a record each");
    }
}
