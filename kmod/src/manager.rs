//! The module manager: `insmod`, `rmmod`, `modsym`, `modhandle`,
//! `module_get`/`module_put`, and the `lsmod`/`kallsyms` views.
//!
//! Locking: the registry is one `spin::Mutex`. A load reserves its name
//! under the lock, then parses, relocates and runs init without it, so
//! init may call back into the manager. Relocation takes the lock briefly
//! for each symbol it looks up among the modules, and pins the module that
//! answers until the load records it as used: only the providers a load
//! binds are pinned. A module is visible (to `modhandle`, `modsym` and
//! resolution) only once `Live`.

use crate::sync::Arc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use modlib::{
    LoadOptions, LoadedImage, Lookup, Machine, Memory, ModInfo, Object, ProviderId, Resolved,
    SymbolResolver, SymbolTable,
};

use crate::abi::abi_tag;
use crate::error::KmodError;
use crate::exports;
use crate::info::{KernelSymbolInfo, ModuleInfo, ModuleState};
use crate::ksyms::KernelTable;
use crate::registry::{insert_sorted, Module, Registry};

/// Longest module name accepted.
const MAX_NAME: usize = 64;
/// Symbol a module's `module_init` aliases.
const INIT_SYMBOL: &str = "__kmod_init";
/// Symbol a module's `module_exit` aliases.
const EXIT_SYMBOL: &str = "__kmod_exit";
/// The largest module image a manager loads unless told otherwise
/// ([`ModuleManager::with_max_module_size`]): 64 MiB, far more than any
/// kernel module needs and little enough that a corrupt or hostile header
/// cannot take the kernel's address space.
pub const DEFAULT_MAX_MODULE_SIZE: usize = 64 << 20;

/// How many times, by default, `modprobe` looks again at a module another
/// caller is loading or removing before it gives up with `Loading` (see
/// [`ModuleManager::with_wait`]).
pub const DEFAULT_WAIT_ROUNDS: u32 = 1 << 20;

/// Identifies a loaded module. Handles are never reused, so a stale handle
/// fails with `NotFound` instead of reaching another module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModHandle(u32);

/// The kernel's module manager.
pub struct ModuleManager<M: Memory + Clone> {
    memory: M,
    kernel: KernelTable,
    machine: Machine,
    abi: String,
    /// Names kmod itself answers for modules (`__cxa_atexit`, `atexit`).
    runtime: SymbolTable<'static>,
    /// The largest image a module may take (`None`: no limit).
    max_module_size: Option<usize>,
    /// Called between looks at a module another caller is loading or
    /// removing.
    pause: fn(),
    /// How many looks before `modprobe` gives up on such a module.
    wait_rounds: u32,
    registry: spin::Mutex<Registry<M>>,
}

impl<M: Memory + Clone> ModuleManager<M> {
    /// A manager for modules of this machine, with memory from `memory` and
    /// the kernel's exports in `kernel`.
    pub fn new(memory: M, kernel: KernelTable) -> Self {
        let machine = Machine::default_for_host();
        Self::with_abi(memory, kernel, machine, abi_tag(machine))
    }

    /// As [`ModuleManager::new`] with an explicit machine and ABI tag.
    pub fn with_abi(memory: M, kernel: KernelTable, machine: Machine, abi: String) -> Self {
        ModuleManager {
            memory,
            kernel,
            machine,
            abi,
            runtime: crate::cxx_runtime::table(KernelTable::PROVIDER),
            max_module_size: Some(DEFAULT_MAX_MODULE_SIZE),
            pause: core::hint::spin_loop,
            wait_rounds: DEFAULT_WAIT_ROUNDS,
            registry: spin::Mutex::new(Registry::new()),
        }
    }

