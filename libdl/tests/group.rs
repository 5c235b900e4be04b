//! A `dlopen` group (an object and the dependencies it brings) is loaded as
//! a system dynamic linker loads it: every object mapped first, then all
//! relocated, each binding through the whole group breadth-first. So the
//! root interposes on its dependencies' definitions, `DT_NEEDED` cycles
//! load (and unload), an IFUNC of an object relocated later is resolved
//! only once that object is relocated, and a failure anywhere leaves
//! nothing loaded and no memory held.

mod common;

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{close_ok, is_loaded, lib, open_ok, sym, take_log_with, RTLD_NOW};
use modlib::{LoadError, Machine};
use modlib_dl::hosted::{Hosted, MmapMemory};
use modlib_dl::{
    Error, ErrorSlot, FileContents, FileError, Flags, Handle, HostScope, Linker, Platform,
};
use testkit::CountingMemory;

type IntFn = unsafe extern "C" fn() -> c_int;

/// Calls an `int f(void)` of a handle.
fn call(handle: *mut std::ffi::c_void, name: &str) -> c_int {
    // SAFETY: every fixture function called this way is `int f(void)`.
    unsafe { sym::<IntFn>(handle, name)() }
}

fn interpose_libs() -> (PathBuf, PathBuf) {
    let dep = lib("group_interpose_dep", &["group_interpose_dep.c"], &[], &[]);
    let root = lib(
        "group_interpose_root",
        &["group_interpose_root.c"],
        &["group_interpose_dep"],
        &[],
    );
    (root, dep)
}

/// a needs b and b needs a. `libgroup_cycle_a_stub.so` (a's code under a's
/// soname) stands in for a while b is linked, since a cannot be linked
/// before b exists.
fn cycle_libs() -> (PathBuf, PathBuf) {
    lib(
        "group_cycle_a_stub",
        &["group_cycle_a.c"],
        &["dltest"],
        &["-Wl,-soname,libgroup_cycle_a.so"],
    );
    let b = lib(
        "group_cycle_b",
        &["group_cycle_b.c"],
        &["group_cycle_a_stub", "dltest"],
        &[],
    );
    let a = lib(
        "group_cycle_a",
        &["group_cycle_a.c"],
        &["group_cycle_b", "dltest"],
        &[],
    );
    (a, b)
}

#[test]
fn the_root_interposes_on_its_dependencies() {
    let _serial = common::serial();
    let (root, dep) = interpose_libs();
    let h = open_ok(&root, RTLD_NOW);
    // The dependency calls group_which, which it defines and so does the
    // root: the root comes first in the group's scope, so glibc binds the
    // dependency's call to the root's definition.
    assert_eq!(call(h, "group_root_calls_dep"), 1);
    assert_eq!(call(h, "group_which"), 1, "the handle finds the root's too");
    // The dependency's handle searches from the dependency, but its code
    // stays bound as it was loaded.
    let hd = open_ok(&dep, RTLD_NOW);
    assert_eq!(call(hd, "group_which"), 2);
    assert_eq!(call(hd, "group_dep_which"), 1);
    close_ok(hd);
    close_ok(h);
    assert!(!is_loaded(&root));
    assert!(!is_loaded(&dep), "the dependency went with the root");
}

