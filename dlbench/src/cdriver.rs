//! The C drivers: `c/driver.c` compiled into a program that calls the
//! system's `dlopen` (glibc), and into one linked with this project's
//! `libmodlib_dl.a` exactly as the README tells C users (the archive before libc,
//! then `-lpthread -ldl -lm`). Both run as [`crate::worker::Worker`]s.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver's source, compiled at bench time.
const SOURCE: &str = include_str!("../c/driver.c");

/// Compiles the driver into `dir`: against the system's `<dlfcn.h>` and
/// libc when `libdl` is `None`, else against `include/dlfcn.h` of `libdl`'s
/// crate and the archive `libdl`. Returns the program's path.
pub fn build(dir: &Path, libdl: Option<(&Path, &Path)>) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let source = dir.join("driver.c");
    std::fs::write(&source, SOURCE).map_err(|e| format!("{}: {e}", source.display()))?;
    let exe = dir.join(if libdl.is_some() {
        "driver-ours"
    } else {
        "driver-glibc"
    });
    let mut gcc = Command::new("gcc");
    gcc.args(["-O2", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe);
    match libdl {
        Some((include, archive)) => {
            gcc.arg("-I").arg(include).arg(&source).arg(archive);
            gcc.args(["-lpthread", "-ldl", "-lm"]);
        }
        None => {
            gcc.arg(&source);
        }
    }
    let out = gcc.output().map_err(|e| format!("cannot run gcc: {e}"))?;
    if out.status.success() {
        Ok(exe)
    } else {
        Err(format!(
            "gcc {:?} failed:\n{}",
            gcc.get_args().collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