    /// The manager with another way for `modprobe` to wait for a module
    /// it needs that another caller is loading or removing: it calls
    /// `pause` between looks (a spin-loop hint by default; a kernel with a
    /// scheduler passes its yield) and gives up with
    /// [`KmodError::Loading`] after `rounds` looks (by default
    /// [`DEFAULT_WAIT_ROUNDS`]), which ends a wait that can never be
    /// satisfied: a module's init probing a module that needs it.
    #[must_use]
    pub fn with_wait(mut self, pause: fn(), rounds: u32) -> Self {
        self.pause = pause;
        self.wait_rounds = rounds;
        self
    }

    /// The manager with a different limit on the memory one module's image
    /// may take (its whole reservation): a module that needs more is
    /// refused before any memory is reserved for it. `None` sets no limit;
    /// the default is [`DEFAULT_MAX_MODULE_SIZE`].
    #[must_use]
    pub fn with_max_module_size(mut self, limit: Option<usize>) -> Self {
        self.max_module_size = limit;
        self
    }

    /// The limit on one module's image (see
    /// [`ModuleManager::with_max_module_size`]).
    pub fn max_module_size(&self) -> Option<usize> {
        self.max_module_size
    }

    /// The kernel's ABI tag, which modules must carry as `abi=`.
    pub fn abi(&self) -> &str {
        &self.abi
    }

    /// Loads `image` as module `name`, binds it, runs its constructors and
    /// `module_init`. Any failure, including a non-zero init, undoes all of
    /// it.
    pub fn insmod(&self, image: &[u8], name: &str) -> Result<ModHandle, KmodError> {
        self.load(image, name, false)
    }

    /// [`ModuleManager::insmod`]; with `hold`, the module comes back with a
    /// reference taken as it goes live (for `modprobe`, so that nobody
    /// removes it before the modules that need it are loaded).
    pub(crate) fn load(
        &self,
        image: &[u8],
        name: &str,
        hold: bool,
    ) -> Result<ModHandle, KmodError> {
        if name.is_empty() || name.len() > MAX_NAME || name.contains(['/', '\0']) {
            return Err(KmodError::InvalidName {
                name: String::from(name),
            });
        }
        let load_error = |source| KmodError::Load {
            module: String::from(name),
            source,
        };
        // Parsed once: the ABI check, the export list and the load all
        // read this one value.
        let object = Object::parse(image, self.machine).map_err(load_error)?;
        let modinfo = object.modinfo().map_err(load_error)?;
        if let Some(declared) = modinfo.get("name").filter(|&d| d != name) {
            return Err(KmodError::NameMismatch {
                given: String::from(name),
                declared: String::from(declared),
            });
        }
        let module_abi = modinfo.get("abi").unwrap_or("none");
        if module_abi != self.abi {
            return Err(KmodError::AbiMismatch {
                module: String::from(module_abi),
                kernel: self.abi.clone(),
            });
        }
        let export_names = object
            .section(exports::SECTION)
            .map_err(load_error)?
            .map(exports::parse)
            .unwrap_or_default();

        let id = self.reserve(name, modinfo)?;
        let binder = Binder {
            manager: self,
            pinned: RefCell::new(Vec::new()),
        };
        let loaded = self.load_unlocked(object, name, id, &binder, &export_names);
        let pinned = binder.pinned.into_inner();
        let mut reg = self.registry.lock();
        for &p in &pinned {
            if let Some(m) = reg.get_mut(p) {
                m.pins -= 1;
            }
        }
        let (image, exports) = match loaded.and_then(|(image, exports)| {
            Self::check_duplicates(&reg, &self.kernel, name, id, &exports)?;
            Ok((image, exports))
        }) {
            Ok(done) => done,
            Err(e) => {
                let entry = reg.remove(id);
                drop(reg);
                drop(entry);
                return Err(e);
            }
        };
        let uses = dependencies(&image, &pinned);
        let init = image.symbol(INIT_SYMBOL).map(|s| s.address);
        // `module_init` and `module_exit` are called by address: a module
        // whose symbol of that name is not code is refused before either
        // could be.
        let entry_points = [
            (INIT_SYMBOL, init),
            (EXIT_SYMBOL, image.symbol(EXIT_SYMBOL).map(|s| s.address)),
        ];
        if let Some((what, Some(address))) = entry_points
            .into_iter()
            .find(|&(_, a)| a.is_some_and(|a| !image.is_code(a)))
        {
            let entry = reg.remove(id);
            drop(reg);
            drop(entry);
            drop(image);
            return Err(load_error(modlib::LoadError::CodeOutsideObject {
                what: String::from(what),
                address,
            }));
        }
        let image = Arc::new(image);
        // The providers are held by `uses` from here on, under the same
        // lock that dropped the pins: they cannot go meanwhile.
        reg.set_uses(id, uses);
        reg.set_exports(id, Arc::new(exports));
        reg.get_mut(id)
            .expect("a loading module stays registered")
            .image = Some(image.clone());
        drop(reg);

        // SAFETY: the image is relocated and protected and stays alive
        // through our `Arc`; its constructors and `module_init` take no
        // arguments per `module.h`.
        let outcome = unsafe { image.run_init() }.map(|()| {
            // SAFETY: as above; `init` is the module's `int init(void)`.
            init.map_or(0, |f| unsafe { call_init(f) })
        });
        let failure = match outcome {
            Ok(0) => None,
            Ok(code) => {
                // Undo what the constructors did, last first: their
                // registrations, then the destructors (not `module_exit`:
                // init did not succeed).
                // SAFETY: as above; the constructors ran, so the
                // destructors may.
                unsafe { finalize(&image) };
                Some(KmodError::InitFailed {
                    module: String::from(name),
                    code,
                })
            }
            Err(source) => Some(load_error(source)),
        };
        drop(image);
        let mut reg = self.registry.lock();
        if let Some(error) = failure {
            let entry = reg.remove(id);
            drop(reg);
            drop(entry);
            return Err(error);
        }
        let entry = reg.get_mut(id).expect("a loading module stays registered");
        entry.state = ModuleState::Live;
        if hold {
            entry.refcount += 1;
        }
        Ok(ModHandle(id))
    }

