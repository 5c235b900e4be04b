//! An object in memory but not yet loaded, in the two stages a load goes
//! through before it hands out a [`LoadedImage`]: mapped
//! ([`MappedImage`]), then relocated ([`RelocatedImage`]). Loaders that
//! must map several objects before relocating any (a `dlopen` group, whose
//! members bind to each other in both directions) hold them at these
//! stages; each answers symbol lookups, neither runs code, and each step
//! consumes the stage before it, so a step out of order does not compile.
//! Dropping an image at any stage gives back all its memory.
//!
//! Relocations cannot be applied twice:
//!
//! ```compile_fail,E0599
//! # use modlib::{map, LoadOptions, NoSymbols};
//! # fn twice(bytes: &[u8], memory: &testkit::HostMemory) -> Result<(), modlib::LoadError> {
//! let relocated = map(bytes, &LoadOptions::default(), memory)?.apply_relocations(&NoSymbols)?;
//! relocated.apply_relocations(&NoSymbols)?;
//! # Ok(())
//! # }
//! ```
//!
//! nor an image be finished before they are applied:
//!
//! ```compile_fail,E0599
//! # use modlib::{map, LoadOptions, NoSymbols};
//! # fn early(bytes: &[u8], memory: &testkit::HostMemory) -> Result<(), modlib::LoadError> {
//! let image = map(bytes, &LoadOptions::default(), memory)?.finish(&NoSymbols)?;
//! # Ok(())
//! # }
//! ```

use alloc::boxed::Box;

use crate::dynamic;
use crate::error::LoadError;
use crate::image::LoadedImage;
use crate::kinds::{DynamicInfo, ObjectKind, ThreadLocal};
use crate::machine::Machine;
use crate::memory::{Held, Memory};
use crate::relocatable;
use crate::symbol::{Lookup, Symbol, SymbolResolver};

/// An object whose segments (or sections) are in memory and whose exported
/// symbols have their run-time addresses, but which is not relocated yet
/// (see [`crate::map`]). [`MappedImage::relocate`] turns it into a
/// [`LoadedImage`]; a group of objects that bind to each other is relocated
/// with [`MappedImage::apply_relocations`] each, then
/// [`RelocatedImage::finish`] each.
pub struct MappedImage<'a, M: Memory> {
    machine: Machine,
    parts: Mapped<'a, M>,
}

/// The large parts are boxed, so that moving an image from one stage to
/// the next (and through the caller's collections) is cheap.
enum Mapped<'a, M: Memory> {
    Shared(Box<dynamic::Mapped<'a, M>>),
    Relocatable(Box<relocatable::Mapped<'a, M>>),
}

/// An object whose relocations are applied (its code may run, its IFUNC
/// resolvers included) but which may still wait for IFUNCs of objects
/// that were not relocated yet: [`RelocatedImage::finish`] completes it.
pub struct RelocatedImage<'a, M: Memory> {
    machine: Machine,
    parts: Relocated<'a, M>,
}

enum Relocated<'a, M: Memory> {
    /// A shared object; references to IFUNCs of objects not relocated yet
    /// may still be unfilled.
    Shared(dynamic::Pending<'a, M>),
    /// A relocatable object, complete.
    Relocatable(Box<LoadedImage<M>>),
}

/// What the accessors common to both stages read.
enum Parts<'r, 'a, M: Memory> {
    Shared(&'r dynamic::Mapped<'a, M>),
    Relocatable(&'r relocatable::Mapped<'a, M>),
    Loaded(&'r LoadedImage<M>),
}

impl<'r, M: Memory> Parts<'r, '_, M> {
    fn kind(self) -> ObjectKind {
        match self {
            Parts::Shared(_) => ObjectKind::Shared,
            Parts::Relocatable(_) => ObjectKind::Relocatable,
            Parts::Loaded(image) => image.kind(),
        }
    }

