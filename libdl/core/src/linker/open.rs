//! `dlopen`: find the object and every `DT_NEEDED` dependency not yet
//! loaded (breadth-first), then load them as one group, as a system dynamic
//! linker does: map them all, relocate them dependencies first (glibc's
//! order, cycles included), each binding through the global scope and then
//! the whole group breadth-first, register them, count references, and run
//! constructors in the same order without the lock.

use crate::sync::Arc;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use modlib::{Binding, DynamicInfo, LoadError, LoadOptions, LoadedImage, ObjectKind};

use super::order::dependents_first;
use super::scope::{GroupScope, Members, Relocated};
use super::{Linker, Table};
use crate::error::Error;
use crate::flags::Flags;
use crate::handle::Handle;
use crate::object::{Body, Dep, Object, RawPhdr, State};
use crate::platform::{FileContents, HostObject, HostScope, Platform, ThreadLocalStorage};

/// Where a name leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Existing(u32),
    New(usize),
    Host(HostObject),
}

/// The objects found on disk for one `dlopen`, not yet loaded, with maps
/// from the names they answer to (soname and path) and from their
/// identities to their indices, so that each `DT_NEEDED` name of a long
/// chain is looked up in logarithmic time, not by scanning the group.
#[derive(Default)]
struct Group {
    pending: Vec<Pending>,
    names: BTreeMap<String, usize>,
    identities: BTreeMap<String, usize>,
}

impl Group {
    /// The pending object `name` (a soname or a path) names.
    fn answering(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }

    /// Adds `p`; the first object to answer to a name keeps it.
    fn push(&mut self, p: Pending) -> usize {
        let index = self.pending.len();
        if let Some(soname) = &p.info.soname {
            self.names.entry(soname.clone()).or_insert(index);
        }
        self.names.entry(String::from(p.path())).or_insert(index);
        self.identities.entry(p.canonical.clone()).or_insert(index);
        self.pending.push(p);
        index
    }
}

/// An object found on disk, not yet loaded.
struct Pending {
    c_path: Vec<u8>,
    canonical: String,
    file: Box<dyn FileContents>,
    info: DynamicInfo,
    deps: Vec<Target>,
}

impl Pending {
    fn path(&self) -> &str {
        core::str::from_utf8(&self.c_path[..self.c_path.len() - 1]).unwrap_or("")
    }
}

