//! The registry of modules: who is loaded, in what state, who uses whom.
//! Only the manager touches it, always under its one lock.

use crate::sync::Arc;
use alloc::string::String;
use alloc::vec::Vec;

use modlib::{LoadedImage, Memory, ModInfo, SymbolTable};

use crate::info::ModuleState;

/// One registry entry.
pub(crate) struct Module<M: Memory> {
    pub id: u32,
    pub name: String,
    pub state: ModuleState,
    /// `None` until the load finishes.
    pub image: Option<Arc<LoadedImage<M>>>,
    /// What the module exports, reporting the module's id as provider.
    pub exports: Arc<SymbolTable<'static>>,
    pub modinfo: ModInfo,
    /// Ids of modules whose symbols this one bound.
    pub uses: Vec<u32>,
    /// References taken by `module_get`.
    pub refcount: usize,
    /// Loads in progress that may bind to this module's exports.
    pub pins: usize,
}

/// All modules in load order.
pub(crate) struct Registry<M: Memory> {
    pub modules: Vec<Module<M>>,
    pub next_id: u32,
}

impl<M: Memory> Registry<M> {
    pub const fn new() -> Self {
        Registry {
            modules: Vec::new(),
            next_id: 1,
        }
    }

    pub fn get(&self, id: u32) -> Option<&Module<M>> {
        self.modules.iter().find(|m| m.id == id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Module<M>> {
        self.modules.iter_mut().find(|m| m.id == id)
    }

    pub fn by_name(&self, name: &str) -> Option<&Module<M>> {
        self.modules.iter().find(|m| m.name == name)
    }

    /// Takes entry `id` out of the registry.
    pub fn remove(&mut self, id: u32) -> Option<Module<M>> {
        let index = self.modules.iter().position(|m| m.id == id)?;
        Some(self.modules.remove(index))
    }

    /// Names of modules that use `id`.
    pub fn users_of(&self, id: u32) -> Vec<String> {
        self.modules
            .iter()
            .filter(|m| m.uses.contains(&id))
            .map(|m| m.name.clone())
            .collect()
    }

    pub fn name_of(&self, id: u32) -> String {
        self.get(id).map(|m| m.name.clone()).unwrap_or_default()
    }
}
