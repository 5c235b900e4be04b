//! Shared by the execution tests (`exec_rel.rs`, `exec_dyn.rs`): the build
//! matrix of the C fixtures, the host symbol table they link against, typed
//! access to a loaded image's symbols, and the checks every loaded
//! `module.c` must pass whatever way it was built.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void, CStr};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

use modlib::{
    LoadedImage, Memory, Protection, ProviderId, Region, SymbolEntry, SymbolKind, SymbolTable,
};
use testkit::{fixtures, Compiler, Fixture, Placement};

/// The provider id the host table reports.
pub const HOST: ProviderId = ProviderId(1);

/// Flags every fixture is built with: `-fcommon` so tentative definitions
/// become `SHN_COMMON`, no stack protector (there is no libc to provide
/// `__stack_chk_fail`), and `.eh_frame` on every machine (the RISC-V gcc
/// leaves it out by default).
const BASE_FLAGS: [&str; 3] = [
    "-fcommon",
    "-fno-stack-protector",
    "-fasynchronous-unwind-tables",
];

/// Path of a fixture source.
pub fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

// ---------------------------------------------------------------------------
// The build matrix
// ---------------------------------------------------------------------------

/// One way of building a fixture: compiler, flags, and where it must load.
#[derive(Debug, Clone)]
pub struct Build {
    /// The compiler driver.
    pub compiler: Compiler,
    /// Flags (without the output-kind flag and [`BASE_FLAGS`]).
    pub flags: Vec<&'static str>,
    /// Where the image must be placed: non-PIC small-model code of a 64-bit
    /// machine needs the low 2 GiB.
    pub placement: Placement,
    /// Whether the code may reference host addresses directly (PIC through
    /// the GOT, or the large model), not only call host functions.
    pub direct_host_refs: bool,
}

impl Build {
    /// A build of `compiler` with `flags`; placement and direct host
    /// references follow from the code model. On a 32-bit machine every
    /// build reaches every address: its absolute fields are 32 bits wide.
    pub fn new(compiler: &Compiler, flags: &[&'static str]) -> Self {
        let non_pic_small = cfg!(target_pointer_width = "64")
            && flags.contains(&"-fno-pic")
            && !flags.contains(&"-mcmodel=large");
        Build {
            compiler: compiler.clone(),
            flags: flags.to_vec(),
            placement: if non_pic_small {
                Placement::Low2G
            } else {
                Placement::Anywhere
            },
            direct_host_refs: !non_pic_small,
        }
    }

    /// All flags passed to the compiler, with `extra` appended.
    pub fn all_flags<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut all: Vec<&str> = BASE_FLAGS.to_vec();
        all.extend(self.flags.iter().copied());
        all.extend_from_slice(extra);
        all
    }

    /// Compiles `src` to a relocatable object.
    pub fn object(&self, src: &str, extra: &[&str]) -> Fixture {
        fixtures::object(&self.compiler, &source(src), &self.all_flags(extra))
    }

    /// Links the fixtures `sources` (file names in `tests/fixtures`) into a
    /// shared object with `-nostdlib`; `extra` may name further inputs.
    pub fn shared(&self, sources: &[&str], extra: &[&str]) -> Fixture {
        let mut flags = self.all_flags(&["-nostdlib"]);
        if Compiler::cross_triple().is_some() {
            // Read-only data in its own segment, as x86-64 GNU ld does by
            // default (the RISC-V and AArch64 ones put it beside the code).
            flags.push("-Wl,-z,separate-code");
        }
        flags.extend_from_slice(extra);
        let paths: Vec<PathBuf> = sources.iter().map(|s| source(s)).collect();
        let paths: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
        fixtures::shared(&self.compiler, &paths, &flags)
    }

    /// Whether the flags select `flag`.
    pub fn has(&self, flag: &str) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether this is one of the plain builds: an optimisation level and
    /// `-fPIC` or `-fno-pic`, nothing else.
    pub fn is_basic(&self) -> bool {
        self.flags.len() == 2
    }
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{} {}]", self.compiler.command(), self.flags.join(" "))
    }
}

/// Every way `module.c` is built as a relocatable object: gcc and clang
/// × -O0/-O2 × -fPIC/-fno-pic, plus builds chosen for the relocation types
/// they produce. On x86-64: `-fno-plt` (GOTPCRELX), no relocation
/// relaxation (GOTPCREL), the medium model (GOTPC32, GOTOFF64) and the
/// large model (GOTPC64, GOTOFF64, GOT64, PLTOFF64, PC64; PIC and
/// absolute). On riscv64: medany and `-mno-relax`. On aarch64: `-fpic`
/// (GOTPAGE_LO15) and the large model (MOVW groups or literal pools). On
/// 32-bit Arm, where the plain builds are Thumb-2: Arm state (`-marm`: CALL,
/// JUMP24, MOVW/MOVT, GOT_BREL or GOT_PREL), calls through registers
/// (`-mlong-calls`), and literal pools instead of MOVW/MOVT (ABS32). (No
/// M-profile build: its calls to the Arm-state host would need `BLX`, which
/// M-profile lacks, so the loader rightly refuses them.)
pub fn rel_matrix() -> Vec<Build> {
    let mut out = Vec::new();
    for cc in Compiler::host_compilers() {
        for opt in ["-O0", "-O2"] {
            for pic in ["-fPIC", "-fno-pic"] {
                out.push(Build::new(&cc, &[opt, pic]));
            }
        }
        if cfg!(target_arch = "riscv64") {
            out.push(Build::new(&cc, &["-O2", "-fno-pic", "-mcmodel=medany"]));
            out.push(Build::new(&cc, &["-O2", "-fPIC", "-mno-relax"]));
            continue;
        }
        if cfg!(target_arch = "aarch64") {
            out.push(Build::new(&cc, &["-O2", "-fpic"]));
            out.push(Build::new(&cc, &["-O2", "-mcmodel=large", "-fno-pic"]));
            continue;
        }
        if cfg!(target_arch = "arm") {
            out.push(Build::new(&cc, &["-O2", "-fPIC", "-marm"]));
            out.push(Build::new(&cc, &["-O0", "-fno-pic", "-marm"]));
            out.push(Build::new(&cc, &["-O2", "-fno-pic", "-mlong-calls"]));
            let literal_pools = if matches!(cc, Compiler::ClangTarget(_)) {
                "-mno-movt"
            } else {
                "-mword-relocations"
            };
            out.push(Build::new(&cc, &["-O2", "-fno-pic", literal_pools]));
            continue;
        }
        out.push(Build::new(&cc, &["-O2", "-fPIC", "-fno-plt"]));
        out.push(Build::new(
            &cc,
            &["-O1", "-fPIC", "-Wa,-mrelax-relocations=no"],
        ));
        out.push(Build::new(&cc, &["-O2", "-mcmodel=medium", "-fPIC"]));
        for opt in ["-O0", "-O2"] {
            out.push(Build::new(&cc, &[opt, "-mcmodel=large", "-fPIC"]));
        }
        out.push(Build::new(&cc, &["-O2", "-mcmodel=large", "-fno-pic"]));
    }
    out
}