    /// Registers `name` as loading.
    fn reserve(&self, name: &str, modinfo: ModInfo) -> Result<u32, KmodError> {
        let mut reg = self.registry.lock();
        if reg.by_name(name).is_some() {
            return Err(KmodError::Exists {
                name: String::from(name),
            });
        }
        let id = reg.next_id;
        reg.next_id += 1;
        reg.insert(Module {
            id,
            name: String::from(name),
            state: ModuleState::Loading,
            image: None,
            exports: Arc::new(SymbolTable::new(Vec::new(), ProviderId(id)).expect("empty table")),
            modinfo,
            uses: Vec::new(),
            used_by: Vec::new(),
            refcount: 0,
            pins: 0,
        });
        Ok(id)
    }

    /// Loads and relocates without the lock (the binder takes it for each
    /// symbol it looks up among the modules); builds the export table.
    fn load_unlocked(
        &self,
        object: Object<'_>,
        name: &str,
        id: u32,
        binder: &Binder<'_, M>,
        export_names: &[String],
    ) -> Result<(LoadedImage<M>, SymbolTable<'static>), KmodError> {
        let options = LoadOptions {
            machine: self.machine,
            max_image_size: self.max_module_size,
            ..LoadOptions::default()
        };
        let loaded = object
            .load(&options, self.memory.clone(), binder)
            .map_err(|source| KmodError::Load {
                module: String::from(name),
                source,
            })?;
        let mut entries = Vec::with_capacity(export_names.len());
        for export in export_names {
            let symbol = loaded
                .symbol(export)
                .ok_or_else(|| KmodError::ExportUndefined {
                    module: String::from(name),
                    symbol: export.clone(),
                })?;
            entries.push((export.as_str(), symbol));
        }
        let names_len = entries.iter().map(|(export, _)| export.len()).sum();
        let exports = SymbolTable::packed(entries, names_len, ProviderId(id)).map_err(|d| {
            KmodError::DuplicateExport {
                module: String::from(name),
                symbol: d.name,
                owner: String::from(name),
            }
        })?;
        Ok((loaded, exports))
    }

