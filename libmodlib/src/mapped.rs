//! An object in memory but not yet relocated: the first half of a load,
//! for loaders that must map several objects before relocating any (a
//! `dlopen` group, whose members bind to each other in both directions).
//! It answers symbol lookups; it never runs code and never hands out a
//! runnable image before its relocations are complete. Dropping it at any
//! step gives back all its memory.

use alloc::boxed::Box;

use crate::dynamic;
use crate::error::LoadError;
use crate::image::{DynamicInfo, LoadedImage, ObjectKind, ThreadLocal};
use crate::machine::Machine;
use crate::memory::{Held, Memory};
use crate::relocatable;
use crate::symbol::{Lookup, Symbol, SymbolResolver};

/// An object whose segments (or sections) are in memory and whose exported
/// symbols have their run-time addresses, but which is not relocated yet
/// (see [`crate::map`]). [`MappedImage::relocate`] turns it into a
/// [`LoadedImage`]; a group of objects that bind to each other is relocated
/// with [`MappedImage::apply_relocations`] each, then
/// [`MappedImage::finish`] each.
pub struct MappedImage<'a, M: Memory> {
    kind: ObjectKind,
    machine: Machine,
    stage: Stage<'a, M>,
}

/// The stages hold their large parts boxed, so that moving an image from
/// one stage to the next (and through the caller's collections) is cheap.
enum Stage<'a, M: Memory> {
    /// A shared object, mapped.
    Shared(Box<dynamic::Mapped<'a, M>>),
    /// A relocatable object, mapped.
    Relocatable(Box<relocatable::Mapped<'a, M>>),
    /// A shared object, relocated; references to IFUNCs of objects not
    /// relocated yet may still be unfilled.
    Waiting(dynamic::Pending<'a, M>),
    /// A relocatable object, relocated and complete.
    Done(Box<LoadedImage<M>>),
    /// A step failed; the memory has been given back.
    Failed,
}

impl<'a, M: Memory> MappedImage<'a, M> {
    pub(crate) fn shared(mapped: Box<dynamic::Mapped<'a, M>>, machine: Machine) -> Self {
        MappedImage {
            kind: ObjectKind::Shared,
            machine,
            stage: Stage::Shared(mapped),
        }
    }

    pub(crate) fn relocatable(mapped: relocatable::Mapped<'a, M>, machine: Machine) -> Self {
        MappedImage {
            kind: ObjectKind::Relocatable,
            machine,
            stage: Stage::Relocatable(Box::new(mapped)),
        }
    }

    /// Relocatable or shared.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// The machine the code is for.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    fn held(&self) -> Option<&Held<M>> {
        match &self.stage {
            Stage::Shared(m) => Some(m.held()),
            Stage::Relocatable(m) => Some(m.held()),
            Stage::Waiting(p) => Some(p.mapped().held()),
            Stage::Done(image) => Some(&image.held),
            Stage::Failed => None,
        }
    }

    /// Run-time address of the first byte of the image's reservation (0
    /// after a failed step).
    pub fn start(&self) -> u64 {
        self.held().map_or(0, |h| h.res().addr())
    }

    /// Bytes the image holds (0 after a failed step).
    pub fn size(&self) -> usize {
        self.held().map_or(0, |h| h.res().size())
    }

    /// Load bias: run-time address minus file address (ET_DYN); the image
    /// start for ET_REL.
    pub fn base(&self) -> u64 {
        match &self.stage {
            Stage::Shared(m) => m.base(),
            Stage::Relocatable(m) => m.start(),
            Stage::Waiting(p) => p.mapped().base(),
            Stage::Done(image) => image.base(),
            Stage::Failed => 0,
        }
    }

    /// Whether `addr` lies inside the image.
    pub fn contains(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.start()) < self.size() as u64
    }

    /// Dependencies, search paths and program headers of a shared object.
    pub fn dynamic(&self) -> Option<&DynamicInfo> {
        match &self.stage {
            Stage::Shared(m) => Some(m.info()),
            Stage::Waiting(p) => Some(p.mapped().info()),
            Stage::Done(image) => image.dynamic(),
            Stage::Relocatable(_) | Stage::Failed => None,
        }
    }

    /// The object's thread-local storage (`PT_TLS`), if it has any: the
    /// host sets up a block per thread from it and gives the object a
    /// module id with [`MappedImage::set_tls_module`] before relocation.
    pub fn thread_local(&self) -> Option<ThreadLocal> {
        match &self.stage {
            Stage::Shared(m) => m.thread_local(),
            Stage::Waiting(p) => p.mapped().thread_local(),
            Stage::Done(image) => image.thread_local(),
            Stage::Relocatable(_) | Stage::Failed => None,
        }
    }

    /// Gives a shared object with thread-local storage the module id its
    /// `DTPMOD` relocations store, which its code passes to the host's
    /// `__tls_get_addr` (the host binds that name for it). Without one such
    /// an object is refused (`ThreadLocalStorage`) when relocated. Ignored
    /// once relocation has begun, and for objects without `PT_TLS`.
    pub fn set_tls_module(&mut self, module: u64) {
        if let Stage::Shared(m) = &mut self.stage {
            m.set_tls_module(module);
        }
    }

    /// Gives a shared object with thread-local storage the host's resolver
    /// for TLS descriptors (`TLSDESC`, the aarch64 default): each
    /// descriptor becomes (resolver, address of a `tls_index` record of
    /// module id and offset, in the image), so the resolver is entered with
    /// the descriptor's address in the machine's first argument register,
    /// must return the variable's address minus the thread pointer, and
    /// must preserve every other register. Without one, descriptors are
    /// refused. Ignored once relocation has begun.
    pub fn set_tls_descriptor_resolver(&mut self, resolver: u64) {
        if let Stage::Shared(m) = &mut self.stage {
            m.set_tls_descriptor_resolver(resolver);
        }
    }

    /// The exported symbol matching `lookup`, at its run-time address,
    /// valid before relocation. For an IFUNC that is its resolver's
    /// address, which must not be called before [`MappedImage::is_relocated`].
    #[inline]
    pub fn lookup(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        match &self.stage {
            Stage::Shared(m) => m.lookup(lookup),
            Stage::Relocatable(m) => m.lookup(lookup),
            Stage::Waiting(p) => p.mapped().lookup(lookup),
            Stage::Done(image) => image.lookup(lookup),
            Stage::Failed => None,
        }
    }

    /// The exported symbol `name` (default version).
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        self.lookup(&Lookup::new(name, None))
    }

    /// Whether [`MappedImage::apply_relocations`] has succeeded: its code
    /// is relocated (so its IFUNC resolvers may run), though it may still
    /// wait for [`MappedImage::finish`].
    pub fn is_relocated(&self) -> bool {
        matches!(self.stage, Stage::Waiting(_) | Stage::Done(_))
    }

    /// Relocates the image, binding its symbols through `resolver`, and
    /// protects it: [`MappedImage::apply_relocations`] then
    /// [`MappedImage::finish`]. Initialisers are not run. On error every
    /// byte taken from its memory has been given back.
    pub fn relocate(mut self, resolver: &dyn SymbolResolver) -> Result<LoadedImage<M>, LoadError> {
        self.apply_relocations(resolver)?;
        self.finish(resolver)
    }

    /// Binds the image's symbols through `resolver` and applies its
    /// relocations, then protects it (W^X) and runs its own IFUNC
    /// resolvers, its code being relocated by then. A reference bound to an
    /// IFUNC of an object that `resolver` reports not relocated
    /// ([`SymbolResolver::is_relocated`]) is not resolved: it waits, with
    /// RELRO still writable, for [`MappedImage::finish`], when that object
    /// must be relocated. A symbol the image defines binds as
    /// [`crate::Binding`] says, through
    /// [`SymbolResolver::resolve_defined`].
    ///
    /// On error the image's memory is given back at once and every later
    /// step fails with [`LoadError::OutOfOrder`].
    pub fn apply_relocations(&mut self, resolver: &dyn SymbolResolver) -> Result<(), LoadError> {
        self.stage = match core::mem::replace(&mut self.stage, Stage::Failed) {
            Stage::Shared(mapped) => Stage::Waiting(mapped.relocate(resolver)?),
            Stage::Relocatable(mapped) => Stage::Done(Box::new(mapped.relocate(resolver)?)),
            stage @ (Stage::Waiting(_) | Stage::Done(_)) => {
                self.stage = stage;
                return Err(LoadError::OutOfOrder {
                    what: "relocations applied twice",
                });
            }
            Stage::Failed => {
                return Err(LoadError::OutOfOrder {
                    what: "relocation after a failed step",
                })
            }
        };
        Ok(())
    }

    /// Completes an image whose relocations are applied: calls the
    /// resolvers of the IFUNCs references waited for (each of their objects
    /// must by now be relocated, as `resolver` reports, or this fails with
    /// [`LoadError::UnrelocatedIfunc`]), stores what they return, makes
    /// RELRO read-only, and hands back the loaded image. On error every
    /// byte taken from its memory has been given back.
    pub fn finish(self, resolver: &dyn SymbolResolver) -> Result<LoadedImage<M>, LoadError> {
        match self.stage {
            Stage::Done(image) => Ok(*image),
            Stage::Waiting(pending) => pending.finish(resolver),
            Stage::Shared(_) | Stage::Relocatable(_) => Err(LoadError::OutOfOrder {
                what: "finished before its relocations were applied",
            }),
            Stage::Failed => Err(LoadError::OutOfOrder {
                what: "finished after a failed step",
            }),
        }
    }
}

impl<M: Memory> core::fmt::Debug for MappedImage<'_, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MappedImage")
            .field("machine", &self.machine)
            .field("kind", &self.kind)
            .field("start", &format_args!("{:#x}", self.start()))
            .field("size", &self.size())
            .field("relocated", &self.is_relocated())
            .finish_non_exhaustive()
    }
}
