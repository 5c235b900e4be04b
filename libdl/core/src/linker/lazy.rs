//! Calls that lazy binding (`RTLD_LAZY`) left to the platform's handler,
//! because nothing defined their functions when their objects were loaded:
//! bound when a later load puts a definition in the global scope, as a
//! system loader would find it at the first call.

use alloc::vec::Vec;

use modlib::Lookup;

use super::scope::{address, global, HOST};
use super::{Linker, Table};
use crate::object::Dep;
use crate::platform::Platform;

impl<P: Platform> Linker<P> {
    /// Binds every waiting call whose function the global scope now
    /// defines; an object of ours that provides one is then held loaded by
    /// the object that calls it.
    pub(super) fn bind_waiting_calls(&self, table: &mut Table<P::Memory>) {
        let waiting: Vec<u32> = table
            .objects
            .values()
            .filter(|o| !o.lazy.is_empty())
            .map(|o| o.id)
            .collect();
        let host = self.platform.host();
        let (machine, caps) = (self.platform.machine(), self.platform.hwcaps());
        for id in waiting {
            let Some(object) = table.objects.get_mut(&id) else {
                continue;
            };
            let calls = core::mem::take(&mut object.lazy);
            let image = object.image().cloned();
            let mut still = Vec::new();
            let mut providers = Vec::new();
            for call in calls {
                let lookup = Lookup::new(&call.name, call.version.as_deref());
                let found = global(table, host, &lookup, 0, true)
                    .and_then(|r| Some((address(r.symbol, machine, caps)?, r.provider)));
                match found {
                    Some((value, provider))
                        if image
                            .as_ref()
                            .is_some_and(|i| i.bind_unresolved_call(call.slot, value)) =>
                    {
                        if provider != HOST && provider.0 != id {
                            providers.push(provider.0);
                        }
                    }
                    _ => still.push(call),
                }
            }
            let Some(object) = table.objects.get_mut(&id) else {
                continue;
            };
            object.lazy = still;
            let mut newly_held = Vec::new();
            for p in providers {
                if !object.bound.contains(&p) && !object.deps.contains(&Dep::Ours(p)) {
                    object.bound.push(p);
                    newly_held.push(p);
                }
            }
            for p in newly_held {
                if let Some(provider) = table.objects.get_mut(&p) {
                    provider.dependents += 1;
                }
            }
        }
    }
}
