//! Every error a module operation can return.

use alloc::string::String;
use alloc::vec::Vec;

use modlib::LoadError;

/// Why a module operation failed. A failed operation changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KmodError {
    /// The ELF loader refused the image.
    #[error("module `{module}`: {source}")]
    Load {
        /// Module name.
        module: String,
        /// What the loader said.
        #[source]
        source: LoadError,
    },
    /// A module of that name is already loaded (or loading).
    #[error("module `{name}` already exists")]
    Exists {
        /// The name.
        name: String,
    },
    /// No live module has that handle or name.
    #[error("no such module{}", name.as_ref().map(|n| alloc::format!(" `{n}`")).unwrap_or_default())]
    NotFound {
        /// The name, when looked up by name.
        name: Option<String>,
    },
    /// The module is in use and cannot be removed.
    #[error("module `{module}` is in use (used by [{}], {refcount} references held)", users.join(", "))]
    Busy {
        /// Module name.
        module: String,
        /// Modules that use its symbols.
        users: Vec<String>,
        /// References held by `module_get`.
        refcount: usize,
    },
    /// The module is still loading, or a load in progress may bind to it;
    /// `rmmod` can succeed once that load has finished.
    #[error("module `{module}` is loading or being bound by a load in progress")]
    Loading {
        /// Module name.
        module: String,
    },
    /// `module_put` without a matching `module_get`.
    #[error("module `{module}` holds no reference to put")]
    NotReferenced {
        /// Module name.
        module: String,
    },
    /// The module's init function returned non-zero; the load was undone.
    #[error("module `{module}`: init failed with {code}")]
    InitFailed {
        /// Module name.
        module: String,
        /// What init returned.
        code: i32,
    },
    /// The module was built for another module ABI.
    #[error("module ABI `{module}` does not match kernel ABI `{kernel}`")]
    AbiMismatch {
        /// The module's tag (`none` if it has none).
        module: String,
        /// The kernel's tag.
        kernel: String,
    },
    /// `modsym` asked for a symbol the module does not export.
    #[error("module `{module}` does not export `{symbol}`")]
    SymbolNotExported {
        /// Module name.
        module: String,
        /// Symbol name.
        symbol: String,
    },
    /// `EXPORT_SYMBOL` names a symbol the module does not define.
    #[error("module `{module}` exports `{symbol}` but does not define it")]
    ExportUndefined {
        /// Module name.
        module: String,
        /// Symbol name.
        symbol: String,
    },
    /// Two modules, or a module and the kernel, export the same name.
    #[error("module `{module}` exports `{symbol}`, already exported by {owner}")]
    DuplicateExport {
        /// Module name.
        module: String,
        /// Symbol name.
        symbol: String,
        /// Who exported it first (`kernel` or a module name).
        owner: String,
    },
    /// `modprobe` found a dependency cycle.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The modules on the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// `modprobe` could not find a module image.
    #[error("module `{dependency}` needed by `{module}` not found")]
    MissingDependency {
        /// The module that depends on it (itself, for the top-level name).
        module: String,
        /// The missing module.
        dependency: String,
    },
    /// A module name that is empty or too long.
    #[error("invalid module name `{name}`")]
    InvalidName {
        /// The name.
        name: String,
    },
    /// The name given to `insmod` is not the one the module declares with
    /// `MODULE_NAME` (a module without one may be loaded under any name).
    #[error("module `{declared}` (its MODULE_NAME) cannot be loaded as `{given}`")]
    NameMismatch {
        /// The name `insmod` was given.
        given: String,
        /// The module's `name=`.
        declared: String,
    },
}
