//! The loaders under comparison, behind one trait: this project's `dl`
//! (through its safe [`dl::Library`] wrapper, no C-ABI interposition),
//! glibc's own `dlopen` (through `libc`), and `elf_loader` from crates.io.
//! `dlopen-rs` exports `dlopen`/`dlsym`/`dlclose` under their C names, which
//! would replace glibc's in this process, so it runs in a worker process of
//! its own ([`crate::worker`]).

use std::ffi::{c_void, CString};
use std::hint::black_box;
use std::time::Duration;

use crate::clock::Stopwatch;

use crate::fixture::Library;

/// A library with its names ready in every form the loaders take, so that
/// no conversion is timed.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The library as generated.
    pub library: Library,
    /// Path as a C string.
    pub c_path: CString,
    /// The ten sample exports as C strings.
    pub c_sample: Vec<CString>,
    /// Every export as C strings.
    pub c_exports: Vec<CString>,
    /// The result `bench_touch(3)` must give (generated libraries only).
    pub expected: Option<i32>,
}

impl Prepared {
    /// Prepares `library`.
    pub fn new(library: Library) -> Prepared {
        let c = |s: &String| CString::new(s.as_str()).expect("names have no NUL");
        Prepared {
            c_path: CString::new(library.path.to_string_lossy().as_bytes())
                .expect("path has no NUL"),
            c_sample: library.sample.iter().map(c).collect(),
            c_exports: library.exports.iter().map(c).collect(),
            expected: library.size.map(crate::fixture::expected_touch),
            library,
        }
    }

    /// The path as text.
    pub fn path(&self) -> &str {
        self.library.path.to_str().expect("path is UTF-8")
    }
}

/// One loader under test.
pub trait Loader {
    /// Column name.
    fn name(&self) -> &'static str;
    /// Opens the library, calls `bench_touch(3)` through it (in a generated
    /// one), closes it, and says whether the answer was right. Loaders that
    /// can also return a checksum over every relocated slot (the C drivers)
    /// do: two loaders that bind alike give the same one.
    fn check(&mut self, lib: &Prepared) -> Result<Option<String>, String>;
    /// `iterations` times: open with `RTLD_NOW`, look up the ten sample
    /// exports, close. Returns the total time.
    fn cycle(&mut self, lib: &Prepared, iterations: u32) -> Result<Duration, String>;
    /// Opens the library (untimed), looks up every export `passes` times
    /// (timed), closes it. Returns the timed part.
    fn lookups(&mut self, lib: &Prepared, passes: u32) -> Result<Duration, String>;
}

type Touch = extern "C" fn(i32) -> i32;

/// Calls `bench_touch(3)` at `address` (found in `lib`) and compares the
/// answer; a library that is not generated has nothing to call.
pub(crate) fn verify(address: *mut c_void, lib: &Prepared) -> Result<(), String> {
    let Some(expected) = lib.expected else {
        return Ok(());
    };
    if address.is_null() {
        return Err(String::from("bench_touch not found"));
    }
    // SAFETY: `bench_touch` is `int bench_touch(int)` in the generated C
    // source, and the library stays open while it runs.
    let touch: Touch = unsafe { std::mem::transmute::<*mut c_void, Touch>(address) };
    let got = touch(3);
    if got == expected {
        Ok(())
    } else {
        Err(format!(
            "bench_touch(3) returned {got}, expected {expected}"
        ))
    }
}

/// glibc's `dlopen`, `dlsym`, `dlclose`.
#[derive(Debug, Default)]
pub struct Glibc;