fn with_nul(s: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(s.len() + 1);
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

fn load_error(path: &str, source: LoadError) -> Error {
    match source {
        LoadError::ThreadLocalStorage { what } => Error::ThreadLocalStorage {
            path: String::from(path),
            what,
        },
        source => Error::Load {
            path: String::from(path),
            source,
        },
    }
}

impl<P: Platform> Linker<P> {
    /// `dlopen`: opens `name` (a path, or a file name searched for), or the
    /// global scope for `None`.
    ///
    /// Nothing that can run foreign code runs under the lock: a new group
    /// is relocated (IFUNC resolvers called) and its constructors run with
    /// it released, and a system library found on the way is handed to the
    /// host's loader (which runs its constructors, and they may call back
    /// in) with it released, the search starting again afterwards with
    /// that library among the host's objects.
    pub fn open(&self, name: Option<&str>, flags: Flags) -> Result<Handle, Error> {
        let Some(name) = name else {
            return Ok(Handle::Global);
        };
        if name.is_empty() || name.contains('\0') {
            return Err(Error::InvalidName);
        }
        let me = self.platform.thread_id();
        let mut host_loads = HostLoads::new();
        loop {
            let mut table = self.table.lock();
            // Someone else's load is under way: wait for a stable table
            // (our own thread may re-enter).
            if table.loading_for(me) {
                drop(table);
                self.platform.yield_now();
                continue;
            }
            match self.open_locked(&mut table, name, flags, &host_loads) {
                Ok(Opened::Existing(handle, made_global)) => {
                    if made_global {
                        self.bind_waiting_calls(table);
                    }
                    return Ok(handle);
                }
                Ok(Opened::Group(plan)) => return self.open_group(table, &plan, flags),
                Err(Plan::Failed(e)) => return Err(e),
                Err(Plan::Wait) => {
                    drop(table);
                    self.platform.yield_now();
                }
                Err(Plan::HostLoad(path)) => {
                    drop(table);
                    let object = self.platform.host().and_then(|h| h.load(&path));
                    host_loads.push((path, object));
                }
            }
        }
    }

    /// Loads a planned group (the table's guard is released meanwhile:
    /// relocation calls IFUNC resolvers), registers it, and runs its
    /// constructors; the handle of its root.
    fn open_group(
        &self,
        mut table: spin::MutexGuard<'_, Table<P::Memory>>,
        plan: &GroupPlan<P::Memory>,
        flags: Flags,
    ) -> Result<Handle, Error> {
        let me = self.platform.thread_id();
        table.loading.push(me);
        drop(table);
        let loaded = self.load_group(plan);
        let mut table = self.table.lock();
        if let Some(at) = table.loading.iter().position(|&t| t == me) {
            table.loading.swap_remove(at);
        }
        let (images, providers) = loaded?;
        let ids = self.register_members(&mut table, plan, images, providers);
        // Registered first, so the first id of the group.
        let root_id = plan.first;
        Self::open_scope(&mut table, root_id);
        table.objects.get_mut(&root_id).expect("just loaded").opens = 1;
        Self::apply_flags(&mut table, root_id, flags);
        drop(table);
        self.initialize(&ids)?;
        // Only a group whose constructors all ran is bound to (one that
        // fails is gone again).
        self.bind_waiting_calls(self.table.lock());
        Ok(Handle::Object(root_id))
    }

    /// The part of [`Linker::open`] done under the lock: finds the object
    /// and its dependencies, and loads those that are new (their
    /// constructors still to run), unless a system library must first go
    /// to the host's loader.
    fn open_locked(
        &self,
        table: &mut Table<P::Memory>,
        name: &str,
        flags: Flags,
        host_loads: &HostLoads,
    ) -> Result<Opened<P::Memory>, Plan> {
        let mut group = Group::default();
        let root = if flags.contains(Flags::NOLOAD) {
            self.find_loaded(table, name)
                .ok_or_else(|| Error::NotLoaded {
                    name: String::from(name),
                })?
        } else {
            self.target(table, &mut group, name, None, host_loads)?
        };
        let me = self.platform.thread_id();
        let id = match root {
            Target::Existing(id) if table.unsettled_for(id, me) => return Err(Plan::Wait),
            Target::Existing(id) => id,
            Target::Host(host) => Self::register_host(table, name, host),
            Target::New(_) => {
                self.plan_dependencies(table, &mut group, host_loads)?;
                let pending = group.pending;
                let unsettled = pending
                    .iter()
                    .flat_map(|p| &p.deps)
                    .any(|d| matches!(*d, Target::Existing(id) if table.unsettled_for(id, me)));
                if unsettled {
                    return Err(Plan::Wait);
                }
                return Ok(Opened::Group(GroupPlan::new(
                    table,
                    pending,
                    flags.contains(Flags::LAZY),
                )));
            }
        };
        Self::open_scope(table, id);
        let object = table.objects.get_mut(&id).expect("target exists");
        object.opens += 1;
        Self::apply_flags(table, id, flags);
        Ok(Opened::Existing(
            Handle::Object(id),
            flags.contains(Flags::GLOBAL),
        ))
    }

    /// Gives object `id` its breadth-first scope, which only a handle
    /// needs: computed when the object is first opened, not for every
    /// object a group loads (a chain's scopes together would be quadratic
    /// in its length).
    fn open_scope(table: &mut Table<P::Memory>, id: u32) {
        if table.objects.get(&id).is_some_and(|o| o.scope.is_empty()) {
            let scope = breadth_first(table, Dep::Ours(id), table.next_id, &[]);
            table.objects.get_mut(&id).expect("object exists").scope = scope;
        }
    }

    fn apply_flags(table: &mut Table<P::Memory>, id: u32, flags: Flags) {
        let object = table.objects.get_mut(&id).expect("object exists");
        if flags.contains(Flags::NODELETE) {
            object.nodelete = true;
        }
        if flags.contains(Flags::GLOBAL) {
            let scope: Vec<u32> = object
                .scope
                .iter()
                .filter_map(|d| match d {
                    Dep::Ours(i) => Some(*i),
                    Dep::Host(_) => None,
                })
                .collect();
            let mut global: BTreeSet<u32> = table.global.iter().copied().collect();
            for i in scope {
                if global.insert(i) {
                    table.global.push(i);
                }
            }
        }
    }

    /// The table's entry for a host object, made on its first open.
    fn register_host(table: &mut Table<P::Memory>, name: &str, host: HostObject) -> u32 {
        if let Some(o) = table
            .objects
            .values()
            .find(|o| matches!(o.body, Body::Host(h) if h == host))
        {
            return o.id;
        }
        let id = table.next_id;
        table.next_id += 1;
        table.objects.insert(
            id,
            Object {
                id,
                c_path: with_nul(name),
                canonical: String::from(name),
                soname: Some(String::from(name)),
                body: Body::Host(host),
                opens: 0,
                dependents: 0,
                deps: Vec::new(),
                bound: Vec::new(),
                lazy: Vec::new(),
                scope: vec![Dep::Host(host)],
                nodelete: true,
                state: State::Ready,
                phdrs: Vec::new(),
            },
        );
        id
    }

    /// The object `name` names if it is already loaded, without searching
    /// for or reading any file (`RTLD_NOLOAD`): by soname or path, a host
    /// object by name, and for a path, by the identity of the file there.
    fn find_loaded(&self, table: &Table<P::Memory>, name: &str) -> Option<Target> {
        if let Some(o) = table.objects.values().find(|o| o.answers_to(name)) {
            return Some(Target::Existing(o.id));
        }
        if !name.contains('/') {
            return self.platform.host()?.object(name).map(Target::Host);
        }
        if !self.platform.exists(name) {
            return None;
        }
        let canonical = self.platform.canonical(name);
        if let Some(o) = table.objects.values().find(|o| o.canonical == canonical) {
            return Some(Target::Existing(o.id));
        }
        self.platform
            .host()?
            .object_with_identity(&canonical)
            .map(Target::Host)
    }

    /// Resolves one name: an object already loaded or planned, a host
    /// object, or a file found on the search path (read and inspected).
    fn target(
        &self,
        table: &Table<P::Memory>,
        group: &mut Group,
        name: &str,
        requester: Option<usize>,
        host_loads: &HostLoads,
    ) -> Result<Target, Plan> {
        if let Some(o) = table.objects.values().find(|o| o.answers_to(name)) {
            return Ok(Target::Existing(o.id));
        }
        if let Some(i) = group.answering(name) {
            return Ok(Target::New(i));
        }
        if !name.contains('/') {
            if let Some(host) = self.platform.host().and_then(|h| h.object(name)) {
                return Ok(Target::Host(host));
            }
        }
        let not_found = || Error::NotFound {
            name: String::from(name),
            needed_by: requester.map(|r| String::from(group.pending[r].path())),
        };
        let Found {
            path,
            file: found,
            system,
        } = self
            .search(name, requester.map(|r| &group.pending[r]))
            .ok_or_else(not_found)?;
        if system && self.platform.host().is_some() {
            match host_loads.iter().find(|(p, _)| *p == path) {
                Some((_, Some(host))) => return Ok(Target::Host(*host)),
                // Refused: loaded here instead.
                Some((_, None)) => {}
                None => return Err(Plan::HostLoad(path)),
            }
        }
        // Opened before the identity check when the open file can say what
        // it is (saving a separate look-up of the path).
        let mut file = found;
        let canonical = if self.platform.identifies_open_files() {
            let f = match file.take() {
                Some(f) => f,
                None => self.platform.open_file(&path).map_err(|e| {
                    // A path given whole is opened without looking first.
                    if self.platform.exists(&path) {
                        Error::Io {
                            path: path.clone(),
                            reason: e.0,
                        }
                    } else {
                        not_found()
                    }
                })?,
            };
            let id = f
                .identity()
                .unwrap_or_else(|| self.platform.canonical(&path));
            file = Some(f);
            id
        } else {
            self.platform.canonical(&path)
        };
        if let Some(o) = table.objects.values().find(|o| o.canonical == canonical) {
            return Ok(Target::Existing(o.id));
        }
        if let Some(&i) = group.identities.get(&canonical) {
            return Ok(Target::New(i));
        }
        // The same file as one the host's loader has (a system library
        // named by its path, say): that one, never a second copy.
        if let Some(host) = self
            .platform
            .host()
            .and_then(|h| h.object_with_identity(&canonical))
        {
            return Ok(Target::Host(host));
        }
        let file = match file {
            Some(f) => f,
            None => self.platform.open_file(&path).map_err(|e| Error::Io {
                path: path.clone(),
                reason: e.0,
            })?,
        };
        let bytes = file.bytes();
        let machine = self.platform.machine();
        // One parse tells the kind and the dependencies (the object is
        // parsed again when the group is mapped, once every file is open).
        let object = modlib::Object::parse(bytes, machine).map_err(|e| load_error(&path, e))?;
        let info = match object.kind() {
            ObjectKind::Shared => object.dynamic().map_err(|e| load_error(&path, e))?,
            ObjectKind::Relocatable => DynamicInfo::default(),
        };
        let index = group.push(Pending {
            c_path: with_nul(&path),
            canonical,
            file,
            info,
            deps: Vec::new(),
        });
        Ok(Target::New(index))
    }

    /// The file `name` names: itself if it has a `/`, else the first match
    /// in the requester's `DT_RUNPATH` (with `$ORIGIN`), then the platform's
    /// search path, then the system directories (flagged `true`). When
    /// open files tell their identity, a path with a `/` is not looked at
    /// here (the caller opens it and tells a missing file from an
    /// unreadable one), and user directories are searched by opening: the
    /// file found comes back open.
    fn search(&self, name: &str, requester: Option<&Pending>) -> Option<Found> {
        let by_opening = self.platform.identifies_open_files();
        if name.contains('/') {
            return (by_opening || self.platform.exists(name)).then(|| Found {
                path: String::from(name),
                file: None,
                system: false,
            });
        }
        let origin = requester.map(|r| match r.path().rfind('/') {
            Some(i) => &r.path()[..i],
            None => ".",
        });
        let runpath = requester
            .map(|r| r.info.runpath.clone())
            .unwrap_or_default();
        let expanded = runpath.iter().map(|dir| match origin {
            Some(o) => dir.replace("${ORIGIN}", o).replace("$ORIGIN", o),
            None => dir.clone(),
        });
        // The platform's lists are asked for only when the search gets
        // there (most names are found in the requester's own runpath).
        let user = expanded
            .chain(core::iter::once(()).flat_map(|()| self.platform.search_path()))
            .map(|dir| (dir, false));
        let system = core::iter::once(())
            .flat_map(|()| self.platform.system_path())
            .map(|dir| (dir, true));
        user.chain(system).find_map(|(dir, system)| {
            let candidate = alloc::format!("{}/{name}", dir.trim_end_matches('/'));
            if by_opening && !system {
                let file = self.platform.open_file(&candidate).ok()?;
                Some(Found {
                    path: candidate,
                    file: Some(file),
                    system: false,
                })
            } else {
                self.platform.exists(&candidate).then_some(Found {
                    path: candidate,
                    file: None,
                    system,
                })
            }
        })
    }

    /// Finds every dependency of the pending objects, breadth-first.
    fn plan_dependencies(
        &self,
        table: &Table<P::Memory>,
        group: &mut Group,
        host_loads: &HostLoads,
    ) -> Result<(), Plan> {
        let mut i = 0;
        while i < group.pending.len() {
            let needed = group.pending[i].info.needed.clone();
            for name in &needed {
                let t = self.target(table, group, name, Some(i), host_loads)?;
                group.pending[i].deps.push(t);
            }
            i += 1;
        }
        Ok(())
    }

    /// Loads a planned group, without the lock (relocation calls IFUNC
    /// resolvers, which may call back in). All are mapped first (their
    /// symbols answer lookups from then on), then relocated in the plan's
    /// order (dependencies first), each binding through the global scope
    /// and the whole group breadth-first, so that an object ahead in that
    /// order (the root, say) interposes on the objects it needs, as ELF
    /// says; then they are finished in the same order (references to
    /// IFUNCs of objects relocated later wait until then). Lookups see the
    /// table as it was when the group was planned. On failure every image
    /// is dropped, giving its memory back, and the table is as it was.
    fn load_group(&self, plan: &GroupPlan<P::Memory>) -> Result<Relocated<P::Memory>, Error> {
        let mut tls_ids = GroupTlsIds {
            ids: Vec::new(),
            tls: self.platform.thread_local(),
        };
        let mut members = self.map_members(&plan.pending, plan.lazy, &mut tls_ids)?;
        let relocated = self
            .relocate_members(plan, &mut members)
            .map_err(|(i, e)| load_error(plan.pending[i].path(), e))?;
        // The objects own their module ids from here on (given back when
        // they are unloaded).
        tls_ids.ids.clear();
        Ok(relocated)
    }

    /// Maps every pending object: segments in memory, nothing relocated,
    /// nothing registered (dropping the members gives all of it back). An
    /// object with thread-local storage gets a module id, noted in
    /// `tls_ids`.
    fn map_members<'f>(
        &self,
        pending: &'f [Pending],
        lazy: bool,
        tls_ids: &mut GroupTlsIds<'_>,
    ) -> Result<Members<'f, P::Memory>, Error> {
        let options = LoadOptions {
            machine: self.platform.machine(),
            binding: Binding::Global,
            lazy_calls: self.platform.unresolved_call().filter(|_| lazy),
            hwcaps: self.platform.hwcaps(),
            max_image_size: self.platform.max_image_size(),
            ..LoadOptions::default()
        };
        let mut mapped = Vec::with_capacity(pending.len());
        for p in pending {
            let memory = self.platform.memory();
            let image = match p.file.mapping() {
                Some(mapping) => modlib::map_file(p.file.bytes(), mapping, &options, memory),
                None => modlib::map(p.file.bytes(), &options, memory),
            };
            let mut image = image.map_err(|e| load_error(p.path(), e))?;
            if let (Some(template), Some(tls)) =
                (image.thread_local(), self.platform.thread_local())
            {
                let module = tls.register(template);
                tls_ids.ids.push(module);
                image.set_tls_module(module);
                if let Some(resolver) = tls.descriptor_resolver() {
                    image.set_tls_descriptor_resolver(resolver);
                }
            }
            mapped.push(image);
        }
        Ok(Members::new(mapped))
    }

    /// Relocates, then finishes, the members in `order`, with one view of
    /// the host's objects for the whole group if the host has one, else
    /// through the host scope itself.
    fn relocate_members(
        &self,
        plan: &GroupPlan<P::Memory>,
        members: &mut Members<'_, P::Memory>,
    ) -> Result<Relocated<P::Memory>, (usize, LoadError)> {
        let tls_get_addr = self
            .platform
            .thread_local()
            .map(ThreadLocalStorage::get_addr);
        // Where in the group each new member first comes, computed once.
        let (group, first) = (&plan.group, plan.first);
        let mut positions = vec![group.len(); plan.pending.len()];
        for (at, dep) in group.iter().enumerate() {
            if let Dep::Ours(id) = *dep {
                let index = id.wrapping_sub(first) as usize;
                if id >= first && index < positions.len() && positions[index] == group.len() {
                    positions[index] = at;
                }
            }
        }
        let mut relocate = |host: Option<&dyn HostScope>| {
            let scope = GroupScope {
                table: &plan.snapshot,
                host,
                group,
                positions: &positions,
                answers: RefCell::default(),
                first,
                tls_get_addr,
            };
            members.relocate(&plan.order, &scope)
        };
        let mut outcome = None;
        let host = self.platform.host();
        if !host.is_some_and(|h| h.for_load(&mut |view| outcome = Some(relocate(Some(view))))) {
            outcome = Some(relocate(host));
        }
        outcome.expect("the group was relocated")
    }

    /// Registers the loaded images (in constructor order, as their
    /// constructors are about to run on this thread), with their
    /// dependencies, breadth-first scopes and the objects they hold loaded.
    /// Returns their ids in that order.
    fn register_members(
        &self,
        table: &mut Table<P::Memory>,
        plan: &GroupPlan<P::Memory>,
        images: Vec<(usize, LoadedImage<P::Memory>)>,
        mut providers: Vec<Vec<u32>>,
    ) -> Vec<u32> {
        let me = self.platform.thread_id();
        let (pending, deps, first) = (&plan.pending, &plan.deps, plan.first);
        let mut ids = Vec::with_capacity(images.len());
        for (i, image) in images {
            let p = &pending[i];
            let id = first + i as u32;
            let bound: Vec<u32> = core::mem::take(&mut providers[i])
                .into_iter()
                .filter(|&p| p != id && !deps[i].contains(&Dep::Ours(p)))
                .collect();
            let phdrs = image
                .dynamic()
                .map(|d| d.program_headers.iter().map(RawPhdr::from).collect())
                .unwrap_or_default();
            let lazy = image.unresolved_calls().to_vec();
            table.adds += 1;
            table.objects.insert(
                id,
                Object {
                    id,
                    c_path: p.c_path.clone(),
                    canonical: p.canonical.clone(),
                    soname: p.info.soname.clone(),
                    body: Body::Image(Arc::new(image)),
                    opens: 0,
                    dependents: 0,
                    deps: deps[i].clone(),
                    bound,
                    lazy,
                    scope: Vec::new(),
                    nodelete: false,
                    state: State::Initializing(me),
                    phdrs,
                },
            );
            ids.push(id);
        }
        for (i, d) in deps.iter().enumerate() {
            let id = first + i as u32;
            let object = table.objects.get_mut(&id).expect("loaded");
            let bound = object.bound.clone();
            let held = d
                .iter()
                .filter_map(|dep| match dep {
                    Dep::Ours(target) => Some(*target),
                    Dep::Host(_) => None,
                })
                .chain(bound);
            for target in held {
                // (Gone only if this thread closed it meanwhile, from an
                // IFUNC resolver of the group.)
                if let Some(o) = table.objects.get_mut(&target) {
                    o.dependents += 1;
                }
            }
        }
        ids
    }

    /// Runs constructors of newly loaded objects in order, without the lock.
    /// If an object's constructors cannot run, the load is undone: the
    /// objects whose constructors ran have their destructors run, in the
    /// reverse order, and the group is unloaded (all it held given back).
    fn initialize(&self, ids: &[u32]) -> Result<(), Error> {
        for (ran, &id) in ids.iter().enumerate() {
            let image = self
                .table
                .lock()
                .objects
                .get(&id)
                .and_then(|o| o.image().cloned());
            if let Some(image) = image {
                // SAFETY: the image was loaded for this platform's machine
                // (`run_init` refuses to run another machine's code), is
                // relocated and protected, and stays alive through the
                // `Arc`; ELF initialisers take no arguments we must supply.
                if let Err(source) = unsafe { image.run_init() } {
                    drop(image);
                    return Err(self.abandon(ids, ran, source));
                }
            }
            if let Some(o) = self.table.lock().objects.get_mut(&id) {
                o.state = State::Ready;
            }
        }
        Ok(())
    }

    /// Undoes the load of the group `ids` whose first `ran` objects'
    /// constructors ran and the next one's failed with `source`: the root
    /// is no longer open, and whatever nothing else keeps loaded (the
    /// whole group, unless a constructor opened part of it) is unloaded,
    /// destructors first for the objects whose constructors ran, the last
    /// initialised first. Returns the error naming the failed object.
    fn abandon(&self, ids: &[u32], ran: usize, source: LoadError) -> Error {
        let me = self.platform.thread_id();
        let mut table = self.table.lock();
        let failed = ids[ran];
        let path = table
            .objects
            .get(&failed)
            .map(|o| String::from(o.path()))
            .unwrap_or_default();
        let root = ids.iter().copied().min().expect("the group has its root");
        if let Some(o) = table.objects.get_mut(&root) {
            o.opens = 0;
        }
        // No thread is to wait for these any more; unless a constructor
        // opened one of them, they are all swept below.
        for id in &ids[ran..] {
            if let Some(o) = table.objects.get_mut(id) {
                o.state = State::Ready;
            }
        }
        let swept = super::close::unreferenced(&mut table, me);
        // The initialised members, last first, then anything else swept
        // (objects a constructor opened and closed again meanwhile).
        let doomed: Vec<u32> = ids[..ran]
            .iter()
            .rev()
            .copied()
            .filter(|id| swept.contains(id))
            .chain(swept.iter().copied().filter(|id| !ids[..ran].contains(id)))
            .collect();
        let initialised = |id: u32| !ids[ran..].contains(&id);
        self.unload(table, &doomed, initialised);
        load_error(&path, source)
    }
}

