//! Links the user image at the user base address and builds the C half of
//! the runtime (`c/runtime.c`) with the riscv64 cross compiler.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        dir.join("link.ld").display()
    );
    println!("cargo:rerun-if-changed=link.ld");
    println!("cargo:rerun-if-changed=c/runtime.c");
    let cc = std::env::var("RISCV_CC").unwrap_or_else(|_| String::from("riscv64-linux-gnu-gcc"));
    let object = out.join("runtime.o");
    let status = Command::new(&cc)
        .args([
            "-c",
            "-O2",
            "-ffreestanding",
            "-fno-builtin",
            "-fno-pic",
            "-mcmodel=medany",
            "-mno-relax",
            "-Wall",
            "-Werror",
        ])
        .arg(dir.join("c/runtime.c"))
        .arg("-o")
        .arg(&object)
        .status()
        .unwrap_or_else(|e| panic!("running {cc}: {e}"));
    assert!(status.success(), "{cc} failed on c/runtime.c");
    let ar = cc.replace("gcc", "ar");
    let lib = out.join("libruntime.a");
    let _ = std::fs::remove_file(&lib);
    let status = Command::new(&ar)
        .arg("crs")
        .arg(&lib)
        .arg(&object)
        .status()
        .expect("run ar");
    assert!(status.success(), "{ar} failed");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=runtime");
}
