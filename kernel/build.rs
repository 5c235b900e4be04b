//! Links the kernel with its machine's linker script (`link-riscv64.ld`,
//! `link-arm.ld`) and packs the ramfs: the files listed in the directory
//! named by `RAMFS_DIR` (built by `scripts/build-kernel.sh`) become a
//! read-only file system in the image.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let script = format!("link-{arch}.ld");
    println!(
        "cargo:rustc-link-arg-bins=-T{}",
        dir.join(&script).display()
    );
    println!("cargo:rerun-if-changed={script}");
    println!("cargo:rerun-if-env-changed=RAMFS_DIR");
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let mut table = String::from("/// Files packed into the image: (name, contents).\npub static FILES: &[(&str, &[u8])] = &[\n");
    if let Ok(ramfs) = std::env::var("RAMFS_DIR") {
        println!("cargo:rerun-if-changed={ramfs}");
        let mut entries: Vec<_> = std::fs::read_dir(&ramfs)
            .expect("RAMFS_DIR is readable")
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .collect();
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let path = e.path();
            println!("cargo:rerun-if-changed={}", path.display());
            let name = e.file_name().into_string().expect("UTF-8 file name");
            writeln!(
                table,
                "    ({name:?}, include_bytes!({:?})),",
                path.display().to_string()
            )
            .unwrap();
        }
    }
    table.push_str("];\n");
    std::fs::write(out.join("ramfs_files.rs"), table).unwrap();
}
