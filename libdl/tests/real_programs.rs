//! `dlopen` in real programs: a C program linked with `libmodlib_dl.a` before the
//! C library (so the whole process uses our `dlopen` family) runs each case
//! in a child process with a time limit, a deadlock failing the test
//! instead of hanging it, and prints what it saw.
//!
//! - constructors of a library the system's loader loads (one found through
//!   `LD_LIBRARY_PATH`) or ours call `dlsym`, `dlopen`, `dladdr` and
//!   `dlclose`, on their own thread and on another, as do IFUNC resolvers
//!   run while a library is relocated or a waiting lazy call is bound;
//! - a library binds `environ` to the program's copy, which `setenv` updates,
//!   and every symbol of an unversioned system library is found;
//! - a library that exports nothing loads (with and without section headers);
//! - `dlsym` of a thread-local variable gives the calling thread's copy,
//!   ours or the system loader's;
//! - a path to a loaded system library opens the loaded one.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testkit::Compiler;

/// How long one run may take before it counts as hung.
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// `realprog.c` linked with `libmodlib_dl.a`, built once.
fn program() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let flags = ["-Wall", "-Wextra", "-Werror"].map(String::from);
            common::link_with_libdl(&Compiler::host_gcc(), &flags, "realprog.c", "realprog")
        })
        .clone()
}

/// Runs the program with `args` and `env`, killed if it outlives
/// [`TIME_LIMIT`]; its standard output, which the run must end well.
fn run(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut command = testkit::fixtures::program_command(&program());
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start the C program");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the C program") {
            break status;
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            let mut out = String::new();
            let _ = child.stdout.take().unwrap().read_to_string(&mut out);
            panic!("{args:?} still running after {TIME_LIMIT:?} (deadlocked?); printed:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "{args:?} failed ({status}):\n{out}\n{err}"
    );
    out
}