#[test]
fn a_dependency_cycle_loads_and_unloads() {
    let _serial = common::serial();
    let (a, b) = cycle_libs();
    let h = open_ok(&a, RTLD_NOW);
    assert!(is_loaded(&b));
    // Each constructor once, in glibc's order for a cycle: the root last.
    assert_eq!(
        take_log_with("group_cycle_"),
        ["group_cycle_b:init", "group_cycle_a:init"]
    );
    // Symbols resolve both ways, through a's handle (a, then b).
    assert_eq!(call(h, "group_cycle_a_calls_b"), 21);
    assert_eq!(call(h, "group_cycle_b_calls_a"), 12);
    close_ok(h);
    // Nothing else holds them: both go, destructors in glibc's order.
    assert_eq!(
        take_log_with("group_cycle_"),
        ["group_cycle_b:fini", "group_cycle_a:fini"]
    );
    assert!(!is_loaded(&a));
    assert!(!is_loaded(&b));

    // Opened from the other side, the roles swap.
    let h = open_ok(&b, RTLD_NOW);
    assert_eq!(
        take_log_with("group_cycle_"),
        ["group_cycle_a:init", "group_cycle_b:init"]
    );
    // A second handle on a member keeps the whole cycle.
    let ha = open_ok(&a, RTLD_NOW);
    close_ok(h);
    assert!(is_loaded(&a) && is_loaded(&b));
    assert!(
        take_log_with("group_cycle_").is_empty(),
        "nothing finalised"
    );
    assert_eq!(call(ha, "group_cycle_b_calls_a"), 12);
    close_ok(ha);
    assert_eq!(
        take_log_with("group_cycle_"),
        ["group_cycle_a:fini", "group_cycle_b:fini"]
    );
    assert!(!is_loaded(&a));
    assert!(!is_loaded(&b));
}

#[test]
fn an_ifunc_of_an_object_relocated_later_waits_for_it() {
    let _serial = common::serial();
    let dep = lib("group_ifunc_dep", &["group_ifunc_dep.c"], &[], &[]);
    let root = lib(
        "group_ifunc_root",
        &["group_ifunc_root.c"],
        &["group_ifunc_dep"],
        &[],
    );
    let h = open_ok(&root, RTLD_NOW);
    // The dependency (relocated first) binds group_pick, an IFUNC of the
    // root: its resolver ran only after the root's relocation (glibc calls
    // it before, and would give -1).
    assert_eq!(call(h, "group_root_value"), 42);
    assert_eq!(call(h, "group_dep_calls_pick"), 42);
    close_ok(h);
    // The dependency bound to the root, which needs it: both still go.
    assert!(!is_loaded(&root));
    assert!(!is_loaded(&dep));
}

/// The hosted platform with its memory counted.
struct Counted {
    hosted: Hosted,
    memory: Arc<CountingMemory<MmapMemory>>,
    /// The platform's limit on one image.
    limit: Option<usize>,
    /// The machine objects are loaded for, if not the host's.
    machine: Option<Machine>,
}

impl Platform for Counted {
    type Memory = Arc<CountingMemory<MmapMemory>>;

    fn memory(&self) -> Self::Memory {
        Arc::clone(&self.memory)
    }
    fn machine(&self) -> Machine {
        self.machine.unwrap_or_else(|| self.hosted.machine())
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError> {
        self.hosted.read_file(path)
    }
    fn open_file(&self, path: &str) -> Result<Box<dyn FileContents>, FileError> {
        self.hosted.open_file(path)
    }
    fn identifies_open_files(&self) -> bool {
        self.hosted.identifies_open_files()
    }
    fn exists(&self, path: &str) -> bool {
        self.hosted.exists(path)
    }
    fn canonical(&self, path: &str) -> String {
        self.hosted.canonical(path)
    }
    fn search_path(&self) -> Vec<String> {
        Vec::new()
    }
    fn system_path(&self) -> Vec<String> {
        self.hosted.system_path()
    }
    fn host(&self) -> Option<&dyn HostScope> {
        self.hosted.host()
    }
    fn thread_id(&self) -> u64 {
        self.hosted.thread_id()
    }
    fn yield_now(&self) {
        self.hosted.yield_now();
    }
    fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot)) {
        self.hosted.with_error_slot(f);
    }
    fn max_image_size(&self) -> Option<usize> {
        self.limit
    }
}

