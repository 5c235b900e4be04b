//! Errors of the dynamic loader; their `Display` text is what `dlerror`
//! returns.

use alloc::string::String;

use modlib::LoadError;

/// Why a `dl` operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No file of that name on the search path.
    #[error("{name}: cannot open shared object file: not found{}", needed_by.as_ref().map(|n| alloc::format!(" (needed by {n})")).unwrap_or_default())]
    NotFound {
        /// The name asked for.
        name: String,
        /// The object whose `DT_NEEDED` named it, if any.
        needed_by: Option<String>,
    },
    /// The file exists but could not be read.
    #[error("{path}: cannot read file: {reason}")]
    Io {
        /// Path of the file.
        path: String,
        /// What the platform said.
        reason: String,
    },
    /// The object uses thread-local storage in a way this loader (or its
    /// platform) does not provide; it is refused rather than loaded
    /// half-working.
    #[error("{path}: unsupported thread-local storage: {what}")]
    ThreadLocalStorage {
        /// Path of the object.
        path: String,
        /// What in the object needs it.
        what: &'static str,
    },
    /// The ELF loader refused the object.
    #[error("{path}: {source}")]
    Load {
        /// Path of the object.
        path: String,
        /// What the loader said.
        #[source]
        source: LoadError,
    },
    /// A handle that is not (or no longer) open.
    #[error("invalid handle")]
    InvalidHandle,
    /// `dlsym` found no such symbol.
    #[error("{object}: undefined symbol: {name}")]
    SymbolNotFound {
        /// The object (or scope) searched.
        object: String,
        /// The symbol.
        name: String,
    },
    /// A symbol asked for as a type that cannot hold its address (the safe
    /// wrapper's `get::<T>` with `T` not pointer-sized).
    #[error(
        "{name}: a symbol's address takes {expected} bytes, but the requested type has {size}"
    )]
    SymbolTypeSize {
        /// The symbol.
        name: String,
        /// Size of the requested type, in bytes.
        size: usize,
        /// Size of an address, in bytes.
        expected: usize,
    },
    /// `RTLD_NOLOAD` and the object is not loaded.
    #[error("{name}: not loaded (RTLD_NOLOAD)")]
    NotLoaded {
        /// The name asked for.
        name: String,
    },
    /// A flag combination `dlopen` does not accept.
    #[error("invalid mode {mode:#x}: exactly one of RTLD_LAZY and RTLD_NOW is required")]
    InvalidFlags {
        /// The mode passed.
        mode: i32,
    },
    /// A name that is not valid UTF-8 or is empty.
    #[error("invalid name")]
    InvalidName,
}
