//! What the loader needs from the system it runs on: files, memory, the
//! objects the host already has (the executable, libc…), thread identity,
//! and where each thread's `dlerror` text lives. The hosted Linux
//! implementation is `dl::hosted`; a bare user runtime supplies its own.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use modlib::{FileMapping, Lookup, Machine, Memory, Symbol, ThreadLocal};

use crate::capi::ErrorSlot;

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
    /// leaves to it, being found in the system's directories) and returns
    /// it as a host object.
    fn load(&self, path: &str) -> Option<HostObject>;
    /// Runs `f`, the binding of one load (every object of a `dlopen`
    /// group), with lookups answered from one consistent view of the host's
    /// objects (a host that must otherwise check its objects on every
    /// lookup checks them once), and returns
    /// `true`; `load` is not called through the view. Returns `false`
    /// without calling `f` if the host has no such view (the default): the
    /// caller then uses the scope itself.
    fn for_load(&self, f: &mut dyn FnMut(&dyn HostScope)) -> bool {
        let _ = f;
        false
    }
}

/// An object file's contents while it is loaded: bytes the loader reads,
/// and possibly pages the platform can map into the image instead of
/// copying them.
pub trait FileContents {
    /// The whole file.
    fn bytes(&self) -> &[u8];
    /// The file as something the platform can map, if it can.
    fn mapping(&self) -> Option<&dyn FileMapping> {
        None
    }
    /// What identifies the file, in the form of [`Platform::canonical`], if
    /// the open file can tell.
    fn identity(&self) -> Option<String> {
        None
    }
}

impl FileContents for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// Thread-local storage for the objects the loader loads: a module id per
/// object with `PT_TLS`, and per thread a block of it, made from the
/// object's template on first use by the function the objects call as
/// `__tls_get_addr`.
pub trait ThreadLocalStorage: Sync {
    /// Address of the function loaded code calls as `__tls_get_addr`
    /// (`void *(const size_t index[2])`: module id, offset).
    fn get_addr(&self) -> u64;
    /// Registers an object's thread-local storage (its initialisation
    /// image stays readable until [`ThreadLocalStorage::unregister`]) and
    /// returns its module id, never 0.
    fn register(&self, template: ThreadLocal) -> u64;
    /// Forgets a module before its object is unmapped: no block of it is
    /// made again, and each thread's block is freed.
    fn unregister(&self, module: u64);
    /// Address of the resolver TLS descriptors call (see
    /// `modlib::MappedImage::set_tls_descriptor_resolver`), if the platform
    /// has one for its machine; without it objects using descriptors are
    /// refused.
    fn descriptor_resolver(&self) -> Option<u64> {
        None
    }
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
    /// A file to load an object from: by default read whole with
    /// [`Platform::read_file`]; platforms that can map files return their
    /// own [`FileContents`].
    fn open_file(&self, path: &str) -> Result<Box<dyn FileContents>, FileError> {
        Ok(Box::new(self.read_file(path)?))
    }
    /// Whether files from [`Platform::open_file`] know their identity
    /// ([`FileContents::identity`]): the loader then opens a file first and
    /// asks it, instead of asking [`Platform::canonical`] about the path
    /// and opening the file only if it is new.
    fn identifies_open_files(&self) -> bool {
        false
    }
    /// Whether a regular file exists at `path`.
    fn exists(&self, path: &str) -> bool;
    /// What identifies the file at an existing path, used to recognise an
    /// object opened twice under different names: equal for paths naming
    /// the same file (a canonical path, or a device and inode number).
    fn canonical(&self, path: &str) -> String;
    /// Directories searched after `DT_RUNPATH`: the user's
    /// (`DL_LIBRARY_PATH`).
    fn search_path(&self) -> Vec<String>;
    /// The system's library directories, searched last. Libraries found
    /// there are left to the host's own loader when it has one.
    fn system_path(&self) -> Vec<String>;
    /// The host's own objects, if it has a dynamic linker of its own.
    fn host(&self) -> Option<&dyn HostScope>;
    /// Thread-local storage for loaded objects, if the platform has it;
    /// without it objects with `PT_TLS` are refused.
    fn thread_local(&self) -> Option<&dyn ThreadLocalStorage> {
        None
    }
    /// For lazy binding (`RTLD_LAZY`): the address of a function that
    /// reports a call to a function no object defined (calls through the
    /// PLT to such functions are bound to it, and fail only if made), and
    /// ends the program. Without one every reference must resolve.
    fn unresolved_call(&self) -> Option<u64> {
        None
    }
    /// Runs `f` on the calling thread's `dlerror` state (a thread-local
    /// where threads share the linker, one per task where a task is a
    /// thread); a thread that no longer has one (being torn down) skips it.
    fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot));
    /// An identifier of the calling thread.
    fn thread_id(&self) -> u64;
    /// Lets another thread run (while waiting for an object being
    /// initialised elsewhere).
    fn yield_now(&self);
}
