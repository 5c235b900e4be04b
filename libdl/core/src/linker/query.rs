//! Lookups that do not change the table: `dlsym`, `dladdr`, and the object
//! list behind `dl_iterate_phdr` and `_dl_find_object`.

use crate::sync::Arc;
use alloc::string::String;
use alloc::vec::Vec;

use modlib::{LoadedImage, Lookup, Resolved, SymbolKind};

use super::open::breadth_first;
use super::scope::{address, global, local, HOST};
use super::{Linker, Table};
use crate::error::Error;
use crate::handle::Handle;
use crate::object::{Body, Dep, Object, RawPhdr, State};
use crate::platform::Platform;

/// What `dladdr` reports.
#[derive(Debug, Clone, Copy)]
pub struct AddressInfo {
    /// NUL-terminated path of the object containing the address.
    pub path: *const u8,
    /// The object's base address.
    pub base: u64,
    /// NUL-terminated name of the nearest exported symbol at or below the
    /// address, or null.
    pub symbol_name: *const u8,
    /// That symbol's address, or 0.
    pub symbol_addr: u64,
}

/// One loaded object, as `dl_iterate_phdr` and `_dl_find_object` see it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectInfo {
    /// Load bias.
    pub addr: u64,
    /// NUL-terminated path.
    pub name: *const u8,
    /// Program headers.
    pub phdr: *const RawPhdr,
    /// Number of program headers.
    pub phnum: u16,
    /// First byte of the mapping.
    pub map_start: u64,
    /// One past the last byte of the mapping.
    pub map_end: u64,
    /// Run-time address of `PT_GNU_EH_FRAME` contents, or 0.
    pub eh_frame_hdr: u64,
    /// The Arm exception index (`.ARM.exidx`): address and size in bytes.
    pub exception_index: Option<(u64, usize)>,
}

impl<P: Platform> Linker<P> {
    /// `dlsym`: the address of `name` in the scope `handle` names; `caller`
    /// is the calling code's address (for `RTLD_NEXT`).
    pub fn symbol(&self, handle: Handle, name: &str, caller: u64) -> Result<u64, Error> {
        self.versioned_symbol(handle, name, None, caller)
    }

    /// `dlvsym`: as [`Linker::symbol`], but only the definition of `name`
    /// with symbol version `version` (`GLIBC_2.14`) when given.
    pub fn versioned_symbol(
        &self,
        handle: Handle,
        name: &str,
        version: Option<&str>,
        caller: u64,
    ) -> Result<u64, Error> {
        let lookup = Lookup::new(name, version);
        let host = self.platform.host();
        let table = self.table.lock();
        let found = match handle {
            Handle::Default | Handle::Global => global(&table, host, &lookup, 0, true),
            Handle::Next => {
                let mine = table
                    .objects
                    .values()
                    .find(|o| o.image().is_some_and(|i| i.contains(caller)));
                match mine {
                    Some(o) => match table.global.iter().position(|&g| g == o.id) {
                        Some(p) => global(&table, host, &lookup, p + 1, false),
                        // An object never opened itself has no scope
                        // kept: its breadth-first order is walked now.
                        None if o.scope.is_empty() => {
                            let scope = breadth_first(&table, Dep::Ours(o.id), table.next_id, &[]);
                            local(&table, host, scope.get(1..).unwrap_or(&[]), &lookup)
                        }
                        None => local(&table, host, o.scope.get(1..).unwrap_or(&[]), &lookup),
                    },
                    None => match host.and_then(|h| h.resolve_after(caller, &lookup)) {
                        Some(Some(symbol)) => Some(modlib::Resolved {
                            symbol,
                            provider: super::scope::HOST,
                        }),
                        Some(None) => global(&table, host, &lookup, 0, false),
                        None => global(&table, host, &lookup, 0, true),
                    },
                }
            }
            Handle::Object(id) => {
                let object = table
                    .objects
                    .get(&id)
                    .filter(|o| !matches!(o.state, State::Finalizing(_)) && o.opens > 0)
                    .ok_or(Error::InvalidHandle)?;
                local(&table, host, &object.scope, &lookup)
            }
        };
        let scope_name = || match handle {
            Handle::Object(id) => table
                .objects
                .get(&id)
                .map_or_else(String::new, |o| String::from(o.path())),
            Handle::Next => String::from("RTLD_NEXT"),
            Handle::Default | Handle::Global => String::from("RTLD_DEFAULT"),
        };
        let described = || match version {
            Some(v) => alloc::format!("{name}, version {v}"),
            None => String::from(name),
        };
        let Some(found) = found else {
            return Err(Error::SymbolNotFound {
                object: scope_name(),
                name: described(),
            });
        };
        if found.symbol.kind == SymbolKind::ThreadLocal {
            let not_found = Error::SymbolNotFound {
                object: scope_name(),
                name: described(),
            };
            if found.provider != HOST {
                return self.thread_instance(&table, found).ok_or(not_found);
            }
            drop(table);
            return host
                .and_then(|h| h.thread_local_instance(&lookup, found.symbol))
                .ok_or(not_found);
        }
        drop(table);
        let (machine, caps) = (self.platform.machine(), self.platform.hwcaps());
        address(found.symbol, machine, caps).ok_or_else(|| Error::SymbolNotFound {
            object: String::new(),
            name: described(),
        })
    }

