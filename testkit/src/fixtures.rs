//! Compiles C fixture sources at test time with gcc or clang and caches the
//! results under the build directory, keyed by compiler, flags and source.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A C compiler driver.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Compiler {
    /// The system `gcc`.
    Gcc,
    /// The system `clang`.
    Clang,
    /// Any other driver by command name (a cross compiler, say).
    Named(String),
    /// The system `clang` compiling for the triple given
    /// (`clang --target=<triple>`).
    ClangTarget(String),
}

/// Whether a GNU triple (or a compiler named after one) is 32-bit Arm's,
/// whose fixtures are Thumb-2 code (what a Cortex-M runs) unless a test
/// asks for `-marm`.
fn is_arm_triple(triple: &str) -> bool {
    triple.starts_with("arm-")
}

impl Compiler {
    /// The command to run.
    pub fn command(&self) -> &str {
        match self {
            Compiler::Gcc => "gcc",
            Compiler::Clang | Compiler::ClangTarget(_) => "clang",
            Compiler::Named(name) => name,
        }
    }

    /// Arguments that come before any flags (the target selection). For
    /// 32-bit Arm also `-mthumb`, which a later `-marm` overrides, and for
    /// clang `-march=armv7-a`, the architecture of the hard-float GNU
    /// toolchain. (clang is given the GNU triple rather than `armv7a-...`
    /// so that it links with that toolchain's `arm-linux-gnueabihf-ld`.)
    pub fn target_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        match self {
            Compiler::ClangTarget(triple) => {
                args.push(format!("--target={triple}"));
                if is_arm_triple(triple) {
                    args.push("-march=armv7-a".into());
                    args.push("-mthumb".into());
                }
            }
            Compiler::Named(name) if is_arm_triple(name) => args.push("-mthumb".into()),
            Compiler::Gcc | Compiler::Clang | Compiler::Named(_) => {}
        }
        args
    }

    /// The GNU triple of the machine the tests are built for, when that is
    /// not x86-64: the fixtures must then be cross-compiled for it (the
    /// tests themselves run under qemu-user).
    pub fn cross_triple() -> Option<&'static str> {
        if cfg!(target_arch = "riscv64") {
            Some("riscv64-linux-gnu")
        } else if cfg!(target_arch = "aarch64") {
            Some("aarch64-linux-gnu")
        } else if cfg!(target_arch = "arm") {
            Some("arm-linux-gnueabihf")
        } else {
            None
        }
    }

    /// The Rust target triple the tests are built for, when that is not
    /// x86-64 (for a nested `cargo build --target` that must produce code
    /// for the same machine).
    pub fn cross_rust_target() -> Option<&'static str> {
        if cfg!(target_arch = "riscv64") {
            Some("riscv64gc-unknown-linux-gnu")
        } else if cfg!(target_arch = "aarch64") {
            Some("aarch64-unknown-linux-gnu")
        } else if cfg!(target_arch = "arm") {
            Some("armv7-unknown-linux-gnueabihf")
        } else {
            None
        }
    }

    /// gcc producing code for the machine the tests run on: the system
    /// `gcc` on x86-64, elsewhere the cross `<triple>-gcc`.
    pub fn host_gcc() -> Compiler {
        match Compiler::cross_triple() {
            Some(triple) => Compiler::Named(format!("{triple}-gcc")),
            None => Compiler::Gcc,
        }
    }

    /// clang producing code for the machine the tests run on: the system
    /// `clang`, with `--target=<triple>` when that is not x86-64.
    pub fn host_clang() -> Compiler {
        match Compiler::cross_triple() {
            Some(triple) => Compiler::ClangTarget(triple.into()),
            None => Compiler::Clang,
        }
    }

    /// g++ producing code for the machine the tests run on: the system
    /// `g++` on x86-64, elsewhere the cross `<triple>-g++`.
    pub fn host_gxx() -> Compiler {
        match Compiler::cross_triple() {
            Some(triple) => Compiler::Named(format!("{triple}-g++")),
            None => Compiler::Named("g++".into()),
        }
    }

    /// Whether the driver is installed.
    pub fn available(&self) -> bool {
        Command::new(self.command())
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// gcc, and clang when installed, both producing code for the machine
    /// the tests run on: on x86-64 the system compilers, elsewhere the cross
    /// gcc (`<triple>-gcc`) and `clang --target=<triple>`. When
    /// `MODLIB_REQUIRE_CLANG` is set (as the project's test script does), a
    /// missing clang is a test failure, not a silent skip.
    pub fn host_compilers() -> Vec<Compiler> {
        let (gcc, clang) = (Compiler::host_gcc(), Compiler::host_clang());
        assert!(gcc.available(), "{} is not installed", gcc.command());
        let mut out = vec![gcc];
        if clang.available() {
            out.push(clang);
        } else if std::env::var_os("MODLIB_REQUIRE_CLANG").is_some() {
            panic!("clang is required (MODLIB_REQUIRE_CLANG is set) but not installed");
        } else {
            eprintln!("note: clang not installed; only gcc fixtures are exercised");
        }
        out
    }
}

