//! insmod refusals: each names what is wrong and leaves the registry and
//! memory exactly as they were.

mod common;

use common::{module, take_log, Kernel};
use modlib::{LoadError, SymbolKind};
use modlib_kmod::{KernelSymbol, KernelTable, KmodError, ModuleManager};

/// Runs `attempt`, which must fail, and checks that it changed nothing.
fn refused(
    kernel: &Kernel,
    attempt: impl FnOnce() -> Result<modlib_kmod::ModHandle, KmodError>,
) -> KmodError {
    take_log();
    let before = kernel.mgr.modules();
    let syms = kernel.mgr.ksyms();
    let held = kernel.held();
    let err = attempt().expect_err("must be refused");
    assert_eq!(kernel.mgr.modules(), before, "{err}");
    assert_eq!(kernel.mgr.ksyms(), syms, "{err}");
    assert_eq!(kernel.held(), held, "{err}");
    assert!(take_log().is_empty(), "no init may run: {err}");
    err
}

#[test]
fn missing_symbol_is_named() {
    let kernel = Kernel::new();
    let err = refused(&kernel, || kernel.insmod("missing"));
    match &err {
        KmodError::Load {
            module,
            source: LoadError::UndefinedSymbol { name, version },
        } => {
            assert_eq!(module, "missing");
            assert_eq!(name, "no_such_kernel_function");
            assert_eq!(*version, None);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "module `missing`: undefined symbol `no_such_kernel_function`"
    );
    assert_eq!(kernel.mgr.modhandle("missing"), None);
}

#[test]
fn consumer_without_chardev_names_the_first_missing_import() {
    let kernel = Kernel::new();
    let err = refused(&kernel, || kernel.insmod("consumer"));
    assert!(
        matches!(&err, KmodError::Load { source: LoadError::UndefinedSymbol { name, .. }, .. }
            if name.starts_with("chardev_")),
        "{err:?}"
    );
}

#[test]
fn duplicate_name_exists() {
    let kernel = Kernel::new();
    let first = kernel.load("ticker");
    take_log();
    let err = refused(&kernel, || kernel.insmod("ticker"));
    assert_eq!(
        err,
        KmodError::Exists {
            name: "ticker".into()
        }
    );
    assert_eq!(err.to_string(), "module `ticker` already exists");
    // Another module under a name that is not its own: refused, naming
    // both (the name given to insmod never silently overrides MODULE_NAME).
    let err = refused(&kernel, || kernel.mgr.insmod(&module("quiet"), "ticker"));
    assert_eq!(
        err,
        KmodError::NameMismatch {
            given: "ticker".into(),
            declared: "quiet".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "module `quiet` (its MODULE_NAME) cannot be loaded as `ticker`"
    );
    assert_eq!(kernel.mgr.modhandle("ticker"), Some(first));
}

/// The architecture part of ABI tags: this machine's (`module.h` writes
/// the compiler's target architecture, the same one).
const ARCH: &str = std::env::consts::ARCH;

#[test]
fn abi_mismatch_names_both_tags() {
    let kernel = Kernel::new();
    assert_eq!(kernel.mgr.abi(), format!("kmod-1 {ARCH}"));
    let err = refused(&kernel, || kernel.insmod("badabi"));
    assert_eq!(
        err,
        KmodError::AbiMismatch {
            module: format!("kmod-999 {ARCH}"),
            kernel: format!("kmod-1 {ARCH}"),
        }
    );
    assert_eq!(
        err.to_string(),
        format!("module ABI `kmod-999 {ARCH}` does not match kernel ABI `kmod-1 {ARCH}`")
    );
}

#[test]
fn kernel_with_another_abi_refuses_every_module() {
    let memory = common::memory();
    let mgr = ModuleManager::with_abi(
        memory.clone(),
        common::kernel_table(),
        modlib::Machine::default_for_host(),
        format!("kmod-2 {ARCH}"),
    );
    let err = mgr.insmod(&module("quiet"), "quiet").unwrap_err();
    assert_eq!(
        err,
        KmodError::AbiMismatch {
            module: format!("kmod-1 {ARCH}"),
            kernel: format!("kmod-2 {ARCH}"),
        }
    );
    assert!(mgr.modules().is_empty());
    assert_eq!((memory.live_bytes(), memory.live_reservations()), (0, 0));
}

#[test]
fn export_clashing_with_the_kernel_is_refused() {
    let kernel = Kernel::new();
    let err = refused(&kernel, || kernel.insmod("dupkernel"));
    assert_eq!(
        err,
        KmodError::DuplicateExport {
            module: "dupkernel".into(),
            symbol: "kmalloc".into(),
            owner: "kernel".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "module `dupkernel` exports `kmalloc`, already exported by kernel"
    );
}

#[test]
fn export_clashing_with_a_module_is_refused_either_way() {
    let kernel = Kernel::new();
    let chardev = kernel.load("chardev");
    let err = refused(&kernel, || kernel.insmod("dupchardev"));
    assert_eq!(
        err,
        KmodError::DuplicateExport {
            module: "dupchardev".into(),
            symbol: "chardev_count".into(),
            owner: "chardev".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "module `dupchardev` exports `chardev_count`, already exported by chardev"
    );
    kernel.mgr.rmmod(chardev).unwrap();

    // The other order: the clash is reported against the newcomer.
    let dup = kernel.load("dupchardev");
    let err = refused(&kernel, || kernel.insmod("chardev"));
    assert_eq!(
        err,
        KmodError::DuplicateExport {
            module: "chardev".into(),
            symbol: "chardev_count".into(),
            owner: "dupchardev".into(),
        }
    );
    // SAFETY: `int chardev_count(void)` of dupchardev, which stays loaded.
    let f: extern "C" fn() -> i32 = unsafe { kernel.func(dup, "chardev_count") };
    assert_eq!(f(), 99);
}

#[test]
fn export_of_an_undefined_symbol_is_refused() {
    let kernel = Kernel::new();
    let err = refused(&kernel, || kernel.insmod("exportundef"));
    assert_eq!(
        err,
        KmodError::ExportUndefined {
            module: "exportundef".into(),
            symbol: "promised".into(),
        }
    );
    assert_eq!(
        err.to_string(),
        "module `exportundef` exports `promised` but does not define it"
    );
}

#[test]
fn bad_names_and_bad_images() {
    let kernel = Kernel::new();
    let image = module("quiet");
    for name in ["", "a/b", "nul\0", &"x".repeat(65)] {
        let err = refused(&kernel, || kernel.mgr.insmod(&image, name));
        assert_eq!(err, KmodError::InvalidName { name: name.into() });
    }
    assert_eq!(
        KmodError::InvalidName { name: "a/b".into() }.to_string(),
        "invalid module name `a/b`"
    );
    // A module without MODULE_NAME takes the name it is given.
    assert!(
        kernel
            .mgr
            .insmod(&module("noname"), &"x".repeat(64))
            .is_ok(),
        "64 bytes is the limit"
    );

    let err = refused(&kernel, || kernel.mgr.insmod(b"not an object", "junk"));
    assert_eq!(
        err,
        KmodError::Load {
            module: "junk".into(),
            source: LoadError::NotElf,
        }
    );
    assert_eq!(err.to_string(), "module `junk`: not an ELF file");
    let truncated = &image[..image.len() / 2];
    let err = refused(&kernel, || kernel.mgr.insmod(truncated, "truncated"));
    assert!(matches!(err, KmodError::Load { .. }), "{err:?}");
}

#[test]
fn kernel_table_rejects_duplicates_and_sorts() {
    static TWICE: [KernelSymbol; 3] = [
        KernelSymbol {
            name: "b",
            address: std::ptr::null(),
            kind: SymbolKind::Function,
        },
        KernelSymbol {
            name: "a",
            address: std::ptr::null(),
            kind: SymbolKind::Function,
        },
        KernelSymbol {
            name: "b",
            address: std::ptr::null(),
            kind: SymbolKind::Object,
        },
    ];
    let dup = KernelTable::new(&TWICE).unwrap_err();
    assert_eq!(dup.name, "b");
    let table = KernelTable::new(&TWICE[..2]).unwrap();
    let names: Vec<&str> = table.table().iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["a", "b"]);
}

/// A module larger than the manager's limit is refused, naming its size
/// and the limit, before any memory is reserved for it; the default limit
/// is a kernel's 64 MiB, and the limit can be lifted.
#[test]
fn a_module_beyond_the_size_limit_is_refused_before_reserving() {
    let kernel = Kernel::new();
    assert_eq!(
        kernel.mgr.max_module_size(),
        Some(modlib_kmod::DEFAULT_MAX_MODULE_SIZE)
    );
    let memory = common::memory();
    let mgr =
        ModuleManager::new(memory.clone(), common::kernel_table()).with_max_module_size(Some(4096));
    let err = mgr
        .insmod(&module("counter"), "counter")
        .expect_err("too large");
    assert!(
        matches!(
            &err,
            KmodError::Load { source: LoadError::ImageTooLarge { size, limit: 4096 }, .. }
                if *size > 4096
        ),
        "{err:?}"
    );
    assert_eq!(memory.reserved_total(), 0, "reserved before refusing");
    assert!(mgr.modules().is_empty());
    let mgr = mgr.with_max_module_size(None);
    let handle = mgr.insmod(&module("counter"), "counter").expect("no limit");
    mgr.rmmod(handle).expect("rmmod");
    assert_eq!(memory.live_bytes(), 0);
}
