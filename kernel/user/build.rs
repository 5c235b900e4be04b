//! Links the user image with its machine's linker script (`link-riscv64.ld`,
//! `link-arm.ld`) and builds the C half of the runtime (`c/runtime.c`)
//! with the machine's cross compiler.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let script = format!("link-{arch}.ld");
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        dir.join(&script).display()
    );
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-changed=c/runtime.c");
    let (cc, machine_flags): (String, &[&str]) = if arch == "arm" {
        (
            std::env::var("ARM_CC").unwrap_or_else(|_| String::from("arm-none-eabi-gcc")),
            &[
                "-mcpu=cortex-m4",
                "-mthumb",
                "-mfloat-abi=hard",
                "-mfpu=fpv4-sp-d16",
            ],
        )
    } else {
        (
            std::env::var("RISCV_CC").unwrap_or_else(|_| String::from("riscv64-linux-gnu-gcc")),
            &["-mcmodel=medany", "-mno-relax"],
        )
    };
    let object = out.join("runtime.o");
    let status = Command::new(&cc)
        .args(["-c", "-O2", "-ffreestanding", "-fno-builtin", "-fno-pic"])
        .args(machine_flags)
        .args(["-Wall", "-Werror"])
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
