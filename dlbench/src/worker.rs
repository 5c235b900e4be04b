//! Columns measured in a worker process, driven over its stdin/stdout with
//! one command per line (`check`, `cycle`, `lookups`; see
//! `src/bin/dlopen-rs-worker.rs` and `c/driver.c`): `dlopen-rs`, which would
//! replace glibc's `dlopen` in this process, and the C drivers, which call
//! `dlopen` as a C program does (glibc's, or this project's `libmodlib_dl.a`).
//! Timing happens inside the worker, so the pipe is not measured.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::loaders::{Loader, Prepared};

/// A column run by a worker process.
#[derive(Debug)]
pub struct Worker {
    name: &'static str,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    names_files: Vec<(PathBuf, PathBuf)>,
}

impl Worker {
    /// Starts the worker binary at `exe` for the column `name`.
    pub fn spawn(name: &'static str, exe: &Path) -> Result<Worker, String> {
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let input = child.stdin.take().ok_or("no worker stdin")?;
        let output = BufReader::new(child.stdout.take().ok_or("no worker stdout")?);
        Ok(Worker {
            name,
            child,
            input,
            output,
            names_files: Vec::new(),
        })
    }

    fn ask(&mut self, line: &str) -> Result<String, String> {
        writeln!(self.input, "{line}")
            .and_then(|()| self.input.flush())
            .map_err(|_| String::from("worker exited"))?;
        let mut answer = String::new();
        match self.output.read_line(&mut answer) {
            Ok(0) | Err(_) => Err(match self.child.try_wait() {
                Ok(Some(status)) => format!("worker died ({status})"),
                _ => String::from("worker exited"),
            }),
            Ok(_) => {
                let answer = answer.trim_end();
                match answer.strip_prefix("err ") {
                    Some(e) => Err(String::from(e)),
                    None => Ok(String::from(
                        answer.strip_prefix("ok").unwrap_or(answer).trim(),
                    )),
                }
            }
        }
    }

    /// Has the worker open `count` libraries `PREFIX0.so`... with
    /// `RTLD_GLOBAL` and keep them (the C drivers' `preload`).
    pub fn preload(&mut self, count: usize, prefix: &Path) -> Result<(), String> {
        self.ask(&format!("preload {count} - {}", prefix.display()))
            .map(drop)
    }

    fn nanos(&mut self, line: &str) -> Result<Duration, String> {
        let n: u64 = self
            .ask(line)?
            .parse()
            .map_err(|_| String::from("bad worker answer"))?;
        Ok(Duration::from_nanos(n))
    }

    fn names_file(&mut self, lib: &Prepared) -> Result<PathBuf, String> {
        if let Some((_, f)) = self
            .names_files
            .iter()
            .find(|(p, _)| *p == lib.library.path)
        {
            return Ok(f.clone());
        }
        let file = lib.library.path.with_extension("exports");
        std::fs::write(&file, lib.library.exports.join("\n")).map_err(|e| e.to_string())?;
        self.names_files
            .push((lib.library.path.clone(), file.clone()));
        Ok(file)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Loader for Worker {
    fn name(&self) -> &'static str {
        self.name
    }

    fn check(&mut self, lib: &Prepared) -> Result<Option<String>, String> {
        let expected = lib
            .expected
            .map_or_else(|| String::from("-"), |e| e.to_string());
        let answer = self.ask(&format!("check {expected} - {}", lib.path()))?;
        Ok((!answer.is_empty()).then_some(answer))
    }

    fn cycle(&mut self, lib: &Prepared, iterations: u32) -> Result<Duration, String> {
        let names = lib.library.sample.join(",");
        self.nanos(&format!("cycle {iterations} {names} {}", lib.path()))
    }

    fn lookups(&mut self, lib: &Prepared, passes: u32) -> Result<Duration, String> {
        let file = self.names_file(lib)?;
        self.nanos(&format!(
            "lookups {passes} {} {}",
            file.display(),
            lib.path()
        ))
    }
}
