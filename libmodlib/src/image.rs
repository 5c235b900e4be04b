//! A loaded image: the reservation it lives in and what callers need to know
//! about it (regions, exports, init/fini order, entry, metadata, imports).
//! Dropping it gives its memory back; it never runs code on its own.

use alloc::string::String;
use alloc::vec::Vec;

use crate::call;
use crate::dynamic::ImageSymbols;
use crate::error::LoadError;
use crate::machine::Machine;
use crate::memory::{Held, Memory, Protection};
use crate::modinfo::ModInfo;
use crate::symbol::{Lookup, ProviderId, Resolved, Symbol, SymbolResolver};

/// The two object types the loader accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// `ET_REL`: a relocatable object (`.o`, `.ko`, `ld -r` output).
    Relocatable,
    /// `ET_DYN`: a shared object or position-independent executable.
    Shared,
}

/// A committed range of the image and its final permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Run-time start address (page-aligned).
    pub addr: u64,
    /// Size in bytes (whole pages).
    pub size: usize,
    /// Final permissions.
    pub protection: Protection,
}

/// A symbol the image took from outside, and who provided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// Symbol name.
    pub name: String,
    /// Version asked for, if any.
    pub version: Option<String>,
    /// Address it was bound to (0 for an unresolved weak reference).
    pub address: u64,
    /// The resolver that answered; `None` for an unresolved weak reference.
    pub provider: Option<ProviderId>,
}

/// A call through the PLT that lazy binding left to the lazy handler,
/// because nothing defined its function when the object was loaded: the
/// host may bind it later (when an object that defines it arrives) by
/// storing the function's address in `slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedCall {
    /// Run-time address of the `JUMP_SLOT` (a writable 64-bit word).
    pub slot: u64,
    /// The function's name.
    pub name: String,
    /// The version asked for, if any.
    pub version: Option<String>,
}

/// A shared object's thread-local storage (`PT_TLS`): what each thread's
/// block of it starts as, and the module id its code passes to
/// `__tls_get_addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadLocal {
    /// Run-time address of the initialisation image (`.tdata`).
    pub init: u64,
    /// Bytes of the initialisation image; the rest of a block is zero.
    pub init_size: usize,
    /// Bytes of a block (`.tdata` then `.tbss`).
    pub size: usize,
    /// Alignment of a block (a power of two).
    pub align: usize,
    /// The module id the host gave the object (0 before it gives one).
    pub module: u64,
}

/// What a shared object says about its place among others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DynamicInfo {
    /// `DT_NEEDED` names, in order.
    pub needed: Vec<String>,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_RUNPATH` (or, if absent, `DT_RPATH`) entries, unexpanded.
    pub runpath: Vec<String>,
    /// Whether the search path came from `DT_RPATH` rather than `DT_RUNPATH`.
    pub runpath_is_rpath: bool,
    /// Program headers, as in the file (addresses unbiased).
    pub program_headers: Vec<ProgramHeader>,
}

impl DynamicInfo {
    /// The exception index program header (`PT_ARM_EXIDX`) of an object
    /// for `machine`, at its run-time address for load bias `base`.
    pub(crate) fn exception_index(&self, machine: Machine, base: u64) -> Option<(u64, usize)> {
        let index_type = crate::reloc::exception_index_type(machine)?;
        self.program_headers
            .iter()
            .find(|p| p.p_type == index_type)
            .map(|p| (base.wrapping_add(p.p_vaddr), p.p_memsz as usize))
    }
}

/// One program header of a shared object, whatever its class (ELF32
/// values zero-extended), with addresses as in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    /// `p_type` (`PT_LOAD`, `PT_DYNAMIC`...).
    pub p_type: u32,
    /// `p_flags` (`PF_R`, `PF_W`, `PF_X`).
    pub p_flags: u32,
    /// `p_offset`: where its bytes start in the file.
    pub p_offset: u64,
    /// `p_vaddr`: its (unbiased) address.
    pub p_vaddr: u64,
    /// `p_paddr`.
    pub p_paddr: u64,
    /// `p_filesz`: bytes in the file.
    pub p_filesz: u64,
    /// `p_memsz`: bytes in memory.
    pub p_memsz: u64,
    /// `p_align`.
    pub p_align: u64,
}

impl From<&elf::segment::ProgramHeader> for ProgramHeader {
    fn from(h: &elf::segment::ProgramHeader) -> Self {
        ProgramHeader {
            p_type: h.p_type,
            p_flags: h.p_flags,
            p_offset: h.p_offset,
            p_vaddr: h.p_vaddr,
            p_paddr: h.p_paddr,
            p_filesz: h.p_filesz,
            p_memsz: h.p_memsz,
            p_align: h.p_align,
        }
    }
}

// One per image, which is itself held behind an `Arc` or a box by its
// users: boxing the dynamic tables would only add a pointer to follow on
// every lookup.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Exports {
    Table(crate::relocatable::ExportTable),
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
    pub fn dynamic_symbols(&self) -> Option<crate::symtab::DynamicSymbols<'_>> {
        match &self.exports {
            Exports::Table(_) => None,
            Exports::Dynamic(dynsyms) => dynsyms.public_view(self.held.res()),
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
            .filter(|(_, s)| s.address <= addr && addr < s.address + s.size.max(1))
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
                    && slot.saturating_add(word as u64) <= r.addr + r.size as u64
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
            // image's own init tables and the image is relocated, protected
            // and alive for the duration of the call.
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