    /// The calling thread's instance of a thread-local variable one of our
    /// objects defines (its block made on first use, as `__tls_get_addr`
    /// makes it).
    fn thread_instance(&self, table: &Table<P::Memory>, found: Resolved) -> Option<u64> {
        let image = table.objects.get(&found.provider.0)?.image()?;
        let module = image.thread_local()?.module;
        let offset = found.symbol.address.wrapping_sub(image.base());
        let block = self.platform.thread_local()?.block(module)?;
        Some((block as u64).wrapping_add(offset))
    }

    /// The image of the object an open handle names, kept alive by the
    /// returned `Arc`. The object comes first in its own scope, so a symbol
    /// it defines is what [`Linker::symbol`] would find for the handle:
    /// holders of an open reference can look there first without the lock.
    pub fn image(&self, handle: Handle) -> Option<Arc<LoadedImage<P::Memory>>> {
        let Handle::Object(id) = handle else {
            return None;
        };
        let table = self.table.lock();
        let object = table
            .objects
            .get(&id)
            .filter(|o| !matches!(o.state, State::Finalizing(_)) && o.opens > 0)?;
        if object.scope.first() != Some(&Dep::Ours(id)) {
            return None;
        }
        object.image().cloned()
    }

    /// The functions that lazily bound objects call but no object defines
    /// (still bound to [`Platform::unresolved_call`]), as (object path, name):
    /// what to report when one is called. Empty if the table is busy (the
    /// report must not wait for a lock the caller may hold).
    pub fn unresolved_calls(&self) -> Vec<(String, String)> {
        let Some(table) = self.table.try_lock() else {
            return Vec::new();
        };
        table
            .objects
            .values()
            .flat_map(|o| {
                o.lazy
                    .iter()
                    .map(|call| (String::from(o.path()), call.name.clone()))
            })
            .collect()
    }

    /// `dladdr` for addresses inside objects this linker loaded.
    pub fn address_info(&self, addr: u64) -> Option<AddressInfo> {
        let table = self.table.lock();
        let object = table
            .objects
            .values()
            .find(|o| o.image().is_some_and(|i| i.contains(addr)))?;
        let image = object.image()?;
        let symbol = image
            .dynamic_symbols()
            .and_then(|syms| syms.containing(addr, image.base()));
        Some(AddressInfo {
            path: object.c_path.as_ptr(),
            base: image.start(),
            symbol_name: symbol.map_or(core::ptr::null(), |(name, _)| name.as_ptr()),
            symbol_addr: symbol.map_or(0, |(_, s)| s.address),
        })
    }

    /// Every loaded object (not host objects), in load order, with the
    /// add/remove counters `dl_iterate_phdr` reports.
    pub fn objects(&self) -> (Vec<ObjectInfo>, u64, u64) {
        let table = self.table.lock();
        let infos = table.objects.values().filter_map(object_info).collect();
        (infos, table.adds, table.subs)
    }

    /// The loaded object containing `pc`. Called by unwinders once per
    /// frame: it looks at each object in place and builds only the answer.
    pub fn object_containing(&self, pc: u64) -> Option<ObjectInfo> {
        let table = self.table.lock();
        table.objects.values().find_map(|o| {
            let Body::Image(image) = &o.body else {
                return None;
            };
            (pc.wrapping_sub(image.start()) < image.size() as u64)
                .then(|| object_info(o))
                .flatten()
        })
    }
}

/// What the C ABI reports of one loaded object.
fn object_info<M: modlib::Memory>(o: &Object<M>) -> Option<ObjectInfo> {
    let Body::Image(image) = &o.body else {
        return None;
    };
    let eh = o
        .phdrs
        .iter()
        .find(|p| p.p_type == elf_pt::GNU_EH_FRAME)
        .map_or(0, |p| image.base().wrapping_add(p.vaddr()));
    Some(ObjectInfo {
        addr: image.base(),
        name: o.c_path.as_ptr(),
        phdr: o.phdrs.as_ptr(),
        phnum: o.phdrs.len() as u16,
        map_start: image.start(),
        map_end: image.start() + image.size() as u64,
        eh_frame_hdr: eh,
        exception_index: image.exception_index(),
    })
}

mod elf_pt {
    /// `PT_GNU_EH_FRAME`.
    pub const GNU_EH_FRAME: u32 = 0x6474_e550;
}
