//! `modtool info`: what Linux `modinfo` shows, plus what the loader sees.

use std::path::Path;

use modlib::ObjectKind;

use crate::module::Module;
use crate::{relocs, Args, Usage};

const HELP: &str = "\
usage: modtool info FILE...

Describes each module: its .modinfo (name, version, license, description,
author, depends, abi), machine and object type, bytes loaded per permission,
the symbols it exports (EXPORT_SYMBOL) and imports (undefined), and how many
relocations of each type it carries.";

/// Runs `info`; false if a file could not be read.
pub fn run(args: &[String]) -> Result<bool, Usage> {
    let args = Args::parse(args, &[], &[])?;
    if args.help {
        println!("{HELP}");
        return Ok(true);
    }
    if args.positional.is_empty() {
        return Err(Usage(format!("info needs at least one FILE\n\n{HELP}")));
    }
    let mut ok = true;
    for (i, file) in args.positional.iter().enumerate() {
        if i > 0 {
            println!();
        }
        match Module::read(Path::new(file)) {
            Ok(module) => print(&module),
            Err(e) => {
                eprintln!("modtool: {e}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

fn line(key: &str, value: &str) {
    println!("{:<13}{value}", format!("{key}:"));
}

fn print(m: &Module) {
    line("filename", &m.path.display().to_string());
    line("name", &m.name);
    for key in ["version", "license", "description", "author"] {
        for value in m.info.get_all(key) {
            line(key, value);
        }
    }
    line("depends", &m.declared_depends().join(","));
    line("abi", m.abi());
    line("machine", m.machine.name());
    line(
        "type",
        match m.kind {
            ObjectKind::Relocatable => "relocatable",
            ObjectKind::Shared => "shared",
        },
    );
    if let Some(s) = m.sizes {
        line(
            "size",
            &format!("text {}, rodata {}, data {}", s.text, s.rodata, s.data),
        );
    }
    for name in &m.exports {
        line("export", name);
    }
    for import in &m.imports {
        let weak = if import.weak { " (weak)" } else { "" };
        line("import", &format!("{}{weak}", import.name));
    }
    for &(r_type, count) in &m.relocations {
        line(
            "relocation",
            &format!("{} {count}", relocs::name(m.machine, r_type)),
        );
    }
}
