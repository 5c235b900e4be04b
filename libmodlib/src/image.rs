//! A loaded image: the reservation it lives in and what callers need to know
//! about it (regions, exports, init/fini order, entry, metadata, imports).
//! Dropping it gives its memory back; it never runs code on its own.

use alloc::string::String;
use alloc::vec::Vec;

use crate::call;
use crate::dynamic::symbols::ImageSymbols;
use crate::error::LoadError;
use crate::exports::ExportTable;
use crate::kinds::{DynamicInfo, Import, ObjectKind, Region, ThreadLocal, UnresolvedCall};
use crate::machine::Machine;
use crate::memory::{Held, Memory, Protection};
use crate::modinfo::ModInfo;
use crate::symbol::{Lookup, ProviderId, Resolved, Symbol, SymbolResolver};
use crate::symtab::DynamicSymbols;

// One per image, which is itself held behind an `Arc` or a box by its
// users: boxing the dynamic tables would only add a pointer to follow on
// every lookup.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Exports {
    Table(ExportTable),
    Dynamic(ImageSymbols),
}

/// An object loaded into memory, relocated and protected, with its
/// initialisers not yet run.
pub struct LoadedImage<M: Memory> {
    pub(crate) held: Held<M>,
    pub(crate) machine: Machine,
    pub(crate) kind: ObjectKind,
    pub(crate) base: u64,
    pub(crate) regions: Vec<Region>,
    pub(crate) exports: Exports,
    pub(crate) init: Vec<u64>,
    pub(crate) fini: Vec<u64>,
    pub(crate) entry: Option<u64>,
    pub(crate) modinfo: ModInfo,
    pub(crate) imports: Vec<Import>,
    pub(crate) dynamic: Option<DynamicInfo>,
    pub(crate) thread_local: Option<ThreadLocal>,
    pub(crate) unresolved: Vec<UnresolvedCall>,
    pub(crate) exception_index: Option<(u64, usize)>,
}

/// What an image's code pointers may point at: its executable memory,
/// and for arrays that may hold them, the functions it imported.
pub(crate) struct CodeBounds<'a> {
    pub(crate) regions: &'a [Region],
    pub(crate) imports: &'a [Import],
    pub(crate) machine: Machine,
}

impl CodeBounds<'_> {
    /// `Ok` if `address`, held by `what`, lies in the image's executable
    /// regions (an Arm Thumb address with its low bit cleared), or is the
    /// resolved address of one of its imports when `imports_allowed`.
    pub(crate) fn check(
        &self,
        what: &str,
        address: u64,
        imports_allowed: bool,
    ) -> Result<(), LoadError> {
        if in_code(self.regions, self.machine, address)
            || (imports_allowed && self.imports.iter().any(|i| i.address == address))
        {
            Ok(())
        } else {
            Err(LoadError::CodeOutsideObject {
                what: String::from(what),
                address,
            })
        }
    }
}

/// Whether `address` lies in one of the `ReadExecute` regions (for Arm,
/// with the Thumb bit masked).
pub(crate) fn in_code(regions: &[Region], machine: Machine, address: u64) -> bool {
    let address = crate::reloc::code_address(machine, address);
    regions.iter().any(|r| {
        r.protection == Protection::ReadExecute
            && address
                .checked_sub(r.addr)
                .is_some_and(|d| d < r.size as u64)
    })
}

impl<M: Memory> LoadedImage<M> {
    /// Where the object's Arm exception index table (`.ARM.exidx`,
    /// `PT_ARM_EXIDX`) lies: run-time address and size in bytes (8 per
    /// entry). An Arm unwinder asks for it through
    /// `__gnu_Unwind_Find_exidx` to unwind through the object's code.
    pub fn exception_index(&self) -> Option<(u64, usize)> {
        self.exception_index
    }

    /// The machine the code is for.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// Relocatable or shared.
    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    /// Run-time address of the first byte of the image's reservation.
    pub fn start(&self) -> u64 {
        self.held.res().addr()
    }

    /// Bytes the image holds (its whole reservation).
    pub fn size(&self) -> usize {
        self.held.res().size()
    }

