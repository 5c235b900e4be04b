//! The registry of modules: who is loaded, in what state, who uses whom,
//! and who exports what. Only the manager touches it, always under its one
//! lock. Every look-up by id, name or exported symbol is a map search, so
//! no operation's cost grows with the number of modules loaded beyond a
//! logarithm.

use crate::sync::Arc;
use alloc::collections::BTreeMap;
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
    /// Ids of modules that bound symbols of this one (the reverse of
    /// `uses`).
    pub used_by: Vec<u32>,
    /// References taken by `module_get` (and by `modprobe` while it loads
    /// modules that need this one).
    pub refcount: usize,
    /// Loads in progress that have bound a symbol of this module.
    pub pins: usize,
}

/// All modules, by id (ids grow, so id order is load order).
pub(crate) struct Registry<M: Memory> {
    modules: BTreeMap<u32, Module<M>>,
    /// Module ids by name.
    names: BTreeMap<String, u32>,
    /// Exported symbol names and the module exporting each (names are
    /// unique: a duplicate export is refused).
    exports: BTreeMap<String, u32>,
    pub next_id: u32,
}

impl<M: Memory> Registry<M> {
    pub const fn new() -> Self {
        Registry {
            modules: BTreeMap::new(),
            names: BTreeMap::new(),
            exports: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub fn get(&self, id: u32) -> Option<&Module<M>> {
        self.modules.get(&id)
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut Module<M>> {
        self.modules.get_mut(&id)
    }

    pub fn by_name(&self, name: &str) -> Option<&Module<M>> {
        self.modules.get(self.names.get(name)?)
    }

    pub fn by_name_mut(&mut self, name: &str) -> Option<&mut Module<M>> {
        self.modules.get_mut(self.names.get(name)?)
    }

    /// Every module, in load order.
    pub fn iter(&self) -> impl Iterator<Item = &Module<M>> {
        self.modules.values()
    }

    /// Adds a module (its name must be free).
    pub fn insert(&mut self, module: Module<M>) {
        self.names.insert(module.name.clone(), module.id);
        self.modules.insert(module.id, module);
    }

    /// The module exporting `symbol`, in whatever state.
    pub fn exporter(&self, symbol: &str) -> Option<u32> {
        self.exports.get(symbol).copied()
    }

    /// Publishes `exports` as module `id`'s (after checking that no other
    /// module exports any of the names).
    pub fn set_exports(&mut self, id: u32, exports: Arc<SymbolTable<'static>>) {
        for (name, _) in exports.iter() {
            self.exports.insert(String::from(name), id);
        }
        if let Some(m) = self.modules.get_mut(&id) {
            m.exports = exports;
        }
    }

    /// Records that module `id` uses `uses`, and them that it does.
    pub fn set_uses(&mut self, id: u32, uses: Vec<u32>) {
        for &p in &uses {
            if let Some(provider) = self.modules.get_mut(&p) {
                // Kept in load (id) order, whatever order loads finish in.
                insert_sorted(&mut provider.used_by, id);
            }
        }
        if let Some(m) = self.modules.get_mut(&id) {
            m.uses = uses;
        }
    }

    /// Takes entry `id` out of the registry, with its name, its exports
    /// and its edges to the modules it used.
    pub fn remove(&mut self, id: u32) -> Option<Module<M>> {
        let module = self.modules.remove(&id)?;
        self.names.remove(&module.name);
        for (name, _) in module.exports.iter() {
            if self.exports.get(name) == Some(&id) {
                self.exports.remove(name);
            }
        }
        for p in &module.uses {
            if let Some(provider) = self.modules.get_mut(p) {
                provider.used_by.retain(|&u| u != id);
            }
        }
        Some(module)
    }

    /// Names of modules that use `id`, in load order.
    pub fn users_of(&self, id: u32) -> Vec<String> {
        self.modules
            .get(&id)
            .map_or(&[][..], |m| &m.used_by)
            .iter()
            .map(|&u| self.name_of(u))
            .collect()
    }

    pub fn name_of(&self, id: u32) -> String {
        self.get(id).map(|m| m.name.clone()).unwrap_or_default()
    }
}

/// Adds `id` to the sorted list `ids` unless it is there. (Module sets
/// that stay small use sorted vectors rather than a tree: far less code
/// in a microcontroller's kernel.)
pub(crate) fn insert_sorted(ids: &mut Vec<u32>, id: u32) {
    if let Err(at) = ids.binary_search(&id) {
        ids.insert(at, id);
    }
}