    fn check_duplicates(
        reg: &Registry<M>,
        kernel: &KernelTable,
        name: &str,
        id: u32,
        exports: &SymbolTable<'static>,
    ) -> Result<(), KmodError> {
        for (export, _) in exports.iter() {
            let owner = if kernel.table().get(export).is_some() {
                Some(String::from("kernel"))
            } else {
                reg.exporter(export)
                    .filter(|&owner| owner != id)
                    .map(|owner| reg.name_of(owner))
            };
            if let Some(owner) = owner {
                return Err(KmodError::DuplicateExport {
                    module: String::from(name),
                    symbol: String::from(export),
                    owner,
                });
            }
        }
        Ok(())
    }

    /// Runs the module's `module_exit` and destructors and frees it; refused
    /// with `Busy` while another module uses it or references are held, and
    /// with `Loading` while it loads or a load in progress has bound one of
    /// its symbols (and is about to use it).
    pub fn rmmod(&self, handle: ModHandle) -> Result<(), KmodError> {
        let mut reg = self.registry.lock();
        let users = reg.users_of(handle.0);
        let module = reg
            .get_mut(handle.0)
            .filter(|m| m.state != ModuleState::Unloading)
            .ok_or(KmodError::NotFound { name: None })?;
        if module.state != ModuleState::Live || module.pins > 0 {
            return Err(KmodError::Loading {
                module: module.name.clone(),
            });
        }
        if !users.is_empty() || module.refcount > 0 {
            return Err(KmodError::Busy {
                module: module.name.clone(),
                users,
                refcount: module.refcount,
            });
        }
        module.state = ModuleState::Unloading;
        let image = module.image.clone().expect("a live module has an image");
        drop(reg);
        let exit = image.symbol(EXIT_SYMBOL).map(|s| s.address);
        if let Some(f) = exit {
            // SAFETY: the image is alive through our `Arc` and `Unloading`,
            // so nobody else runs or binds it; `f` is its `void exit(void)`.
            unsafe { call_exit(f) };
        }
        // SAFETY: as above; the image is of this machine (its init ran).
        unsafe { finalize(&image) };
        drop(image);
        let entry = self.registry.lock().remove(handle.0);
        drop(entry);
        Ok(())
    }

    /// Takes a reference on module `name` once it is live: `None` if no
    /// module has that name; while another caller is loading or removing
    /// it, waits (see [`ModuleManager::with_wait`]) for the outcome, and
    /// refuses with `Loading` if that does not come.
    pub(crate) fn claim(&self, name: &str) -> Result<Option<ModHandle>, KmodError> {
        for _ in 0..=self.wait_rounds {
            let mut reg = self.registry.lock();
            match reg.by_name_mut(name) {
                None => return Ok(None),
                Some(m) if m.state == ModuleState::Live => {
                    m.refcount += 1;
                    return Ok(Some(ModHandle(m.id)));
                }
                Some(_) => {}
            }
            drop(reg);
            (self.pause)();
        }
        Err(KmodError::Loading {
            module: String::from(name),
        })
    }

