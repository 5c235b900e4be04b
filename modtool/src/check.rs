//! `modtool check`: would these modules load against this kernel? Each is
//! loaded (never run) by `modlib` for its own machine into memory of this
//! process, against the kernel's symbol names at made-up addresses and the
//! other modules' exports.

use std::collections::BTreeSet;
use std::path::Path;

use kmod::KmodError;
use modlib::{LoadError, LoadOptions, ProviderId, SymbolEntry, SymbolKind, SymbolTable};
use modlib_mmap::{MmapMemory, Placement};

use crate::module::{self, Module, KMOD_RUNTIME};
use crate::{Args, Usage};

const HELP: &str = "\
usage: modtool check FILE... --symbols TABLE [--abi TAG]

Loads each module (without running it) for the machine its header names,
against the kernel symbols named in TABLE (one per line, as `modtool symtab`
writes them; blank lines and `#` comments skipped) and the other modules'
exports, and reports, one line each: unresolved symbols, relocations the
loader cannot apply or objects to rebuild (-fPIC, -mno-relax...), ABI tags
other than TAG (default `kmod-1 <machine>`), exports a module does not
define or that another provider already has, dependencies (depends=) not
among FILEs, and dependency cycles. Exit status 1 if there is any problem.";

/// Where the made-up kernel addresses start: low, so that every machine's
/// words and the code models' reach (modules are placed in the low 2 GiB)
/// cover them.
const FAKE_BASE: u64 = 0x1000_0000;

/// Runs `check`; false if any problem was found.
pub fn run(args: &[String]) -> Result<bool, Usage> {
    let args = Args::parse(args, &["symbols", "abi"], &[])?;
    if args.help {
        println!("{HELP}");
        return Ok(true);
    }
    let Some(table) = args.value("symbols") else {
        return Err(Usage(format!("check needs --symbols TABLE\n\n{HELP}")));
    };
    if args.positional.is_empty() {
        return Err(Usage(format!("check needs at least one FILE\n\n{HELP}")));
    }
    let kernel = read_table(Path::new(table)).map_err(Usage)?;
    let mut problems: Vec<String> = Vec::new();
    let mut modules = Vec::new();
    for file in &args.positional {
        match Module::read(Path::new(file)) {
            Ok(m) => modules.push(m),
            Err(e) => problems.push(e),
        }
    }
    let abi = args.value("abi");
    let mut clean = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        let before = problems.len();
        check_module(i, &modules, &kernel, abi, &mut problems);
        if problems.len() == before {
            clean.push(m);
        }
    }
    problems.extend(graph_problems(&modules));
    for m in clean {
        println!(
            "ok: {} ({}, {}): {} exports, {} imports",
            m.name,
            m.path.display(),
            m.machine,
            m.exports.len(),
            m.imports.len()
        );
    }
    for p in &problems {
        println!("error: {p}");
    }
    if !problems.is_empty() {
        eprintln!(
            "modtool: {} problem(s) in {} module(s)",
            problems.len(),
            args.positional.len()
        );
    }
    Ok(problems.is_empty())
}

/// The names in a symbol table file: the last word of each line that is
/// not blank or a `#` comment (so `fn name` and `data name` also work).
fn read_table(path: &Path) -> Result<BTreeSet<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_string)
        .collect())
}

