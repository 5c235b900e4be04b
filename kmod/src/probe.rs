//! `modprobe`: load a module after the modules it depends on, in
//! topological order, refusing cycles. What a module depends on comes from
//! the store's index (a `modules.dep` written by `modtool depmod`) when it
//! lists the module, else from the module's own `.modinfo` `depends=`.

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use modlib::{inspect, Memory};

use crate::error::KmodError;
use crate::manager::{ModHandle, ModuleManager};

/// Where module images come from, by module name (a directory when hosted,
/// the ramfs in a kernel).
pub trait ModuleStore {
    /// The image of module `name`, if the store has it.
    fn fetch(&self, name: &str) -> Option<Cow<'_, [u8]>>;

    /// The modules `name` depends on, from the store's dependency index
    /// (its `modules.dep`, read with [`modules_dep`]), if the store has one
    /// that lists `name`. `None`, the default, makes `modprobe` read the
    /// module's `.modinfo` `depends=` instead.
    fn dependencies(&self, name: &str) -> Option<Vec<String>> {
        let _ = name;
        None
    }
}

/// The dependencies that `modules.dep` text lists for module `name`, or
/// `None` if no line is about it. Each line is `name: dep1 dep2 ...`;
/// blank lines and lines starting with `#` are skipped.
///
/// ```
/// let index = "chardev:\nconsumer: chardev\n";
/// assert_eq!(modlib_kmod::modules_dep(index, "consumer"), Some(vec!["chardev".into()]));
/// assert_eq!(modlib_kmod::modules_dep(index, "chardev"), Some(vec![]));
/// assert_eq!(modlib_kmod::modules_dep(index, "ticker"), None);
/// ```
pub fn modules_dep(text: &str, name: &str) -> Option<Vec<String>> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(':'))
        .find(|(module, _)| module.trim() == name)
        .map(|(_, deps)| deps.split_whitespace().map(String::from).collect())
}

/// A module being visited: its name, the dependencies not yet visited,
/// and its image.
struct Frame<'s> {
    name: String,
    depends: Vec<String>,
    next: usize,
    image: Cow<'s, [u8]>,
}

/// A module to load: its name and image.
type Planned<'s> = (String, Cow<'s, [u8]>);

/// Where a module stands in the walk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// On the path being walked (seen again: a cycle).
    OnPath,
    /// Planned, or already loaded.
    Done,
}

/// References `modprobe` holds on the modules it needs while it loads the
/// modules that need them, given back when dropped.
struct Held<'m, M: Memory + Clone> {
    manager: &'m ModuleManager<M>,
    handles: Vec<ModHandle>,
}

impl<M: Memory + Clone> Drop for Held<'_, M> {
    fn drop(&mut self) {
        for &handle in &self.handles {
            self.manager.release(handle);
        }
    }
}

impl<M: Memory + Clone> ModuleManager<M> {
    /// Loads `name` and, first, every module it depends on that is not yet
    /// loaded. If any load fails, the modules this call loaded are removed
    /// again (those another caller has bound meanwhile stay). Returns the
    /// handle of `name` (existing or new).
    ///
    /// Each module it needs is held (a reference, as `module_get` takes)
    /// from the moment it is found live or loaded until `name` is loaded,
    /// so no other caller removes it meanwhile. A module another caller is
    /// loading or removing is waited for (see [`ModuleManager::with_wait`])
    /// and then used, or loaded again.
    ///
    /// The dependency graph is walked with a heap-allocated work list, not
    /// by recursion, so its depth costs no stack: a chain of any length
    /// needs the stack of one `insmod`.
    pub fn modprobe(&self, name: &str, store: &dyn ModuleStore) -> Result<ModHandle, KmodError> {
        if let Some(handle) = self.claim(name)? {
            self.release(handle);
            return Ok(handle);
        }
        let mut held = Held {
            manager: self,
            handles: Vec::new(),
        };
        let order = self.plan(name, store, &mut held)?;
        let mut loaded: Vec<ModHandle> = Vec::new();
        let mut target = None;
        for (module, image) in &order {
            match self.load_or_claim(image, module) {
                Ok((handle, ours)) => {
                    held.handles.push(handle);
                    if ours {
                        loaded.push(handle);
                    }
                    if module == name {
                        target = Some(handle);
                    }
                }
                Err(e) => {
                    drop(held);
                    for handle in loaded.into_iter().rev() {
                        let _ = self.rmmod(handle);
                    }
                    return Err(e);
                }
            }
        }
        drop(held);
        target.ok_or(KmodError::NotFound {
            name: Some(String::from(name)),
        })
    }

    /// The modules to load for `name`, dependencies first (a depth-first
    /// walk in post-order, iterative), refusing cycles. Dependencies found
    /// live are claimed into `held`. Each module is looked at once:
    /// O(modules + dependencies) map operations.
    fn plan<'s>(
        &self,
        name: &str,
        store: &'s dyn ModuleStore,
        held: &mut Held<'_, M>,
    ) -> Result<Vec<Planned<'s>>, KmodError> {
        let mut marks: BTreeMap<String, Mark> = BTreeMap::new();
        let mut order = Vec::new();
        let mut path: Vec<Frame<'s>> = vec![self.frame(name, name, store)?];
        marks.insert(String::from(name), Mark::OnPath);
        while let Some(top) = path.last_mut() {
            let Some(dep) = top.depends.get(top.next).cloned() else {
                let done = path.pop().expect("the path is not empty");
                marks.insert(done.name.clone(), Mark::Done);
                order.push((done.name, done.image));
                continue;
            };
            top.next += 1;
            match marks.get(&dep) {
                Some(Mark::Done) => {}
                Some(Mark::OnPath) => {
                    let from = path
                        .iter()
                        .position(|f| f.name == dep)
                        .expect("a module on the path has a frame");
                    let mut cycle: Vec<String> =
                        path[from..].iter().map(|f| f.name.clone()).collect();
                    cycle.push(dep);
                    return Err(KmodError::DependencyCycle { cycle });
                }
                None => {
                    if let Some(handle) = self.claim(&dep)? {
                        held.handles.push(handle);
                        marks.insert(dep, Mark::Done);
                        continue;
                    }
                    let top = path.last().expect("the path is not empty");
                    let parent = top.name.clone();
                    let frame = self.frame(&dep, &parent, store)?;
                    marks.insert(dep, Mark::OnPath);
                    path.push(frame);
                }
            }
        }
        Ok(order)
    }

    /// Fetches module `name` (which `parent` depends on) and reads what it
    /// depends on: the store's index, else its `depends=` list.
    fn frame<'s>(
        &self,
        name: &str,
        parent: &str,
        store: &'s dyn ModuleStore,
    ) -> Result<Frame<'s>, KmodError> {
        let image = store
            .fetch(name)
            .ok_or_else(|| KmodError::MissingDependency {
                module: String::from(parent),
                dependency: String::from(name),
            })?;
        let depends = if let Some(listed) = store.dependencies(name) {
            listed
        } else {
            let info =
                inspect::modinfo(&image, self.machine()).map_err(|source| KmodError::Load {
                    module: String::from(name),
                    source,
                })?;
            info.get_all("depends")
                .flat_map(|d| d.split(','))
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(String::from)
                .collect()
        };
        Ok(Frame {
            name: String::from(name),
            depends,
            next: 0,
            image,
        })
    }
}