/// The small-model builds only: gcc and clang × -O0/-O2 × -fPIC/-fno-pic.
pub fn basic_rel_matrix() -> Vec<Build> {
    rel_matrix().into_iter().filter(Build::is_basic).collect()
}

/// Every way `module.c` is linked as a shared object (always `-fPIC
/// -nostdlib`): gcc and clang × -O0/-O2 with the system linker, and -O2
/// with lld, which lays segments out differently (clang only when cross
/// compiling: a cross gcc does not find `ld.lld`). On 32-bit Arm also an
/// Arm-state (`-marm`) build beside the Thumb-2 ones.
pub fn dyn_matrix() -> Vec<Build> {
    let mut out = Vec::new();
    for cc in Compiler::host_compilers() {
        for opt in ["-O0", "-O2"] {
            out.push(Build::new(&cc, &[opt, "-fPIC"]));
        }
        if cfg!(target_arch = "arm") {
            out.push(Build::new(&cc, &["-O2", "-fPIC", "-marm"]));
        }
        if Compiler::cross_triple().is_none() || matches!(cc, Compiler::ClangTarget(_)) {
            out.push(Build::new(&cc, &["-O2", "-fPIC", "-fuse-ld=lld"]));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The host side
// ---------------------------------------------------------------------------

thread_local! {
    /// What the module reported through `host_trace`, on this test thread.
    static TRACE: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
    /// The value behind `host_get`/`host_set`, on this test thread.
    static VALUE: Cell<i32> = const { Cell::new(0) };
}

/// Takes what `host_trace` recorded on this thread so far.
pub fn take_trace() -> Vec<i32> {
    TRACE.with(|t| std::mem::take(&mut *t.borrow_mut()))
}

/// Sets the value behind `host_get`.
pub fn set_host_value(v: i32) {
    VALUE.with(|c| c.set(v));
}

/// The value behind `host_get`.
pub fn host_value() -> i32 {
    VALUE.with(Cell::get)
}

/// Host function: a sum.
pub extern "C" fn host_add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

extern "C" fn host_trace(code: i32) {
    TRACE.with(|t| t.borrow_mut().push(code));
}

extern "C" fn host_get() -> i32 {
    host_value()
}

extern "C" fn host_set(v: i32) {
    set_host_value(v);
}

/// Calls a module function handed over by the module.
extern "C" fn host_call_back(f: extern "C" fn(i32) -> i32, x: i32) -> i32 {
    f(x) * 2 + 1
}

/// Provided to satisfy the module's weak reference `host_optional`.
pub extern "C" fn host_optional(x: i32) -> i32 {
    x * 100 + 1
}

/// `memset` for the module (compilers may emit calls to it).
unsafe extern "C" fn host_memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void {
    // SAFETY: the caller (C code) passes a writable buffer of `n` bytes.
    unsafe { std::ptr::write_bytes(dst.cast::<u8>(), c as u8, n) };
    dst
}

/// `memcpy` for the module (compilers may emit calls to it).
unsafe extern "C" fn host_memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: the caller (C code) passes non-overlapping buffers of `n` bytes.
    unsafe { std::ptr::copy_nonoverlapping(src.cast::<u8>(), dst.cast::<u8>(), n) };
    dst
}

/// The name the module reads through `host_name`.
pub const HOST_NAME: &CStr = c"host side";

/// Host data the module may reference directly (`host_value`,
/// `host_array`, `host_name`). One per load, so parallel tests do not share
/// it; atomics because loaded code writes it behind Rust's back.
#[derive(Debug)]
pub struct HostData {
    /// `int host_value`.
    pub value: AtomicI32,
    /// `int host_array[4]`.
    pub array: [AtomicI32; 4],
    /// `const char *host_name`.
    pub name: AtomicPtr<c_char>,
}

impl HostData {
    /// Fresh host data: value 20, array {1, 2, 3, 0}, name "host side".
    /// Keep it in place while an image loaded against it lives.
    pub fn new() -> Self {
        HostData {
            value: AtomicI32::new(20),
            array: [1, 2, 3, 0].map(AtomicI32::new),
            name: AtomicPtr::new(HOST_NAME.as_ptr().cast_mut()),
        }
    }
}

/// The address of a host function (`f as *const ()`), as the symbol table
/// stores it.
pub fn fn_addr(f: *const ()) -> u64 {
    f as usize as u64
}

// What the host provides on 32-bit Arm, as a Linux kernel does for its
// modules: the personality routines of the exception-handling ABI, which
// `.ARM.exidx` entries name (with `R_ARM_NONE`) so that a linker keeps
// them, and the run-time ABI's integer division, which Arm-state code calls
// (ARMv7-A need not divide in hardware). libgcc and Rust's compiler
// builtins define them.
#[cfg(target_arch = "arm")]
extern "C" {
    fn __aeabi_unwind_cpp_pr0();
    fn __aeabi_unwind_cpp_pr1();
    fn __aeabi_idiv();
    fn __aeabi_idivmod();
    fn __aeabi_uidiv();
    fn __aeabi_uidivmod();
}

/// What the host provides beyond the test's own functions and data: on
/// 32-bit Arm the unwinder's personality routines and integer division.
fn platform_entries() -> Vec<SymbolEntry<'static>> {
    #[cfg(target_arch = "arm")]
    return [
        (
            "__aeabi_unwind_cpp_pr0",
            __aeabi_unwind_cpp_pr0 as unsafe extern "C" fn(),
        ),
        ("__aeabi_unwind_cpp_pr1", __aeabi_unwind_cpp_pr1),
        ("__aeabi_idiv", __aeabi_idiv),
        ("__aeabi_idivmod", __aeabi_idivmod),
        ("__aeabi_uidiv", __aeabi_uidiv),
        ("__aeabi_uidivmod", __aeabi_uidivmod),
    ]
    .map(|(name, f)| SymbolEntry::new(name, fn_addr(f as *const ()), SymbolKind::Function))
    .into();
    #[cfg(not(target_arch = "arm"))]
    Vec::new()
}

/// The host symbol table: functions, the data of `data`, and on 32-bit Arm
/// the run-time helpers of [`platform_entries`].
pub fn host_table(data: &HostData) -> SymbolTable<'static> {
    use SymbolKind::{Function, Object};
    let mut entries = platform_entries();
    entries.extend([
        SymbolEntry::new("host_add", fn_addr(host_add as *const ()), Function),
        SymbolEntry::new("host_trace", fn_addr(host_trace as *const ()), Function),
        SymbolEntry::new("host_get", fn_addr(host_get as *const ()), Function),
        SymbolEntry::new("host_set", fn_addr(host_set as *const ()), Function),
        SymbolEntry::new(
            "host_call_back",
            fn_addr(host_call_back as *const ()),
            Function,
        ),
        SymbolEntry::new(
            "host_optional",
            fn_addr(host_optional as *const ()),
            Function,
        ),
        SymbolEntry::new("memset", fn_addr(host_memset as *const ()), Function),
        SymbolEntry::new("memcpy", fn_addr(host_memcpy as *const ()), Function),
        SymbolEntry::new("host_value", data.value.as_ptr() as u64, Object),
        SymbolEntry::new("host_array", data.array.as_ptr() as u64, Object),
        SymbolEntry::new("host_name", std::ptr::from_ref(&data.name) as u64, Object),
    ]);
    SymbolTable::new(entries, HOST).expect("host table has unique names")
}