    fn held(self) -> &'r Held<M> {
        match self {
            Parts::Shared(m) => m.held(),
            Parts::Relocatable(m) => m.held(),
            Parts::Loaded(image) => &image.held,
        }
    }

    fn base(self) -> u64 {
        match self {
            Parts::Shared(m) => m.base(),
            Parts::Relocatable(m) => m.start(),
            Parts::Loaded(image) => image.base(),
        }
    }

    fn dynamic(self) -> Option<&'r DynamicInfo> {
        match self {
            Parts::Shared(m) => Some(m.info()),
            Parts::Relocatable(_) => None,
            Parts::Loaded(image) => image.dynamic(),
        }
    }

    fn thread_local(self) -> Option<ThreadLocal> {
        match self {
            Parts::Shared(m) => m.thread_local(),
            Parts::Relocatable(_) => None,
            Parts::Loaded(image) => image.thread_local(),
        }
    }

    #[inline]
    fn lookup(self, lookup: &Lookup<'_>) -> Option<Symbol> {
        match self {
            Parts::Shared(m) => m.lookup(lookup),
            Parts::Relocatable(m) => m.lookup(lookup),
            Parts::Loaded(image) => image.lookup(lookup),
        }
    }
}

/// The accessors both stages share, read through `self.parts()`.
macro_rules! stage_accessors {
    () => {
        /// Relocatable or shared.
        pub fn kind(&self) -> ObjectKind {
            self.parts().kind()
        }

        /// The machine the code is for.
        pub fn machine(&self) -> Machine {
            self.machine
        }

        /// Run-time address of the first byte of the image's reservation.
        pub fn start(&self) -> u64 {
            self.parts().held().res().addr()
        }

        /// Bytes the image holds (its whole reservation).
        pub fn size(&self) -> usize {
            self.parts().held().res().size()
        }

        /// Load bias: run-time address minus file address (ET_DYN); the
        /// image start for ET_REL.
        pub fn base(&self) -> u64 {
            self.parts().base()
        }

        /// Whether `addr` lies inside the image.
        pub fn contains(&self, addr: u64) -> bool {
            addr.wrapping_sub(self.start()) < self.size() as u64
        }

        /// Dependencies, search paths and program headers of a shared
        /// object.
        pub fn dynamic(&self) -> Option<&DynamicInfo> {
            self.parts().dynamic()
        }

        /// The object's thread-local storage (`PT_TLS`), if it has any:
        /// the host sets up a block per thread from it and gives the
        /// object a module id ([`MappedImage::set_tls_module`]) before
        /// relocation.
        pub fn thread_local(&self) -> Option<ThreadLocal> {
            self.parts().thread_local()
        }

        /// The exported symbol matching `lookup`, at its run-time address
        /// (valid before relocation). For an IFUNC that is its resolver's
        /// address, which must not be called before the image is
        /// relocated.
        #[inline]
        pub fn lookup(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
            self.parts().lookup(lookup)
        }

        /// The exported symbol `name` (default version).
        pub fn symbol(&self, name: &str) -> Option<Symbol> {
            self.lookup(&Lookup::new(name, None))
        }
    };
}

impl<'a, M: Memory> MappedImage<'a, M> {
    pub(crate) fn shared(mapped: Box<dynamic::Mapped<'a, M>>, machine: Machine) -> Self {
        MappedImage {
            machine,
            parts: Mapped::Shared(mapped),
        }
    }

    pub(crate) fn relocatable(mapped: relocatable::Mapped<'a, M>, machine: Machine) -> Self {
        MappedImage {
            machine,
            parts: Mapped::Relocatable(Box::new(mapped)),
        }
    }

    fn parts(&self) -> Parts<'_, 'a, M> {
        match &self.parts {
            Mapped::Shared(m) => Parts::Shared(m),
            Mapped::Relocatable(m) => Parts::Relocatable(m),
        }
    }

    stage_accessors!();

