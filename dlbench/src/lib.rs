//! `dlbench`: times `dlopen(RTLD_NOW)` + `dlsym` of ten exports + `dlclose`
//! on generated libraries of about 100, 10,000 and 200,000 relocations with
//! this project's loader (`dl`, through its safe wrapper, without the C-ABI
//! exports, so glibc's `dlopen` stays glibc's), glibc's `dlopen`, and the
//! `elf_loader` and `dlopen-rs` crates; plus `dlsym` per lookup over every
//! export of the largest library. `scripts/bench.sh` runs the `dlbench`
//! binary; `cargo bench -p dlbench` runs the same through criterion.

pub mod cdriver;
pub mod clock;
pub mod elf_loader_runner;
pub mod fixture;
pub mod loaders;
pub mod measure;
pub mod real;
pub mod relocs;
pub mod scaling;
pub mod worker;