    /// Load bias: run-time address minus file address (ET_DYN); the image
    /// start for ET_REL.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Whether `addr` lies inside the image.
    pub fn contains(&self, addr: u64) -> bool {
        addr.wrapping_sub(self.start()) < self.size() as u64
    }

    /// Committed regions with their final permissions.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Whether `addr` lies in the image's executable memory (on Arm, with
    /// the Thumb bit masked): a host calling a function the object names
    /// by symbol (a module's init entry) checks it first.
    pub fn is_code(&self, addr: u64) -> bool {
        in_code(&self.regions, self.machine, addr)
    }

    /// The exported symbol `name` (default version).
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        self.lookup(&Lookup::new(name, None))
    }

    /// The exported symbol matching `lookup` (name, version).
    #[inline]
    pub fn lookup(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        match &self.exports {
            Exports::Table(table) => table.get(lookup.name),
            Exports::Dynamic(dynsyms) => dynsyms.lookup(self.held.res(), self.base, lookup),
        }
    }

    /// The dynamic symbol table of a shared object, in the image's memory
    /// (names stay valid, NUL-terminated, while the image is loaded).
    pub fn dynamic_symbols(&self) -> Option<DynamicSymbols<'_>> {
        match &self.exports {
            Exports::Table(_) => None,
            Exports::Dynamic(dynsyms) => dynsyms
                .public_view(self.held.res())
                .map(|(view, gnu)| DynamicSymbols::from_view(view, gnu)),
        }
    }

    /// Every exported symbol with its name.
    pub fn exports(&self) -> Vec<(String, Symbol)> {
        match &self.exports {
            Exports::Table(table) => table
                .iter()
                .map(|(name, symbol)| (String::from(name), symbol))
                .collect(),
            Exports::Dynamic(dynsyms) => dynsyms.all(self.held.res(), self.base),
        }
    }

    /// The exported symbol containing `addr`, if any: for `dladdr`.
    pub fn symbol_at(&self, addr: u64) -> Option<(String, Symbol)> {
        self.exports()
            .into_iter()
            // `addr - address < size`, not `addr < address + size`: a
            // symbol's value and size come from the file, and their sum
            // may not fit.
            .filter(|(_, s)| {
                addr.checked_sub(s.address)
                    .is_some_and(|d| d < s.size.max(1))
            })
            .max_by_key(|(_, s)| s.address)
    }

    /// Initialisers in the order to call them (`DT_INIT`, then the
    /// `init_array` entries).
    pub fn init_functions(&self) -> &[u64] {
        &self.init
    }

    /// Finalisers in the order to call them (`fini_array` last to first,
    /// then `DT_FINI`).
    pub fn fini_functions(&self) -> &[u64] {
        &self.fini
    }

    /// The entry point (`e_entry`), if the object has one.
    pub fn entry(&self) -> Option<u64> {
        self.entry
    }

    /// `.modinfo` key=value metadata (empty if the object has none).
    pub fn modinfo(&self) -> &ModInfo {
        &self.modinfo
    }

    /// Every external symbol the image bound, and who provided it.
    pub fn imports(&self) -> &[Import] {
        &self.imports
    }

    /// The PLT calls lazy binding left to the lazy handler (see
    /// [`crate::LoadOptions::lazy_calls`]).
    pub fn unresolved_calls(&self) -> &[UnresolvedCall] {
        &self.unresolved
    }

    /// Binds one of [`LoadedImage::unresolved_calls`] (by its `slot`) to
    /// `address`, once a definition has turned up: stores it in the call's
    /// GOT slot, atomically (other threads may be calling through it).
    /// Returns `false`, changing nothing, if `slot` is not one of them or
    /// does not lie in the image's writable memory.
    pub fn bind_unresolved_call(&self, slot: u64, address: u64) -> bool {
        let word = self.machine.word_size();
        let known = self.unresolved.iter().any(|c| c.slot == slot);
        let writable = slot % word as u64 == 0
            && self.regions.iter().any(|r| {
                r.protection == Protection::ReadWrite
                    && r.addr <= slot
                    && slot.saturating_add(word as u64) <= r.addr.saturating_add(r.size as u64)
            });
        let res = self.held.res();
        let offset = slot.wrapping_sub(res.addr()) as usize;
        if !known || !writable || offset.saturating_add(word) > res.size() {
            return false;
        }
        let place = res.host().as_ptr().wrapping_add(offset);
        if place.align_offset(word) != 0 {
            return false;
        }
        match word {
            #[cfg(target_has_atomic = "64")]
            8 => {
                #[allow(clippy::cast_ptr_alignment)] // alignment checked above
                let place = place.cast::<u64>();
                // SAFETY: `place` is an aligned word inside this image's
                // reservation (checked above), in a read-write region that
                // stays mapped while the image lives; nothing holds a slice
                // of it, and the store is atomic because loaded code may
                // read it concurrently.
                let slot_word = unsafe { core::sync::atomic::AtomicU64::from_ptr(place) };
                slot_word.store(address, core::sync::atomic::Ordering::Release);
                true
            }
            4 => {
                let Ok(address) = u32::try_from(address) else {
                    return false;
                };
                #[allow(clippy::cast_ptr_alignment)] // alignment checked above
                let place = place.cast::<u32>();
                // SAFETY: as for the 64-bit word above.
                let slot_word = unsafe { core::sync::atomic::AtomicU32::from_ptr(place) };
                slot_word.store(address, core::sync::atomic::Ordering::Release);
                true
            }
            _ => false,
        }
    }

    /// The object's thread-local storage, if it has any.
    pub fn thread_local(&self) -> Option<ThreadLocal> {
        self.thread_local
    }

    /// Dependencies, search paths and program headers of a shared object.
    pub fn dynamic(&self) -> Option<&DynamicInfo> {
        self.dynamic.as_ref()
    }

    /// A resolver over this image's exports that reports `provider`.
    pub fn resolver(&self, provider: ProviderId) -> ImageResolver<'_, M> {
        ImageResolver {
            image: self,
            provider,
        }
    }

    /// Calls every initialiser in order.
    ///
    /// # Safety
    /// Runs code from the image: the caller vouches that the image is
    /// trusted to run in this context, and that its initialisers take no
    /// arguments (or ignore them).
    pub unsafe fn run_init(&self) -> Result<(), LoadError> {
        self.require_host()?;
        for &f in &self.init {
            // SAFETY: the caller vouches for the code; `f` was read from the
            // image's own init tables and checked when the image was made
            // to lie in its executable memory or to be a function it
            // imported, and the image is relocated, protected and alive for
            // the duration of the call.
            unsafe { call::void_fn(f) };
        }
        Ok(())
    }

    /// Calls every finaliser in order.
    ///
    /// # Safety
    /// As for [`LoadedImage::run_init`]; call at most once, after the
    /// initialisers.
    pub unsafe fn run_fini(&self) -> Result<(), LoadError> {
        self.require_host()?;
        for &f in &self.fini {
            // SAFETY: as in `run_init`.
            unsafe { call::void_fn(f) };
        }
        Ok(())
    }

    fn require_host(&self) -> Result<(), LoadError> {
        if Machine::host() == Some(self.machine) {
            Ok(())
        } else {
            Err(LoadError::Unsupported {
                what: "running code built for another machine",
            })
        }
    }
}

impl<M: Memory> core::fmt::Debug for LoadedImage<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoadedImage")
            .field("machine", &self.machine)
            .field("kind", &self.kind)
            .field("start", &format_args!("{:#x}", self.start()))
            .field("size", &self.size())
            .field("regions", &self.regions)
            .finish_non_exhaustive()
    }
}

/// A [`SymbolResolver`] over one image's exports.
pub struct ImageResolver<'a, M: Memory> {
    image: &'a LoadedImage<M>,
    provider: ProviderId,
}

impl<M: Memory> SymbolResolver for ImageResolver<'_, M> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        self.image.lookup(lookup).map(|symbol| Resolved {
            symbol,
            provider: self.provider,
        })
    }
}
