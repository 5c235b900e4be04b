//! `dlclose`: drop one reference; an object with no references left (and no
//! loaded dependents, and not `NODELETE`) runs its destructors without the
//! lock and is unloaded, then releases its own dependencies in turn.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::{Linker, Table};
use crate::error::Error;
use crate::handle::Handle;
use crate::object::{Body, Dep, State};
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
        let object = table
            .objects
            .get_mut(&id)
            .filter(|o| !matches!(o.state, State::Finalizing(_)) && o.opens > 0)
            .ok_or(Error::InvalidHandle)?;
        object.opens -= 1;
        let mut doomed = Vec::new();
        release(&mut table, id, me, &mut doomed);
        // Destructors in reverse constructor order (which also puts every
        // object before its dependencies, loaded earlier).
        doomed.sort_by_key(|d| core::cmp::Reverse(table.objects.get(d).map_or(0, |o| o.load_seq)));
        table.global.retain(|g| !doomed.contains(g));
        let images: Vec<_> = doomed
            .iter()
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
        for d in &doomed {
            if let Some(o) = table.objects.remove(d) {
                table.subs += 1;
                removed.push(o);
            }
        }
        drop(table);
        drop(removed);
        Ok(())
    }
}

/// Marks `id` for unloading if nothing holds it, then releases its
/// dependencies.
fn release<M: modlib::Memory>(table: &mut Table<M>, id: u32, me: u64, doomed: &mut Vec<u32>) {
    let Some(object) = table.objects.get_mut(&id) else {
        return;
    };
    if object.opens > 0 || object.dependents > 0 || object.nodelete {
        return;
    }
    if let Body::Host(_) = object.body {
        return;
    }
    object.state = State::Finalizing(me);
    doomed.push(id);
    let held: Vec<u32> = object
        .deps
        .iter()
        .filter_map(|dep| match dep {
            Dep::Ours(d) => Some(*d),
            Dep::Host(_) => None,
        })
        .chain(object.bound.iter().copied())
        .collect();
    for d in held {
        if let Some(o) = table.objects.get_mut(&d) {
            o.dependents = o.dependents.saturating_sub(1);
        }
        release(table, d, me, doomed);
    }
}
