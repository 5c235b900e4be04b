//! `sotest`: the shared-library test suite's build driver.
//!
//! The suite itself is C, in `c/`: `libmodprint.so` (printing and an event
//! log), `libsotest.so` (needs modprint; constructors, destructors, three
//! exported functions and three data objects) and `main.c`, a program that
//! drives both through `dlfcn.h` and prints one `PASS`/`FAIL` line per
//! check and a `N passed, M failed` summary. This crate compiles them: the
//! libraries with a C compiler, the program linked against `libmodlib_dl.a` (our
//! loader's static library). `tests/sotest.rs` builds and runs it;
//! `scripts/demo.sh` does the same with shell commands.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Libraries the Rust static library needs after it on the link line.
pub const SYSTEM_LIBS: &[&str] = &["-lpthread", "-ldl", "-lm"];

/// The directory holding the C sources.
pub fn sources() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

/// The workspace root (where `libdl/` lives).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("sotest lives inside the workspace")
        .to_path_buf()
}

/// Runs `command`, returning its stderr as the error if it fails.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Builds `libmodlib_dl.a` (package `modlib-dl`, default features: the C ABI included)
/// with `cargo build` into its own `target_dir`, so that a `cargo test`
/// holding the workspace's build lock does not wait on itself, for the
/// Rust target `target` (`None`: the host). Returns the archive's path.
pub fn build_libdl(target_dir: &Path, target: Option<&str>) -> Result<PathBuf, String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace())
        .args(["build", "--quiet", "-p", "modlib-dl", "--target-dir"])
        .arg(target_dir);
    let mut out = target_dir.to_path_buf();
    if let Some(target) = target {
        command.args(["--target", target]);
        out.push(target);
    }
    run(&mut command)?;
    Ok(out.join("debug").join("libmodlib_dl.a"))
}

/// Compiles `libmodprint.so` and `libsotest.so` (which needs it, found
/// through `$ORIGIN`) into `out` with the C compiler `cc`.
pub fn build_libraries(cc: &str, out: &Path) -> Result<(), String> {
    let src = sources();
    run(Command::new(cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra"])
        .arg("-Wl,-soname,libmodprint.so")
        .arg(src.join("modprint.c"))
        .arg("-o")
        .arg(out.join("libmodprint.so")))?;
    run(Command::new(cc)
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra"])
        .arg("-Wl,-soname,libsotest.so")
        .arg("-I")
        .arg(&src)
        .arg(src.join("sotest.c"))
        .arg("-L")
        .arg(out)
        .args(["-lmodprint", "-Wl,-rpath,$ORIGIN"])
        .arg("-o")
        .arg(out.join("libsotest.so")))
}

/// Compiles the `sotest` program into `out`, with our `dlfcn.h` first on
/// the include path and linked against `libdl`. Returns its path.
pub fn build_program(cc: &str, out: &Path, libdl: &Path) -> Result<PathBuf, String> {
    let src = sources();
    let program = out.join("sotest");
    run(Command::new(cc)
        .args(["-O2", "-Wall", "-Wextra", "-I"])
        .arg(workspace().join("libdl").join("include"))
        .arg("-I")
        .arg(&src)
        .arg(src.join("main.c"))
        .arg(libdl)
        .args(SYSTEM_LIBS)
        .arg("-o")
        .arg(&program))?;
    Ok(program)
}
