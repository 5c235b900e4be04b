//! Links the user image with its machine's linker script (`link-riscv64.ld`,
//! `link-arm.ld`) and builds the C half of the runtime (`c/runtime.c`)
//! with the machine's cross compiler. On Arm it adds the C++ runtime:
//! `c/cxx.cc`, and the toolchain's `libsupc++` and `libgcc` (its EHABI
//! unwinder) for the same CPU and float ABI.

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
    println!("cargo:rerun-if-changed=c/cxx.cc");
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
    let compile = |compiler: &str, source: &str, extra: &[&str]| {
        let object = out.join(format!("{source}.o").replace('/', "_"));
        let status = Command::new(compiler)
            .args(["-c", "-O2", "-ffreestanding", "-fno-pic"])
            .args(machine_flags)
            .args(extra)
            .args(["-Wall", "-Werror"])
            .arg(dir.join(source))
            .arg("-o")
            .arg(&object)
            .status()
            .unwrap_or_else(|e| panic!("running {compiler}: {e}"));
        assert!(status.success(), "{compiler} failed on {source}");
        object
    };
    let mut objects = vec![compile(&cc, "c/runtime.c", &["-fno-builtin"])];
    if arch == "arm" {
        // The C++ runtime built for bare metal reads the typeinfo words of
        // exception tables (R_ARM_TARGET2) as PC-relative, as GNU ld links
        // them for arm-none-eabi; lld's default is GOT-relative.
        println!("cargo:rustc-link-arg-bins=--target2=rel");
        let cxx = cc.replace("gcc", "g++");
        objects.push(compile(&cxx, "c/cxx.cc", &[]));
        for query in ["-print-file-name=libsupc++.a", "-print-libgcc-file-name"] {
            let output = Command::new(&cxx)
                .args(machine_flags)
                .arg(query)
                .output()
                .unwrap_or_else(|e| panic!("running {cxx}: {e}"));
            let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            assert!(path.is_file(), "{cxx} {query}: no such library");
            let lib = path.file_stem().unwrap().to_string_lossy();
            println!(
                "cargo:rustc-link-search=native={}",
                path.parent().unwrap().display()
            );
            println!(
                "cargo:rustc-link-lib=static={}",
                lib.trim_start_matches("lib")
            );
        }
    }
    let ar = cc.replace("gcc", "ar");
    let lib = out.join("libruntime.a");
    let _ = std::fs::remove_file(&lib);
    let status = Command::new(&ar)
        .arg("crs")
        .arg(&lib)
        .args(&objects)
        .status()
        .expect("run ar");
    assert!(status.success(), "{ar} failed");
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=runtime");
}
