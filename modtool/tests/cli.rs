//! `modtool` run as a program on modules compiled at test time from kmod's
//! fixtures: what it prints and its exit status.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use testkit::Compiler;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir =
            testkit::fixtures::out_dir().join(format!("modtool-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    /// kmod fixture `name` compiled with the host's gcc, as `<dir>/<name>.o`.
    fn module(&self, name: &str) -> PathBuf {
        let include = format!("-I{}", repo().join("kmod/include").display());
        let mut flags = vec!["-O2", "-fPIC", "-Wall", include.as_str()];
        if cfg!(target_arch = "aarch64") {
            flags.push("-mno-outline-atomics");
        }
        let source = repo().join(format!("kmod/tests/fixtures/{name}.c"));
        let built = testkit::fixtures::object(&Compiler::host_gcc(), &source, &flags);
        let path = self.0.join(format!("{name}.o"));
        std::fs::write(&path, built.bytes).unwrap();
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn modtool(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modtool"))
        .args(args.iter().map(AsRef::as_ref))
        .output()
        .expect("run modtool")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn host() -> &'static str {
    modlib::Machine::host().expect("a supported host").name()
}

#[test]
fn info_shows_modinfo_sizes_symbols_and_relocations() {
    let dir = Scratch::new("info");
    let chardev = dir.module("chardev");
    let out = modtool(&[&"info", &chardev]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    for line in [
        "name:        chardev",
        "version:     1.2.3",
        "license:     MIT",
        "description: character device registry",
        "author:      kmod tests",
        "type:        relocatable",
        "export:      chardev_read",
        "export:      chardev_major",
        "import:      kmalloc",
        "import:      klog",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in:\n{text}");
    }
    assert!(
        text.contains(&format!("abi:         kmod-1 {}\n", host())),
        "{text}"
    );
    assert!(
        text.contains(&format!("machine:     {}\n", host())),
        "{text}"
    );
    assert!(!text.contains("import:      chardev_read"), "{text}");
    let size = text
        .lines()
        .find(|l| l.starts_with("size:"))
        .expect("a size line");
    let text_bytes: u64 = size
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.trim_end_matches(',').parse().ok())
        .expect("text size");
    assert!(text_bytes > 0, "{size}");
    let relocations = text
        .lines()
        .filter(|l| l.starts_with("relocation:"))
        .count();
    assert!(relocations > 0, "{text}");
    assert!(
        !text.contains("relocation:  type "),
        "common types are named:\n{text}"
    );
}

#[test]
fn check_passes_against_the_table_symtab_writes() {
    let dir = Scratch::new("pass");
    let (chardev, consumer) = (dir.module("chardev"), dir.module("consumer"));
    let out = modtool(&[&"symtab", &"--from-modules", &chardev, &consumer]);
    assert!(out.status.success(), "{out:?}");
    // chardev's exports are not the kernel's to provide.
    assert_eq!(stdout(&out), "kfree\nklog\nkmalloc\nmemcpy\nstrlen\n");
    let table = dir.path("symbols.txt");
    std::fs::write(&table, &out.stdout).unwrap();

    let out = modtool(&[&"check", &chardev, &consumer, &"--symbols", &table]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("ok: chardev ("), "{text}");
    assert!(text.contains("ok: consumer ("), "{text}");
    assert!(!text.contains("error"), "{text}");
}

#[test]
fn check_names_unresolved_symbols_missing_modules_and_wrong_abi() {
    let dir = Scratch::new("fail");
    let (chardev, consumer, missing) = (
        dir.module("chardev"),
        dir.module("consumer"),
        dir.module("missing"),
    );
    let table = dir.path("symbols.txt");
    std::fs::write(
        &table,
        "# test kernel\nklog\nkmalloc\nkfree\nmemcpy\nstrlen\n",
    )
    .unwrap();

    let out = modtool(&[&"check", &missing, &chardev, &"--symbols", &table]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("error: module `missing`: undefined symbol `no_such_kernel_function`\n"),
        "{text}"
    );
    assert!(text.contains("ok: chardev ("), "{text}");

    // consumer alone: chardev's exports are unresolved, and chardev,
    // which it depends on, is not among the modules.
    let out = modtool(&[&"check", &consumer, &"--symbols", &table]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("undefined symbol `chardev_register`"),
        "{text}"
    );
    assert!(
        text.contains("error: module `chardev` needed by `consumer` not found\n"),
        "{text}"
    );

    let wrong = format!("kmod-999 {}", host());
    let out = modtool(&[&"check", &chardev, &"--symbols", &table, &"--abi", &wrong]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stdout(&out),
        format!(
            "error: module `chardev`: module ABI `kmod-1 {0}` does not match kernel ABI `kmod-999 {0}`\n",
            host()
        )
    );
}

#[test]
fn check_names_dependency_cycles() {
    let dir = Scratch::new("cycle");
    let (x, y) = (dir.module("cycle_x"), dir.module("cycle_y"));
    let table = dir.path("symbols.txt");
    std::fs::write(&table, "klog\n").unwrap();
    let out = modtool(&[&"check", &x, &y, &"--symbols", &table]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("error: dependency cycle: cycle_x -> cycle_y -> cycle_x\n"),
        "{text}"
    );
}

#[test]
fn depmod_writes_what_modules_import_from_each_other() {
    let dir = Scratch::new("depmod");
    for name in ["chardev", "consumer", "reader", "missing"] {
        dir.module(name);
    }
    let out = modtool(&[&"depmod", &dir.0]);
    assert!(out.status.success(), "{out:?}");
    let index = std::fs::read_to_string(dir.path("modules.dep")).unwrap();
    // reader declares no depends=: its import of chardev_count says it.
    assert_eq!(
        index,
        "chardev:\nconsumer: chardev\nmissing:\nreader: chardev\n"
    );
    assert_eq!(
        kmod::modules_dep(&index, "reader"),
        Some(vec!["chardev".to_string()])
    );
}

#[test]
fn symtab_from_a_kernel_image_keeps_kinds_and_names_what_it_lacks() {
    let dir = Scratch::new("symtab");
    let chardev = dir.module("chardev");
    let source = dir.path("kernel.c");
    std::fs::write(
        &source,
        "typedef unsigned long size_t;\n\
         volatile unsigned long KERNEL_TICKS;\n\
         void klog(const char *m) { (void)m; }\n\
         void *kmalloc(size_t n) { (void)n; return 0; }\n\
         void kfree(void *p) { (void)p; }\n\
         size_t strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }\n\
         static int helper(void) { return 1; }\n\
         int main(void) { return helper() + (int)KERNEL_TICKS; }\n",
    )
    .unwrap();
    let kernel = testkit::fixtures::build(
        &Compiler::host_gcc(),
        &[&source],
        &["-O2", "-fno-builtin", "-nostdlib", "-static", "-Wl,-e,main"],
        "elf",
    )
    .path;

    let out = modtool(&[&"symtab", &"--from-elf", &kernel, &"--format", &"rust"]);
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with("modlib_kmod::export_symbols!(KERNEL_SYMBOLS = [\n"),
        "{text}"
    );
    assert!(text.contains("    data KERNEL_TICKS,\n"), "{text}");
    assert!(text.contains("    fn klog,\n"), "{text}");
    assert!(!text.contains("helper"), "{text}");

    // What chardev imports that this kernel defines; it lacks memcpy.
    let out = modtool(&[
        &"symtab",
        &"--from-modules",
        &chardev,
        &"--from-elf",
        &kernel,
        &"--format",
        &"c",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("    { \"kmalloc\", (const void *)&kmalloc },\n"),
        "{text}"
    );
    assert!(
        !text.contains("KERNEL_TICKS") && !text.contains("\"memcpy\""),
        "{text}"
    );
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        errors.contains("`memcpy` is imported by modules but not defined by"),
        "{errors}"
    );
}

#[test]
fn every_command_has_help_and_bad_usage_exits_2() {
    for command in ["info", "check", "depmod", "symtab"] {
        let out = modtool(&[&command, &"--help"]);
        assert!(out.status.success(), "{out:?}");
        assert!(
            stdout(&out).starts_with(&format!("usage: modtool {command}")),
            "{out:?}"
        );
    }
    assert_eq!(modtool(&[&"check", &"x.o"]).status.code(), Some(2));
    assert_eq!(modtool(&[&"frobnicate"]).status.code(), Some(2));
    assert_eq!(
        modtool(&[&"symtab", &"--format", &"yaml", &"--from-elf", &"k"])
            .status
            .code(),
        Some(2)
    );
}
