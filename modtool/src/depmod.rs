//! `modtool depmod`: `DIR/modules.dep` from what the modules in `DIR`
//! export and import, as Linux's depmod writes it for modprobe.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::module::{self, Module};
use crate::{Args, Usage};

const HELP: &str = "\
usage: modtool depmod DIR

Reads every *.o and *.ko in DIR and writes DIR/modules.dep, one line per
module: `name: dep1 dep2`, where the dependencies are the modules exporting
what it imports (EXPORT_SYMBOL) and those its .modinfo names (depends=).
Names are MODULE_NAME, else the file name without extension. kmod's
modprobe follows the file when a store provides it
(ModuleStore::dependencies), before .modinfo depends=.";

/// Runs `depmod`; false if a module could not be read.
pub fn run(args: &[String]) -> Result<bool, Usage> {
    let args = Args::parse(args, &[], &[])?;
    if args.help {
        println!("{HELP}");
        return Ok(true);
    }
    let [dir] = args.positional.as_slice() else {
        return Err(Usage(format!("depmod needs one DIR\n\n{HELP}")));
    };
    let dir = Path::new(dir);
    let files = module_files(dir).map_err(Usage)?;
    let mut ok = true;
    let mut modules = Vec::new();
    for file in &files {
        match Module::read(file) {
            Ok(m) => modules.push(m),
            Err(e) => {
                eprintln!("modtool: {e}");
                ok = false;
            }
        }
    }
    let text = modules_dep(&modules);
    let out = dir.join("modules.dep");
    std::fs::write(&out, &text).map_err(|e| Usage(format!("{}: {e}", out.display())))?;
    println!("{}: {} modules", out.display(), modules.len());
    Ok(ok)
}

/// The `*.o` and `*.ko` files in `dir`, in name order.
fn module_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| p.extension().is_some_and(|x| x == "o" || x == "ko"))
        .collect();
    files.sort();
    Ok(files)
}

/// The text of `modules.dep` for `modules`, one line each, by name.
pub fn modules_dep(modules: &[Module]) -> String {
    let deps = module::dependencies(modules);
    let mut lines: Vec<(&str, &[String])> = modules
        .iter()
        .zip(&deps)
        .map(|(m, d)| (m.name.as_str(), d.as_slice()))
        .collect();
    lines.sort_by_key(|&(name, _)| name);
    lines.dedup_by_key(|&mut (name, _)| name);
    let mut text = String::new();
    for (name, deps) in lines {
        text.push_str(name);
        text.push(':');
        for dep in deps {
            let _ = write!(text, " {dep}");
        }
        text.push('\n');
    }
    text
}