/// The dependencies of each pending object, the new ones by the ids they
/// will have (from `first`).
fn group_deps(pending: &[Pending], first: u32) -> Vec<Vec<Dep>> {
    let dep_of = |t: Target| match t {
        Target::Existing(id) => Dep::Ours(id),
        Target::New(i) => Dep::Ours(first + i as u32),
        Target::Host(h) => Dep::Host(h),
    };
    pending
        .iter()
        .map(|p| p.deps.iter().map(|&t| dep_of(t)).collect())
        .collect()
}

/// Breadth-first order from `start` over dependencies: new objects (ids from
/// `first`) take theirs from `deps`, existing ones from the table.
pub(super) fn breadth_first<M: modlib::Memory>(
    table: &Table<M>,
    start: Dep,
    first: u32,
    deps: &[Vec<Dep>],
) -> Vec<Dep> {
    let mut order = vec![start];
    // What `order` holds, for a membership test that does not scan it
    // (which made a long chain's scopes quadratic in its length each).
    let mut seen: BTreeSet<Dep> = BTreeSet::new();
    seen.insert(start);
    let mut i = 0;
    while i < order.len() {
        let next: Vec<Dep> = match order[i] {
            Dep::Ours(id) if id >= first && ((id - first) as usize) < deps.len() => {
                deps[(id - first) as usize].clone()
            }
            Dep::Ours(id) => table
                .objects
                .get(&id)
                .map(|o| o.deps.clone())
                .unwrap_or_default(),
            Dep::Host(_) => Vec::new(),
        };
        for d in next {
            if seen.insert(d) {
                order.push(d);
            }
        }
        i += 1;
    }
    order
}