// ---------------------------------------------------------------------------
// Typed access to a loaded image
// ---------------------------------------------------------------------------

/// The exported symbol `name` of `image` as a value of pointer type `F`
/// (an `extern "C" fn` type or a raw pointer).
///
/// # Safety
/// `F` must match what the symbol is (its C prototype, or the type of the
/// data it points to), and the value must not be used after the image is
/// dropped.
pub unsafe fn get<F: Copy, M: Memory>(image: &LoadedImage<M>, name: &str) -> F {
    assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    let addr = image
        .symbol(name)
        .unwrap_or_else(|| panic!("symbol `{name}` is not exported"))
        .address as usize;
    assert_ne!(addr, 0, "symbol `{name}` is at address 0");
    // SAFETY: `F` is pointer-sized (checked) and the caller vouches that it is
    // the right pointer type for the symbol.
    unsafe { std::mem::transmute_copy::<usize, F>(&addr) }
}

/// The protection of the region of `image` holding `addr`, if any.
pub fn protection_at<M: Memory>(image: &LoadedImage<M>, addr: u64) -> Option<Protection> {
    image
        .regions()
        .iter()
        .find(|r| r.addr <= addr && addr < r.addr + r.size as u64)
        .map(|r| r.protection)
}

/// The committed, readable bytes of `image` at `addr..addr+len`, if they lie
/// in one region.
pub fn image_bytes<M: Memory>(image: &LoadedImage<M>, addr: u64, len: usize) -> Option<&[u8]> {
    let inside = image
        .regions()
        .iter()
        .any(|r| r.addr <= addr && addr + len as u64 <= r.addr + r.size as u64);
    // SAFETY: the range lies in one region of a loaded image, and every
    // region is committed and readable for as long as the image lives, which
    // the returned borrow enforces; the tests run no module code while they
    // hold such a slice, so nothing writes to it meanwhile.
    inside.then(|| unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len) })
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Parses `/proc/self/maps` into `(start, end, perms)`.
fn mappings() -> Vec<(u64, u64, String)> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (range, perms) = (parts.next()?, parts.next()?);
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
                perms.to_string(),
            ))
        })
        .collect()
}

