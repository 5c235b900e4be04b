//! Links the runner with `link.ld` and compiles its fixtures: the C sources
//! of the hosted execution suites (`libmodlib/tests/fixtures`,
//! `kmod/tests/fixtures`) and the runner's own `fixtures/`, built for
//! RV32IMAC/ilp32 by the bare-metal gcc and by clang, as relocatable
//! objects and (linked by `ld.lld`) shared objects. `OUT_DIR/fixtures.rs`
//! lists them as `Fixture` tables whose bytes are `include_bytes!`ed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Flags every fixture gets: the machine, tentative definitions as
/// `SHN_COMMON` (module.c relies on it), no stack protector (nothing
/// provides `__stack_chk_fail`), and `.eh_frame`, whose label differences
/// are relocations too.
const BASE: &[&str] = &[
    "-march=rv32imac",
    "-mabi=ilp32",
    "-fcommon",
    "-fno-stack-protector",
    "-fasynchronous-unwind-tables",
    "-Wall",
];

/// A compiler of the matrix.
#[derive(Clone, Copy)]
enum Cc {
    Gcc,
    Clang,
}

impl Cc {
    const ALL: [Cc; 2] = [Cc::Gcc, Cc::Clang];

    fn name(self) -> &'static str {
        match self {
            Cc::Gcc => "gcc",
            Cc::Clang => "clang",
        }
    }

    fn command(self) -> Command {
        match self {
            Cc::Gcc => Command::new("riscv64-unknown-elf-gcc"),
            Cc::Clang => {
                let mut c = Command::new("clang");
                c.arg("--target=riscv32-unknown-elf");
                c
            }
        }
    }
}

/// One fixture to build.
struct Build {
    cc: Cc,
    source: PathBuf,
    flags: Vec<String>,
    shared: bool,
}

impl Build {
    fn new(cc: Cc, source: &Path, flags: &[&str]) -> Self {
        Build {
            cc,
            source: source.to_path_buf(),
            flags: flags.iter().map(|f| (*f).to_string()).collect(),
            shared: false,
        }
    }

    fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// What the console shows for this build.
    fn label(&self) -> String {
        let stem = self.source.file_stem().unwrap().to_str().unwrap();
        let kind = if self.shared { "so" } else { "o" };
        let flags: Vec<&str> = self
            .flags
            .iter()
            .map(String::as_str)
            .filter(|f| !f.starts_with("-I"))
            .collect();
        format!("{stem}.{kind} {} {}", self.cc.name(), flags.join(" "))
    }

    /// Compiles (and for a shared object links) into `out`, returning the
    /// path of the result.
    fn run(&self, out: &Path, index: usize) -> PathBuf {
        let stem = self.source.file_stem().unwrap().to_str().unwrap();
        let object = out.join(format!("{stem}-{index}.o"));
        let mut cmd = self.cc.command();
        // `-Bsymbolic` is for the link only.
        cmd.args(BASE)
            .args(self.flags.iter().filter(|f| *f != "-Bsymbolic"));
        if self.shared {
            cmd.arg("-fPIC");
        }
        // clang 14 compiling C straight to an object leaves out the
        // relaxation marks (R_RISCV_RELAX, ALIGN) that `-mrelax` asks
        // for; going through its assembly output keeps them.
        let via_assembly = matches!(self.cc, Cc::Clang)
            && self.has("-mrelax")
            && self.source.extension().is_some_and(|e| e == "c");
        if via_assembly {
            let assembly = out.join(format!("{stem}-{index}.s"));
            cmd.arg("-S").arg(&self.source).arg("-o").arg(&assembly);
            run(&mut cmd);
            let mut assemble = self.cc.command();
            assemble.args(&BASE[..2]).arg("-mrelax").arg("-c");
            assemble.arg(&assembly).arg("-o").arg(&object);
            run(&mut assemble);
        } else {
            cmd.arg("-c").arg(&self.source).arg("-o").arg(&object);
            run(&mut cmd);
        }
        if self.has("-mrelax") && self.source.extension().is_some_and(|e| e == "c") {
            assert!(
                has_relax_marks(&object),
                "{}: -mrelax left no R_RISCV_RELAX in {}",
                self.label(),
                object.display()
            );
        }
        if !self.shared {
            return object;
        }
        let library = out.join(format!("{stem}-{index}.so"));
        let mut link = Command::new("ld.lld");
        link.args(["-shared", "--hash-style=both", "-soname"])
            .arg(format!("lib{stem}.so"));
        if self.has("-Bsymbolic") {
            link.arg("-Bsymbolic");
        }
        link.arg(&object).arg("-o").arg(&library);
        run(&mut link);
        library
    }
}

