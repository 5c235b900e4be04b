//! `dlclose`: drop one reference; then every object nothing keeps loaded
//! any more — none reachable, through `DT_NEEDED` and symbol bindings, from
//! an open handle or a `NODELETE` object, so that `DT_NEEDED` cycles go too
//! — runs its destructors without the lock (in glibc's order) and is
//! unloaded.

use crate::sync::Arc;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::order::dependents_first;
use super::{Linker, Table};
use crate::error::Error;
use crate::handle::Handle;
use crate::object::{Body, Dep, Object, State};
use crate::platform::Platform;

impl<P: Platform> Linker<P> {
    /// `dlclose`.
    pub fn close(&self, handle: Handle) -> Result<(), Error> {
        let id = match handle {
            Handle::Global => return Ok(()),
            Handle::Default | Handle::Next => return Err(Error::InvalidHandle),
            Handle::Object(id) => id,
        };
        let me = self.platform.thread_id();
        let mut table = self.table.lock();
        // Another thread loading a group binds to what is loaded now.
        while table.loading_for(me) {
            drop(table);
            self.platform.yield_now();
            table = self.table.lock();
        }
        let object = table
            .objects
            .get_mut(&id)
            .filter(|o| !matches!(o.state, State::Finalizing(_)) && o.opens > 0)
            .ok_or(Error::InvalidHandle)?;
        object.opens -= 1;
        if object.opens > 0 || object.nodelete {
            return Ok(());
        }
        let doomed = unreferenced(&mut table, me);
        if doomed.is_empty() {
            return Ok(());
        }
        self.unload(table, &doomed, |_| true);
        Ok(())
    }

    /// Unloads `doomed` (marked by [`unreferenced`], in destructor order):
    /// out of the global scope, destructors without the lock for those
    /// `finalize` picks, then out of the table, their TLS module ids and
    /// memory given back.
    pub(super) fn unload(
        &self,
        mut table: spin::MutexGuard<'_, Table<P::Memory>>,
        doomed: &[u32],
        finalize: impl Fn(u32) -> bool,
    ) {
        let gone: BTreeSet<u32> = doomed.iter().copied().collect();
        table.global.retain(|g| !gone.contains(g));
        let images: Vec<_> = doomed
            .iter()
            .filter(|&&d| finalize(d))
            .filter_map(|d| table.objects.get(d).and_then(|o| o.image().map(Arc::clone)))
            .collect();
        drop(table);
        for image in &images {
            // SAFETY: the image is of this platform's machine, its
            // constructors ran, and it stays alive through the `Arc`;
            // finalisers take no arguments.
            let _ = unsafe { image.run_fini() };
        }
        drop(images);
        let mut table = self.table.lock();
        let mut removed = Vec::with_capacity(doomed.len());
        for d in doomed {
            if let Some(o) = table.objects.remove(d) {
                table.subs += 1;
                removed.push(o);
            }
        }
        drop(table);
        if let Some(tls) = self.platform.thread_local() {
            let modules = removed
                .iter()
                .filter_map(|o| o.image().and_then(|i| i.thread_local()));
            for t in modules {
                tls.unregister(t.module);
            }
        }
        drop(removed);
    }
}

/// What `object` holds loaded: its dependencies of ours, then the objects
/// it bound symbols to.
fn held<M: modlib::Memory>(object: &Object<M>) -> impl Iterator<Item = u32> + '_ {
    object
        .deps
        .iter()
        .filter_map(|dep| match dep {
            Dep::Ours(d) => Some(*d),
            Dep::Host(_) => None,
        })
        .chain(object.bound.iter().copied())
}

/// Marks for unloading, and returns in the order to run their destructors,
/// the objects this linker loaded that nothing keeps loaded any more: none
/// reachable from an open handle or a `NODELETE` object along dependencies
/// and bindings (objects already being finalised are someone else's).
/// Their dependencies' counts of dependents drop accordingly.
pub(super) fn unreferenced<M: modlib::Memory>(table: &mut Table<M>, me: u64) -> Vec<u32> {
    let mut live = BTreeSet::new();
    let mut stack: Vec<u32> = table
        .objects
        .values()
        .filter(|o| {
            !matches!(o.state, State::Finalizing(_))
                && (o.opens > 0 || o.nodelete || matches!(o.body, Body::Host(_)))
        })
        .map(|o| o.id)
        .collect();
    while let Some(id) = stack.pop() {
        if !live.insert(id) {
            continue;
        }
        if let Some(object) = table.objects.get(&id) {
            stack.extend(held(object).filter(|d| !live.contains(d)));
        }
    }
    // In id order, which is load order.
    let doomed: Vec<u32> = table
        .objects
        .values()
        .filter(|o| !live.contains(&o.id) && !matches!(o.state, State::Finalizing(_)))
        .map(|o| o.id)
        .collect();
    if doomed.is_empty() {
        return doomed;
    }
    for &d in &doomed {
        let Some(object) = table.objects.get_mut(&d) else {
            continue;
        };
        object.state = State::Finalizing(me);
        let targets: Vec<u32> = held(object).collect();
        for t in targets {
            if let Some(o) = table.objects.get_mut(&t) {
                o.dependents = o.dependents.saturating_sub(1);
            }
        }
    }
    // Destructors as glibc's `dlclose` orders them: each object before the
    // objects it needs, `DT_NEEDED` edges winning over bindings.
    let table = &*table;
    let needed = |id: u32| -> Vec<u32> {
        table.objects.get(&id).map_or_else(Vec::new, |o| {
            o.deps
                .iter()
                .filter_map(|dep| match dep {
                    Dep::Ours(d) => Some(*d),
                    Dep::Host(_) => None,
                })
                .collect()
        })
    };
    let bound = |id: u32| -> Vec<u32> {
        table
            .objects
            .get(&id)
            .map_or_else(Vec::new, |o| o.bound.clone())
    };
    dependents_first(&doomed, &needed, Some(&bound), false)
}
