//! kmod's modprobe follows the `modules.dep` that `modtool depmod` writes:
//! a module that declares no `depends=` loads after what it imports from.

use std::borrow::Cow;
use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use kmod::{KernelTable, ModuleManager, ModuleStore};
use testkit::{Compiler, HostMemory};

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn klog(msg: *const c_char) {
    // SAFETY: modules pass NUL-terminated strings.
    let line = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned();
    LOG.lock().unwrap().push(line);
}

/// Never called by the modules this test loads (they register no device).
extern "C" fn kmalloc(_size: usize) -> *mut c_void {
    std::ptr::null_mut()
}

extern "C" fn kfree(_ptr: *mut c_void) {}

extern "C" fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the C contract of memcpy.
    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

extern "C" fn strlen(s: *const c_char) -> usize {
    // SAFETY: the C contract of strlen.
    unsafe { CStr::from_ptr(s) }.count_bytes()
}

kmod::export_symbols!(KERNEL_SYMBOLS = [fn klog, fn kmalloc, fn kfree, fn memcpy, fn strlen]);

/// `<dir>/<name>.o`, with `<dir>/modules.dep` as the dependency index.
struct Store(PathBuf);

impl ModuleStore for Store {
    fn fetch(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        std::fs::read(self.0.join(format!("{name}.o")))
            .ok()
            .map(Cow::Owned)
    }

    fn dependencies(&self, name: &str) -> Option<Vec<String>> {
        let index = std::fs::read_to_string(self.0.join("modules.dep")).ok()?;
        kmod::modules_dep(&index, name)
    }
}

#[test]
fn modprobe_follows_depmods_index() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = testkit::fixtures::out_dir().join(format!("modtool-probe-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let include = format!("-I{}", repo.join("kmod/include").display());
    let mut flags = vec!["-O2", "-fPIC", include.as_str()];
    if cfg!(target_arch = "aarch64") {
        flags.push("-mno-outline-atomics");
    }
    for name in ["chardev", "reader"] {
        let source = repo.join(format!("kmod/tests/fixtures/{name}.c"));
        let built = testkit::fixtures::object(&Compiler::host_gcc(), &source, &flags);
        std::fs::write(dir.join(format!("{name}.o")), built.bytes).unwrap();
    }
    let store = Store(dir.clone());
    let kernel = || {
        ModuleManager::new(
            HostMemory::default(),
            KernelTable::new(KERNEL_SYMBOLS).unwrap(),
        )
    };

    // Without the index, reader's own .modinfo names nothing to load first.
    let mgr = kernel();
    let err = mgr.modprobe("reader", &store).unwrap_err();
    assert!(err.to_string().contains("chardev_count"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_modtool"))
        .arg("depmod")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mgr = kernel();
    LOG.lock().unwrap().clear();
    let reader = mgr.modprobe("reader", &store).unwrap();
    assert_eq!(*LOG.lock().unwrap(), ["chardev: init", "reader: init"]);
    let names: Vec<(String, Vec<String>)> = mgr
        .modules()
        .into_iter()
        .map(|m| (m.name, m.uses))
        .collect();
    assert_eq!(
        names,
        [
            ("chardev".to_string(), vec![]),
            ("reader".to_string(), vec!["chardev".to_string()])
        ]
    );
    mgr.rmmod(reader).unwrap();
    mgr.rmmod(mgr.modhandle("chardev").unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