    /// Gives a shared object with thread-local storage the module id its
    /// `DTPMOD` relocations store, which its code passes to the host's
    /// `__tls_get_addr` (the host binds that name for it). Without one such
    /// an object is refused (`ThreadLocalStorage`) when relocated. Ignored
    /// for objects without `PT_TLS`.
    pub fn set_tls_module(&mut self, module: u64) {
        if let Mapped::Shared(m) = &mut self.parts {
            m.set_tls_module(module);
        }
    }

    /// Gives a shared object with thread-local storage the host's resolver
    /// for TLS descriptors (`TLSDESC`, the aarch64 default): each
    /// descriptor becomes (resolver, address of a `tls_index` record of
    /// module id and offset, in the image) — on Arm the reverse order, as
    /// its ABI lays descriptors out —, so the resolver is entered with
    /// the descriptor's address in the machine's first argument register,
    /// must return the variable's address minus the thread pointer, and
    /// must preserve every other register. Without one, descriptors are
    /// refused.
    pub fn set_tls_descriptor_resolver(&mut self, resolver: u64) {
        if let Mapped::Shared(m) = &mut self.parts {
            m.set_tls_descriptor_resolver(resolver);
        }
    }

    /// Relocates the image, binding its symbols through `resolver`, and
    /// protects it: [`MappedImage::apply_relocations`] then
    /// [`RelocatedImage::finish`]. Initialisers are not run. On error every
    /// byte taken from its memory has been given back.
    pub fn relocate(self, resolver: &dyn SymbolResolver) -> Result<LoadedImage<M>, LoadError> {
        self.apply_relocations(resolver)?.finish(resolver)
    }

    /// Binds the image's symbols through `resolver` and applies its
    /// relocations, then protects it (W^X) and runs its own IFUNC
    /// resolvers, its code being relocated by then. A reference bound to an
    /// IFUNC of an object that `resolver` reports not relocated
    /// ([`SymbolResolver::is_relocated`]) is not resolved: it waits, with
    /// RELRO still writable, for [`RelocatedImage::finish`], when that
    /// object must be relocated. A symbol the image defines binds as
    /// [`crate::Binding`] says, through
    /// [`SymbolResolver::resolve_defined`]. On error every byte taken from
    /// its memory has been given back.
    pub fn apply_relocations(
        self,
        resolver: &dyn SymbolResolver,
    ) -> Result<RelocatedImage<'a, M>, LoadError> {
        let parts = match self.parts {
            Mapped::Shared(mapped) => Relocated::Shared(mapped.relocate(resolver)?),
            Mapped::Relocatable(mapped) => {
                Relocated::Relocatable(Box::new(mapped.relocate(resolver)?))
            }
        };
        Ok(RelocatedImage {
            machine: self.machine,
            parts,
        })
    }
}

impl<'a, M: Memory> RelocatedImage<'a, M> {
    fn parts(&self) -> Parts<'_, 'a, M> {
        match &self.parts {
            Relocated::Shared(p) => Parts::Shared(p.mapped()),
            Relocated::Relocatable(image) => Parts::Loaded(image),
        }
    }

    stage_accessors!();

    /// Completes the image: calls the resolvers of the IFUNCs references
    /// waited for (each of their objects must by now be relocated, as
    /// `resolver` reports, or this fails with
    /// [`LoadError::UnrelocatedIfunc`]), stores what they return, makes
    /// RELRO read-only, and hands back the loaded image. On error every
    /// byte taken from its memory has been given back.
    pub fn finish(self, resolver: &dyn SymbolResolver) -> Result<LoadedImage<M>, LoadError> {
        match self.parts {
            Relocated::Shared(pending) => pending.finish(resolver),
            Relocated::Relocatable(image) => Ok(*image),
        }
    }
}

impl<M: Memory> core::fmt::Debug for MappedImage<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MappedImage")
            .field("machine", &self.machine)
            .field("kind", &self.kind())
            .field("start", &format_args!("{:#x}", self.start()))
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

impl<M: Memory> core::fmt::Debug for RelocatedImage<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RelocatedImage")
            .field("machine", &self.machine)
            .field("kind", &self.kind())
            .field("start", &format_args!("{:#x}", self.start()))
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}