    /// Loads `image` as `name` with a reference held ([`Self::load`]), or,
    /// if another caller has it, claims theirs once it is live (loading
    /// again if theirs failed or went). The flag says whether this call
    /// loaded it.
    pub(crate) fn load_or_claim(
        &self,
        image: &[u8],
        name: &str,
    ) -> Result<(ModHandle, bool), KmodError> {
        for _ in 0..=self.wait_rounds {
            match self.load(image, name, true) {
                Ok(handle) => return Ok((handle, true)),
                Err(KmodError::Exists { .. }) => {
                    if let Some(handle) = self.claim(name)? {
                        return Ok((handle, false));
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(KmodError::Loading {
            module: String::from(name),
        })
    }

    /// Drops a reference taken by [`Self::claim`] or [`Self::load`].
    pub(crate) fn release(&self, handle: ModHandle) {
        if let Some(m) = self.registry.lock().get_mut(handle.0) {
            m.refcount = m.refcount.saturating_sub(1);
        }
    }

    /// The address of `name` if module `handle` exports it.
    pub fn modsym(&self, handle: ModHandle, name: &str) -> Result<*const (), KmodError> {
        let reg = self.registry.lock();
        let module = reg
            .get(handle.0)
            .filter(|m| m.state == ModuleState::Live)
            .ok_or(KmodError::NotFound { name: None })?;
        module
            .exports
            .get(name)
            .map(|s| s.address as usize as *const ())
            .ok_or_else(|| KmodError::SymbolNotExported {
                module: module.name.clone(),
                symbol: String::from(name),
            })
    }

    /// The Arm exception index (`.ARM.exidx`: address and size in bytes) of
    /// the module whose code contains `pc`, for the kernel's
    /// `__gnu_Unwind_Find_exidx`: C++ in a module unwinds through it. A
    /// module counts from relocation on, so its constructors and
    /// `module_init` may throw and catch too.
    pub fn exception_index_at(&self, pc: u64) -> Option<(u64, usize)> {
        let reg = self.registry.lock();
        let found = reg.iter().find_map(|m| {
            let image = m.image.as_ref()?;
            let inside = image.start() <= pc && pc - image.start() < image.size() as u64;
            inside.then(|| image.exception_index()).flatten()
        });
        found
    }

    /// The handle of the live module called `name`.
    pub fn modhandle(&self, name: &str) -> Option<ModHandle> {
        let reg = self.registry.lock();
        reg.by_name(name)
            .filter(|m| m.state == ModuleState::Live)
            .map(|m| ModHandle(m.id))
    }

    /// Takes a reference on a live module (kernel code holding one of its
    /// functions); `rmmod` is refused until [`ModuleManager::module_put`].
    pub fn module_get(&self, handle: ModHandle) -> Result<(), KmodError> {
        let mut reg = self.registry.lock();
        let module = reg
            .get_mut(handle.0)
            .filter(|m| m.state == ModuleState::Live)
            .ok_or(KmodError::NotFound { name: None })?;
        module.refcount += 1;
        Ok(())
    }

    /// Drops a reference taken by [`ModuleManager::module_get`].
    pub fn module_put(&self, handle: ModHandle) -> Result<(), KmodError> {
        let mut reg = self.registry.lock();
        let module = reg
            .get_mut(handle.0)
            .ok_or(KmodError::NotFound { name: None })?;
        if module.refcount == 0 {
            return Err(KmodError::NotReferenced {
                module: module.name.clone(),
            });
        }
        module.refcount -= 1;
        Ok(())
    }

    /// Every module, as `lsmod` lists them (load order).
    pub fn modules(&self) -> Vec<ModuleInfo> {
        let reg = self.registry.lock();
        reg.iter()
            .map(|m| {
                let get = |k: &str| m.modinfo.get(k).map(String::from);
                ModuleInfo {
                    name: m.name.clone(),
                    version: get("version"),
                    description: get("description"),
                    license: get("license"),
                    state: m.state,
                    regions: m
                        .image
                        .as_ref()
                        .map(|i| i.regions().to_vec())
                        .unwrap_or_default(),
                    size: m.image.as_ref().map_or(0, |i| i.size()),
                    refcount: m.refcount,
                    uses: m.uses.iter().map(|&u| reg.name_of(u)).collect(),
                    used_by: reg.users_of(m.id),
                }
            })
            .collect()
    }

    /// Every exported symbol, kernel first, then live modules in load order.
    pub fn ksyms(&self) -> Vec<KernelSymbolInfo> {
        let mut out: Vec<KernelSymbolInfo> = self
            .kernel
            .table()
            .iter()
            .map(|(name, symbol)| KernelSymbolInfo {
                name: String::from(name),
                address: symbol.address,
                kind: symbol.kind,
                owner: None,
            })
            .collect();
        let reg = self.registry.lock();
        for m in reg.iter().filter(|m| m.state == ModuleState::Live) {
            out.extend(m.exports.iter().map(|(name, symbol)| KernelSymbolInfo {
                name: String::from(name),
                address: symbol.address,
                kind: symbol.kind,
                owner: Some(m.name.clone()),
            }));
        }
        out
    }

    /// The machine modules are loaded for.
    pub(crate) fn machine(&self) -> Machine {
        self.machine
    }
}

/// Modules (by id) that answered at least one of the image's imports,
/// among those the load pinned.
fn dependencies<M: Memory>(image: &LoadedImage<M>, pinned: &[u32]) -> Vec<u32> {
    let mut uses: Vec<u32> = Vec::new();
    for import in image.imports() {
        if let Some(ProviderId(p)) = import.provider {
            if pinned.binary_search(&p).is_ok() {
                insert_sorted(&mut uses, p);
            }
        }
    }
    uses
}

/// What a module being loaded binds through: the kernel's table, then the
/// exports of live modules (one map search under the lock, which pins the
/// module that answers), then what kmod itself provides.
struct Binder<'a, M: Memory + Clone> {
    manager: &'a ModuleManager<M>,
    /// The modules this load pinned, each once, by id.
    pinned: RefCell<Vec<u32>>,
}

impl<M: Memory + Clone> SymbolResolver for Binder<'_, M> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        if let Some(found) = self.manager.kernel.table().resolve(lookup) {
            return Some(found);
        }
        let mut reg = self.manager.registry.lock();
        if let Some(owner) = reg.exporter(lookup.name) {
            let module = reg.get_mut(owner).filter(|m| m.state == ModuleState::Live);
            if let Some(module) = module {
                if let Some(found) = module.exports.resolve(lookup) {
                    let first = self.pinned.borrow().binary_search(&owner).is_err();
                    if first {
                        module.pins += 1;
                    }
                    drop(reg);
                    // Noted after the lock is dropped (this allocates); the
                    // pin above already holds the module.
                    if first {
                        insert_sorted(&mut self.pinned.borrow_mut(), owner);
                    }
                    return Some(found);
                }
            }
        }
        drop(reg);
        self.manager.runtime.resolve(lookup)
    }
}