/// W^X, checked against what the kernel actually has mapped: regions are
/// disjoint and inside the image, each one is mapped with exactly its
/// protection, and no page of the image is writable and executable.
pub fn check_protections<M: Memory>(image: &LoadedImage<M>, ctx: &str) {
    let (lo, hi) = (image.start(), image.start() + image.size() as u64);
    let regions = image.regions();
    assert!(!regions.is_empty(), "{ctx}: no regions");
    for w in regions.windows(2) {
        assert!(
            w[0].addr + w[0].size as u64 <= w[1].addr,
            "{ctx}: regions overlap or are unsorted: {regions:?}"
        );
    }
    assert!(
        regions
            .iter()
            .any(|r| r.protection == Protection::ReadExecute),
        "{ctx}: no text region"
    );
    for r in regions {
        let (a, b) = (r.addr, r.addr + r.size as u64);
        assert!(lo <= a && b <= hi, "{ctx}: region {r:?} outside the image");
    }
    // qemu-user reports a host mapping with the protection of its first
    // guest page, however the guest split it: nothing to check against.
    if std::env::var_os("MODLIB_QEMU_USER").is_some() {
        return;
    }
    // Other test threads map and unmap memory meanwhile, which can make one
    // read of /proc/self/maps inconsistent: retry before calling it a failure.
    let mut verdict = Ok(());
    for _ in 0..3 {
        verdict = mapped_as_reported(lo, hi, regions, &mappings());
        if verdict.is_ok() {
            return;
        }
    }
    if let Err(e) = verdict {
        panic!("{ctx}: {e}");
    }
}

/// Whether the kernel maps each region with exactly its protection, and no
/// page of `lo..hi` writable and executable.
fn mapped_as_reported(
    lo: u64,
    hi: u64,
    regions: &[Region],
    maps: &[(u64, u64, String)],
) -> Result<(), String> {
    for r in regions {
        let (a, b) = (r.addr, r.addr + r.size as u64);
        let want = match r.protection {
            Protection::Read => "r--",
            Protection::ReadWrite => "rw-",
            Protection::ReadExecute => "r-x",
        };
        let mut pieces = Vec::new();
        for (ma, mb, perms) in maps {
            let (oa, ob) = ((*ma).max(a), (*mb).min(b));
            if oa < ob {
                if &perms[..3] != want {
                    return Err(format!("region {r:?} is mapped {perms} at {ma:#x}-{mb:#x}"));
                }
                pieces.push((oa, ob));
            }
        }
        pieces.sort_unstable();
        let mut next = a;
        for (pa, pb) in pieces {
            if pa > next {
                break;
            }
            next = next.max(pb);
        }
        if next != b {
            return Err(format!("region {r:?} is mapped only up to {next:#x}"));
        }
    }
    for (ma, mb, perms) in maps {
        if *ma < hi && lo < *mb && perms.contains('w') && perms.contains('x') {
            return Err(format!("{ma:#x}-{mb:#x} of the image is mapped {perms}"));
        }
    }
    Ok(())
}

/// How far a direct call of this machine reaches (x86-64 `call rel32` and
/// RISC-V `auipc`+`jalr`: ±2 GiB; AArch64 `bl`: ±128 MiB; Arm `bl`:
/// ±32 MiB, Thumb-2 `bl` ±16 MiB).
pub const BRANCH_REACH: u64 = if cfg!(target_arch = "aarch64") {
    1 << 27
} else if cfg!(target_arch = "arm") {
    1 << 25
} else {
    1 << 31
};

/// `v`'s low `bits` bits read as a two's-complement number.
fn sext(v: u32, bits: u32) -> u64 {
    i64::from(((v << (32 - bits)) as i32) >> (32 - bits)) as u64
}

/// The destinations of the direct calls and jumps in `code` at `addr`;
/// `thumb` says that 32-bit Arm code is Thumb-2 rather than Arm state.
fn branch_targets(addr: u64, code: &[u8], thumb: bool) -> Vec<u64> {
    let word = |i: usize| u32::from_le_bytes(code[i..i + 4].try_into().unwrap());
    let mut out = Vec::new();
    if cfg!(target_arch = "riscv64") {
        // auipc rd, hi; jalr x, lo(rd) (instructions are 2-byte aligned).
        for i in (0..code.len().saturating_sub(7)).step_by(2) {
            let (auipc, jalr) = (word(i), word(i + 4));
            let rd = (auipc >> 7) & 31;
            if auipc & 0x7f == 0x17 && jalr & 0x707f == 0x67 && (jalr >> 15) & 31 == rd {
                let off = sext(auipc & 0xffff_f000, 32).wrapping_add(sext(jalr >> 20, 12));
                out.push((addr + i as u64).wrapping_add(off));
            }
        }
    } else if cfg!(target_arch = "aarch64") {
        // b/bl imm26.
        for i in (0..code.len().saturating_sub(3)).step_by(4) {
            let insn = word(i);
            if insn & 0x7c00_0000 == 0x1400_0000 {
                out.push((addr + i as u64).wrapping_add(sext(insn & 0x03ff_ffff, 26) << 2));
            }
        }
    } else if cfg!(target_arch = "arm") && thumb {
        // bl, blx (to Arm state, from the word-aligned pc) and b.w (T4):
        // S:I1:I2:imm10:imm11:0 with In = !(Jn ^ S), from pc = here + 4.
        let half = |i: usize| u32::from(u16::from_le_bytes([code[i], code[i + 1]]));
        for i in (0..code.len().saturating_sub(3)).step_by(2) {
            let (hi, lo) = (half(i), half(i + 2));
            let kind = lo & 0xd000;
            if hi & 0xf800 != 0xf000 || !matches!(kind, 0xd000 | 0xc000 | 0x9000) {
                continue;
            }
            let s = (hi >> 10) & 1;
            let (i1, i2) = (!((lo >> 13) ^ s) & 1, !((lo >> 11) ^ s) & 1);
            let imm = s << 24 | i1 << 23 | i2 << 22 | (hi & 0x3ff) << 12 | (lo & 0x7ff) << 1;
            let pc = addr + i as u64 + 4;
            let from = if kind == 0xc000 { pc & !3 } else { pc };
            out.push(from.wrapping_add(sext(imm, 25)));
        }
    } else if cfg!(target_arch = "arm") {
        // b, bl (cond 1010, 1011) and blx imm24:H (cond 1111), from pc =
        // here + 8.
        for i in (0..code.len().saturating_sub(3)).step_by(4) {
            let insn = word(i);
            if insn & 0x0e00_0000 == 0x0a00_0000 {
                let mut off = sext(insn & 0x00ff_ffff, 24) << 2;
                if insn >> 28 == 0xf {
                    off |= u64::from((insn >> 24) & 1) << 1;
                }
                out.push((addr + i as u64 + 8).wrapping_add(off));
            }
        }
    } else {
        // call/jmp rel32.
        for i in 0..code.len().saturating_sub(4) {
            if code[i] == 0xe8 || code[i] == 0xe9 {
                let rel = i32::from_le_bytes(code[i + 1..i + 5].try_into().unwrap());
                out.push((addr + i as u64 + 5).wrapping_add(rel as i64 as u64));
            }
        }
    }
    out
}