/// Checks `modules[index]` alone: ABI tag, exports, unresolved symbols,
/// and a load with `modlib`.
fn check_module(
    index: usize,
    modules: &[Module],
    kernel: &BTreeSet<String>,
    abi: Option<&str>,
    problems: &mut Vec<String>,
) {
    let m = &modules[index];
    let named = |e: LoadError| {
        KmodError::Load {
            module: m.name.clone(),
            source: e,
        }
        .to_string()
    };
    let expected = abi.map_or_else(|| kmod::abi_tag(m.machine), str::to_string);
    if m.abi() != expected {
        problems.push(format!(
            "module `{}`: {}",
            m.name,
            KmodError::AbiMismatch {
                module: m.abi().to_string(),
                kernel: expected,
            }
        ));
    }
    let others = || {
        modules
            .iter()
            .take(index)
            .chain(modules.iter().skip(index + 1))
    };
    if let Some(first) = modules[..index].iter().find(|o| o.name == m.name) {
        problems.push(format!(
            "module `{}` given twice: {} and {}",
            m.name,
            first.path.display(),
            m.path.display()
        ));
    }
    for export in &m.exports {
        let owner = if kernel.contains(export) {
            Some("kernel".to_string())
        } else {
            modules[..index]
                .iter()
                .find(|o| o.exports.contains(export))
                .map(|o| o.name.clone())
        };
        if let Some(owner) = owner {
            problems.push(
                KmodError::DuplicateExport {
                    module: m.name.clone(),
                    symbol: export.clone(),
                    owner,
                }
                .to_string(),
            );
        }
    }
    // Every import nothing provides (a weak one may stay undefined).
    let provided = |name: &str| {
        kernel.contains(name)
            || KMOD_RUNTIME.contains(&name)
            || others().any(|o| o.exports.iter().any(|e| e == name))
    };
    let unresolved: Vec<&str> = m
        .imports
        .iter()
        .filter(|u| !u.weak && !provided(&u.name))
        .map(|u| u.name.as_str())
        .collect();
    for name in &unresolved {
        problems.push(named(LoadError::UndefinedSymbol {
            name: (*name).to_string(),
            version: None,
        }));
    }
    // Load it, answering the unresolved names too, so that what else
    // stands in the way (relocations, the object's build) is found.
    let mut names: BTreeSet<&str> = kernel.iter().map(String::as_str).collect();
    names.extend(KMOD_RUNTIME);
    names.extend(others().flat_map(|o| o.exports.iter().map(String::as_str)));
    names.extend(unresolved.iter().copied());
    let entries = names
        .iter()
        .enumerate()
        .map(|(i, name)| SymbolEntry::new(name, FAKE_BASE + 0x100 * i as u64, SymbolKind::Other))
        .collect();
    let table = SymbolTable::new(entries, ProviderId(0)).expect("names are distinct");
    let options = LoadOptions {
        machine: m.machine,
        ..LoadOptions::default()
    };
    let memory = MmapMemory::new(Placement::Low2G);
    let loaded = modlib::Object::parse(&m.bytes, m.machine)
        .and_then(|object| object.load(&options, memory, &table));
    match loaded {
        Ok(image) => {
            for export in &m.exports {
                if image.symbol(export).is_none() {
                    problems.push(
                        KmodError::ExportUndefined {
                            module: m.name.clone(),
                            symbol: export.clone(),
                        }
                        .to_string(),
                    );
                }
            }
        }
        Err(e) => problems.push(named(e)),
    }
}

/// Dependencies `depends=` names that are not among the modules, and
/// cycles in what modules need of each other (imports and `depends=`).
fn graph_problems(modules: &[Module]) -> Vec<String> {
    let mut problems = Vec::new();
    let deps = module::dependencies(modules);
    for (m, deps) in modules.iter().zip(&deps) {
        for dep in deps {
            if !modules.iter().any(|o| &o.name == dep) {
                problems.push(
                    KmodError::MissingDependency {
                        module: m.name.clone(),
                        dependency: dep.clone(),
                    }
                    .to_string(),
                );
            }
        }
    }
    let index = |name: &str| modules.iter().position(|m| m.name == name);
    let edges: Vec<Vec<usize>> = deps
        .iter()
        .map(|d| d.iter().filter_map(|n| index(n)).collect())
        .collect();
    let mut seen: BTreeSet<Vec<usize>> = BTreeSet::new();
    for cycle in cycles(&edges) {
        let mut key = cycle.clone();
        key.sort_unstable();
        if seen.insert(key) {
            let mut names: Vec<String> = cycle.iter().map(|&i| modules[i].name.clone()).collect();
            names.push(names[0].clone());
            problems.push(KmodError::DependencyCycle { cycle: names }.to_string());
        }
    }
    problems
}

/// Cycles found by a depth-first walk from every node (each as the nodes
/// on it, from where the walk entered it).
fn cycles(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    let mut marks = vec![Mark::New; edges.len()];
    let mut found = Vec::new();
    for root in 0..edges.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // (node, next edge to follow)
        let mut path: Vec<(usize, usize)> = vec![(root, 0)];
        marks[root] = Mark::OnPath;
        while let Some(&mut (node, ref mut next)) = path.last_mut() {
            let Some(&to) = edges[node].get(*next) else {
                marks[node] = Mark::Done;
                path.pop();
                continue;
            };
            *next += 1;
            match marks[to] {
                Mark::New => {
                    marks[to] = Mark::OnPath;
                    path.push((to, 0));
                }
                Mark::OnPath => {
                    let from = path.iter().position(|&(n, _)| n == to).unwrap_or(0);
                    found.push(path[from..].iter().map(|&(n, _)| n).collect());
                }
                Mark::Done => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::cycles;

    #[test]
    fn finds_cycles_and_self_loops() {
        assert_eq!(cycles(&[vec![1], vec![2], vec![0]]), [vec![0, 1, 2]]);
        assert_eq!(cycles(&[vec![0]]), [vec![0]]);
        assert!(cycles(&[vec![1], vec![], vec![0, 1]]).is_empty());
    }
}