/// The pending objects (index 0 the root, then breadth-first) in the order
/// glibc relocates a `dlopen` group and runs its constructors: the reverse
/// of its `l_initfini` list, which is the breadth-first list sorted
/// dependents-first with the root kept first (see [`dependents_first`]).
/// Dependencies come before the objects that need them; a `DT_NEEDED`
/// cycle is broken deterministically, the root always last.
fn init_order(pending: &[Pending]) -> Vec<usize> {
    let maps: Vec<u32> = (0..pending.len() as u32).collect();
    let needed = |i: u32| -> Vec<u32> {
        pending[i as usize]
            .deps
            .iter()
            .filter_map(|t| match *t {
                Target::New(j) => Some(j as u32),
                Target::Existing(_) | Target::Host(_) => None,
            })
            .collect()
    };
    dependents_first(&maps, &needed, None, true)
        .into_iter()
        .rev()
        .map(|i| i as usize)
        .collect()
}

/// The TLS module ids registered for one load group, unregistered when
/// dropped (a failed load) unless taken out. Not to be confused with
/// [`crate::TlsModules`], a platform's registry that gives out the ids.
struct GroupTlsIds<'p> {
    ids: Vec<u64>,
    tls: Option<&'p dyn ThreadLocalStorage>,
}

impl Drop for GroupTlsIds<'_> {
    fn drop(&mut self) {
        if let Some(tls) = self.tls {
            for &module in &self.ids {
                tls.unregister(module);
            }
        }
    }
}

