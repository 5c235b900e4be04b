//! Shared objects (`ET_DYN`, `-shared -fPIC -nostdlib`) compiled and linked
//! from C at test time, loaded and executed: `module.c` in every build
//! (gcc and clang, -O0/-O2, GNU ld and lld) with RELRO, `DT_RELR`,
//! `DT_HASH`-only and `DT_GNU_HASH`-only builds; symbol versions; IFUNCs;
//! a dependency named by `DT_NEEDED`, with `DT_SONAME`, `DT_RUNPATH`/
//! `DT_RPATH`, `DT_INIT` and `DT_FINI`; and loading in two steps (map, then
//! relocate), with references to an IFUNC of an object not relocated yet
//! waiting for it.

mod common;

use std::process::Command;

use elf::abi::{DT_GNU_HASH, DT_HASH, PT_GNU_RELRO, SHN_UNDEF, STB_LOCAL};
use elf::endian::LittleEndian;
use elf::ElfBytes;
use modlib::{
    load, map, Chain, HwCaps, LoadError, LoadOptions, LoadedImage, Lookup, MappedImage, Memory,
    ObjectKind, Protection, ProviderId, Resolved, SymbolKind, SymbolResolver,
};
use testkit::{Compiler, CountingMemory, HostMemory, Placement};

use common::{
    dyn_matrix, exercise_module, get, host_table, host_value, protection_at, set_host_value,
    take_trace, Build, HostData, HOST,
};

/// `DT_RELR` (not in the `elf` crate's constants).
const DT_RELR: i64 = 36;

/// This machine's `RELATIVE` relocation type.
const RELATIVE: u32 = if cfg!(target_arch = "riscv64") {
    elf::abi::R_RISCV_RELATIVE
} else if cfg!(target_arch = "aarch64") {
    elf::abi::R_AARCH64_RELATIVE
} else if cfg!(target_arch = "arm") {
    elf::abi::R_ARM_RELATIVE
} else {
    elf::abi::R_X86_64_RELATIVE
};

/// Extra flags for `ifunc.c`. On 32-bit Arm no sibling calls: GNU ld 2.40
/// links a Thumb `b.n` tail call (`THM_JUMP11`) to a local IFUNC into the
/// PLT header, with no `IRELATIVE` relocation for it.
const IFUNC_FLAGS: &[&str] = if cfg!(target_arch = "arm") {
    &["-fno-optimize-sibling-calls"]
} else {
    &[]
};

/// The builds used for the focused tests: each compiler with its default
/// linker (GNU ld) and with lld.
fn linker_matrix() -> Vec<Build> {
    dyn_matrix().into_iter().filter(|b| b.has("-O2")).collect()
}

/// Dynamic tags of a shared object.
fn dynamic_tags(so: &[u8]) -> Vec<(i64, u64)> {
    let file = ElfBytes::<LittleEndian>::minimal_parse(so).unwrap();
    let table = file.dynamic().unwrap().expect("PT_DYNAMIC");
    table.iter().map(|d| (d.d_tag, d.d_val())).collect()
}

fn has_tag(so: &[u8], tag: i64) -> bool {
    dynamic_tags(so).iter().any(|&(t, _)| t == tag)
}

/// Loads `bytes` with a fresh counting memory, runs `f` on the image, and
/// checks that dropping the image gives every byte back.
fn with_image<R: SymbolResolver>(
    bytes: &[u8],
    resolver: &R,
    ctx: &str,
    f: impl FnOnce(&LoadedImage<&CountingMemory<HostMemory>>),
) {
    with_image_options(bytes, &LoadOptions::default(), resolver, ctx, f);
}

/// [`with_image`] loading with `options`.
fn with_image_options<R: SymbolResolver>(
    bytes: &[u8],
    options: &LoadOptions,
    resolver: &R,
    ctx: &str,
    f: impl FnOnce(&LoadedImage<&CountingMemory<HostMemory>>),
) {
    let mem = CountingMemory::new(HostMemory::new(Placement::Anywhere));
    {
        let image =
            load(bytes, options, &mem, resolver).unwrap_or_else(|e| panic!("{ctx}: load: {e}"));
        assert_eq!(image.kind(), ObjectKind::Shared, "{ctx}");
        f(&image);
    }
    assert_eq!(mem.live_bytes(), 0, "{ctx}: memory leaked");
    assert_eq!(mem.live_reservations(), 0, "{ctx}: reservation leaked");
}