fn text(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// Issue 12, item 1: a library the system's loader loads runs its
/// constructor while `dlopen` is under way; calling back into `dlsym`,
/// `dlopen`, `dladdr` and `dlclose` from it must not wait for `dlopen`'s
/// lock.
#[test]
fn a_constructor_run_by_the_system_loader_calls_back_in() {
    let plain = common::lib("rp_plain", &["rp_plain.c"], &[], &[]);
    common::lib("rp_reenter", &["rp_reenter.c"], &[], &[]);
    let out = run(
        &["reenter", "librp_reenter.so"],
        &[
            ("LD_LIBRARY_PATH", &common::lib_dir()),
            ("RP_PLAIN", &plain),
        ],
    );
    assert_eq!(
        out, "reenter: dlsym ok, call 42, dladdr ok, dlclose 0\n",
        "{out}"
    );
}

/// Issue 12, item 1, from another thread: the constructor waits for a
/// thread of its own that calls back in.
#[test]
fn a_constructor_run_by_the_system_loader_calls_back_from_another_thread() {
    let plain = common::lib("rp_plain", &["rp_plain.c"], &[], &[]);
    common::lib(
        "rp_reenter_thread",
        &["rp_reenter.c"],
        &[],
        &["-DRP_FROM_THREAD", "-pthread"],
    );
    let out = run(
        &["reenter", "librp_reenter_thread.so"],
        &[
            ("LD_LIBRARY_PATH", &common::lib_dir()),
            ("RP_PLAIN", &plain),
        ],
    );
    assert_eq!(
        out, "reenter: dlsym ok, call 42, dladdr ok, dlclose 0\n",
        "{out}"
    );
}

/// Issue 12, item 1, constructors our loader runs: one calling `dlopen`,
/// `dlsym`, `dladdr` and `dlclose` itself, and one waiting for a thread of
/// its own that calls them (an open of an unrelated library does not wait
/// for the constructor).
#[test]
fn a_constructor_run_by_our_loader_calls_back_from_another_thread() {
    let plain = common::lib("rp_plain", &["rp_plain.c"], &[], &[]);
    let same = common::lib("rp_reenter", &["rp_reenter.c"], &[], &[]);
    let thread = common::lib(
        "rp_reenter_thread",
        &["rp_reenter.c"],
        &[],
        &["-DRP_FROM_THREAD", "-pthread"],
    );
    for lib in [same, thread] {
        let out = run(&["reenter", text(&lib)], &[("RP_PLAIN", &plain)]);
        assert_eq!(
            out,
            "reenter: dlsym ok, call 42, dladdr ok, dlclose 0\n",
            "{}: {out}",
            lib.display()
        );
    }
}

/// Issue 12, item 1, IFUNC resolvers: one that runs while its library is
/// relocated calls `dlsym`.
#[test]
fn an_ifunc_resolver_run_during_the_load_calls_back_in() {
    let lib = common::lib("rp_ifunc", &["rp_ifunc.c"], &[], &[]);
    let out = run(&["ifunc", text(&lib)], &[]);
    assert_eq!(out, "ifunc: 42\n", "{out}");
}

/// Issue 12, item 1, IFUNC resolvers: one that a later `RTLD_GLOBAL`
/// library defines, run when it binds a call a lazily bound library was
/// waiting with, calls `dlsym`.
#[test]
fn an_ifunc_resolver_binding_a_waiting_call_calls_back_in() {
    let user = common::lib(
        "lazy_late_user",
        &["lazy_late_user.c"],
        &[],
        &["-Wl,-z,lazy"],
    );
    let provider = common::lib("rp_late_ifunc", &["rp_late_ifunc.c"], &[], &[]);
    let out = run(&["lateifunc", text(&user), text(&provider)], &[]);
    assert_eq!(out, "late ifunc: 42\n", "{out}");
}

/// Issue 12, item 2: the program's `environ` (a copy the executable holds,
/// without version definitions of its own) is the one a library's
/// versioned reference binds to, so the library sees `setenv`.
#[test]
fn a_library_binds_the_programs_environ() {
    let lib = common::lib("rp_environ", &["rp_environ.c"], &[], &[]);
    let out = run(&["environ", text(&lib)], &[]);
    assert_eq!(
        out, "environ: set by the program\nsame environ: yes\n",
        "{out}"
    );
}

/// Issue 12, item 2, for a library: every symbol of a library without
/// symbol versions (no `DT_VERSYM`, no `DT_VERDEF`) that the system's
/// loader loaded is found by `dlsym`.
#[test]
fn every_symbol_of_an_unversioned_system_library_is_found() {
    common::lib("rp_many", &["rp_many.c"], &[], &["-nostdlib"]);
    let out = run(
        &["many", "librp_many.so"],
        &[("LD_LIBRARY_PATH", &common::lib_dir())],
    );
    assert_eq!(out, "many: 300 of 300\n", "{out}");
}

/// A copy of `lib` beside it, named `name`, without section headers (the
/// loader must then bound the symbol table without them).
fn without_section_headers(lib: &Path, name: &str) -> PathBuf {
    let mut bytes = std::fs::read(lib).unwrap();
    // e_shoff, e_shnum and e_shstrndx.
    let (shoff, shnum) = if common::WORD == 8 {
        (0x28, 0x3c)
    } else {
        (0x20, 0x30)
    };
    common::put_word(&mut bytes, shoff, 0);
    bytes[shnum..shnum + 4].fill(0);
    let out = lib.with_file_name(name);
    std::fs::write(&out, bytes).unwrap();
    out
}

/// Issue 12, item 3: a library that exports nothing (an empty GNU hash
/// table, whose imports the relocations name) loads and its constructor
/// runs, with its section headers and without them.
#[test]
fn a_library_exporting_nothing_loads() {
    let lib = common::lib("rp_noexport", &["rp_noexport.c"], &[], &[]);
    let stripped = without_section_headers(&lib, "librp_noexport_noshdr.so");
    let out = run(&["noexport", text(&lib), text(&stripped)], &[]);
    assert_eq!(
        out, "noexport: constructor ran, close 0\nnoexport: constructor ran, close 0\n",
        "{out}"
    );
}

/// Issue 12, item 4: `dlsym` of a thread-local variable gives the calling
/// thread's copy (the one the library's own code uses), made for a thread
/// on its first use.
#[test]
fn dlsym_of_a_thread_local_gives_the_callers_copy() {
    let lib = common::lib("rp_tls", &["rp_tls.c"], &[], &[]);
    let out = run(&["tls", text(&lib)], &[]);
    assert_eq!(
        out, "tls main: same, value 8\ntls thread: same, value 7, own copy\n",
        "{out}"
    );
}

/// Issue 12, item 4, for a library the system's loader loaded (found
/// through `LD_LIBRARY_PATH`): its loader places the thread's instance.
#[test]
fn dlsym_of_a_system_librarys_thread_local_gives_the_callers_copy() {
    common::lib("rp_host_tls", &["rp_tls.c"], &[], &[]);
    let out = run(
        &["tls", "librp_host_tls.so"],
        &[("LD_LIBRARY_PATH", &common::lib_dir())],
    );
    assert_eq!(
        out, "tls main: same, value 8\ntls thread: same, value 7, own copy\n",
        "{out}"
    );
}

/// Issue 12, item 5: a path to a system library the process has loaded
/// (found by `dladdr`) opens that library, not a second copy.
#[test]
fn a_path_to_a_loaded_system_library_opens_it() {
    let out = run(&["same"], &[]);
    assert_eq!(
        out, "libm: the loaded one, same handle\nlibc: the loaded one, same handle\n",
        "{out}"
    );
}
