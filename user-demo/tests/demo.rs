//! Builds the C plugins with gcc, runs the user-demo binary on them, and
//! checks what it reports: each working plugin's output, the broken one's
//! load error naming the missing symbol, the unloading and the summary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PLUGINS: &[&str] = &["broken", "reverse", "stats", "upper"];

/// Compiles `source` into `dir/<stem>.so` the way scripts/demo.sh does.
fn compile(source: &Path, dir: &Path) {
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    let stem = source.file_stem().expect("source file name");
    let output = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-I"])
        .arg(&plugins)
        .arg(source)
        .arg("-o")
        .arg(dir.join(stem).with_extension("so"))
        .arg("-lm")
        .output()
        .expect("run gcc");
    assert!(
        output.status.success(),
        "gcc {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fresh directory under the target's temporary directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create plugin directory");
    dir
}

/// The shipped plugins, built into a directory of their own.
fn shipped(name: &str) -> PathBuf {
    let dir = fresh_dir(name);
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    for plugin in PLUGINS {
        compile(&plugins.join(plugin).with_extension("c"), &dir);
    }
    dir
}

fn demo(args: &[&std::ffi::OsStr]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_user-demo"))
        .args(args)
        .output()
        .expect("run user-demo");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report = format!(
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (output, report)
}

fn has_line(stdout: &str, pred: impl Fn(&str) -> bool) -> bool {
    stdout.lines().any(|l| pred(l.trim()))
}

#[test]
fn runs_the_shipped_plugins_and_reports_the_broken_one() {
    let dir = shipped("user-demo-plugins");
    let (output, report) = demo(&[dir.as_os_str(), "Hello, protected world".as_ref()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");

    // Metadata listed.
    for (file, name, description) in [
        ("reverse.so", "reverse", "reverses the text"),
        (
            "stats.so",
            "stats",
            "counts words and characters, sorts the words by length",
        ),
        ("upper.so", "upper", "upper-cases ASCII letters"),
    ] {
        assert!(
            has_line(&stdout, |l| l.starts_with(file)
                && l.contains(name)
                && l.ends_with(description)),
            "metadata of {file}\n{report}"
        );
    }
    // Each plugin's output.
    assert!(
        stdout.contains(r#"upper    -> "HELLO, PROTECTED WORLD""#),
        "{report}"
    );
    assert!(
        stdout.contains(r#"reverse  -> "dlrow detcetorp ,olleH""#),
        "{report}"
    );
    assert!(
        stdout.contains(
            r#"stats    -> "3 words, 22 chars, word length 6.67 +/- 1.70; by length: world Hello, protected""#
        ),
        "{report}"
    );
    // The broken plugin: reported with the loader's error, never run.
    assert!(
        has_line(&stdout, |l| l.starts_with("broken.so")
            && l.contains("FAILED TO LOAD")
            && l.contains(
                "undefined symbol `plugin_helper_that_does_not_exist`"
            )),
        "{report}"
    );
    assert!(!stdout.contains("broken   ->"), "{report}");
    // Unloaded, nothing left behind.
    for name in ["reverse", "stats", "upper"] {
        assert!(
            has_line(&stdout, |l| l == format!("{name:<8} unloaded")),
            "{report}"
        );
    }
    assert!(
        stdout.contains("objects still loaded by our loader: 0"),
        "{report}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("4 plugins: 3 ran, 1 failed to load"),
        "{report}"
    );
}

#[test]
fn input_comes_from_the_command_line() {
    let dir = shipped("user-demo-plugins-input");
    let (output, report) = demo(&[dir.as_os_str(), "abc  de".as_ref()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(stdout.contains(r#"upper    -> "ABC  DE""#), "{report}");
    assert!(stdout.contains(r#"reverse  -> "ed  cba""#), "{report}");
    assert!(
        stdout.contains(
            r#"stats    -> "2 words, 7 chars, word length 2.50 +/- 0.50; by length: de abc""#
        ),
        "{report}"
    );
}

#[test]
fn a_plugin_without_plugin_run_is_reported() {
    let dir = fresh_dir("user-demo-plugins-norun");
    let source = dir.join("norun.c");
    std::fs::write(
        &source,
        "const char *plugin_name(void) { return \"norun\"; }\n\
         const char *plugin_description(void) { return \"has no plugin_run\"; }\n",
    )
    .expect("write norun.c");
    compile(&source, &dir);
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    compile(&plugins.join("upper.c"), &dir);
    let (output, report) = demo(&[dir.as_os_str()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}");
    assert!(
        has_line(&stdout, |l| l.starts_with("norun.so")
            && l.contains("FAILED TO LOAD")
            && l.contains("undefined symbol: plugin_run")),
        "{report}"
    );
    // The default input.
    assert!(
        stdout.contains(r#"upper    -> "HELLO, PROTECTED WORLD""#),
        "{report}"
    );
    assert_eq!(
        stdout.lines().last(),
        Some("2 plugins: 1 ran, 1 failed to load"),
        "{report}"
    );
}

#[test]
fn a_missing_directory_is_an_error() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("user-demo-no-such-dir");
    let (output, report) = demo(&[dir.as_os_str()]);
    assert_eq!(output.status.code(), Some(2), "{report}");
    assert!(report.contains("cannot read plugin directory"), "{report}");
}