/// RELRO became read-only: the whole pages of `PT_GNU_RELRO` are a `Read`
/// region (the kernel's view is checked by `exercise_module`).
fn check_relro<M: Memory>(image: &LoadedImage<M>, ctx: &str) {
    let info = image.dynamic().expect("dynamic info");
    let relro = info
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_GNU_RELRO)
        .unwrap_or_else(|| panic!("{ctx}: no PT_GNU_RELRO"));
    let page = HostMemory::default().page_size() as u64;
    let start = relro.p_vaddr & !(page - 1);
    let end = (relro.p_vaddr + relro.p_memsz) & !(page - 1);
    assert!(start < end, "{ctx}: RELRO {relro:?} covers no whole page");
    for addr in (start..end).step_by(page as usize) {
        assert_eq!(
            protection_at(image, image.base() + addr),
            Some(Protection::Read),
            "{ctx}: RELRO page {addr:#x} is not read-only"
        );
    }
}

/// Every symbol `.dynsym` defines and exports is found by name, at its
/// address; names it does not define are not.
fn check_every_export_found<M: Memory>(image: &LoadedImage<M>, so: &[u8], ctx: &str) {
    let file = ElfBytes::<LittleEndian>::minimal_parse(so).unwrap();
    let (symtab, strtab) = file.dynamic_symbol_table().unwrap().unwrap();
    let mut found = 0;
    for sym in symtab.iter() {
        if sym.st_shndx == SHN_UNDEF || sym.st_bind() == STB_LOCAL {
            continue;
        }
        let name = strtab.get(sym.st_name as usize).unwrap();
        let got = image
            .symbol(name)
            .unwrap_or_else(|| panic!("{ctx}: `{name}` not found"));
        assert_eq!(
            got.address,
            image.base() + sym.st_value,
            "{ctx}: address of {name}"
        );
        found += 1;
    }
    assert!(found > 30, "{ctx}: only {found} exports");
    for absent in ["", "fib2", "fi", "host_add", "local_square", "zzzz"] {
        assert!(image.symbol(absent).is_none(), "{ctx}: `{absent}` found");
    }
}

#[test]
fn module_shared_object_runs_in_every_build() {
    for build in dyn_matrix() {
        let ctx = build.to_string();
        let fx = build.shared(&["module.c"], &[]);
        let host = HostData::new();
        let table = host_table(&host);
        with_image(&fx.bytes, &table, &ctx, |image| {
            let info = image.dynamic().expect("dynamic info");
            assert!(info.needed.is_empty(), "{ctx}: {info:?}");
            assert_eq!(info.soname, None, "{ctx}");
            check_relro(image, &ctx);
            check_every_export_found(image, &fx.bytes, &ctx);
            exercise_module(image, &build, &host);
        });
    }
}

/// `-z pack-relative-relocs`: the relative relocations move to `DT_RELR`.
#[test]
fn packed_relative_relocations() {
    // A probe with one relative relocation: some linkers accept the option
    // without packing anything (GNU ld for RISC-V before 2.41).
    let cc = Compiler::host_compilers().remove(0);
    let dir = testkit::fixtures::out_dir();
    let (src, out) = (dir.join("relr-probe.c"), dir.join("relr-probe.so"));
    std::fs::write(&src, "static int x;\nint *p = &x;\n").expect("write the probe");
    let probe = Command::new(cc.command())
        .args(cc.target_args())
        .args([
            "-shared",
            "-fPIC",
            "-nostdlib",
            "-Wl,-z,pack-relative-relocs",
        ])
        .arg("-Wl,--fatal-warnings")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("run the C compiler");
    let packs = probe.status.success() && std::fs::read(&out).is_ok_and(|so| has_tag(&so, DT_RELR));
    if !packs {
        eprintln!("note: the linker does not support -z pack-relative-relocs; DT_RELR untested");
        return;
    }
    for build in dyn_matrix().into_iter().filter(|b| !b.has("-fuse-ld=lld")) {
        let ctx = build.to_string();
        let fx = build.shared(&["module.c"], &["-Wl,-z,pack-relative-relocs"]);
        assert!(has_tag(&fx.bytes, DT_RELR), "{ctx}: no DT_RELR");
        let file = ElfBytes::<LittleEndian>::minimal_parse(&fx.bytes).unwrap();
        // `RELA` tables on the 64-bit machines, `REL` on 32-bit Arm.
        let rela_dyn = file.section_header_by_name(".rela.dyn").unwrap();
        if let Some(shdr) = rela_dyn {
            let relative = file
                .section_data_as_relas(&shdr)
                .unwrap()
                .filter(|r| r.r_type == RELATIVE)
                .count();
            assert_eq!(relative, 0, "{ctx}: RELATIVE relocations left in .rela.dyn");
        }
        let rel_dyn = file.section_header_by_name(".rel.dyn").unwrap();
        if let Some(shdr) = rel_dyn {
            let relative = file
                .section_data_as_rels(&shdr)
                .unwrap()
                .filter(|r| r.r_type == RELATIVE)
                .count();
            assert_eq!(relative, 0, "{ctx}: RELATIVE relocations left in .rel.dyn");
        }
        let host = HostData::new();
        let table = host_table(&host);
        with_image(&fx.bytes, &table, &ctx, |image| {
            check_relro(image, &ctx);
            exercise_module(image, &build, &host);
        });
    }
}