/// A command running `program`, an executable built for the machine the
/// tests run on: directly on x86-64, elsewhere under qemu-user
/// (`qemu-riscv64`, `qemu-aarch64`, `qemu-arm`; there is no binfmt_misc
/// to do that for us). The emulator finds the target's C library through
/// `QEMU_LD_PREFIX`, which the cargo runner (`.cargo/config.toml`) sets
/// and the test process passes on to its children.
pub fn program_command(program: &Path) -> Command {
    let emulator = if cfg!(target_arch = "riscv64") {
        Some("qemu-riscv64")
    } else if cfg!(target_arch = "aarch64") {
        Some("qemu-aarch64")
    } else if cfg!(target_arch = "arm") {
        Some("qemu-arm")
    } else {
        None
    };
    match emulator {
        Some(qemu) => {
            let mut command = Command::new(qemu);
            command.arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// A compiled fixture: where it is and its bytes.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Path of the output file.
    pub path: PathBuf,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// Directory the fixtures are built into: `target/<profile>/fixtures`.
pub fn out_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .map_or_else(std::env::temp_dir, Path::to_path_buf);
    let dir = profile_dir.join("fixtures");
    std::fs::create_dir_all(&dir).expect("create fixture directory");
    dir
}

/// Compiles `sources` with `flags` (which decide the output kind: pass `-c`
/// for an object, `-shared` for a shared object) into a cached file with the
/// given extension.
pub fn build(compiler: &Compiler, sources: &[&Path], flags: &[&str], ext: &str) -> Fixture {
    let mut hasher = DefaultHasher::new();
    compiler.hash(&mut hasher);
    flags.hash(&mut hasher);
    for src in sources {
        std::fs::read(src)
            .unwrap_or_else(|e| panic!("read {}: {e}", src.display()))
            .hash(&mut hasher);
    }
    let stem = sources[0]
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("fixture");
    let path = out_dir().join(format!("{stem}-{:016x}.{ext}", hasher.finish()));
    if !path.exists() {
        // Unique per process and per call: tests running in parallel threads
        // may build the same fixture at once, and each renames its own file.
        static BUILDS: AtomicUsize = AtomicUsize::new(0);
        let tmp = path.with_extension(format!(
            "{ext}.tmp{}-{}",
            std::process::id(),
            BUILDS.fetch_add(1, Ordering::Relaxed)
        ));
        let output = Command::new(compiler.command())
            .args(compiler.target_args())
            .args(flags)
            .args(sources)
            .arg("-o")
            .arg(&tmp)
            .output()
            .unwrap_or_else(|e| panic!("run {}: {e}", compiler.command()));
        assert!(
            output.status.success(),
            "{} {:?} {:?} failed:\n{}",
            compiler.command(),
            flags,
            sources,
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&tmp, &path).expect("move fixture into place");
    }
    let bytes = std::fs::read(&path).expect("read fixture");
    Fixture { path, bytes }
}

/// Compiles one source to a relocatable object (`-c`).
pub fn object(compiler: &Compiler, source: &Path, flags: &[&str]) -> Fixture {
    let mut all = vec!["-c"];
    all.extend_from_slice(flags);
    build(compiler, &[source], &all, "o")
}

/// Links sources into a shared object (`-shared`).
pub fn shared(compiler: &Compiler, sources: &[&Path], flags: &[&str]) -> Fixture {
    let mut all = vec!["-shared"];
    all.extend_from_slice(flags);
    build(compiler, sources, &all, "so")
}