/// The offsets in a range-extension stub of this machine at which branches
/// enter it: an Arm stub has a Thumb entry and, 12 bytes in, an Arm one.
const STUB_ENTRIES: &[u64] = if cfg!(target_arch = "arm") {
    &[0, 12]
} else {
    &[0]
};

/// Bytes [`is_stub_to`] looks at: a stub with its target.
const STUB_BYTES: usize = if cfg!(target_arch = "riscv64") {
    24
} else if cfg!(target_arch = "x86_64") {
    14
} else {
    16
};

/// Whether `bytes` are one of the loader's range-extension stubs for this
/// machine jumping to `target`.
fn is_stub_to(bytes: &[u8], target: u64) -> bool {
    if cfg!(target_arch = "arm") {
        // push {r0, r1}; ldr r0, [pc, #4]; str r0, [sp, #4]; pop {r0, pc};
        // the target; then the Arm entry, ldr pc, [pc, #-12].
        let thumb = [0x03, 0xb4, 0x01, 0x48, 0x01, 0x90, 0x01, 0xbd];
        return bytes.len() >= 16
            && bytes[..8] == thumb
            && u64::from(u32::from_le_bytes(bytes[8..12].try_into().unwrap())) == target
            && bytes[12..16] == 0xe51f_f00c_u32.to_le_bytes();
    }
    let (code, at): (&[u8], usize) = if cfg!(target_arch = "riscv64") {
        (
            &[
                0x17, 0x0e, 0, 0, 0x03, 0x3e, 0x0e, 0x01, 0x67, 0, 0x0e, 0, 0x13, 0, 0, 0,
            ],
            16,
        )
    } else if cfg!(target_arch = "aarch64") {
        (&[0x50, 0, 0, 0x58, 0, 0x02, 0x1f, 0xd6], 8)
    } else {
        (&[0xff, 0x25, 0, 0, 0, 0], 6)
    };
    bytes.len() >= at + 8
        && bytes[..code.len()] == *code
        && bytes[at..at + 8] == target.to_le_bytes()
}

/// The address of the first instruction of the code at `addr`, a function
/// symbol's value: on 32-bit Arm bit 0 only marks Thumb code.
pub fn code_address(addr: u64) -> u64 {
    if cfg!(target_arch = "arm") {
        addr & !1
    } else {
        addr
    }
}

/// Whether the function `name` of `image` contains a direct call or jump
/// that lands on a range-extension stub inside the image which jumps to
/// `target`.
pub fn calls_through_stub<M: Memory>(image: &LoadedImage<M>, name: &str, target: u64) -> bool {
    let f = image.symbol(name).expect("function is exported");
    let start = code_address(f.address);
    let code = image_bytes(image, start, f.size as usize).expect("function bytes");
    let thumb = start != f.address;
    branch_targets(start, code, thumb).into_iter().any(|dest| {
        STUB_ENTRIES.iter().any(|&entry| {
            let stub = dest.wrapping_sub(entry);
            image.contains(stub)
                && image_bytes(image, stub, STUB_BYTES).is_some_and(|b| is_stub_to(b, target))
        })
    })
}

/// Reads a C string the module hands out.
///
/// # Safety
/// `p` must point to a NUL-terminated string that outlives the call.
pub unsafe fn c_str<'a>(p: *const c_char) -> &'a str {
    assert!(!p.is_null());
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .expect("fixture strings are UTF-8")
}

// ---- reference implementations of what module.c computes ----

/// `fib` of module.c.
pub fn fib(n: i32) -> i32 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

/// `dense_switch` of module.c.
pub fn dense_switch(x: i32, y: i32) -> i32 {
    match x {
        0 => y + 17,
        1 => y * 4,
        2 => y - 99,
        3 => y << 3,
        4 => y ^ 0x7b,
        5 => y / 8,
        6 => y % 61,
        7 => !y,
        8 => y * y,
        9 => host_add(y, 77),
        10 => y | 31,
        11 => -y,
        12 => y & 0x55,
        13 => fib(y & 7),
        14 => y >> 2,
        15 => 500 - y,
        _ => -1,
    }
}

/// `switch_sum` of module.c.
pub fn switch_sum(y: i32) -> i32 {
    (-1..=16).map(|i| dense_switch(i, y) * (i + 2)).sum()
}

/// `string_hash` of module.c (djb2, top bit cleared).
pub fn string_hash(s: &str) -> i32 {
    let h = s.bytes().fold(5381u32, |h, b| {
        h.wrapping_mul(33).wrapping_add(u32::from(b))
    });
    (h & 0x7fff_ffff) as i32
}