/// Lookups through `DT_HASH` alone and through `DT_GNU_HASH` alone.
#[test]
fn sysv_and_gnu_hash_lookups() {
    for cc in Compiler::host_compilers() {
        for (style, present, absent) in [
            ("sysv", DT_HASH, DT_GNU_HASH),
            ("gnu", DT_GNU_HASH, DT_HASH),
        ] {
            let build = Build::new(&cc, &["-O2", "-fPIC"]);
            let flag = format!("-Wl,--hash-style={style}");
            let ctx = format!("{build} {flag}");
            let fx = build.shared(&["module.c"], &[&flag]);
            assert!(has_tag(&fx.bytes, present), "{ctx}: hash table missing");
            assert!(
                !has_tag(&fx.bytes, absent),
                "{ctx}: other hash table present"
            );
            let host = HostData::new();
            let table = host_table(&host);
            with_image(&fx.bytes, &table, &ctx, |image| {
                check_every_export_found(image, &fx.bytes, &ctx);
                exercise_module(image, &build, &host);
            });
        }
    }
}

/// `so` with its section header table gone (`e_shoff`, `e_shnum` and
/// `e_shstrndx` zero), as `sstrip` leaves an object: the loader must then
/// bound the dynamic symbol table without it.
fn without_section_headers(so: &[u8]) -> Vec<u8> {
    let mut bytes = so.to_vec();
    let (shoff, shoff_len, shnum) = if cfg!(target_pointer_width = "64") {
        (0x28, 8, 0x3c)
    } else {
        (0x20, 4, 0x30)
    };
    bytes[shoff..shoff + shoff_len].fill(0);
    bytes[shnum..shnum + 4].fill(0);
    bytes
}

/// An object that exports nothing (an empty GNU hash table, so the table
/// does not bound its imports, which its relocations name) loads and its
/// constructor runs, with its section headers and without them.
#[test]
fn an_object_exporting_nothing_loads() {
    for build in linker_matrix() {
        let fx = build.shared(&["noexport.c"], &["-Wl,--hash-style=gnu"]);
        let stripped = without_section_headers(&fx.bytes);
        for (bytes, how) in [(&fx.bytes, "with"), (&stripped, "without")] {
            let ctx = format!("{build}, {how} section headers");
            let host = HostData::new();
            let table = host_table(&host);
            with_image(bytes, &table, &ctx, |image| {
                set_host_value(0);
                // SAFETY: noexport.c's constructor only calls host_add and
                // host_set.
                unsafe { image.run_init() }.unwrap();
                assert_eq!(host_value(), 42, "{ctx}: the constructor ran");
            });
        }
    }
}

