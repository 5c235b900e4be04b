//! The benchmark's libraries, generated as C at bench time and compiled with
//! `gcc -O1 -shared -fPIC`: each size is a library plus one small dependency
//! of its own in the same directory (found through `-Wl,-rpath,'$ORIGIN'`),
//! importing from libc. Relocations come from tables of pointers (static
//! targets give `RELATIVE`, exported functions and data give symbolic `64`),
//! calls between exported functions (`JUMP_SLOT`) and exported data read
//! through the GOT (`GLOB_DAT`).
//!
//! Two shapes: the loader's own (`Kind::Relative`, about 90% `RELATIVE`),
//! and one shaped like real C libraries (`Kind::C`): about 55% `RELATIVE`,
//! 30% symbolic references to the library's own exported functions and data
//! (interposable, so bound through the global scope), 10% to the dependency
//! and 5% to libc.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the relocations of a generated library are mostly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// About 90% `RELATIVE`: the cheapest case, nearly no symbol binding.
    Relative,
    /// Shaped like real C libraries: 55% `RELATIVE`, 30% to the library's
    /// own exports, 10% to the dependency, 5% to libc.
    C,
}

/// One benchmark size: how many relocations to aim for, of which kind.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Short name used in file names and the table.
    pub name: &'static str,
    /// Relocations aimed for (the real count is measured afterwards).
    pub relocations: usize,
    /// The mix of relocations.
    pub kind: Kind,
}

const fn size(name: &'static str, relocations: usize, kind: Kind) -> Size {
    Size {
        name,
        relocations,
        kind,
    }
}

/// The sizes of the benchmark: three of each kind.
pub const SIZES: [Size; 6] = [
    size("small", 100, Kind::Relative),
    size("medium", 10_000, Kind::Relative),
    size("large", 200_000, Kind::Relative),
    size("c-small", 100, Kind::C),
    size("c-medium", 10_000, Kind::C),
    size("c-large", 200_000, Kind::C),
];

/// A library ready to load: generated and compiled, or one of the machine's
/// own opened by path.
#[derive(Debug, Clone)]
pub struct Library {
    /// Row name in the table.
    pub name: String,
    /// The size it was generated for; `None` for a library of the machine.
    pub size: Option<Size>,
    /// Absolute path of the library.
    pub path: PathBuf,
    /// Absolute path of its generated dependency.
    pub dependency: Option<PathBuf>,
    /// Ten exports spread over the library, looked up after each open.
    pub sample: Vec<String>,
    /// Every symbol the library exports (functions, data, tables).
    pub exports: Vec<String>,
    /// Number of exported functions `f0..fN`.
    pub functions: usize,
}

/// Shape of one generated library.
struct Shape {
    functions: usize,
    variables: usize,
    relative: usize,
    /// Extra symbolic references to the library's own functions and data.
    own: usize,
    /// Functions the dependency exports, and references to them.
    dependency_functions: usize,
    dependency: usize,
    /// References to libc functions.
    libc: usize,
}

/// libc functions the C-shaped libraries take the address of.
const LIBC: [&str; 40] = [
    "strlen", "strcmp", "strncmp", "strcpy", "strncpy", "strcat", "strchr", "strrchr", "strstr",
    "strdup", "memcpy", "memmove", "memset", "memcmp", "memchr", "malloc", "calloc", "realloc",
    "free", "printf", "fprintf", "snprintf", "sprintf", "puts", "fputs", "fopen", "fclose",
    "fread", "fwrite", "fflush", "getenv", "atoi", "strtol", "strtoul", "qsort", "bsearch", "abs",
    "labs", "exit", "abort",
];