/// A platform's image size limit: an object needing more is refused,
/// naming its size and the limit, before any memory is reserved, and the
/// group it was part of leaves nothing behind.
#[test]
fn the_platform_limit_refuses_a_large_object_before_reserving() {
    let (root, _) = interpose_libs();
    let memory = Arc::new(CountingMemory::new(MmapMemory::default()));
    let limit = 4096;
    let linker = Linker::new(Counted {
        hosted: Hosted::new(),
        memory: Arc::clone(&memory),
        limit: Some(limit),
        machine: None,
    });
    let err = linker
        .open(Some(root.to_str().unwrap()), Flags::NOW)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Load { source: LoadError::ImageTooLarge { size, limit: l }, .. }
                if *size > 4096 && *l == limit
        ),
        "{err}"
    );
    assert_eq!(memory.reserved_total(), 0, "reserved before refusing");
    assert!(linker.loaded().is_empty());
}

#[test]
fn a_failed_relocation_leaves_nothing_loaded_and_no_memory_held() {
    let (root, _) = interpose_libs();
    let good = lib(
        "group_bad_root",
        &["group_bad_root.c"],
        &["group_interpose_dep"],
        &[],
    );
    // Beside its dependency, found through DT_RUNPATH=$ORIGIN.
    let bad = common::with_bad_relocation(&good, "libgroup_bad_root-patched.so");
    let memory = Arc::new(CountingMemory::new(MmapMemory::default()));
    let linker = Linker::new(Counted {
        hosted: Hosted::new(),
        memory: Arc::clone(&memory),
        limit: None,
        machine: None,
    });
    let path = |p: &Path| String::from(p.to_str().unwrap());

    // The dependency is relocated first and succeeds; the root, second,
    // fails. Both had been mapped.
    let err = linker.open(Some(&path(&bad)), Flags::NOW).unwrap_err();
    match &err {
        Error::Load {
            path: failed,
            source: LoadError::UnsupportedRelocation { r_type: 200, .. },
        } => assert_eq!(failed, &path(&bad)),
        other => panic!("unexpected error: {other}"),
    }
    assert!(
        memory.reserved_total() > 0,
        "the group was mapped before relocation"
    );
    assert!(linker.loaded().is_empty(), "nothing registered");
    assert_eq!(memory.live_reservations(), 0, "a reservation leaked");
    assert_eq!(memory.live_bytes(), 0, "memory leaked");

    // The table is as it was: the good root and its dependency load (the
    // dependency is not taken for loaded) and unload, giving back
    // everything.
    let h = linker.open(Some(&path(&good)), Flags::NOW).unwrap();
    assert_eq!(linker.loaded().len(), 2);
    let at = linker.symbol(h, "group_bad_calls_dep", 0).unwrap();
    // SAFETY: `int group_bad_calls_dep(void)` of the fixture.
    let f: IntFn = unsafe { std::mem::transmute::<usize, IntFn>(at as usize) };
    // SAFETY: loaded, relocated code of this machine.
    assert_eq!(unsafe { f() }, 2, "no interposer in this group");
    assert!(memory.live_bytes() > 0);
    linker.close(h).unwrap();
    assert!(linker.loaded().is_empty());
    assert_eq!(memory.live_bytes(), 0, "memory leaked after close");

    // A group whose dependency binds to the root (which needs it) holds
    // itself in a cycle of references, and still goes on close.
    let h = linker.open(Some(&path(&root)), Flags::NOW).unwrap();
    assert_eq!(linker.loaded().len(), 2);
    assert!(matches!(h, Handle::Object(_)));
    linker.close(h).unwrap();
    assert!(linker.loaded().is_empty(), "{:?}", linker.loaded());
    assert_eq!(memory.live_bytes(), 0, "memory leaked after close");
    assert_eq!(memory.live_reservations(), 0);
}

