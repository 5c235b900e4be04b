//! A module file read once through `modlib`: its machine (from the ELF
//! header), `.modinfo`, export list, imports, sizes and relocations.

use std::path::{Path, PathBuf};

use modlib::inspect::{SectionSizes, UndefinedSymbol};
use modlib::{Machine, ModInfo, Object, ObjectKind};

/// The section `EXPORT_SYMBOL` writes names into (see `module.h`).
pub const EXPORTS_SECTION: &str = ".kmod_exports";

/// What kmod answers for every module itself, after the kernel's table
/// (its C++ runtime: see `kmod`'s `cxx_runtime`); a kernel table need not
/// have them.
pub const KMOD_RUNTIME: [&str; 4] = [
    "__cxa_pure_virtual",
    "__cxa_atexit",
    "atexit",
    "__aeabi_atexit",
];

/// One module file.
pub struct Module {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The machine its header names.
    pub machine: Machine,
    /// Relocatable or shared.
    pub kind: ObjectKind,
    /// Its `.modinfo`.
    pub info: ModInfo,
    /// `MODULE_NAME`, else the file name without its extension.
    pub name: String,
    /// Names in `.kmod_exports`, in order, without repeats.
    pub exports: Vec<String>,
    /// Undefined symbols (relocatable objects; empty for shared ones).
    pub imports: Vec<UndefinedSymbol>,
    /// Loaded bytes per permission (relocatable objects).
    pub sizes: Option<SectionSizes>,
    /// Relocation types with their counts (relocatable objects).
    pub relocations: Vec<(u32, usize)>,
}

/// The machine an ELF file is for, from `e_machine` and its class.
pub fn machine_of(bytes: &[u8]) -> Result<Machine, String> {
    if bytes.len() < 20 || bytes[..4] != *b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let e_machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    Machine::from_header(e_machine, bytes[4]).ok_or_else(|| {
        format!(
            "machine {e_machine} ({}-bit) is not one modlib loads",
            if bytes[4] == 2 { 64 } else { 32 }
        )
    })
}

/// The module name a file would have without `MODULE_NAME`: its file
/// name up to the first dot.
pub fn stem(path: &Path) -> String {
    let file = path
        .file_name()
        .map_or_else(String::new, |f| f.to_string_lossy().into_owned());
    file.split('.').next().unwrap_or_default().to_string()
}

impl Module {
    /// Reads and parses `path`; the error is a one-line message naming it.
    pub fn read(path: &Path) -> Result<Module, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Module::from_bytes(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
    }

    fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Module, String> {
        let machine = machine_of(&bytes)?;
        let object = Object::parse(&bytes, machine).map_err(|e| e.to_string())?;
        let kind = object.kind();
        let info = object.modinfo().map_err(|e| e.to_string())?;
        let mut exports: Vec<String> = Vec::new();
        let raw = object.section(EXPORTS_SECTION).map_err(|e| e.to_string())?;
        for name in raw.unwrap_or_default().split(|&b| b == 0) {
            let name = String::from_utf8_lossy(name).into_owned();
            if !name.is_empty() && !exports.contains(&name) {
                exports.push(name);
            }
        }
        let (imports, sizes, relocations) = if kind == ObjectKind::Relocatable {
            (
                object.undefined_symbols().map_err(|e| e.to_string())?,
                Some(object.section_sizes().map_err(|e| e.to_string())?),
                object.relocation_counts().map_err(|e| e.to_string())?,
            )
        } else {
            (Vec::new(), None, Vec::new())
        };
        let name = info.get("name").map_or_else(|| stem(path), str::to_string);
        drop(object);
        Ok(Module {
            path: path.to_path_buf(),
            bytes,
            machine,
            kind,
            info,
            name,
            exports,
            imports,
            sizes,
            relocations,
        })
    }

    /// The modules its `.modinfo` says it `depends=` on.
    pub fn declared_depends(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for dep in self.info.get_all("depends").flat_map(|d| d.split(',')) {
            let dep = dep.trim();
            if !dep.is_empty() && !out.iter().any(|d| d == dep) {
                out.push(dep.to_string());
            }
        }
        out
    }

    /// Its ABI tag (`abi=`), `none` if it has none.
    pub fn abi(&self) -> &str {
        self.info.get("abi").unwrap_or("none")
    }
}

/// For each module, the other modules it needs: those exporting what it
/// imports (the first such module in `modules`' order), in name order,
/// then those it declares with `depends=` that are not listed yet.
pub fn dependencies(modules: &[Module]) -> Vec<Vec<String>> {
    modules
        .iter()
        .map(|m| {
            let mut deps: Vec<String> = m
                .imports
                .iter()
                .filter_map(|u| {
                    modules
                        .iter()
                        .find(|p| p.exports.contains(&u.name))
                        .filter(|p| p.name != m.name)
                        .map(|p| p.name.clone())
                })
                .collect();
            deps.sort();
            deps.dedup();
            for dep in m.declared_depends() {
                if !deps.contains(&dep) {
                    deps.push(dep);
                }
            }
            deps
        })
        .collect()
}
