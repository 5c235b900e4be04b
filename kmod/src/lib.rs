//! `modlib-kmod`: the kernel-side module manager over `modlib`.
//!
//! A kernel creates one [`ModuleManager`] with its [`Memory`](modlib::Memory)
//! and its exported symbol table ([`export_symbols!`]), and calls
//! [`insmod`](ModuleManager::insmod), [`rmmod`](ModuleManager::rmmod),
//! [`modsym`](ModuleManager::modsym), [`modhandle`](ModuleManager::modhandle)
//! and [`modprobe`](ModuleManager::modprobe) on it. Modules resolve against the
//! kernel table first, then against exports of loaded modules (first loaded
//! wins); each provider a module binds to becomes its dependency, and a
//! provider in use cannot be removed. Module authors include this
//! package's `include/module.h`.
//!
//! Stack: nothing recurses on input (dependency graphs are walked with heap
//! work lists), so `insmod` and `modprobe` of a chain of any length fit in
//! the stack of one load; a 500-module `depends=` chain loads on an 8 KiB
//! thread stack (x86_64, optimised) and is tested on 16 KiB.
#![no_std]

extern crate alloc;

mod abi;
mod cxx_runtime;
mod error;
mod exports;
mod info;
mod ksyms;
mod manager;
mod probe;
mod registry;
mod sync;

pub use abi::{abi_tag, ABI_VERSION};
pub use error::KmodError;
pub use info::{KernelSymbolInfo, ModuleInfo, ModuleState};
pub use ksyms::{KernelSymbol, KernelTable};
pub use manager::{ModHandle, ModuleManager, DEFAULT_MAX_MODULE_SIZE, DEFAULT_WAIT_ROUNDS};
/// Whether a symbol names code or data (re-exported so that users of
/// [`export_symbols!`] need not depend on `modlib`).
pub use modlib::SymbolKind;
pub use probe::{modules_dep, ModuleStore};