/// The strings of module.c's `words` table.
pub const WORDS: [&str; 5] = ["zero", "one", "two", "three", "four"];

/// `words_hash` of module.c.
pub fn words_hash() -> i32 {
    let mut h = 0i32;
    for (i, w) in WORDS.iter().enumerate() {
        h ^= string_hash(w).wrapping_add(i as i32);
    }
    h ^ string_hash("hello, loader") ^ string_hash("merged literal")
}

/// What `big_zero_check` of module.c returns the first time.
pub fn big_zero_sum() -> i32 {
    (0u32..1 << 20)
        .map(|i| u32::from(i.wrapping_mul(7) as u8))
        .fold(0u32, u32::wrapping_add) as i32
}

/// Constructor priorities in the order they must run.
pub const CTOR_ORDER: [i32; 4] = [101, 150, 300, 65535];
/// Destructor trace codes in the order they must run: the reverse
/// priority order of the constructors.
pub const DTOR_ORDER: [i32; 3] = [-65535, -150, -101];

type FnV = extern "C" fn() -> i32;
type FnI = extern "C" fn(i32) -> i32;
type FnII = extern "C" fn(i32, i32) -> i32;
type FnIII = extern "C" fn(i32, i32, i32) -> i32;
type StrFn = extern "C" fn() -> *const c_char;

/// The functions and data `module.c` exports, typed.
struct ModuleApi {
    ctor_total: FnV,
    ctor_order: FnI,
    fib: FnI,
    sum_of_squares: FnI,
    calls_so_far: FnV,
    add_via_host: FnII,
    call_back_through_host: FnI,
    call_weak_defined: FnV,
    weak_state: FnV,
    call_optional: FnI,
    mod_counter: *mut i32,
    get_counter: FnV,
    set_counter: extern "C" fn(i32),
    bump_all: FnV,
    bss_counter: *mut i32,
    common_counter: *mut i32,
    common_address: extern "C" fn() -> *mut i32,
    answer: *const i32,
    answer_address: extern "C" fn() -> *const i32,
    host_data_via_calls: FnV,
    apply_op: FnIII,
    apply_mutable: FnIII,
    swap_mutable: extern "C" fn(),
    op_pointer: extern "C" fn(i32) -> Option<FnII>,
    dense_switch: FnII,
    switch_sum: FnI,
    word: extern "C" fn(i32) -> *const c_char,
    literal: StrFn,
    greeting: *const *const c_char,
    words_hash: FnV,
    big_zero_check: FnV,
    big_zero_address: extern "C" fn() -> *const u8,
    big_data_sum: FnV,
    big_data: *mut u8,
}

/// What only builds with direct host references export.
struct DirectApi {
    host_data_direct: FnV,
    host_name_char: extern "C" fn(i32) -> c_char,
    optional_present: FnV,
}

impl ModuleApi {
    /// # Safety
    /// `image` must be a loaded `module.c`; the values must not outlive it.
    unsafe fn new<M: Memory>(image: &LoadedImage<M>) -> Self {
        // SAFETY: every type below is the C type of the symbol in module.c
        // (the caller vouches that `image` is module.c).
        unsafe {
            ModuleApi {
                ctor_total: get(image, "ctor_total"),
                ctor_order: get(image, "ctor_order"),
                fib: get(image, "fib"),
                sum_of_squares: get(image, "sum_of_squares"),
                calls_so_far: get(image, "calls_so_far"),
                add_via_host: get(image, "add_via_host"),
                call_back_through_host: get(image, "call_back_through_host"),
                call_weak_defined: get(image, "call_weak_defined"),
                weak_state: get(image, "weak_state"),
                call_optional: get(image, "call_optional"),
                mod_counter: get(image, "mod_counter"),
                get_counter: get(image, "get_counter"),
                set_counter: get(image, "set_counter"),
                bump_all: get(image, "bump_all"),
                bss_counter: get(image, "bss_counter"),
                common_counter: get(image, "common_counter"),
                common_address: get(image, "common_address"),
                answer: get(image, "answer"),
                answer_address: get(image, "answer_address"),
                host_data_via_calls: get(image, "host_data_via_calls"),
                apply_op: get(image, "apply_op"),
                apply_mutable: get(image, "apply_mutable"),
                swap_mutable: get(image, "swap_mutable"),
                op_pointer: get(image, "op_pointer"),
                dense_switch: get(image, "dense_switch"),
                switch_sum: get(image, "switch_sum"),
                word: get(image, "word"),
                literal: get(image, "literal"),
                greeting: get(image, "greeting"),
                words_hash: get(image, "words_hash"),
                big_zero_check: get(image, "big_zero_check"),
                big_zero_address: get(image, "big_zero_address"),
                big_data_sum: get(image, "big_data_sum"),
                big_data: get(image, "big_data"),
            }
        }
    }
}

