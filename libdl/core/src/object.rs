//! One object known to the linker: a loaded image (or an object the host
//! already had), its references, dependencies and search scope.

use crate::sync::Arc;
use alloc::string::String;
use alloc::vec::Vec;

use modlib::{LoadedImage, Memory};

use crate::platform::HostObject;

/// A dependency edge or scope entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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

/// A raw `ElfW(Phdr)` of the machine the image runs on (`Elf64_Phdr`, or
/// `Elf32_Phdr` with its flags after the sizes), as `dl_iterate_phdr`
/// callers expect them.
#[cfg(target_pointer_width = "64")]
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

/// A raw `ElfW(Phdr)` of the machine the image runs on (`Elf64_Phdr`, or
/// `Elf32_Phdr` with its flags after the sizes), as `dl_iterate_phdr`
/// callers expect them.
#[cfg(target_pointer_width = "32")]
#[repr(C)]
#[derive(Debug, Clone, Copy)]
#[allow(clippy::struct_field_names)]
pub struct RawPhdr {
    /// `p_type`.
    pub p_type: u32,
    /// `p_offset`.
    pub p_offset: u32,
    /// `p_vaddr`.
    pub p_vaddr: u32,
    /// `p_paddr`.
    pub p_paddr: u32,
    /// `p_filesz`.
    pub p_filesz: u32,
    /// `p_memsz`.
    pub p_memsz: u32,
    /// `p_flags`.
    pub p_flags: u32,
    /// `p_align`.
    pub p_align: u32,
}

impl RawPhdr {
    /// `p_vaddr`, widened.
    #[allow(clippy::useless_conversion)] // u64 -> u64 on 64-bit machines
    pub fn vaddr(&self) -> u64 {
        u64::from(self.p_vaddr)
    }
}

impl From<&modlib::ProgramHeader> for RawPhdr {
    /// The header in this machine's layout; an object loaded here has this
    /// machine's class, so its values fit the fields.
    #[allow(clippy::useless_conversion)] // u64 -> u64 on 64-bit machines
    fn from(h: &modlib::ProgramHeader) -> Self {
        let word = |v: u64| v.try_into().unwrap_or_default();
        RawPhdr {
            p_type: h.p_type,
            p_flags: h.p_flags,
            p_offset: word(h.p_offset),
            p_vaddr: word(h.p_vaddr),
            p_paddr: word(h.p_paddr),
            p_filesz: word(h.p_filesz),
            p_memsz: word(h.p_memsz),
            p_align: word(h.p_align),
        }
    }
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
    /// Breadth-first search order for `dlsym` on this object's handle;
    /// empty until the object is first opened.
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

    /// The object as symbol lookups see it (its id, body and state), for
    /// a snapshot of the table.
    pub fn lookup_view(&self) -> Object<M> {
        Object {
            id: self.id,
            c_path: Vec::new(),
            canonical: String::new(),
            soname: None,
            body: match &self.body {
                Body::Image(image) => Body::Image(Arc::clone(image)),
                Body::Host(host) => Body::Host(*host),
            },
            opens: self.opens,
            dependents: self.dependents,
            deps: Vec::new(),
            bound: Vec::new(),
            lazy: Vec::new(),
            scope: Vec::new(),
            nodelete: self.nodelete,
            state: self.state,
            phdrs: Vec::new(),
        }
    }

    /// Whether `name` (a `DT_NEEDED` entry or a path) names this object.
    pub fn answers_to(&self, name: &str) -> bool {
        self.soname.as_deref() == Some(name) || self.path() == name
    }
}
