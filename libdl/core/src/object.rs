//! One object known to the linker: a loaded image (or an object the host
//! already had), its references, dependencies and search scope.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use modlib::{LoadedImage, Memory};

use crate::platform::HostObject;

/// A dependency edge or scope entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dep {
    /// An object this linker loaded (by id).
    Ours(u32),
    /// An object the host already had (libc, libm…).
    Host(HostObject),
}

/// Where an object is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Loaded with its group; constructors of the group are running on the
    /// given thread.
    Initializing(u64),
    /// Constructors done.
    Ready,
    /// Destructors running on the given thread; about to be unloaded.
    Finalizing(u64),
}

/// What the object is.
pub(crate) enum Body<M: Memory> {
    /// Loaded by this linker.
    Image(Arc<LoadedImage<M>>),
    /// Already in the host process.
    Host(HostObject),
}

/// A raw `Elf64_Phdr`, as `dl_iterate_phdr` callers expect them.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_field_names)]
pub struct RawPhdr {
    /// `p_type`.
    pub p_type: u32,
    /// `p_flags`.
    pub p_flags: u32,
    /// `p_offset`.
    pub p_offset: u64,
    /// `p_vaddr`.
    pub p_vaddr: u64,
    /// `p_paddr`.
    pub p_paddr: u64,
    /// `p_filesz`.
    pub p_filesz: u64,
    /// `p_memsz`.
    pub p_memsz: u64,
    /// `p_align`.
    pub p_align: u64,
}

/// One entry of the linker's table.
pub(crate) struct Object<M: Memory> {
    pub id: u32,
    /// Path it was loaded from, NUL-terminated (for `dladdr`/`dl_iterate_phdr`).
    pub c_path: Vec<u8>,
    /// Canonical path, to recognise a second open under another name.
    pub canonical: String,
    pub soname: Option<String>,
    pub body: Body<M>,
    /// Outstanding `dlopen` references.
    pub opens: u32,
    /// Loaded objects that list this one in `DT_NEEDED` or bound to it.
    pub dependents: u32,
    /// Direct dependencies, in `DT_NEEDED` order.
    pub deps: Vec<Dep>,
    /// Our objects outside `deps` that this one bound symbols to (through
    /// the global scope or its load group): held loaded like dependencies,
    /// but not searched through its handle.
    pub bound: Vec<u32>,
    /// Calls lazy binding left to the platform's handler, still waiting
    /// for a definition.
    pub lazy: Vec<modlib::UnresolvedCall>,
    /// Breadth-first search order for `dlsym` on this object's handle.
    pub scope: Vec<Dep>,
    pub nodelete: bool,
    pub state: State,
    /// Program headers for `dl_iterate_phdr`.
    pub phdrs: Vec<RawPhdr>,
}

impl<M: Memory> Object<M> {
    /// The path without its NUL.
    pub fn path(&self) -> &str {
        core::str::from_utf8(&self.c_path[..self.c_path.len().saturating_sub(1)]).unwrap_or("")
    }

    /// The image, if this linker loaded it.
    pub fn image(&self) -> Option<&Arc<LoadedImage<M>>> {
        match &self.body {
            Body::Image(image) => Some(image),
            Body::Host(_) => None,
        }
    }

    /// Whether `name` (a `DT_NEEDED` entry or a path) names this object.
    pub fn answers_to(&self, name: &str) -> bool {
        self.soname.as_deref() == Some(name) || self.path() == name
    }
}
