//! Read-only views of the registry: `lsmod` and `/proc/kallsyms`.

use alloc::string::String;
use alloc::vec::Vec;

use modlib::{Region, SymbolKind};

/// Where a module is in its life. A module is visible to `modhandle` and to
/// symbol resolution only while `Live`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleState {
    /// Being loaded or initialised.
    Loading,
    /// Initialised and serving.
    Live,
    /// Exit running; about to be freed.
    Unloading,
}

/// One module, as `lsmod` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    /// Name.
    pub name: String,
    /// `version=` from `.modinfo`.
    pub version: Option<String>,
    /// `description=` from `.modinfo`.
    pub description: Option<String>,
    /// `license=` from `.modinfo`.
    pub license: Option<String>,
    /// Life state.
    pub state: ModuleState,
    /// Regions with their sizes and permissions.
    pub regions: Vec<Region>,
    /// Total bytes held.
    pub size: usize,
    /// References held by `module_get`.
    pub refcount: usize,
    /// Modules whose symbols it uses.
    pub uses: Vec<String>,
    /// Modules that use its symbols.
    pub used_by: Vec<String>,
}

/// One exported symbol, as `/proc/kallsyms` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSymbolInfo {
    /// Name.
    pub name: String,
    /// Address.
    pub address: u64,
    /// Function or data.
    pub kind: SymbolKind,
    /// Owning module; `None` for the kernel itself.
    pub owner: Option<String>,
}
