//! `user-demo`: a Rust program that loads plugins written in C with `dl`'s
//! safe [`dl::Library`] wrapper, lists them with their metadata, runs each
//! on an input string, and unloads them, reporting plugins that fail to
//! load instead of stopping.
//!
//! Usage: `user-demo [PLUGIN_DIR] [INPUT]` (defaults `target/demo/plugins`
//! and `Hello, protected world`). The plugin ABI is documented in
//! `plugins/plugin.h`.

use std::ffi::{c_char, c_int, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use dl::{Flags, Library};

/// `const char *plugin_name(void)` and `plugin_description`.
type TextFn = unsafe extern "C" fn() -> *const c_char;
/// `int plugin_run(const char *input, char *out, size_t len)`.
type RunFn = unsafe extern "C" fn(*const c_char, *mut c_char, usize) -> c_int;

/// Size of the output buffer handed to `plugin_run`.
const OUT_LEN: usize = 1024;

/// A plugin that loaded and has the three functions.
struct Plugin {
    file: String,
    library: Library,
    name: String,
    description: String,
}

/// Calls a `plugin_name`-style function and copies its string.
fn text(library: &Library, symbol: &str) -> Result<String, dl::Error> {
    // SAFETY: the plugin ABI (plugin.h) gives these symbols the type
    // `const char *(void)`.
    let f = unsafe { library.get::<TextFn>(symbol)? };
    // SAFETY: the function takes no arguments and returns a static string
    // or null, per the ABI; the library stays open during the call.
    let ptr = unsafe { (*f)() };
    if ptr.is_null() {
        return Ok(String::from("(null)"));
    }
    // SAFETY: non-null and NUL-terminated per the ABI.
    Ok(unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned())
}

/// Opens one plugin and reads its metadata; checks that `plugin_run` exists.
fn load(path: &Path) -> Result<Plugin, dl::Error> {
    // SAFETY: the plugins in the directory are trusted to be plugins of
    // this program: their constructors run here.
    let library = unsafe { Library::open(path, Flags::NOW)? };
    let name = text(&library, "plugin_name")?;
    let description = text(&library, "plugin_description")?;
    // SAFETY: only the lookup happens here; the type is the ABI's.
    unsafe { library.get::<RunFn>("plugin_run")? };
    Ok(Plugin {
        file: file_name(path),
        library,
        name,
        description,
    })
}

/// Runs a plugin on `input`; `Err` holds `plugin_run`'s non-zero status.
fn run(plugin: &Plugin, input: &CStr) -> Result<Result<String, c_int>, dl::Error> {
    // SAFETY: `plugin_run` has the ABI's type (checked to exist at load).
    let f = unsafe { plugin.library.get::<RunFn>("plugin_run")? };
    let mut out = vec![0u8; OUT_LEN];
    // SAFETY: `input` is NUL-terminated, `out` holds `OUT_LEN` writable
    // bytes, and the plugin keeps neither pointer (plugin.h).
    let status = unsafe { (*f)(input.as_ptr(), out.as_mut_ptr().cast(), out.len()) };
    if status != 0 {
        return Ok(Err(status));
    }
    let end = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    Ok(Ok(String::from_utf8_lossy(&out[..end]).into_owned()))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// The `.so` files of `dir`, sorted by name.
fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "so"))
        .collect();
    files.sort();
    Ok(files)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| String::from("target/demo/plugins")),
    );
    let input = args
        .next()
        .unwrap_or_else(|| String::from("Hello, protected world"));
    let Ok(c_input) = CString::new(input.as_str()) else {
        eprintln!("user-demo: the input must not contain NUL bytes");
        return ExitCode::from(2);
    };
    let files = match plugin_files(&dir) {
        Ok(files) => files,
        Err(e) => {
            eprintln!(
                "user-demo: cannot read plugin directory {}: {e}",
                dir.display()
            );
            return ExitCode::from(2);
        }
    };

    println!(
        "user-demo: {} plugin file(s) in {} (loaded with dl::Library, our loader)",
        files.len(),
        dir.display()
    );
    println!("\n-- loading");
    let mut plugins = Vec::new();
    let mut failed_load = 0;
    for path in &files {
        match load(path) {
            Ok(p) => {
                println!("  {:<12} {:<8} {}", p.file, p.name, p.description);
                plugins.push(p);
            }
            Err(e) => {
                failed_load += 1;
                println!("  {:<12} FAILED TO LOAD: {e}", file_name(path));
            }
        }
    }

    println!("\n-- running on {input:?}");
    let mut ran = 0;
    let mut failed_run = 0;
    for p in &plugins {
        match run(p, &c_input) {
            Ok(Ok(output)) => {
                ran += 1;
                println!("  {:<8} -> {output:?}", p.name);
            }
            Ok(Err(status)) => {
                failed_run += 1;
                println!("  {:<8} -> FAILED: plugin_run returned {status}", p.name);
            }
            Err(e) => {
                failed_run += 1;
                println!("  {:<8} -> FAILED: {e}", p.name);
            }
        }
    }

    println!("\n-- unloading");
    for p in plugins {
        let name = p.name.clone();
        match p.library.close() {
            Ok(()) => println!("  {name:<8} unloaded"),
            Err(e) => println!("  {name:<8} unload failed: {e}"),
        }
    }
    let left = dl::hosted::linker().loaded();
    println!("  objects still loaded by our loader: {}", left.len());
    for (path, opens, dependents) in &left {
        println!("    {path} (opens {opens}, dependents {dependents})");
    }

    let run_failures = if failed_run > 0 {
        format!(", {failed_run} failed to run")
    } else {
        String::new()
    };
    println!(
        "\n{} plugins: {ran} ran, {failed_load} failed to load{run_failures}",
        files.len()
    );
    if ran > 0 && failed_run == 0 && left.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