impl Shape {
    fn for_target(size: Size) -> Shape {
        let r = size.relocations;
        match size.kind {
            Kind::Relative => {
                let functions = (r / 20).max(16);
                let variables = (functions / 4).max(4);
                // Symbolic ones: a JUMP_SLOT and a 64 per function, a
                // GLOB_DAT per variable, and about a dozen from libc, the
                // dependency and crt.
                let symbolic = 2 * functions + variables + 14;
                Shape {
                    functions,
                    variables,
                    relative: r.saturating_sub(symbolic).max(8),
                    own: 0,
                    dependency_functions: 0,
                    dependency: 0,
                    libc: 0,
                }
            }
            Kind::C => {
                // A JUMP_SLOT per function (about 2.5%) and a GLOB_DAT per
                // variable come on top of the four tables.
                let functions = (r / 40).max(16);
                Shape {
                    functions,
                    variables: (functions / 4).max(4),
                    relative: r * 55 / 100,
                    own: (r * 30 / 100).saturating_sub(functions).max(1),
                    dependency_functions: (r / 40).max(8),
                    dependency: (r / 10).max(1),
                    libc: (r / 20).max(1),
                }
            }
        }
    }
}

fn dependency_source(prefix: &str, shape: &Shape) -> String {
    let mut s = format!(
        "/* Generated by dlbench: the dependency of lib{prefix}.so. */\n\
         #include <string.h>\n\
         int {prefix}_dep_counter = 42;\n\
         static const char *const {prefix}_dep_names[] = {{\"one\", \"two\", \"three\"}};\n\
         int {prefix}_dep_value(int x) {{\n\
         \x20   return x + {prefix}_dep_counter + (int)strlen({prefix}_dep_names[x & 1]);\n\
         }}\n"
    );
    for k in 0..shape.dependency_functions {
        let _ = writeln!(s, "int {prefix}_dep_f{k}(int x) {{ return x + {k}; }}");
    }
    s
}

fn library_source(prefix: &str, shape: &Shape) -> String {
    let &Shape {
        functions: nf,
        variables: nv,
        relative: nr,
        own,
        dependency_functions: nd,
        dependency,
        libc,
    } = shape;
    let mut s = String::with_capacity(64 * (nf + nr));
    let _ = writeln!(s, "/* Generated by dlbench: {nr} relative pointers, {nf} exported functions, {nv} exported variables. */");
    s.push_str("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n");
    let _ = writeln!(s, "extern int {prefix}_dep_counter;");
    let _ = writeln!(s, "extern int {prefix}_dep_value(int x);\n");
    for v in 0..nv {
        let _ = writeln!(s, "int v{v} = {v};");
    }
    for f in 0..nf {
        let _ = writeln!(s, "int f{f}(int x);");
    }
    for f in 0..nf {
        let next = if f + 1 < nf {
            format!("f{}(x - 1)", f + 1)
        } else {
            format!("{prefix}_dep_value(x)")
        };
        let _ = writeln!(
            s,
            "int f{f}(int x) {{ return x <= 0 ? v{} : {next} + 1; }}",
            f % nv
        );
    }
    // Pointers to exported functions: one symbolic 64 each.
    s.push_str("\nvoid *const bench_functions[] = {\n");
    for f in 0..nf {
        let _ = writeln!(s, "    (void *)f{f},");
    }
    s.push_str("};\n");
    if own > 0 {
        // More references to the library's own exports, two functions to
        // one variable: each a symbolic 64 bound through the global scope.
        s.push_str("\nvoid *const bench_own[] = {\n");
        for k in 0..own {
            let _ = match k % 3 {
                2 => writeln!(s, "    (void *)&v{},", k % nv),
                _ => writeln!(s, "    (void *)f{},", k % nf),
            };
        }
        s.push_str("};\n");
    }
    if dependency > 0 {
        for k in 0..nd {
            let _ = writeln!(s, "extern int {prefix}_dep_f{k}(int x);");
        }
        s.push_str("void *const bench_dependency[] = {\n");
        for k in 0..dependency {
            let _ = writeln!(s, "    (void *){prefix}_dep_f{},", k % nd);
        }
        s.push_str("};\n");
    }
    if libc > 0 {
        s.push_str("void *const bench_libc[] = {\n");
        for k in 0..libc {
            let _ = writeln!(s, "    (void *){},", LIBC[k % LIBC.len()]);
        }
        s.push_str("};\n");
    }
    // Pointers into static data: one RELATIVE each.
    let _ = writeln!(s, "\nstatic char pool[{}];", nr.max(1));
    s.push_str("const char *const bench_relative[] = {\n");
    for r in 0..nr {
        let _ = writeln!(s, "    pool + {r},");
    }
    s.push_str("};\n");
    let _ = writeln!(
        s,
        "\nint bench_touch(int x) {{\n\
         \x20   char buf[64];\n\
         \x20   char *p = malloc(32);\n\
         \x20   snprintf(buf, sizeof buf, \"%d-%d\", x, {prefix}_dep_counter);\n\
         \x20   memcpy(p, buf, strlen(buf) + 1);\n\
         \x20   int n = (int)strlen(p) + (bench_relative[{last}] - pool) + f0(x);\n\
         \x20   free(p);\n\
         \x20   return n;\n\
         }}",
        last = nr.max(1) - 1
    );
    s
}

