//! `modprobe`: load a module after the modules its `.modinfo` says it
//! `depends=` on, in topological order, refusing cycles.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use modlib::{inspect, Memory};

use crate::error::KmodError;
use crate::manager::{ModHandle, ModuleManager};

/// Where module images come from, by module name (a directory when hosted,
/// the ramfs in a kernel).
pub trait ModuleStore {
    /// The image of module `name`, if the store has it.
    fn fetch(&self, name: &str) -> Option<Cow<'_, [u8]>>;
}

/// Modules still to load, dependencies before dependents.
struct Plan<'s> {
    order: Vec<(String, Cow<'s, [u8]>)>,
    stack: Vec<String>,
}

impl<M: Memory + Clone> ModuleManager<M> {
    /// Loads `name` and, first, every module it depends on that is not yet
    /// loaded. If any load fails, the modules this call loaded are removed
    /// again. Returns the handle of `name` (existing or new).
    pub fn modprobe(&self, name: &str, store: &dyn ModuleStore) -> Result<ModHandle, KmodError> {
        if let Some(handle) = self.modhandle(name) {
            return Ok(handle);
        }
        let mut plan = Plan {
            order: Vec::new(),
            stack: Vec::new(),
        };
        self.visit(name, name, store, &mut plan)?;
        let mut loaded: Vec<ModHandle> = Vec::new();
        let mut target = None;
        for (module, image) in &plan.order {
            match self.insmod(image, module) {
                Ok(handle) => {
                    if module == name {
                        target = Some(handle);
                    }
                    loaded.push(handle);
                }
                Err(e) => {
                    for handle in loaded.into_iter().rev() {
                        let _ = self.rmmod(handle);
                    }
                    return Err(e);
                }
            }
        }
        // `name` is absent from the plan if another caller loaded it after
        // the check above; the last module loaded is then a dependency.
        target
            .or_else(|| self.modhandle(name))
            .ok_or(KmodError::NotFound {
                name: Some(String::from(name)),
            })
    }

    fn visit<'s>(
        &self,
        name: &str,
        parent: &str,
        store: &'s dyn ModuleStore,
        plan: &mut Plan<'s>,
    ) -> Result<(), KmodError> {
        if let Some(pos) = plan.stack.iter().position(|n| n == name) {
            let mut cycle: Vec<String> = plan.stack[pos..].to_vec();
            cycle.push(String::from(name));
            return Err(KmodError::DependencyCycle { cycle });
        }
        if self.modhandle(name).is_some() || plan.order.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let image = store
            .fetch(name)
            .ok_or_else(|| KmodError::MissingDependency {
                module: String::from(parent),
                dependency: String::from(name),
            })?;
        let info = inspect::modinfo(&image, self.machine()).map_err(|source| KmodError::Load {
            module: String::from(name),
            source,
        })?;
        let depends: Vec<String> = info
            .get_all("depends")
            .flat_map(|d| d.split(','))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(String::from)
            .collect();
        plan.stack.push(String::from(name));
        for dep in &depends {
            self.visit(dep, name, store, plan)?;
        }
        plan.stack.pop();
        plan.order.push((String::from(name), image));
        Ok(())
    }
}