/// Two versions of one symbol: lookups by version, the default for an
/// unversioned lookup, and a dependent object whose `DT_VERNEED` asks for
/// the old one.
#[test]
fn symbol_versions() {
    type FnV = extern "C" fn() -> i32;
    const VERSIONED: ProviderId = ProviderId(3);
    for build in linker_matrix() {
        let ctx = build.to_string();
        let lib = build.shared(
            &["versioned.c", "versioned.ver"],
            &["-Wl,-soname,libversioned.so"],
        );
        let lib_path = lib.path.to_str().expect("UTF-8 path");
        let user = build.shared(&["version_user.c"], &["-Wl,--no-as-needed", lib_path]);
        let host = HostData::new();
        let table = host_table(&host);
        with_image(&lib.bytes, &table, &ctx, |image| {
            let call = |version: Option<&str>| {
                let sym = image.lookup(&Lookup::new("version_of", version))?;
                assert_eq!(sym.kind, SymbolKind::Function, "{ctx}");
                // SAFETY: both versions are `int (void)` in versioned.c.
                let f: FnV = unsafe { std::mem::transmute(sym.address as usize) };
                Some(f())
            };
            assert_eq!(call(Some("V1")), Some(1), "{ctx}: version_of@V1");
            assert_eq!(call(Some("V2")), Some(2), "{ctx}: version_of@V2");
            assert_eq!(call(None), Some(2), "{ctx}: default version_of@@V2");
            assert_eq!(call(Some("V3")), None, "{ctx}: version_of@V3");
            let v1 = image
                .lookup(&Lookup::new("version_of", Some("V1")))
                .unwrap();
            let v2 = image.symbol("version_of").unwrap();
            assert_ne!(v1.address, v2.address, "{ctx}");
            for version in [None, Some("V1")] {
                let sym = image.lookup(&Lookup::new("unversioned", version));
                assert!(sym.is_some(), "{ctx}: unversioned at {version:?}");
            }
            // The hidden local aliases are not exported.
            assert!(image.symbol("version_of_v1").is_none(), "{ctx}");

            let lib_resolver = image.resolver(VERSIONED);
            let links: [&dyn SymbolResolver; 2] = [&lib_resolver, &table];
            let chain = Chain::new(&links);
            with_image(&user.bytes, &chain, &ctx, |user_image| {
                let info = user_image.dynamic().unwrap();
                assert_eq!(info.needed, ["libversioned.so"], "{ctx}");
                let import = user_image.imports().iter().find(|i| i.name == "version_of");
                let import = import.unwrap_or_else(|| panic!("{ctx}: version_of not imported"));
                assert_eq!(import.version.as_deref(), Some("V1"), "{ctx}: {import:?}");
                assert_eq!(import.provider, Some(VERSIONED), "{ctx}");
                assert_eq!(import.address, v1.address, "{ctx}: bound to version_of@V1");
                // SAFETY: `old_version_plus` is `int (int)` in version_user.c.
                let f: extern "C" fn(i32) -> i32 = unsafe { get(user_image, "old_version_plus") };
                assert_eq!(f(4), 134, "{ctx}: old_version_plus");
            });
        });
    }
}

/// IFUNCs: the loader calls the resolvers and binds what they return.
#[test]
fn ifunc_resolvers_are_called() {
    type FnI = extern "C" fn(i32) -> i32;
    for build in linker_matrix() {
        let ctx = build.to_string();
        let fx = build.shared(&["ifunc.c"], IFUNC_FLAGS);
        let host = HostData::new();
        let table = host_table(&host);
        with_image(&fx.bytes, &table, &ctx, |image| {
            let scaled = image.symbol("scaled").expect("scaled exported");
            assert_eq!(scaled.kind, SymbolKind::Ifunc, "{ctx}");
            // SAFETY: the types are those of ifunc.c.
            let (call_scaled, call_hidden, scaled_pointer, resolver_count) = unsafe {
                (
                    get::<FnI, _>(image, "call_scaled"),
                    get::<FnI, _>(image, "call_hidden"),
                    get::<extern "C" fn() -> FnI, _>(image, "scaled_pointer"),
                    get::<extern "C" fn() -> i32, _>(image, "resolver_count"),
                )
            };
            assert!(
                resolver_count() >= 2,
                "{ctx}: resolvers ran {} times",
                resolver_count()
            );
            assert_eq!(call_scaled(21), 42, "{ctx}: exported IFUNC picks impl_two");
            assert_eq!(call_hidden(21), 22, "{ctx}: local IFUNC picks impl_one");
            let chosen = scaled_pointer();
            assert_ne!(
                chosen as usize as u64, scaled.address,
                "{ctx}: the address of an IFUNC is its resolver"
            );
            assert!(image.contains(chosen as usize as u64), "{ctx}");
            assert_eq!(chosen(5), 10, "{ctx}: IFUNC through its address");
        });
    }
}

