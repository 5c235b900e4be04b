//! C++ kernel modules with `module.h`'s macros as documented, from g++ and
//! clang++: global constructors and destructors, virtual calls, a static
//! init and exit function, an exported `extern "C"` function.

mod common;

use common::{export, fixture_dir, include_dir, take_log, Kernel};
use testkit::Compiler;

/// The C++ compilers of the machine the tests run on: g++, and clang (as
/// `clang++`, or `clang --target=<triple>` for another machine, which
/// compiles `.cpp` sources as C++) when installed or required.
fn cxx_compilers() -> Vec<Compiler> {
    let clang = match Compiler::cross_triple() {
        Some(triple) => Compiler::ClangTarget(String::from(triple)),
        None => Compiler::Named(String::from("clang++")),
    };
    let mut out = vec![Compiler::host_gxx()];
    if clang.available() || std::env::var_os("MODLIB_REQUIRE_CLANG").is_some() {
        out.push(clang);
    }
    out
}

fn cxx_module(compiler: &Compiler, opt: &str) -> Vec<u8> {
    cxx_module_with(compiler, opt, &[])
}

fn cxx_module_with(compiler: &Compiler, opt: &str, extra: &[&str]) -> Vec<u8> {
    let include = format!("-I{}", include_dir().display());
    let header = include_dir().join("module.h");
    let headers = format!(
        "-DKMOD_TEST_HEADER_BYTES={}",
        std::fs::read(&header).map_or(0, |b| b.len())
    );
    let source = fixture_dir().join("cxx.cpp");
    let mut flags = vec![
        opt,
        "-fPIC",
        "-Wall",
        "-fno-exceptions",
        "-fno-rtti",
        "-fno-threadsafe-statics",
        &include,
        &headers,
    ];
    if cfg!(target_arch = "aarch64") {
        flags.push("-mno-outline-atomics");
    }
    flags.extend_from_slice(extra);
    testkit::fixtures::object(compiler, &source, &flags).bytes
}

#[test]
fn cxx_modules_load_run_and_unload() {
    for compiler in cxx_compilers() {
        for opt in ["-O0", "-O2"] {
            let what = format!("{} {opt}", compiler.command());
            let kernel = Kernel::new();
            let image = cxx_module(&compiler, opt);
            let handle = kernel
                .mgr
                .insmod(&image, "cxx")
                .unwrap_or_else(|e| panic!("{what}: insmod: {e}"));
            assert_eq!(
                take_log(),
                ["cxx: global constructed", "cxx: init"],
                "{what}: constructors, then module_init"
            );
            // SAFETY: `cxx_total_area` is `long (void)` with C linkage.
            let total: extern "C" fn() -> std::ffi::c_long =
                unsafe { export(&kernel.mgr, handle, "cxx_total_area") };
            assert_eq!(
                total(),
                7 * 7 + 3 * 4,
                "{what}: virtual calls through relocated vtables"
            );
            kernel
                .mgr
                .rmmod(handle)
                .unwrap_or_else(|e| panic!("{what}: rmmod: {e}"));
            assert_eq!(
                take_log(),
                ["cxx: exit", "cxx: global destroyed"],
                "{what}: module_exit, then destructors"
            );
            assert_eq!(kernel.held(), (0, 0), "{what}: memory returned");
        }
    }
}

/// A C++ module whose init fails after its globals were constructed: their
/// destructors (registered through `__cxa_atexit`) run before it is freed,
/// and `module_exit` does not.
#[test]
fn failed_init_destroys_constructed_globals() {
    for compiler in cxx_compilers() {
        let what = compiler.command().to_string();
        let kernel = Kernel::new();
        let image = cxx_module_with(&compiler, "-O2", &["-DCXX_FAIL_INIT"]);
        let e = kernel.mgr.insmod(&image, "cxx").expect_err("init fails");
        assert!(
            matches!(e, modlib_kmod::KmodError::InitFailed { code: -1, .. }),
            "{what}: {e:?}"
        );
        assert_eq!(
            take_log(),
            [
                "cxx: global constructed",
                "cxx: init",
                "cxx: global destroyed"
            ],
            "{what}"
        );
        assert_eq!(kernel.held(), (0, 0), "{what}: memory returned");
        assert!(kernel.mgr.modhandle("cxx").is_none(), "{what}");
    }
}
