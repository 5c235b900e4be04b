//! `modlib-dl`: the user-space dynamic loader — `dlopen`, `dlsym`, `dlclose`,
//! `dlerror`, `dladdr`, `dl_iterate_phdr` — over the `modlib` core.
//!
//! * [`Linker`] holds the loaded objects of one process (or user address
//!   space) and implements the POSIX semantics: reference-counted handles,
//!   `DT_NEEDED` dependencies loaded first and searched breadth-first,
//!   `RTLD_GLOBAL`/`RTLD_LOCAL` scopes, constructors and destructors in
//!   dependency order. What differs between systems is behind [`Platform`].
//! * [`Library`] is the safe Rust wrapper, in the style of `libloading`.
//! * The `no_std` core (linker, platform trait, the bodies of the C
//!   functions) is the `modlib-dl-core` crate, its main types re-exported
//!   here; this crate adds the hosted platform, the C ABI exports and the
//!   static library `libmodlib_dl.a`.
//! * With feature `c-abi`, the C functions are exported under their POSIX
//!   names (see `include/dlfcn.h`); with feature `hosted`, [`hosted`]
//!   provides the Linux platform.
#![no_std]

extern crate alloc;
#[cfg(feature = "hosted")]
extern crate std;

#[cfg(all(feature = "c-abi", feature = "hosted"))]
pub mod capi;
#[cfg(feature = "hosted")]
pub mod hosted;
#[cfg(feature = "hosted")]
mod library;

pub use dl_core::{
    AddressInfo, Error, ErrorSlot, FileContents, FileError, Flags, Handle, HostObject, HostScope,
    Linker, ObjectInfo, Platform,
};
#[cfg(feature = "hosted")]
pub use library::{Library, Symbol, SymbolName};