/// Whether `object` has relocations marked relaxable, so that a relaxed
/// build really exercises what the loader does with them.
fn has_relax_marks(object: &Path) -> bool {
    let out = Command::new("riscv64-unknown-elf-readelf")
        .arg("-rW")
        .arg(object)
        .output()
        .expect("run riscv64-unknown-elf-readelf");
    assert!(out.status.success(), "readelf -r {}", object.display());
    String::from_utf8_lossy(&out.stdout).contains("R_RISCV_RELAX")
}

fn run(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(status.success(), "{shown} failed ({status})");
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        manifest.join("link.ld").display()
    );
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-changed=fixtures");

    let modlib_fixtures = root.join("libmodlib/tests/fixtures");
    let kmod_fixtures = root.join("kmod/tests/fixtures");
    for dir in [&modlib_fixtures, &kmod_fixtures, &root.join("kmod/include")] {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let module = modlib_fixtures.join("module.c");
    let kmod_include = [
        format!("-I{}", root.join("kmod/include").display()),
        format!("-I{}", kmod_fixtures.display()),
    ];

    let mut tables: Vec<(&str, Vec<Build>)> = Vec::new();

    // module.c as ET_REL: both compilers, both levels, both code models,
    // PIC or not, relaxed or not.
    let mut rel = Vec::new();
    for cc in Cc::ALL {
        for opt in ["-O0", "-O2"] {
            for model in ["-mcmodel=medlow", "-mcmodel=medany"] {
                for pic in ["-fno-pic", "-fPIC"] {
                    for relax in ["-mno-relax", "-mrelax"] {
                        rel.push(Build::new(cc, &module, &[opt, model, pic, relax]));
                    }
                }
            }
        }
    }
    tables.push(("MODULE_REL", rel));

    // module.c as ET_DYN, linked by lld.
    let mut dynamic = Vec::new();
    for cc in Cc::ALL {
        for opt in ["-O0", "-O2"] {
            for model in ["-mcmodel=medlow", "-mcmodel=medany"] {
                dynamic.push(Build::new(cc, &module, &[opt, model, "-mno-relax"]).shared());
            }
        }
        dynamic.push(Build::new(cc, &module, &["-O2", "-mcmodel=medany", "-mrelax"]).shared());
    }
    tables.push(("MODULE_DYN", dynamic));

    // Direct `jal` calls to a far host function.
    let far = manifest.join("fixtures/far_call.S");
    let mut far_builds = Vec::new();
    for cc in Cc::ALL {
        for relax in ["-mno-relax", "-mrelax"] {
            far_builds.push(Build::new(cc, &far, &[relax]));
        }
    }
    tables.push(("FAR_CALL", far_builds));

    // ALIGN padding: exact (accepted) and inexact (refused).
    let align = modlib_fixtures.join("cross/align.S");
    tables.push((
        "ALIGN",
        vec![
            Build::new(Cc::Gcc, &align, &["-mrelax", "-DEXACT"]),
            Build::new(Cc::Gcc, &align, &["-mrelax"]),
        ],
    ));

    // IFUNCs in a shared object (the bare-metal gcc has no ifunc): bound
    // through JUMP_SLOT/32 against the IFUNC symbols, and with -Bsymbolic
    // through IRELATIVE.
    let ifunc = modlib_fixtures.join("ifunc.c");
    tables.push((
        "IFUNC",
        vec![
            Build::new(Cc::Clang, &ifunc, &["-O2"]).shared(),
            Build::new(Cc::Clang, &ifunc, &["-O2", "-Bsymbolic"]).shared(),
        ],
    ));

    // kmod's chardev and consumer, in pairs built alike.
    for (table, name) in [("CHARDEV", "chardev"), ("CONSUMER", "consumer")] {
        let source = kmod_fixtures.join(format!("{name}.c"));
        let mut builds = Vec::new();
        for cc in Cc::ALL {
            for opt in ["-O0", "-O2"] {
                for pic in ["-fno-pic", "-fPIC"] {
                    let flags = [opt, pic, "-mno-relax", &kmod_include[0], &kmod_include[1]];
                    builds.push(Build::new(cc, &source, &flags));
                }
            }
            let flags = ["-O2", "-mno-relax", &kmod_include[0], &kmod_include[1]];
            builds.push(Build::new(cc, &source, &flags).shared());
        }
        tables.push((table, builds));
    }

    let mut code = String::new();
    let mut index = 0;
    for (table, builds) in &tables {
        writeln!(code, "/// Fixtures built at build time.").unwrap();
        writeln!(code, "pub static {table}: &[Fixture] = &[").unwrap();
        for build in builds {
            let path = build.run(&out, index);
            index += 1;
            writeln!(
                code,
                "    Fixture {{ label: {:?}, pic: {}, bytes: include_bytes!({:?}) }},",
                build.label(),
                build.shared || build.has("-fPIC"),
                path.display().to_string()
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    std::fs::write(out.join("fixtures.rs"), code).unwrap();
}
