//! Calls that lazy binding (`RTLD_LAZY`) left to the platform's handler,
//! because nothing defined their functions when their objects were loaded:
//! bound when a later load puts a definition in the global scope, as a
//! system loader would find it at the first call.

use alloc::vec::Vec;

use modlib::{Lookup, ProviderId, Symbol};

use super::scope::{address, global, HOST};
use super::{Linker, Table};
use crate::object::{Dep, State};
use crate::platform::Platform;

/// A waiting call the global scope now has a definition for.
struct Found {
    object: u32,
    slot: u64,
    symbol: Symbol,
    provider: ProviderId,
}

impl<P: Platform> Linker<P> {
    /// Binds every waiting call whose function the global scope now
    /// defines; an object of ours that provides one is then held loaded by
    /// the object that calls it. Takes the table's guard and releases it:
    /// the definitions are looked up under it, their addresses worked out
    /// without it (an IFUNC's resolver may call back in), and the calls
    /// bound under it again, to definitions still loaded then.
    pub(super) fn bind_waiting_calls(&self, table: spin::MutexGuard<'_, Table<P::Memory>>) {
        let host = self.platform.host();
        let found: Vec<Found> = table
            .objects
            .values()
            .flat_map(|o| o.lazy.iter().map(move |call| (o.id, call)))
            .filter_map(|(object, call)| {
                let lookup = Lookup::new(&call.name, call.version.as_deref());
                global(&table, host, &lookup, 0, true).map(|r| Found {
                    object,
                    slot: call.slot,
                    symbol: r.symbol,
                    provider: r.provider,
                })
            })
            .collect();
        drop(table);
        if found.is_empty() {
            return;
        }
        let (machine, caps) = (self.platform.machine(), self.platform.hwcaps());
        let addresses: Vec<Option<u64>> = found
            .iter()
            .map(|f| address(f.symbol, machine, caps))
            .collect();
        let mut table = self.table.lock();
        for (f, value) in found.iter().zip(addresses) {
            let Some(value) = value else { continue };
            let provider_loaded = f.provider == HOST
                || table
                    .objects
                    .get(&f.provider.0)
                    .is_some_and(|p| !matches!(p.state, State::Finalizing(_)));
            let Some(object) = table.objects.get_mut(&f.object) else {
                continue;
            };
            let Some(at) = object.lazy.iter().position(|c| c.slot == f.slot) else {
                continue;
            };
            if !provider_loaded
                || !object
                    .image()
                    .is_some_and(|i| i.bind_unresolved_call(f.slot, value))
            {
                continue;
            }
            object.lazy.swap_remove(at);
            let p = f.provider.0;
            if f.provider == HOST
                || p == f.object
                || object.bound.contains(&p)
                || object.deps.contains(&Dep::Ours(p))
            {
                continue;
            }
            object.bound.push(p);
            if let Some(provider) = table.objects.get_mut(&p) {
                provider.dependents += 1;
            }
        }
    }
}