/// `registry.c` built by `cc` as `libregistry.so` and the user needing it,
/// `libregistry_user.so` (by its path), both without libc, in `dir`.
fn registry_libs(cc: &testkit::Compiler, dir: &Path) -> (PathBuf, PathBuf) {
    use std::process::Command;
    let source = common::fixture_source("registry.c");
    let registry = dir.join("libregistry.so");
    let user = dir.join("libregistry_user.so");
    let soname = format!("-Wl,-soname,{}", registry.display());
    let link = |out: &Path, extra: &[&str]| {
        let status = Command::new(cc.command())
            .args(cc.target_args())
            .args(["-shared", "-fPIC", "-O1", "-nostdlib", "-Wl,--no-as-needed"])
            .args(extra)
            .arg(&source)
            .arg("-o")
            .arg(out)
            .status()
            .expect("run the C compiler");
        assert!(
            status.success(),
            "{} failed for {}",
            cc.command(),
            out.display()
        );
    };
    link(&registry, &[&soname]);
    let registry_arg = registry.to_str().unwrap();
    link(&user, &["-DREGISTRY_USER", registry_arg]);
    (registry, user)
}

/// The linker over counted memory for `machine` (the host's if `None`).
fn counted_linker(machine: Option<Machine>) -> (Linker<Counted>, Arc<CountingMemory<MmapMemory>>) {
    let memory = Arc::new(CountingMemory::new(MmapMemory::default()));
    let linker = Linker::new(Counted {
        hosted: Hosted::new(),
        memory: Arc::clone(&memory),
        limit: None,
        machine,
    });
    (linker, memory)
}

/// A group whose constructors cannot run fails to open and is undone:
/// destructors run for whatever was initialised (here nothing: the
/// registry's count stays 0), nothing stays loaded and every byte is given
/// back. A platform may load objects of another machine (to inspect or
/// relocate them) but not run their constructors. The same sources built
/// for this machine register twice and unregister on close.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_group_whose_constructors_cannot_run_is_undone() {
    use testkit::Compiler;
    let read_count = |linker: &Linker<Counted>, h| {
        let at = linker.symbol(h, "registrations", 0).unwrap();
        // SAFETY: `int registrations` of the loaded registry.
        unsafe { *(at as usize as *const c_int) }
    };
    let dir = common::lib_dir().join("registry");
    std::fs::create_dir_all(dir.join("host")).unwrap();
    std::fs::create_dir_all(dir.join("aarch64")).unwrap();

    // This machine: both constructors register, both destructors go.
    let (registry, user) = registry_libs(&Compiler::host_gcc(), &dir.join("host"));
    let (linker, memory) = counted_linker(None);
    let h = linker
        .open(Some(user.to_str().unwrap()), Flags::NOW)
        .unwrap();
    let r = linker
        .open(Some(registry.to_str().unwrap()), Flags::NOW)
        .unwrap();
    assert_eq!(read_count(&linker, r), 2, "both constructors registered");
    linker.close(h).unwrap();
    assert_eq!(
        read_count(&linker, r),
        1,
        "the user's destructor unregistered"
    );
    linker.close(r).unwrap();
    assert!(linker.loaded().is_empty());
    assert_eq!(memory.live_bytes(), 0);

    // Another machine's objects: mapped and relocated, their constructors
    // refused; the open fails naming the first object and leaves nothing.
    let cross = Compiler::Named("aarch64-linux-gnu-gcc".into());
    if !cross.available() {
        assert!(
            std::env::var_os("MODLIB_REQUIRE_CROSS").is_none(),
            "aarch64-linux-gnu-gcc is not installed"
        );
        return;
    }
    let (registry, user) = registry_libs(&cross, &dir.join("aarch64"));
    let (linker, memory) = counted_linker(Some(Machine::Aarch64));
    let err = linker
        .open(Some(user.to_str().unwrap()), Flags::NOW)
        .unwrap_err();
    match &err {
        Error::Load {
            path,
            source: LoadError::Unsupported { .. },
        } => assert_eq!(
            path,
            registry.to_str().unwrap(),
            "the registry initialises first"
        ),
        other => panic!("unexpected error: {other}"),
    }
    assert!(memory.reserved_total() > 0, "the group was mapped");
    assert!(linker.loaded().is_empty(), "{:?}", linker.loaded());
    assert_eq!(memory.live_reservations(), 0, "a reservation leaked");
    assert_eq!(memory.live_bytes(), 0, "memory leaked");
}