/// Runs a module's destructors: what it registered while running
/// (`__cxa_atexit`, `atexit`), last first, then its `.fini_array`.
///
/// # Safety
/// The image must be relocated, protected, alive and of this machine, and
/// its constructors must have run.
unsafe fn finalize<M: Memory>(image: &LoadedImage<M>) {
    // SAFETY: per this function's contract.
    unsafe { crate::cxx_runtime::run_for(image.start(), image.size() as u64) };
    // SAFETY: as above; destructors take no arguments. The image is of
    // this machine (its init ran), so this cannot fail.
    let _ = unsafe { image.run_fini() };
}

/// Calls a module's `int init(void)`.
///
/// # Safety
/// `addr` must be the relocated, executable init function of a live image.
unsafe fn call_init(addr: u64) -> i32 {
    // SAFETY: per the contract, `addr` is `int (*)(void)` in executable memory.
    let f: extern "C" fn() -> i32 =
        unsafe { core::mem::transmute::<usize, extern "C" fn() -> i32>(addr as usize) };
    f()
}

/// Calls a module's `void exit(void)`.
///
/// # Safety
/// As for [`call_init`], with `void (*)(void)`.
unsafe fn call_exit(addr: u64) {
    // SAFETY: per the contract, `addr` is `void (*)(void)` in executable memory.
    let f: extern "C" fn() =
        unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr as usize) };
    f();
}
