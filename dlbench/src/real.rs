//! Real libraries of the machine, opened by path: the same cycle as the
//! generated ones, on code and relocation mixes nobody chose for the
//! benchmark. Each row is a library that both the system loader and ours
//! should be able to load and unload again.

use std::path::{Path, PathBuf};

use elf::abi::{STB_GLOBAL, STB_WEAK, STT_FUNC, STT_OBJECT};
use elf::endian::AnyEndian;
use elf::ElfBytes;

use crate::fixture::Library;

/// The libraries looked for, by file name; those the machine has are used.
pub const CANDIDATES: [&str; 10] = [
    "libz.so.1",
    "libpng16.so.16",
    "libexpat.so.1",
    "libjpeg.so.62",
    "libgmp.so.10",
    "libxml2.so.2",
    "libsqlite3.so.0",
    "libcurl.so.4",
    "libpython3.11.so.1.0",
    "libicuuc.so.72",
];

/// Directories searched, in order.
fn directories() -> Vec<PathBuf> {
    let triple = format!("{}-linux-gnu", std::env::consts::ARCH);
    ["/usr/lib", "/lib"]
        .iter()
        .map(|d| Path::new(d).join(&triple))
        .chain(["/usr/lib64", "/usr/lib", "/lib64", "/lib"].map(PathBuf::from))
        .collect()
}

/// Finds `name` in the system's library directories.
pub fn find(name: &str) -> Option<PathBuf> {
    directories()
        .into_iter()
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The library at `path` as a benchmark row: its exported functions and
/// data from `.dynsym`, ten functions spread over them as the sample.
pub fn library(path: &Path) -> Result<Library, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = ElfBytes::<AnyEndian>::minimal_parse(&bytes).map_err(|e| e.to_string())?;
    let (symbols, strings) = file
        .dynamic_symbol_table()
        .map_err(|e| e.to_string())?
        .ok_or("no dynamic symbol table")?;
    let mut functions = Vec::new();
    let mut exports = Vec::new();
    for sym in symbols.iter() {
        let binding = sym.st_bind();
        let kind = sym.st_symtype();
        if sym.is_undefined()
            || sym.st_value == 0
            || !(binding == STB_GLOBAL || binding == STB_WEAK)
            || !(kind == STT_FUNC || kind == STT_OBJECT)
        {
            continue;
        }
        let Ok(name) = strings.get(sym.st_name as usize) else {
            continue;
        };
        if kind == STT_FUNC {
            functions.push(String::from(name));
        }
        exports.push(String::from(name));
    }
    exports.sort();
    exports.dedup();
    functions.sort();
    functions.dedup();
    if functions.is_empty() {
        return Err(format!("{}: exports no function", path.display()));
    }
    let sample = (0..10)
        .map(|k| functions[k * (functions.len() - 1) / 9].clone())
        .collect();
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(Library {
        name,
        size: None,
        path: path.to_path_buf(),
        dependency: None,
        sample,
        exports,
        functions: functions.len(),
    })
}
