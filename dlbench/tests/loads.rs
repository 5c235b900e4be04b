//! Correctness of what the benchmark times, through `dl::Library`: the
//! generated libraries load and run, every `RELATIVE` and symbolic
//! relocation of a file large enough to be mapped (not read) holds the
//! right value, and a library's own definition of a symbol comes before its
//! dependency's in its search order.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;

use dlbench::fixture::{self, Kind, Size};
use dlbench::loaders::{Loader, Ours, Prepared};
use dlbench::relocs;

fn dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn sym(lib: &dl::Library, name: &str) -> *mut c_void {
    // SAFETY: the address is only compared, never called or read here.
    *unsafe { lib.get::<*mut c_void>(name) }.unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn generated_libraries_run_and_every_relocation_is_right() {
    // 10,000 relocations: a file over 64 KiB, so its segments are mapped.
    let size = Size {
        name: "test",
        relocations: 10_000,
        kind: Kind::Relative,
    };
    let lib = Prepared::new(fixture::build(&dir("dlbench-loads"), size).expect("builds"));
    assert!(std::fs::metadata(&lib.library.path).expect("exists").len() > 64 * 1024);
    Ours.check(&lib).expect("bench_touch(3) is right");

    // SAFETY: the library is the benchmark's own, generated C.
    let l = unsafe { dl::Library::open(lib.path(), dl::Flags::NOW) }.expect("opens");
    // `bench_relative[k] == pool + k`: one RELATIVE relocation each.
    let relative = sym(&l, "bench_relative").cast::<*const u8>();
    let n = lib.library.exports.len(); // more than enough entries to sample
                                       // SAFETY: `bench_relative` is an array of at least `n` pointers in the
                                       // open library (the generator makes it that long).
    let table = unsafe { std::slice::from_raw_parts(relative, n) };
    for (k, p) in table.iter().enumerate() {
        assert_eq!(*p as usize, table[0] as usize + k, "bench_relative[{k}]");
    }
    // `bench_functions[k] == &fk`: one symbolic 64 relocation each.
    let functions = sym(&l, "bench_functions").cast::<*mut c_void>();
    // SAFETY: `bench_functions` holds one pointer per exported function.
    let functions = unsafe { std::slice::from_raw_parts(functions, lib.library.functions) };
    for (k, p) in functions.iter().enumerate() {
        assert_eq!(*p, sym(&l, &format!("f{k}")), "bench_functions[{k}]");
    }
    l.close().expect("closes");
}

fn gcc(dir: &Path, args: &[&str]) {
    let out = Command::new("gcc")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn own_definition_comes_before_the_dependency() {
    let dir = dir("dlbench-order");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("order_dep.c"),
        "int which(void) { return 2; }\nint dep_which(void) { return which(); }\n",
    )
    .expect("write");
    std::fs::write(
        dir.join("order_main.c"),
        "int which(void) { return 1; }\nint dep_which(void);\n\
         int main_which(void) { return which(); }\n\
         int main_dep_which(void) { return dep_which(); }\n",
    )
    .expect("write");
    gcc(
        &dir,
        &[
            "-O1",
            "-shared",
            "-fPIC",
            "-Wl,-soname,liborder_dep.so",
            "-o",
            "liborder_dep.so",
            "order_dep.c",
        ],
    );
    gcc(
        &dir,
        &[
            "-O1",
            "-shared",
            "-fPIC",
            "-o",
            "liborder_main.so",
            "order_main.c",
            "-L.",
            "-lorder_dep",
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    let path = dir.join("liborder_main.so");
    // SAFETY: the libraries are the C written above.
    let l = unsafe { dl::Library::open(&path, dl::Flags::NOW) }.expect("opens");
    // SAFETY: `int main_which(void)` in the source above.
    let main_which = unsafe { l.get::<extern "C" fn() -> i32>("main_which") }.expect("found");
    // The main library's reference binds in its own scope, where it comes
    // before its dependency (as with the system loader).
    assert_eq!(main_which(), 1);
}

#[test]
fn c_shaped_libraries_have_the_mix_of_real_ones_and_run() {
    let size = Size {
        name: "c-test",
        relocations: 10_000,
        kind: Kind::C,
    };
    let lib = Prepared::new(fixture::build(&dir("dlbench-c-shape"), size).expect("builds"));
    let counts = relocs::count(&lib.library.path).expect("counts");
    let total = counts.total();
    let share = |name: &str| counts.by_type.get(name).copied().unwrap_or(0) * 100 / total;
    // About 55% RELATIVE and 40% symbolic 64 (own exports, the
    // dependency, libc), the rest GOT and PLT slots.
    assert!(
        (50..=60).contains(&share("RELATIVE")),
        "{}",
        counts.summary()
    );
    assert!((35..=45).contains(&share("64")), "{}", counts.summary());
    assert!(share("JUMP_SLOT") >= 1, "{}", counts.summary());
    Ours.check(&lib).expect("bench_touch(3) is right");
}