/// IFUNC resolvers get the arguments the machine's glibc passes them, with
/// the hardware capabilities of the load's options: on aarch64
/// `(hwcap | _IFUNC_ARG_HWCAP, &{size, hwcap, hwcap2})`, on riscv64
/// `(hwcap, NULL, NULL)`, on 32-bit Arm `(hwcap)`, on x86_64 nothing (the
/// resolver takes none). They belong to that load alone: a load with the
/// default options tells resolvers of none.
#[test]
fn ifunc_resolvers_get_the_hardware_capabilities() {
    // Distinctive values. Capabilities are `unsigned long`s, 32 bits on a
    // 32-bit machine.
    let given = HwCaps {
        hwcap: if cfg!(target_pointer_width = "64") {
            0x0123_4567_89ab
        } else {
            0x4567_89ab
        },
        hwcap2: 0x0fed_cba9,
    };
    for build in linker_matrix() {
        for caps in [given, HwCaps::default()] {
            let ctx = format!("{build} {caps:?}");
            let fx = build.shared(&["ifunc_args.c"], &[]);
            let host = HostData::new();
            let table = host_table(&host);
            let options = LoadOptions {
                hwcaps: caps,
                ..LoadOptions::default()
            };
            with_image_options(&fx.bytes, &options, &table, &ctx, |image| {
                // SAFETY: the types are those of ifunc_args.c.
                let (call_seven, resolver_args, resolver_runs) = unsafe {
                    (
                        get::<extern "C" fn() -> i32, _>(image, "call_seven"),
                        get::<extern "C" fn() -> *const [u64; 4], _>(image, "resolver_args"),
                        get::<extern "C" fn() -> i32, _>(image, "resolver_runs"),
                    )
                };
                assert_eq!(call_seven(), 14, "{ctx}");
                assert!(resolver_runs() >= 2, "{ctx}: {} runs", resolver_runs());
                // SAFETY: `resolver_args` returns the fixture's static array.
                let seen = unsafe { *resolver_args() };
                let expected = if cfg!(target_arch = "aarch64") {
                    [caps.hwcap | 1 << 62, 24, caps.hwcap, caps.hwcap2]
                } else if cfg!(target_arch = "riscv64") || cfg!(target_arch = "arm") {
                    [caps.hwcap, 0, 0, 0]
                } else {
                    [0; 4]
                };
                assert_eq!(seen, expected, "{ctx}");
            });
        }
    }
}

/// `DT_NEEDED`, `DT_SONAME`, `DT_RUNPATH` (or `DT_RPATH`) are reported; the
/// dependency, loaded first, answers the object's imports; `DT_INIT` runs
/// before the init array and `DT_FINI` after the fini array.
#[test]
fn dependencies_and_search_paths() {
    const DEP: ProviderId = ProviderId(2);
    for build in linker_matrix() {
        let dep = build.shared(&["dep.c"], &["-Wl,-soname,libdep.so"]);
        let dep_path = dep.path.to_str().expect("UTF-8 path");
        for (dtags, is_rpath) in [("--enable-new-dtags", false), ("--disable-new-dtags", true)] {
            let ctx = format!("{build} {dtags}");
            let dtags = format!("-Wl,{dtags}");
            let needs = build.shared(
                &["needs.c"],
                &[
                    "-Wl,-soname,libneeds.so",
                    "-Wl,-rpath,$ORIGIN/lib:/opt/modules",
                    &dtags,
                    "-Wl,-init,needs_init",
                    "-Wl,-fini,needs_fini",
                    "-Wl,--no-as-needed",
                    dep_path,
                ],
            );
            let host = HostData::new();
            let table = host_table(&host);
            with_image(&dep.bytes, &table, &ctx, |dep_image| {
                assert_eq!(
                    dep_image.dynamic().unwrap().soname.as_deref(),
                    Some("libdep.so"),
                    "{ctx}"
                );
                let dep_resolver = dep_image.resolver(DEP);
                let links: [&dyn SymbolResolver; 2] = [&dep_resolver, &table];
                let chain = Chain::new(&links);
                with_image(&needs.bytes, &chain, &ctx, |image| {
                    let info = image.dynamic().unwrap();
                    assert_eq!(info.needed, ["libdep.so"], "{ctx}");
                    assert_eq!(info.soname.as_deref(), Some("libneeds.so"), "{ctx}");
                    assert_eq!(info.runpath, ["$ORIGIN/lib", "/opt/modules"], "{ctx}");
                    assert_eq!(info.runpath_is_rpath, is_rpath, "{ctx}");
                    for (name, provider) in [
                        ("dep_twice", DEP),
                        ("dep_counter", DEP),
                        ("host_trace", HOST),
                    ] {
                        let import = image.imports().iter().find(|i| i.name == name);
                        let import = import.unwrap_or_else(|| panic!("{ctx}: no {name}"));
                        assert_eq!(import.provider, Some(provider), "{ctx}: {name}");
                    }

                    take_trace();
                    // SAFETY: needs.c's initialisers only call host_trace.
                    unsafe { image.run_init() }.unwrap();
                    assert_eq!(take_trace(), [1, 2], "{ctx}: DT_INIT, then init array");
                    // SAFETY: the types are those of needs.c.
                    let (use_dep, seen) = unsafe {
                        (
                            get::<extern "C" fn(i32) -> i32, _>(image, "use_dep"),
                            get::<extern "C" fn() -> i32, _>(image, "dep_counter_seen"),
                        )
                    };
                    assert_eq!(use_dep(5), 11, "{ctx}: call into the dependency");
                    assert_eq!(seen(), 101, "{ctx}: dependency data, seen from needs");
                    // SAFETY: `dep_counter` is dep.c's `int`.
                    let counter: *const i32 = unsafe { get(dep_image, "dep_counter") };
                    // SAFETY: as above; no module code runs meanwhile.
                    assert_eq!(unsafe { counter.read_volatile() }, 101, "{ctx}");
                    // SAFETY: as for run_init; once, after it.
                    unsafe { image.run_fini() }.unwrap();
                    assert_eq!(take_trace(), [-2, -1], "{ctx}: fini array, then DT_FINI");
                });
            });
        }
    }
}

