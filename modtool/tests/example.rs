//! `kmod/example` builds with `kmod/module.mk` for every machine whose
//! compiler is installed, and each result loads with `modlib` for its
//! machine against a table of what it imports; on the build machine it
//! also runs under kmod.

use std::ffi::{c_char, CStr};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use kmod::{KernelTable, ModuleManager};
use modlib::{LoadOptions, Machine, ProviderId, SymbolEntry, SymbolKind, SymbolTable};
use testkit::{HostMemory, Placement};

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn printk(msg: *const c_char) {
    // SAFETY: modules pass NUL-terminated strings.
    let line = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned();
    LOG.lock().unwrap().push(line);
}

kmod::export_symbols!(KERNEL_SYMBOLS = [fn printk]);

/// The compiler module.mk picks for `arch` on this build machine.
fn compiler(arch: &str) -> String {
    if arch == std::env::consts::ARCH {
        return "gcc".into();
    }
    let prefix = match arch {
        "x86_64" => "x86_64-linux-gnu-",
        "aarch64" => "aarch64-linux-gnu-",
        "riscv64" => "riscv64-linux-gnu-",
        "arm" => "arm-none-eabi-",
        "riscv32" => "riscv64-unknown-elf-",
        other => panic!("no machine {other}"),
    };
    format!("{prefix}gcc")
}

fn installed(command: &str) -> bool {
    Command::new(command)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn example_builds_and_loads_for_every_installed_machine() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmod/example");
    let out = testkit::fixtures::out_dir().join(format!("modtool-example-{}", std::process::id()));
    let mut built = Vec::new();
    for machine in Machine::ALL {
        let arch = machine.name();
        if !installed(&compiler(arch)) {
            assert_ne!(
                arch,
                std::env::consts::ARCH,
                "the build machine's gcc is needed"
            );
            eprintln!("note: {} not installed; {arch} not built", compiler(arch));
            continue;
        }
        let dir = out.join(arch);
        let make = Command::new("make")
            .arg("-C")
            .arg(&example)
            .arg(format!("ARCH={arch}"))
            .arg(format!("KMOD_OUT={}", dir.display()))
            .output()
            .expect("run make");
        assert!(
            make.status.success(),
            "make ARCH={arch}: {}",
            String::from_utf8_lossy(&make.stderr)
        );
        let bytes = std::fs::read(dir.join("hello.o")).unwrap();

        let object =
            modlib::Object::parse(&bytes, machine).unwrap_or_else(|e| panic!("{arch}: {e}"));
        let info = object.modinfo().unwrap();
        assert_eq!(info.get("name"), Some("hello"));
        assert_eq!(info.get("abi"), Some(kmod::abi_tag(machine).as_str()));
        let imports: Vec<String> = object
            .undefined_symbols()
            .unwrap()
            .into_iter()
            .map(|u| u.name)
            .collect();
        assert_eq!(imports, ["printk"], "{arch}");
        let table = SymbolTable::new(
            vec![SymbolEntry::new("printk", 0x1000_0000, SymbolKind::Other)],
            ProviderId(0),
        )
        .unwrap();
        let options = LoadOptions {
            machine,
            ..LoadOptions::default()
        };
        let image = object
            .load(&options, HostMemory::new(Placement::Low2G), &table)
            .unwrap_or_else(|e| panic!("{arch}: {e}"));
        assert!(image.symbol("hello_greet").is_some(), "{arch}");
        assert_eq!(image.imports()[0].address, 0x1000_0000, "{arch}");
        built.push(arch);

        if Machine::host() == Some(machine) {
            let mgr = ModuleManager::new(
                HostMemory::default(),
                KernelTable::new(KERNEL_SYMBOLS).unwrap(),
            );
            let hello = mgr.insmod(&bytes, "hello").unwrap();
            let greet = mgr.modsym(hello, "hello_greet").unwrap();
            // SAFETY: `int hello_greet(void)`; the module stays loaded.
            let greet: extern "C" fn() -> i32 = unsafe { std::mem::transmute(greet) };
            assert_eq!((greet(), greet()), (1, 2));
            mgr.rmmod(hello).unwrap();
            assert_eq!(
                *LOG.lock().unwrap(),
                [
                    "hello: loaded",
                    "hello: greetings",
                    "hello: greetings",
                    "hello: unloaded"
                ]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);
    eprintln!("built and loaded for {built:?}");
    assert!(built.contains(&std::env::consts::ARCH));
}
