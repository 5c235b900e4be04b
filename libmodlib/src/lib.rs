//! `modlib`: the ELF loader core shared by the kernel's module manager and
//! user space's `dlopen`.
//!
//! It parses an object from bytes, lays it out in memory obtained from a
//! [`Memory`] ([`map`], giving a [`MappedImage`] whose symbols can already
//! be looked up), binds its undefined symbols through a [`SymbolResolver`],
//! applies its relocations, sets W^X permissions and hands back a
//! [`LoadedImage`] ([`MappedImage::relocate`]; [`load`] does both). It
//! loads `ET_REL` objects (`.o`, `.ko`) and `ET_DYN` shared objects; it
//! makes no OS calls of its own. Objects that bind to each other (a
//! `dlopen` group) go through the stages one step at a time, each a type
//! of its own so that steps cannot be taken out of order: a
//! [`MappedImage`] applies its relocations
//! ([`MappedImage::apply_relocations`]) and becomes a [`RelocatedImage`],
//! which [`RelocatedImage::finish`] turns into a [`LoadedImage`]; both
//! stages answer symbol lookups.
//!
//! Modules import only from below, in layers: plain types and services
//! (`kinds`, `options`, `memory`, `symbol`, `machine`, `error`, `reloc`,
//! where the machine tables import the shared `reloc::fixup` and the
//! dispatch imports them);
//! symbol tables (`dynamic::symbols`, `symtab`, `exports`) and `header`;
//! the image (`image`); the two loaders (`relocatable`, `dynamic`); the
//! stages and the parsed object (`mapped`, `object`, `inspect`); this root.
//!
//! ```
//! use modlib::{load, LoadError, LoadOptions, ProviderId, SymbolEntry, SymbolKind, SymbolTable};
//! # let memory = testkit::HostMemory::default();
//! // The host's exported symbols: a kernel table, a user runtime table...
//! let host = SymbolTable::new(
//!     vec![SymbolEntry::new("printk", 0x1000, SymbolKind::Function)],
//!     ProviderId(0),
//! )
//! .unwrap();
//! // `memory` implements `modlib::Memory`. Bytes that are not an object are
//! // refused before any memory is taken.
//! let err = load(b"not an ELF file", &LoadOptions::default(), &memory, &host).unwrap_err();
//! assert_eq!(err, LoadError::NotElf);
//! ```
#![no_std]
// A build with fewer machines or without shared objects leaves parts of the
// shared code (a field only RISC-V reads, the dynamic symbol reader) unused.
#![cfg_attr(
    not(all(
        feature = "x86_64",
        feature = "aarch64",
        feature = "riscv64",
        feature = "arm",
        feature = "riscv32",
        feature = "shared-objects"
    )),
    allow(dead_code, unused_variables, unused_imports)
)]

extern crate alloc;

mod call;
mod class;
mod dynamic;
mod error;
mod exports;
mod hash;
mod header;
mod hwcaps;
mod image;
pub mod inspect;
mod kinds;
mod machine;
mod mapped;
mod memory;
mod modinfo;
mod object;
mod options;
mod reloc;
mod relocatable;
mod sort;
mod symbol;
pub mod symtab;
mod table;

pub use call::bound_address;
pub use error::LoadError;
pub use hash::{gnu_hash, sysv_hash};
pub use hwcaps::HwCaps;
pub use image::{ImageResolver, LoadedImage};
pub use kinds::{
    DynamicInfo, Import, ObjectKind, ProgramHeader, Region, ThreadLocal, UnresolvedCall,
};
pub use machine::Machine;
pub use mapped::{MappedImage, RelocatedImage};
pub use memory::{FileMapping, Memory, MemoryError, Protection, Reservation};
pub use modinfo::ModInfo;
pub use object::Object;
pub use options::{ArmAbi, Binding, LoadOptions};
pub use symbol::{
    Chain, Lookup, NoSymbols, ProviderId, Resolved, Symbol, SymbolKind, SymbolResolver,
};
pub use table::{DuplicateSymbol, SymbolEntry, SymbolTable};

/// What a host's `__tls_get_addr` for objects of `machine` adds to the
/// offset in the `tls_index` it is given (the psABI's `TLS_DTV_OFFSET`):
/// `0x800` on riscv64, whose `DTPREL` values have it subtracted, 0
/// elsewhere.
pub const fn tls_dtv_offset(machine: Machine) -> u64 {
    reloc::tls_dtv_offset(machine)
}

/// What kind of object `bytes` holds, after checking it is one this loader
/// can load for `machine`.
pub fn identify(bytes: &[u8], machine: Machine) -> Result<ObjectKind, LoadError> {
    header::parse(bytes, machine).map(|(_, kind)| kind)
}

/// Maps the object in `bytes` into memory from `memory` without relocating
/// it: its exported symbols can be looked up (at their run-time
/// addresses) before it is relocated with [`MappedImage::relocate`] (or,
/// for objects that bind to each other, [`MappedImage::apply_relocations`]
/// and [`RelocatedImage::finish`]). On error, or when the image is dropped,
/// every byte taken from `memory` is given back.
pub fn map<'a, M: Memory>(
    bytes: &'a [u8],
    options: &LoadOptions,
    memory: M,
) -> Result<MappedImage<'a, M>, LoadError> {
    map_from(bytes, None, *options, memory)
}

/// [`map`] for `bytes` that are the contents of a file the host can also
/// map: the whole pages of a shared object's large segments are mapped
/// copy-on-write through `mapping` (as the system loader does) instead of
/// copied. Relocatable objects are mapped as by [`map`].
pub fn map_file<'a, M: Memory>(
    bytes: &'a [u8],
    mapping: &dyn FileMapping,
    options: &LoadOptions,
    memory: M,
) -> Result<MappedImage<'a, M>, LoadError> {
    map_from(bytes, Some(mapping), *options, memory)
}

fn map_from<'a, M: Memory>(
    bytes: &'a [u8],
    mapping: Option<&dyn FileMapping>,
    options: LoadOptions,
    memory: M,
) -> Result<MappedImage<'a, M>, LoadError> {
    let object = Object::parse(bytes, options.machine)?;
    match mapping {
        Some(mapping) => object.map_file(mapping, &options, memory),
        None => object.map(&options, memory),
    }
}

/// Loads, relocates and protects the object in `bytes` into memory from
/// `memory`, binding undefined symbols through `resolver`: [`map`], then
/// [`MappedImage::relocate`]. Initialisers are not run: call
/// [`LoadedImage::run_init`] (or walk [`LoadedImage::init_functions`]) when
/// ready. On error every byte taken from `memory` has been given back.
pub fn load<M: Memory>(
    bytes: &[u8],
    options: &LoadOptions,
    memory: M,
    resolver: &dyn SymbolResolver,
) -> Result<LoadedImage<M>, LoadError> {
    map(bytes, options, memory)?.relocate(resolver)
}

/// [`load`] for `bytes` that are the contents of a file the host can also
/// map (see [`map_file`]).
pub fn load_file<M: Memory>(
    bytes: &[u8],
    mapping: &dyn FileMapping,
    options: &LoadOptions,
    memory: M,
    resolver: &dyn SymbolResolver,
) -> Result<LoadedImage<M>, LoadError> {
    map_file(bytes, mapping, options, memory)?.relocate(resolver)
}
