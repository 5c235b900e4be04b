//! `modlib-dl-core`: the `no_std` heart of libdl — the [`Linker`] that
//! implements `dlopen`/`dlsym`/`dlclose` semantics over `modlib`, and the
//! [`Platform`] trait a system implements under it (the hosted Linux
//! platform in `modlib-dl`, the user runtime of the QEMU system), and in
//! [`capi`] the bodies of the C ABI that every image exports through thin
//! shims. `modlib-dl` re-exports its main types.
//!
//! Stack: nothing recurses on input. Every walk of the `DT_NEEDED` graph —
//! finding dependencies (breadth-first), the relocation and constructor
//! order and the destructor order (depth-first, glibc's), reachability at
//! `dlclose` — keeps its work list on the heap, so the stack `dlopen` and
//! `dlclose` need does not grow with the graph: a 1000-library `DT_NEEDED`
//! chain opens and closes on a 64 KiB thread stack (tested), and the
//! order walk handles a 100 000-object chain on one.
//!
//! Cost: opening a group of n objects takes O(n log n) map operations
//! besides the symbol lookups themselves, and O(n) memory: a `DT_NEEDED`
//! name is found among the group's objects through maps, and only an
//! object that is opened keeps a breadth-first scope (a chain's scopes,
//! one per object, would hold n²/2 entries).
#![no_std]

extern crate alloc;

pub mod capi;
pub mod error;
pub mod flags;
pub mod handle;
pub mod linker;
pub mod object;
pub mod platform;
pub mod sync;
pub mod tls;

pub use capi::ErrorSlot;
pub use error::Error;
pub use flags::Flags;
pub use handle::Handle;
pub use linker::{AddressInfo, Linker, ObjectInfo};
pub use platform::{FileContents, FileError, HostObject, HostScope, Platform, ThreadLocalStorage};
pub use tls::{TlsBlock, TlsModules};