/// The system libraries handed to the host's loader during one `dlopen`,
/// by path, with the host object each became (`None`: the host's loader
/// refused it, and it is loaded here).
type HostLoads = Vec<(String, Option<HostObject>)>;

/// What the locked part of `dlopen` did.
enum Opened<M: modlib::Memory> {
    /// Opened an object already loaded (or the host's); `true` if it
    /// joined the global scope (waiting calls may now be bound).
    Existing(Handle, bool),
    /// Planned a group of new objects, to be loaded without the lock.
    Group(GroupPlan<M>),
}

/// A group of new objects to load: the files (index 0 the root, then
/// breadth-first), their ids (reserved from `first` on), the order to
/// relocate them and run their constructors, their dependencies, the
/// group's breadth-first scope, and the table as their lookups see it.
struct GroupPlan<M: modlib::Memory> {
    pending: Vec<Pending>,
    order: Vec<usize>,
    first: u32,
    deps: Vec<Vec<Dep>>,
    group: Vec<Dep>,
    snapshot: Table<M>,
    lazy: bool,
}

impl<M: modlib::Memory + Clone> GroupPlan<M> {
    /// Plans the load of `pending`, reserving its ids in `table`.
    fn new(table: &mut Table<M>, pending: Vec<Pending>, lazy: bool) -> Self {
        let first = table.next_id;
        table.next_id += pending.len() as u32;
        let deps = group_deps(&pending, first);
        let group = breadth_first(table, Dep::Ours(first), first, &deps);
        GroupPlan {
            order: init_order(&pending),
            pending,
            first,
            deps,
            group,
            snapshot: table.lookup_snapshot(),
            lazy,
        }
    }
}

/// Why the locked part of `dlopen` stopped.
enum Plan {
    /// The open failed.
    Failed(Error),
    /// The system library at this path must go to the host's loader
    /// first, with the lock released.
    HostLoad(String),
    /// An object the open needs is having its constructors or destructors
    /// run by another thread: to be tried again once they are done.
    Wait,
}

impl From<Error> for Plan {
    fn from(e: Error) -> Self {
        Plan::Failed(e)
    }
}

/// A file the search found: its path, the file itself if the search opened
/// it, and whether it is in a system directory.
struct Found {
    path: String,
    file: Option<Box<dyn FileContents>>,
    system: bool,
}
