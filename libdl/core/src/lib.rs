//! `dl-core`: the `no_std` heart of libdl — the [`Linker`] that implements
//! `dlopen`/`dlsym`/`dlclose` semantics over `modlib`, and the [`Platform`]
//! trait a system implements under it (the hosted Linux platform in `dl`,
//! the user runtime of the QEMU system), and in [`capi`] the bodies of the
//! C ABI that every image exports through thin shims. The `dl` crate
//! re-exports its main types.
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
