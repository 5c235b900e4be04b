//! A C program compiled against `include/dlfcn.h` and linked with
//! `libmodlib_dl.a` (built here with cargo into its own target directory, so the
//! outer build's lock is not contended) loads an ordinary gcc-built library
//! through our loader, and its output proves the loader was ours, not
//! glibc's. A C++ program on `libmodlib_dl.a` catches exceptions thrown by a
//! library it loaded, and walks a backtrace through loaded code.

mod common;

use std::process::Command;

use testkit::Compiler;

#[test]
fn c_program_uses_our_loader() {
    let library = common::lib("cprog_lib", &["cprog_lib.c"], &[], &[]);
    let tls = common::initial_exec_tls_library();
    let missing = common::lib_dir().join("libcprog_missing.so");
    let flags = ["-std=c11", "-Wall", "-Wextra", "-Werror"].map(String::from);
    let program = common::link_with_libdl(&Compiler::host_gcc(), &flags, "cprog.c", "cprog");

    let run = testkit::fixtures::program_command(&program)
        .arg(&library)
        .arg(&tls)
        .arg(&missing)
        .output()
        .expect("run the C program");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "C program failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    let lib = library.display();
    let expected = format!(
        "missing: {missing}: cannot open shared object file: not found\n\
         cleared: yes\n\
         tls: {tls}: unsupported thread-local storage: {initial_exec}\n\
         summary: n=7 min=-7 median=8 max=1000 mean=153.29\n\
         dladdr: cprog_summary\n\
         malloc: found\n\
         nosuch: {lib}: undefined symbol: cprog_nosuch\n\
         close: 0\n\
         stale: invalid handle\n",
        missing = missing.display(),
        tls = tls.display(),
        initial_exec = common::INITIAL_EXEC_MESSAGE,
    );
    assert_eq!(stdout, expected);
}

#[test]
fn cxx_program_catches_exceptions_thrown_by_loaded_code() {
    let thrower = common::lib("cxx_thrower", &["cxx_thrower.cpp"], &[], &[]);
    // With unwind tables (gcc emits none for C by default on riscv64).
    let callback = common::lib(
        "callback",
        &["callback.c"],
        &[],
        &["-fasynchronous-unwind-tables"],
    );
    let gxx = Compiler::host_gxx();
    let mut flags = gxx.target_args();
    flags.extend(["-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror"].map(String::from));
    let program = common::link_with_libdl(&gxx, &flags, "cxxprog.cpp", "cxxprog");
    let run = testkit::fixtures::program_command(&program)
        .arg(&thrower)
        .arg(&callback)
        .output()
        .expect("run the C++ program");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "C++ program failed ({}):\n{stdout}\n{}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        stdout,
        "caught: coded error 7 (guards 1)\n\
         caught int: -5 (guards 1)\n\
         backtrace: library yes, program yes\n\
         close: 0 0\n"
    );
}

/// binutils read the archive: `nm` lists the C ABI's definitions, as a user
/// checking which `dlopen` a program links does. (Objects that carry only
/// LLVM bitcode, as link-time optimisation leaves them, are unreadable to
/// a binutils whose LTO plugin is another LLVM's: `nm` then lists nothing.)
#[test]
fn nm_lists_the_c_abi_in_the_static_library() {
    let archive = common::static_library();
    let nm = match Compiler::cross_triple() {
        Some(triple) => format!("{triple}-nm"),
        None => String::from("nm"),
    };
    let output = Command::new(&nm)
        .arg("--defined-only")
        .arg(&archive)
        .output()
        .unwrap_or_else(|e| panic!("run {nm}: {e}"));
    assert!(output.status.success(), "{nm} failed");
    let listing = String::from_utf8_lossy(&output.stdout);
    for name in [
        "dlopen",
        "dlsym",
        "dlclose",
        "dlerror",
        "dladdr",
        "dl_iterate_phdr",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(&format!(" T {name}"))),
            "{nm} does not list `{name}` as defined in {}",
            archive.display()
        );
    }
}