/// Every export of a mapped image is found before relocation, at the
/// address it has once relocated; dropping a mapped image (before or after
/// its relocations are applied) gives every byte back. (Steps out of order
/// do not compile: see the `mapped` module's documentation.)
#[test]
fn map_then_relocate() {
    for build in linker_matrix() {
        let ctx = build.to_string();
        let fx = build.shared(&["module.c"], &[]);
        let host = HostData::new();
        let table = host_table(&host);
        let mem = CountingMemory::new(HostMemory::new(Placement::Anywhere));
        let options = LoadOptions::default();

        // Mapped, then dropped.
        let mapped = map(&fx.bytes, &options, &mem).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert!(mem.live_bytes() > 0, "{ctx}");
        assert_eq!(mapped.kind(), ObjectKind::Shared, "{ctx}");
        assert!(mapped.symbol("fib").is_some(), "{ctx}");
        drop(mapped);
        assert_eq!(mem.live_bytes(), 0, "{ctx}: a dropped mapped image leaked");
        assert_eq!(mem.live_reservations(), 0, "{ctx}");

        // Relocations applied, not finished, then dropped.
        let mapped = map(&fx.bytes, &options, &mem).unwrap();
        let relocated = mapped.apply_relocations(&table).unwrap();
        assert!(relocated.symbol("fib").is_some(), "{ctx}");
        drop(relocated);
        assert_eq!(mem.live_bytes(), 0, "{ctx}: a relocated image leaked");

        // Addresses before relocation are those after.
        let mapped = map(&fx.bytes, &options, &mem).unwrap();
        let file = ElfBytes::<LittleEndian>::minimal_parse(&fx.bytes).unwrap();
        let (symtab, strtab) = file.dynamic_symbol_table().unwrap().unwrap();
        let before: Vec<(String, modlib::Symbol)> = symtab
            .iter()
            .filter(|s| s.st_shndx != SHN_UNDEF && s.st_bind() != STB_LOCAL)
            .map(|s| {
                let name = strtab.get(s.st_name as usize).unwrap();
                let found = mapped.symbol(name);
                let found = found.unwrap_or_else(|| panic!("{ctx}: `{name}` not found"));
                assert_eq!(found.address, mapped.base() + s.st_value, "{ctx}: {name}");
                (String::from(name), found)
            })
            .collect();
        assert!(before.len() > 30, "{ctx}");
        let (start, size) = (mapped.start(), mapped.size());
        let image = mapped
            .relocate(&table)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!((image.start(), image.size()), (start, size), "{ctx}");
        for (name, symbol) in &before {
            assert_eq!(image.symbol(name).as_ref(), Some(symbol), "{ctx}: {name}");
        }
        check_relro(&image, &ctx);
        exercise_module(&image, &build, &host);
        drop(image);
        assert_eq!(mem.live_bytes(), 0, "{ctx}");
    }
}