fn gcc(args: &[&str], cwd: &Path) -> Result<(), String> {
    let out = Command::new("gcc")
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "gcc {} failed:\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Generates and compiles the library of `size` (and its dependency) in
/// `dir`, unless an up-to-date copy is already there.
pub fn build(dir: &Path, size: Size) -> Result<Library, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let prefix = format!("bench_{}", size.name.replace('-', "_"));
    let shape = Shape::for_target(size);
    let dep_c = dependency_source(&prefix, &shape);
    let lib_c = library_source(&prefix, &shape);
    let dep_so = dir.join(format!("lib{prefix}_dep.so"));
    let lib_so = dir.join(format!("lib{prefix}.so"));
    let dep_src = dir.join(format!("{prefix}_dep.c"));
    let lib_src = dir.join(format!("{prefix}.c"));
    let fresh = |src: &Path, text: &str, out: &Path| {
        out.exists() && std::fs::read_to_string(src).is_ok_and(|old| old == text)
    };
    if !fresh(&dep_src, &dep_c, &dep_so) || !fresh(&lib_src, &lib_c, &lib_so) {
        std::fs::write(&dep_src, &dep_c).map_err(|e| e.to_string())?;
        std::fs::write(&lib_src, &lib_c).map_err(|e| e.to_string())?;
        let dep_name = format!("lib{prefix}_dep.so");
        gcc(
            &[
                "-O1",
                "-shared",
                "-fPIC",
                &format!("-Wl,-soname,{dep_name}"),
                "-o",
                &dep_name,
                &format!("{prefix}_dep.c"),
            ],
            &dir,
        )?;
        gcc(
            &[
                "-O1",
                "-shared",
                "-fPIC",
                &format!("-Wl,-soname,lib{prefix}.so"),
                "-o",
                &format!("lib{prefix}.so"),
                &format!("{prefix}.c"),
                "-L.",
                &format!("-l{prefix}_dep"),
                "-Wl,-rpath,$ORIGIN",
            ],
            &dir,
        )?;
    }
    let nf = shape.functions;
    let nv = shape.variables;
    let mut sample: Vec<String> = (0..8).map(|k| format!("f{}", k * (nf - 1) / 7)).collect();
    sample.push(String::from("v0"));
    sample.push(format!("v{}", nv - 1));
    let mut exports: Vec<String> = (0..nf).map(|f| format!("f{f}")).collect();
    exports.extend((0..nv).map(|v| format!("v{v}")));
    exports.extend(["bench_functions", "bench_relative", "bench_touch"].map(String::from));
    Ok(Library {
        name: String::from(size.name),
        size: Some(size),
        path: lib_so,
        dependency: Some(dep_so),
        sample,
        exports,
        functions: nf,
    })
}

/// What `bench_touch(3)` returns in a correctly loaded library of `size`:
/// every loader is checked against it before timing.
pub fn expected_touch(size: Size) -> i32 {
    // strlen("3-42") + offset of the last relative pointer + f0(3), where
    // f0(3) = 3 + v{3 % nv} (the chain bottoms out at f3 with x = 0).
    let shape = Shape::for_target(size);
    let last = shape.relative.max(1) - 1;
    let f0 = if shape.functions > 3 {
        3 + (3 % shape.variables) as i32
    } else {
        0
    };
    4 + last as i32 + f0
}
