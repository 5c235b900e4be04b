//! What the loader needs from the system it runs on.
//!
//! A port implements [`Platform`]: six required methods — memory
//! ([`Platform::memory`], a `modlib::Memory`), files
//! ([`Platform::read_file`], [`Platform::exists`]) and threads
//! ([`Platform::with_error_slot`], [`Platform::thread_id`],
//! [`Platform::yield_now`]) — and, when the system has them, the optional
//! groups, each a set of provided methods with a default that leaves the
//! feature out: the machine and its capabilities, file names and search
//! directories, mapped files ([`FileContents`]), the host process's own
//! objects ([`HostScope`]), thread-local storage ([`ThreadLocalStorage`])
//! and lazy binding. The table on [`Platform`] lists them. The hosted Linux
//! implementation is `dl::hosted`; the QEMU system's user runtime is a
//! bare one.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use modlib::{FileMapping, HwCaps, Lookup, Machine, Memory, Symbol, ThreadLocal};

use crate::capi::ErrorSlot;

/// Why a file could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(pub String);

/// An object the host process already has loaded, identified by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// The calling thread's instance of the thread-local variable
    /// `symbol`, which `lookup` found among the host's objects (whose
    /// thread-local storage only the host's loader can place); none by
    /// default. Called without the linker's lock.
    fn thread_local_instance(&self, lookup: &Lookup<'_>, symbol: Symbol) -> Option<u64> {
        let _ = (lookup, symbol);
        None
    }
    /// The loaded host object whose file has identity `identity` (in the
    /// form of [`Platform::canonical`]), so that a path naming it opens it
    /// rather than a second copy. None by default.
    fn object_with_identity(&self, identity: &str) -> Option<HostObject> {
        let _ = identity;
        None
    }
    /// Has the host's own loader load a system library (one this loader
    /// leaves to it, being found in the system's directories) and returns
    /// it as a host object. Runs the library's constructors, which may call
    /// back into the linker: never called with the linker's lock held.
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
    /// The calling thread's block of a registered `module`, made from its
    /// template on first use (what `__tls_get_addr` finds); `None` for an
    /// id naming no registered module, or when memory runs out.
    fn block(&self, module: u64) -> Option<*mut u8>;
    /// Address of the resolver TLS descriptors call (see
    /// `modlib::MappedImage::set_tls_descriptor_resolver`), if the platform
    /// has one for its machine; without it objects using descriptors are
    /// refused.
    fn descriptor_resolver(&self) -> Option<u64> {
        None
    }
}

/// The system under the loader.
///
/// Six methods are required, the rest are provided with defaults that fit
/// a system with no host loader, no TLS and no lazy binding:
///
/// | group | methods | without them |
/// |---|---|---|
/// | **required**: memory | [`Platform::memory`] | |
/// | **required**: files | [`Platform::read_file`], [`Platform::exists`] | |
/// | **required**: threads | [`Platform::with_error_slot`], [`Platform::thread_id`], [`Platform::yield_now`] | |
/// | machine | [`Platform::machine`], [`Platform::hwcaps`] | the host's machine, no capabilities |
/// | file names | [`Platform::canonical`], [`Platform::search_path`], [`Platform::system_path`] | a path is its own identity; no search directories |
/// | mapped files | [`Platform::open_file`], [`Platform::identifies_open_files`] | files are read whole |
/// | host process | [`Platform::host`] ([`HostScope`]) | loaded objects see only each other |
/// | thread-local storage | [`Platform::thread_local`] ([`ThreadLocalStorage`]) | objects with `PT_TLS` are refused |
/// | lazy binding | [`Platform::unresolved_call`] | `RTLD_LAZY` binds as `RTLD_NOW` |
/// | memory limit | [`Platform::max_image_size`] | no limit on one object's image |
pub trait Platform: Send + Sync {
    /// Memory the images live in.
    type Memory: Memory + Clone + Send + Sync;

    /// A memory handle for one image.
    fn memory(&self) -> Self::Memory;
    /// The whole contents of a file.
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError>;
    /// Whether a regular file exists at `path`.
    fn exists(&self, path: &str) -> bool;
    /// Runs `f` on the calling thread's `dlerror` state (a thread-local
    /// where threads share the linker, one per task where a task is a
    /// thread); a thread that no longer has one (being torn down) skips it.
    fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot));
    /// An identifier of the calling thread.
    fn thread_id(&self) -> u64;
    /// Lets another thread run (while waiting for an object being
    /// initialised elsewhere).
    fn yield_now(&self);

    /// The machine objects must be built for: by default the host's
    /// ([`Machine::default_for_host`]).
    fn machine(&self) -> Machine {
        Machine::default_for_host()
    }
    /// The CPU's capabilities, told to IFUNC resolvers (Linux's `AT_HWCAP`
    /// and `AT_HWCAP2`); by default none, so resolvers pick baseline code.
    fn hwcaps(&self) -> HwCaps {
        HwCaps::default()
    }

    /// What identifies the file at an existing path, used to recognise an
    /// object opened twice under different names: equal for paths naming
    /// the same file (a canonical path, or a device and inode number). By
    /// default the path itself.
    fn canonical(&self, path: &str) -> String {
        String::from(path)
    }
    /// Directories searched after `DT_RUNPATH`: the user's
    /// (`DL_LIBRARY_PATH`). None by default.
    fn search_path(&self) -> Vec<String> {
        Vec::new()
    }
    /// The system's library directories, searched last. Libraries found
    /// there are left to the host's own loader when it has one. None by
    /// default.
    fn system_path(&self) -> Vec<String> {
        Vec::new()
    }

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

    /// The host's own objects, if it has a dynamic linker of its own (or a
    /// table of the symbols it exports to libraries); none by default.
    fn host(&self) -> Option<&dyn HostScope> {
        None
    }
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

    /// The most memory (bytes of address space) one object's image may
    /// take: an object that needs more is refused (`ImageTooLarge`) before
    /// any memory is reserved for it. No limit by default.
    fn max_image_size(&self) -> Option<usize> {
        None
    }
}