/// Answers from a mapped image, which is not relocated.
struct MappedResolver<'r, 'a, M: Memory> {
    image: &'r MappedImage<'a, M>,
    provider: ProviderId,
}

impl<M: Memory> SymbolResolver for MappedResolver<'_, '_, M> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        self.image.lookup(lookup).map(|symbol| Resolved {
            symbol,
            provider: self.provider,
        })
    }

    fn is_relocated(&self, provider: ProviderId) -> bool {
        provider != self.provider
    }
}

/// An object bound to an IFUNC of an object not relocated yet (a group
/// relocated dependencies first, whose root defines it): its relocations
/// apply, the reference waits, and the resolver runs when the image is
/// finished, after the provider's relocation; finished before that, it is
/// refused and gives its memory back.
#[test]
fn references_to_an_ifunc_of_an_unrelocated_object_wait() {
    type FnI = extern "C" fn(i32) -> i32;
    const PROVIDER: ProviderId = ProviderId(7);
    for build in linker_matrix() {
        let ctx = build.to_string();
        let provider_fx = build.shared(&["ifunc.c"], IFUNC_FLAGS);
        let user_fx = build.shared(&["ifunc_user.c"], &[]);
        let host = HostData::new();
        let table = host_table(&host);
        let options = LoadOptions::default();
        let provider_mem = CountingMemory::new(HostMemory::new(Placement::Anywhere));
        let user_mem = CountingMemory::new(HostMemory::new(Placement::Anywhere));
        let provider = map(&provider_fx.bytes, &options, &provider_mem).unwrap();
        let scaled = provider.symbol("scaled").expect("scaled exported");
        assert_eq!(scaled.kind, SymbolKind::Ifunc, "{ctx}");

        // The provider is not relocated: finishing the user fails.
        let early = map(&user_fx.bytes, &options, &user_mem).unwrap();
        let mapped = MappedResolver {
            image: &provider,
            provider: PROVIDER,
        };
        let links: [&dyn SymbolResolver; 2] = [&mapped, &table];
        let err = early.relocate(&Chain::new(&links)).unwrap_err();
        assert_eq!(
            err,
            LoadError::UnrelocatedIfunc {
                name: String::from("scaled")
            },
            "{ctx}"
        );
        assert_eq!(user_mem.live_bytes(), 0, "{ctx}: the refused image leaked");

        // Relocated first, finished after the provider's relocation.
        let user = map(&user_fx.bytes, &options, &user_mem).unwrap();
        let user = user.apply_relocations(&Chain::new(&links)).unwrap();
        let provider = provider.apply_relocations(&table).unwrap();
        let provider = provider.finish(&table).unwrap();
        // SAFETY: `int resolver_count(void)` of ifunc.c.
        let resolver_count: extern "C" fn() -> i32 = unsafe { get(&provider, "resolver_count") };
        let before = resolver_count();
        let relocated = provider.resolver(PROVIDER);
        let links: [&dyn SymbolResolver; 2] = [&relocated, &table];
        let user = user
            .finish(&Chain::new(&links))
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        assert_eq!(resolver_count(), before + 1, "{ctx}: one call, at finish");
        let import = user.imports().iter().find(|i| i.name == "scaled");
        let import = import.unwrap_or_else(|| panic!("{ctx}: scaled not imported"));
        assert_eq!(import.provider, Some(PROVIDER), "{ctx}");
        // SAFETY: the types are those of ifunc_user.c.
        let (user_scaled, pointer) = unsafe {
            (
                get::<FnI, _>(&user, "user_scaled"),
                get::<extern "C" fn() -> FnI, _>(&user, "user_scaled_pointer"),
            )
        };
        assert_eq!(import.address, pointer() as usize as u64, "{ctx}");
        assert!(provider.contains(import.address), "{ctx}");
        assert_ne!(import.address, scaled.address, "{ctx}: not the resolver");
        assert_eq!(
            user_scaled(21),
            43,
            "{ctx}: the implementation the resolver picked"
        );
        check_relro(&user, &ctx);
        drop(user);
        drop(provider);
        assert_eq!(user_mem.live_bytes(), 0, "{ctx}");
        assert_eq!(provider_mem.live_bytes(), 0, "{ctx}");
    }
}