/// Runs a loaded `module.c` through everything it does and checks every
/// answer: constructors (in priority order), calls within the module and to
/// the host, weak symbols, data shared both ways, function-pointer tables,
/// the jump table, strings, the 1 MiB arrays, metadata, exports,
/// protections (W^X against the kernel's view); then its destructors (in
/// reverse order). `host` is the data the image was loaded against.
pub fn exercise_module<M: Memory>(image: &LoadedImage<M>, build: &Build, host: &HostData) {
    let ctx = &build.to_string();
    take_trace();
    // SAFETY: `image` is module.c, and `m` does not outlive it.
    let m = unsafe { ModuleApi::new(image) };

    // Constructors, in priority order, seen from both sides.
    // SAFETY: the image is a fixture built for this machine; its
    // constructors only call host functions of the table it was loaded with.
    unsafe { image.run_init() }.unwrap_or_else(|e| panic!("{ctx}: run_init: {e}"));
    assert_eq!(
        take_trace(),
        CTOR_ORDER,
        "{ctx}: constructor order (host trace)"
    );
    assert_eq!((m.ctor_total)(), 4, "{ctx}: constructors run");
    let seen: Vec<i32> = (0..4).map(|i| (m.ctor_order)(i)).collect();
    assert_eq!(seen, CTOR_ORDER, "{ctx}: constructor order (module log)");

    // Calls within the module, with static state.
    assert_eq!((m.fib)(20), 6765, "{ctx}: fib");
    assert_eq!((m.sum_of_squares)(10), 385, "{ctx}: sum_of_squares");
    assert_eq!((m.sum_of_squares)(3), 14, "{ctx}: sum_of_squares");
    assert_eq!((m.calls_so_far)(), 2, "{ctx}: static counter");

    // Calls to the host, and back into the module.
    assert_eq!((m.add_via_host)(2, 3), 12, "{ctx}: add_via_host");
    assert_eq!((m.call_back_through_host)(5), 31, "{ctx}: host calls back");

    // Weak symbols: a weak definition, undefined weak ones bound to 0, and
    // a weak one the host provides.
    assert_eq!((m.call_weak_defined)(), 12, "{ctx}: weak definition");
    assert_eq!(
        (m.weak_state)(),
        3,
        "{ctx}: undefined weak symbols are null"
    );
    assert_eq!(
        (m.call_optional)(4),
        401,
        "{ctx}: weak reference the host defines"
    );
    let weak_def = image
        .symbol("weak_defined")
        .expect("weak definition exported");
    assert_eq!(weak_def.kind, SymbolKind::Function, "{ctx}");
    assert!(
        image.contains(weak_def.address),
        "{ctx}: weak definition is the module's"
    );
    for missing in ["missing_function", "missing_data"] {
        let import = image.imports().iter().find(|i| i.name == missing);
        let import = import.unwrap_or_else(|| panic!("{ctx}: {missing} not imported"));
        assert_eq!(
            (import.address, import.provider),
            (0, None),
            "{ctx}: {missing}"
        );
    }

    // Local symbols are not exported.
    for local in [
        "local_square",
        "static_calls",
        "triple",
        "ctor_101",
        "big_zero",
        "words",
    ] {
        assert!(
            image.symbol(local).is_none(),
            "{ctx}: local `{local}` is exported"
        );
    }

    // Module data, from the host side and the module side.
    // SAFETY: `mod_counter` is the module's writable `int`; no module code
    // runs concurrently.
    let initial = unsafe { m.mod_counter.read_volatile() };
    assert_eq!(initial, 7, "{ctx}: initial mod_counter");
    // SAFETY: as above.
    unsafe { m.mod_counter.write_volatile(40) };
    assert_eq!(
        (m.get_counter)(),
        40,
        "{ctx}: host write seen by the module"
    );
    (m.set_counter)(-9);
    // SAFETY: as above.
    let after = unsafe { m.mod_counter.read_volatile() };
    assert_eq!(after, -9, "{ctx}: module write seen by the host");
    assert_eq!(
        (m.add_via_host)(1, 1),
        -7,
        "{ctx}: add_via_host reads mod_counter"
    );

    // bss, common and static data.
    assert_eq!((m.bump_all)(), 20301, "{ctx}: bump_all");
    assert_eq!((m.bump_all)(), 40602, "{ctx}: bump_all again");
    // SAFETY: both are the module's writable `int`s.
    let (bss, common) = unsafe {
        (
            m.bss_counter.read_volatile(),
            m.common_counter.read_volatile(),
        )
    };
    assert_eq!((bss, common), (4, 6), "{ctx}: bss_counter, common_counter");
    let common_sym = image.symbol("common_counter").expect("common exported");
    assert_eq!(common_sym.size, 4, "{ctx}: common symbol size");
    assert_eq!(
        (m.common_address)(),
        m.common_counter,
        "{ctx}: common address"
    );
    assert_eq!(
        (m.answer_address)(),
        m.answer,
        "{ctx}: const address, both sides"
    );
    // SAFETY: `answer` is the module's `const int`.
    let answer = unsafe { m.answer.read() };
    assert_eq!(answer, 42, "{ctx}: const data");

    // Host data: through host functions (every build) and directly.
    set_host_value(8);
    assert_eq!(
        (m.host_data_via_calls)(),
        17,
        "{ctx}: host data through calls"
    );
    assert_eq!(
        host_value(),
        17,
        "{ctx}: host value after the module set it"
    );
    if build.direct_host_refs {
        // SAFETY: the types are those of module.c, and `d` does not outlive
        // the image.
        let d = unsafe {
            DirectApi {
                host_data_direct: get(image, "host_data_direct"),
                host_name_char: get(image, "host_name_char"),
                optional_present: get(image, "optional_present"),
            }
        };
        assert_eq!(
            (d.host_data_direct)(),
            41,
            "{ctx}: host data read and written directly"
        );
        assert_eq!(host.value.load(Ordering::SeqCst), 41, "{ctx}: host_value");
        assert_eq!(
            host.array[3].load(Ordering::SeqCst),
            6,
            "{ctx}: host_array[3]"
        );
        let read: Vec<u8> = (0..9)
            .map(|i| (d.host_name_char)(i).to_ne_bytes()[0])
            .collect();
        assert_eq!(
            read,
            HOST_NAME.to_bytes(),
            "{ctx}: host_name through a host pointer"
        );
        assert_eq!(
            (d.optional_present)(),
            1,
            "{ctx}: address of a far host function"
        );
    } else {
        assert!(image.symbol("host_data_direct").is_none(), "{ctx}");
    }

    // Function-pointer tables.
    let results: Vec<i32> = (0..5).map(|i| (m.apply_op)(i, 7, 3)).collect();
    assert_eq!(results, [10, 4, 21, 7, 10], "{ctx}: const function table");
    let mutable = |m: &ModuleApi| ((m.apply_mutable)(0, 7, 3), (m.apply_mutable)(1, 7, 3));
    assert_eq!(mutable(&m), (21, 10), "{ctx}: writable function table");
    (m.swap_mutable)();
    assert_eq!(
        mutable(&m),
        (10, 21),
        "{ctx}: writable function table, swapped"
    );
    let op_max = (m.op_pointer)(3).expect("op_max pointer");
    assert_eq!(
        op_max as usize as u64,
        image.symbol("op_max").unwrap().address,
        "{ctx}"
    );
    assert_eq!(
        op_max(-4, 9),
        9,
        "{ctx}: module function called through its pointer"
    );
    let in_table = (m.op_pointer)(4).expect("host_add pointer");
    assert_eq!(
        in_table as usize as u64,
        fn_addr(host_add as *const ()),
        "{ctx}: host function in a table"
    );

    // The jump table.
    for x in -2..=17 {
        assert_eq!(
            (m.dense_switch)(x, 37),
            dense_switch(x, 37),
            "{ctx}: dense_switch({x})"
        );
    }
    for y in [37, -12, 1000] {
        assert_eq!((m.switch_sum)(y), switch_sum(y), "{ctx}: switch_sum({y})");
    }

    // Strings (merged-string sections and pointer tables).
    for (i, w) in WORDS.iter().enumerate() {
        // SAFETY: `word` returns pointers to the module's string literals.
        let got = unsafe { c_str((m.word)(i as i32)) };
        assert_eq!(got, *w, "{ctx}: word({i})");
    }
    // SAFETY: `literal` returns a string literal of the module.
    let literal = unsafe { c_str((m.literal)()) };
    assert_eq!(literal, "merged literal", "{ctx}");
    // SAFETY: `greeting` is a `const char *` initialised to a literal.
    let greeting = unsafe { c_str(*m.greeting) };
    assert_eq!(greeting, "hello, loader", "{ctx}: greeting");
    assert_eq!((m.words_hash)(), words_hash(), "{ctx}: words_hash");

    // The 1 MiB arrays.
    assert_eq!(
        (m.big_zero_check)(),
        big_zero_sum(),
        "{ctx}: 1 MiB bss array"
    );
    assert_eq!(
        (m.big_zero_check)(),
        -1,
        "{ctx}: bss array keeps what was written"
    );
    let big_zero = (m.big_zero_address)();
    let last = big_zero as u64 + (1 << 20) - 1;
    assert!(image.contains(last), "{ctx}: bss inside the image");
    assert_eq!(
        protection_at(image, last),
        Some(Protection::ReadWrite),
        "{ctx}"
    );
    // SAFETY: the module's 1 MiB static array, written above.
    let byte = unsafe { *big_zero.add(12345) };
    assert_eq!(byte, (12345u32 * 7) as u8, "{ctx}: bss array contents");
    assert_eq!((m.big_data_sum)(), 6, "{ctx}: 1 MiB data array");
    let big_data = image.symbol("big_data").expect("big_data exported");
    assert_eq!(big_data.size, 1 << 20, "{ctx}: big_data size");
    // SAFETY: `big_data` is 1 MiB of writable module data.
    let at_4096 = unsafe {
        m.big_data.add(100).write_volatile(200);
        m.big_data.add(4096).read_volatile()
    };
    assert_eq!(at_4096, 2, "{ctx}: big_data[4096]");
    assert_eq!((m.big_data_sum)(), 206, "{ctx}: host write to big_data");

    // Metadata and where things are.
    let info = image.modinfo();
    assert_eq!(info.get("name"), Some("module"), "{ctx}: modinfo {info:?}");
    assert_eq!(info.get("license"), Some("MIT"), "{ctx}");
    assert_eq!(info.get("description"), Some("execution fixture"), "{ctx}");
    for f in ["fib", "dense_switch", "add_via_host"] {
        let a = image.symbol(f).unwrap().address;
        assert_eq!(
            protection_at(image, a),
            Some(Protection::ReadExecute),
            "{ctx}: {f}"
        );
    }
    for d in ["mod_counter", "bss_counter", "common_counter", "big_data"] {
        let a = image.symbol(d).unwrap().address;
        assert_eq!(
            protection_at(image, a),
            Some(Protection::ReadWrite),
            "{ctx}: {d}"
        );
    }
    let answer_at = protection_at(image, m.answer as u64);
    assert_eq!(
        answer_at,
        Some(Protection::Read),
        "{ctx}: const data is read-only"
    );
    check_protections(image, ctx);

    // Imports: who provided what.
    for name in ["host_add", "host_trace", "host_optional"] {
        let import = image.imports().iter().find(|i| i.name == name);
        let import = import.unwrap_or_else(|| panic!("{ctx}: {name} not imported"));
        assert_eq!(import.provider, Some(HOST), "{ctx}: provider of {name}");
        assert_ne!(import.address, 0, "{ctx}: address of {name}");
    }

    // Destructors, in reverse priority order.
    // SAFETY: as for run_init; called once, after the initialisers.
    unsafe { image.run_fini() }.unwrap_or_else(|e| panic!("{ctx}: run_fini: {e}"));
    assert_eq!(take_trace(), DTOR_ORDER, "{ctx}: destructor order");
}
