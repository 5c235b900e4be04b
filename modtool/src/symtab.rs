//! `modtool symtab`: the table of symbols a kernel exports to modules,
//! from what a set of modules imports or from a kernel image's global
//! definitions, as `modlib_kmod::export_symbols!` input, a C table, or the list
//! `modtool check` reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use modlib::SymbolKind;

use crate::module::{machine_of, Module, KMOD_RUNTIME};
use crate::{Args, Usage};

const HELP: &str = "\
usage: modtool symtab [--from-modules FILE...] [--from-elf KERNEL] [--format rust|c|text]

Writes to standard output the symbols a kernel must export to modules:
  --from-modules FILE...  what the modules import (weak references left out)
                          that none of them exports, and kmod does not answer
                          itself (its C++ runtime)
  --from-elf KERNEL       the functions and data the linked kernel defines
                          globally; with --from-modules, only those the
                          modules import (a name the kernel lacks is an error)
  --format text           one name per line, what `modtool check --symbols`
                          reads (the default)
  --format rust           input for modlib_kmod::export_symbols!
  --format c              a C array of { name, address }
Names read only from modules are written as functions: mark data items
`data` in the Rust table.";

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Text,
    Rust,
    C,
}

/// Runs `symtab`; false if the kernel lacks something the modules import.
pub fn run(args: &[String]) -> Result<bool, Usage> {
    let args = Args::parse(args, &["from-elf", "format"], &["from-modules"])?;
    if args.help {
        println!("{HELP}");
        return Ok(true);
    }
    if !args.positional.is_empty() {
        return Err(Usage(format!(
            "symtab takes files only after --from-modules or --from-elf\n\n{HELP}"
        )));
    }
    let format = match args.value("format").unwrap_or("text") {
        "text" => Format::Text,
        "rust" => Format::Rust,
        "c" => Format::C,
        other => return Err(Usage(format!("unknown format `{other}` (rust, c or text)"))),
    };
    let from_modules = args.last("from-modules");
    let kernel = args.value("from-elf");
    if from_modules.is_none() && kernel.is_none() {
        return Err(Usage(format!(
            "symtab needs --from-modules or --from-elf\n\n{HELP}"
        )));
    }
    let imported = from_modules.map(imports).transpose().map_err(Usage)?;
    let defined = kernel.map(kernel_globals).transpose().map_err(Usage)?;
    let mut ok = true;
    let table: BTreeMap<String, SymbolKind> = match (imported, defined) {
        (Some(imported), Some(defined)) => {
            let mut table = BTreeMap::new();
            for name in imported.into_keys() {
                if let Some(&kind) = defined.get(&name) {
                    table.insert(name, kind);
                } else {
                    eprintln!(
                        "modtool: `{name}` is imported by modules but not defined by {}",
                        kernel.unwrap_or_default()
                    );
                    ok = false;
                }
            }
            table
        }
        (Some(table), None) | (None, Some(table)) => table,
        (None, None) => unreachable!("checked above"),
    };
    print!("{}", render(&table, format));
    Ok(ok)
}

/// What `files` import that none of them exports.
fn imports(files: &[String]) -> Result<BTreeMap<String, SymbolKind>, String> {
    if files.is_empty() {
        return Err("--from-modules needs at least one FILE".into());
    }
    let modules = files
        .iter()
        .map(|f| Module::read(Path::new(f)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(modules
        .iter()
        .flat_map(|m| &m.imports)
        .filter(|u| !u.weak && !KMOD_RUNTIME.contains(&u.name.as_str()))
        .filter(|u| !modules.iter().any(|m| m.exports.contains(&u.name)))
        .map(|u| (u.name.clone(), SymbolKind::Function))
        .collect())
}

/// The C-identifier global functions and data a kernel image defines.
fn kernel_globals(path: &str) -> Result<BTreeMap<String, SymbolKind>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let machine = machine_of(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let globals =
        modlib::inspect::defined_globals(&bytes, machine).map_err(|e| format!("{path}: {e}"))?;
    Ok(globals
        .into_iter()
        .filter(|(name, _)| is_identifier(name))
        .map(|(name, kind)| {
            let kind = if kind == SymbolKind::Object {
                SymbolKind::Object
            } else {
                SymbolKind::Function
            };
            (name, kind)
        })
        .collect())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn render(table: &BTreeMap<String, SymbolKind>, format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Text => {
            for name in table.keys() {
                let _ = writeln!(out, "{name}");
            }
        }
        Format::Rust => {
            out.push_str("modlib_kmod::export_symbols!(KERNEL_SYMBOLS = [\n");
            for (name, kind) in table {
                let kind = if *kind == SymbolKind::Object {
                    "data"
                } else {
                    "fn"
                };
                let _ = writeln!(out, "    {kind} {name},");
            }
            out.push_str("]);\n");
        }
        Format::C => {
            out.push_str(
                "/* Symbols the kernel exports to modules; their declarations must be\n \
                 * in scope (include the headers that declare them first). */\n\
                 struct kmod_symbol {\n    const char *name;\n    const void *address;\n};\n\n\
                 const struct kmod_symbol kmod_symbols[] = {\n",
            );
            for name in table.keys() {
                let _ = writeln!(out, "    {{ \"{name}\", (const void *)&{name} }},");
            }
            out.push_str(
                "};\n\nconst unsigned long kmod_symbol_count =\n    \
                 sizeof kmod_symbols / sizeof kmod_symbols[0];\n",
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_format() {
        let table: BTreeMap<String, SymbolKind> = [
            ("klog".to_string(), SymbolKind::Function),
            ("TICKS".to_string(), SymbolKind::Object),
        ]
        .into_iter()
        .collect();
        assert_eq!(render(&table, Format::Text), "TICKS\nklog\n");
        assert_eq!(
            render(&table, Format::Rust),
            "modlib_kmod::export_symbols!(KERNEL_SYMBOLS = [\n    data TICKS,\n    fn klog,\n]);\n"
        );
        let c = render(&table, Format::C);
        assert!(c.contains("{ \"klog\", (const void *)&klog },"), "{c}");
        assert!(is_identifier("_a1") && !is_identifier("1a") && !is_identifier("a.b"));
    }
}