fn dlerror() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated message owned by libc.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        String::from("unknown error")
    } else {
        // SAFETY: non-null dlerror results are NUL-terminated strings.
        unsafe { std::ffi::CStr::from_ptr(e) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Glibc {
    fn open(lib: &Prepared) -> Result<*mut c_void, String> {
        // SAFETY: a NUL-terminated path and valid flags; the generated
        // library's constructors are plain C.
        let h = unsafe { libc::dlopen(lib.c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if h.is_null() {
            Err(dlerror())
        } else {
            Ok(h)
        }
    }

    fn close(h: *mut c_void) -> Result<(), String> {
        // SAFETY: `h` came from dlopen and is closed once.
        if unsafe { libc::dlclose(h) } == 0 {
            Ok(())
        } else {
            Err(dlerror())
        }
    }

    fn sym(h: *mut c_void, name: &CString) -> Result<*mut c_void, String> {
        // SAFETY: `h` is an open handle and `name` is NUL-terminated.
        let p = unsafe { libc::dlsym(h, name.as_ptr()) };
        if p.is_null() {
            Err(format!("{}: {}", name.to_string_lossy(), dlerror()))
        } else {
            Ok(p)
        }
    }
}

impl Loader for Glibc {
    fn name(&self) -> &'static str {
        "glibc"
    }

    fn check(&mut self, lib: &Prepared) -> Result<Option<String>, String> {
        let h = Self::open(lib)?;
        // glibc's handles are `struct link_map` pointers; `dl`'s are small
        // numbers. A small one means `dl` was built with its `c-abi`
        // feature (unified in by a build of several packages at once) and
        // `libc::dlopen` is ours: that column would not be glibc.
        if (h as usize) < 0x1_0000 {
            return Err(String::from(
                "libc::dlopen is dl's C ABI here (dl built with feature c-abi): build dlbench on its own",
            ));
        }
        let r = match lib.expected {
            Some(_) => Self::sym(h, &CString::from(c"bench_touch")).and_then(|p| verify(p, lib)),
            None => Ok(()),
        };
        Self::close(h)?;
        r.map(|()| None)
    }

    fn cycle(&mut self, lib: &Prepared, iterations: u32) -> Result<Duration, String> {
        let start = Stopwatch::start();
        for _ in 0..iterations {
            let h = Self::open(lib)?;
            for name in &lib.c_sample {
                black_box(Self::sym(h, name)?);
            }
            Self::close(h)?;
        }
        Ok(start.elapsed())
    }

    fn lookups(&mut self, lib: &Prepared, passes: u32) -> Result<Duration, String> {
        let h = Self::open(lib)?;
        let start = Stopwatch::start();
        for _ in 0..passes {
            for name in &lib.c_exports {
                black_box(Self::sym(h, name)?);
            }
        }
        let t = start.elapsed();
        Self::close(h)?;
        Ok(t)
    }
}

/// This project's loader, through [`dl::Library`].
#[derive(Debug, Default)]
pub struct Ours;

impl Ours {
    fn open(lib: &Prepared) -> Result<dl::Library, String> {
        // SAFETY: the libraries are the benchmark's own, generated C.
        unsafe { dl::Library::open(lib.path(), dl::Flags::NOW) }.map_err(|e| e.to_string())
    }

    fn sym(l: &dl::Library, name: &str) -> Result<*mut c_void, String> {
        // SAFETY: the address is only passed to `black_box` or, for
        // `bench_touch`, called with its C signature.
        unsafe { l.get::<*mut c_void>(name) }
            .map(|s| *s)
            .map_err(|e| e.to_string())
    }
}

impl Loader for Ours {
    fn name(&self) -> &'static str {
        "ours"
    }

    fn check(&mut self, lib: &Prepared) -> Result<Option<String>, String> {
        let l = Self::open(lib)?;
        let r = match lib.expected {
            Some(_) => Self::sym(&l, "bench_touch").and_then(|p| verify(p, lib)),
            None => Ok(()),
        };
        l.close().map_err(|e| e.to_string())?;
        r.map(|()| None)
    }

    fn cycle(&mut self, lib: &Prepared, iterations: u32) -> Result<Duration, String> {
        let start = Stopwatch::start();
        for _ in 0..iterations {
            let l = Self::open(lib)?;
            for name in &lib.library.sample {
                black_box(Self::sym(&l, name)?);
            }
            l.close().map_err(|e| e.to_string())?;
        }
        Ok(start.elapsed())
    }

    fn lookups(&mut self, lib: &Prepared, passes: u32) -> Result<Duration, String> {
        let l = Self::open(lib)?;
        let start = Stopwatch::start();
        for _ in 0..passes {
            for name in &lib.library.exports {
                black_box(Self::sym(&l, name)?);
            }
        }
        let t = start.elapsed();
        l.close().map_err(|e| e.to_string())?;
        Ok(t)
    }
}

pub use crate::elf_loader_runner::ElfLoader;
