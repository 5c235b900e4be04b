//! What the loader needs from the system it runs on: files, memory, the
//! objects the host already has (the executable, libc…), and thread
//! identity. The hosted Linux implementation is [`crate::hosted`]; a bare
//! user runtime supplies its own.

use alloc::string::String;
use alloc::vec::Vec;

use modlib::{Lookup, Machine, Memory, Symbol};

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(pub String);

/// An object the host process already has loaded, identified by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HostObject(pub usize);

/// The host's own global scope (what its dynamic linker loaded).
pub trait HostScope: Sync {
    /// A symbol of the global scope (executable first, then its libraries).
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Symbol>;
    /// The loaded host object whose soname or file name is `name`.
    fn object(&self, name: &str) -> Option<HostObject>;
    /// A symbol defined by one host object.
    fn resolve_in(&self, object: HostObject, lookup: &Lookup<'_>) -> Option<Symbol>;
    /// A symbol of the global scope defined after the object containing
    /// `addr` (for `RTLD_NEXT`); `None` if `addr` is in no host object.
    fn resolve_after(&self, addr: u64, lookup: &Lookup<'_>) -> Option<Option<Symbol>>;
    /// Name of a host object.
    fn name(&self, object: HostObject) -> String;
    /// Has the host's own loader load a system library (one this loader
    /// does not take on, such as libraries using thread-local storage) and
    /// returns it as a host object.
    fn load(&self, path: &str) -> Option<HostObject>;
}

/// The system under the loader.
pub trait Platform: Send + Sync {
    /// Memory the images live in.
    type Memory: Memory + Clone + Send + Sync;

    /// A memory handle for one image.
    fn memory(&self) -> Self::Memory;
    /// The machine objects must be built for.
    fn machine(&self) -> Machine;
    /// The whole contents of a file.
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError>;
    /// Whether a regular file exists at `path`.
    fn exists(&self, path: &str) -> bool;
    /// A canonical form of an existing path (symlinks resolved), used to
    /// recognise an object opened twice under different names.
    fn canonical(&self, path: &str) -> String;
    /// Directories searched after `DT_RUNPATH`: the user's
    /// (`DL_LIBRARY_PATH`).
    fn search_path(&self) -> Vec<String>;
    /// The system's library directories, searched last. Libraries found
    /// there are left to the host's own loader when it has one.
    fn system_path(&self) -> Vec<String>;
    /// The host's own objects, if it has a dynamic linker of its own.
    fn host(&self) -> Option<&dyn HostScope>;
    /// An identifier of the calling thread.
    fn thread_id(&self) -> u64;
    /// Lets another thread run (while waiting for an object being
    /// initialised elsewhere).
    fn yield_now(&self);
}
