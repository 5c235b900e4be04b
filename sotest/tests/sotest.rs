//! Builds the C suite (libmodprint.so, libsotest.so, the program linked
//! with our libmodlib_dl.a) and runs the program: every check passes, and the
//! output shows that our loader, not the system's, answered.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use testkit::fixtures::program_command;
use testkit::Compiler;

/// Every check the program makes, in order.
const CHECKS: &[&str] = &[
    "open libmodprint.so (RTLD_NOW|RTLD_GLOBAL)",
    "find modprint_events and modprint_set_logger",
    "modprint constructor ran at dlopen",
    "open libsotest.so (RTLD_NOW)",
    "constructors ran dependency first, in priority order",
    "second dlopen of libsotest.so returns the same handle",
    "find the three functions and three data objects of libsotest.so",
    "sotest_add(2, 3) == 5",
    "sotest_greet calls into modprint",
    "sotest_name == \"sotest\"",
    "sotest_ratio == 0.5",
    "sotest_counter starts at 42",
    "sotest_bump sees the written sotest_counter (100 -> 101)",
    "dlsym through libsotest.so finds its dependency's modprint",
    "RTLD_DEFAULT finds modprint_event (RTLD_GLOBAL)",
    "RTLD_DEFAULT does not find sotest_add (RTLD_LOCAL)",
    "dlsym of a missing symbol fails with \"undefined symbol\"",
    "dladdr names libsotest.so and sotest_add",
    "dlopen of a missing library fails",
    "the error comes from our loader (\"cannot open shared object file: not found\")",
    "dlclose libmodprint.so first, while libsotest.so needs it",
    "libmodprint.so stays resident (RTLD_NOLOAD finds it)",
    "no destructor ran yet",
    "libsotest.so still calls modprint",
    "dlclose libsotest.so",
    "destructors ran dependent first, in reverse priority order",
    "libsotest.so is unloaded (RTLD_NOLOAD gives NULL)",
    "libmodprint.so is unloaded (RTLD_NOLOAD gives NULL)",
    "dlclose of a closed handle fails",
];

/// The build directory holding the two libraries and the program, built
/// once per test process.
fn built() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let target = tmp.parent().expect("CARGO_TARGET_TMPDIR is target/tmp");
        // Built for the machine the tests run on: with the cross gcc and
        // for the cross Rust target when that is not x86-64.
        let libdl =
            sotest::build_libdl(&target.join("sotest-libdl"), Compiler::cross_rust_target())
                .unwrap_or_else(|e| panic!("{e}"));
        let gcc = Compiler::host_gcc();
        let out = tmp.join("sotest");
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).expect("create the build directory");
        sotest::build_libraries(gcc.command(), &out).unwrap_or_else(|e| panic!("{e}"));
        sotest::build_program(gcc.command(), &out, &libdl).unwrap_or_else(|e| panic!("{e}"));
        out
    })
}

/// Runs the program as `command` (under qemu-user when the tests run on
/// another machine than x86-64) and checks its report.
fn assert_all_pass(command: &mut Command) {
    let output = command.output().expect("run the sotest program");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        output.status.success(),
        "exit status {}\n{context}",
        output.status
    );
    for check in CHECKS {
        assert!(
            stdout.lines().any(|l| l == format!("PASS {check}")),
            "missing `PASS {check}`\n{context}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{context}");
    assert_eq!(
        stdout.lines().last(),
        Some(format!("{} passed, 0 failed", CHECKS.len()).as_str()),
        "{context}"
    );
    // Our loader's wording (glibc says "No such file or directory").
    assert!(
        stdout.contains(
            "dlerror: libsotest-does-not-exist.so: cannot open shared object file: not found"
        ),
        "{context}"
    );
    // Library code ran: modprint printed for sotest_greet, twice.
    assert_eq!(stdout.matches("[modprint] hello, ").count(), 2, "{context}");
    assert!(
        stdout.contains(
            "logger saw: sotest:ctor1 sotest:ctor2 sotest:dtor2 sotest:dtor1 modprint:dtor"
        ),
        "{context}"
    );
}

#[test]
fn passes_run_in_the_library_directory() {
    let dir = built();
    assert_all_pass(program_command(&dir.join("sotest")).current_dir(dir));
}

#[test]
fn passes_given_the_library_directory() {
    let dir = built();
    assert_all_pass(
        program_command(&dir.join("sotest"))
            .arg(dir)
            .current_dir(std::env::temp_dir()),
    );
}
