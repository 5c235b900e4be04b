//! Concurrency with every answer checked: four threads open, look up,
//! call and close libraries at random — with shared dependencies,
//! `RTLD_GLOBAL` promotion, a constructor that calls `dlopen`, a
//! `DT_NEEDED` chain, `RTLD_NOLOAD` probes — and make loads that must fail
//! (a missing file, an undefined symbol, a bad relocation in a library
//! whose dependency loads fine). Each failure names its own cause in the
//! thread's `dlerror`, and afterwards nothing is left loaded. The only
//! test of its binary, so that it alone decides what is loaded.
//!
//! The run is bounded by operation count, not time: `STRESS_OPS` sets the
//! operations per thread (default 400, 50 when emulated on another
//! machine), e.g. `STRESS_OPS=20000 cargo test -p dl --release --test
//! stress`.

mod common;

use std::ffi::{c_int, c_void};
use std::path::PathBuf;
use testkit::Rng;

use common::{
    chain, close_ok, last_error, lib, open, open_ok, sym, sym_addr, RTLD_GLOBAL, RTLD_NOLOAD,
    RTLD_NOW,
};

const THREADS: usize = 4;
/// Libraries in the chain the threads open.
const CHAIN: usize = 30;

fn ops_per_thread() -> usize {
    testkit::stress::ops_per_thread(400, 50)
}

type Fn1 = unsafe extern "C" fn(c_int) -> c_int;

/// A library, its function, and what that function should return.
type Case = (PathBuf, &'static str, fn(c_int) -> c_int);

fn call(handle: *mut c_void, name: &str, x: c_int) -> c_int {
    // SAFETY: the thr_* fixtures are all `int f(int)`.
    unsafe { sym::<Fn1>(handle, name)(x) }
}

/// The message of a failed `dlopen` of `path`, which must fail.
fn refused(path: &std::path::Path) -> String {
    let h = open(path, RTLD_NOW);
    assert!(h.is_null(), "{} loaded", path.display());
    let err = last_error().expect("dlerror after a failed dlopen");
    assert_eq!(last_error(), None, "dlerror is cleared by reading");
    err
}

struct World {
    libs: Vec<Case>,
    chain: PathBuf,
    missing: PathBuf,
    undefined: PathBuf,
    bad: PathBuf,
}

impl World {
    /// Opens one library (sometimes `RTLD_GLOBAL`), holds a second across
    /// its close, calls both.
    fn open_call_close(&self, rng: &mut Rng, x: c_int) {
        let (path, name, expect) = &self.libs[rng.below(self.libs.len())];
        let flags = if rng.below(5) == 0 {
            RTLD_NOW | RTLD_GLOBAL
        } else {
            RTLD_NOW
        };
        let h = open_ok(path, flags);
        assert_eq!(call(h, name, x), expect(x), "{name}");
        let (path2, name2, expect2) = &self.libs[rng.below(self.libs.len())];
        let h2 = open_ok(path2, RTLD_NOW);
        close_ok(h);
        assert_eq!(call(h2, name2, x), expect2(x), "{name2}");
        close_ok(h2);
    }

    /// The chain opens whole: its last library's function through the
    /// first one's handle.
    fn chain(&self) {
        let h = open_ok(&self.chain, RTLD_NOW);
        // SAFETY: `int chain_link_value(void)`, `int chain_tail_value(void)`.
        let (link, tail) = unsafe {
            (
                sym::<unsafe extern "C" fn() -> c_int>(h, "chain_link_value")(),
                sym::<unsafe extern "C" fn() -> c_int>(h, "chain_tail_value")(),
            )
        };
        assert_eq!((link, tail), (1, 2));
        assert!(sym_addr(h, "chain_no_such_value").is_null());
        let err = last_error().expect("dlerror after a failed dlsym");
        assert!(err.contains("chain_no_such_value"), "{err}");
        close_ok(h);
    }

    /// `RTLD_NOLOAD` answers whether a library is loaded, without loading
    /// it; a handle it gives works.
    fn noload(&self, rng: &mut Rng, x: c_int) {
        let (path, name, expect) = &self.libs[rng.below(self.libs.len())];
        let h = open(path, RTLD_NOW | RTLD_NOLOAD);
        if h.is_null() {
            // Not loaded: as glibc, no error to report.
            assert_eq!(last_error(), None);
        } else {
            assert_eq!(call(h, name, x), expect(x), "{name}");
            close_ok(h);
        }
    }

    /// A load that must fail, for its own reason only.
    fn failing_load(&self, which: usize) {
        match which {
            0 => {
                let err = refused(&self.missing);
                assert!(err.contains("libstress_missing.so"), "{err}");
            }
            1 => {
                let err = refused(&self.undefined);
                assert!(
                    err.contains("undefined symbol") && err.contains("dltest_nowhere_defined"),
                    "{err}"
                );
            }
            _ => {
                let err = refused(&self.bad);
                assert!(err.contains("libstress_bad.so"), "{err}");
            }
        }
    }
}

#[test]
fn random_operations_from_four_threads() {
    lib("thr_base", &["thr_base.c"], &[], &[]);
    let thr_a = lib("thr_a", &["thr_a.c"], &["thr_base"], &[]);
    let world = World {
        libs: vec![
            (thr_a.clone(), "thr_a", |x| 2 * x + 1),
            (
                lib("thr_b", &["thr_b.c"], &["thr_base"], &[]),
                "thr_b",
                |x| 2 * x + 2,
            ),
            (lib("thr_c", &["thr_c.c"], &[], &[]), "thr_c", |x| x + 3),
            (
                lib("thr_reenter", &["thr_reenter.c"], &[], &[]),
                "thr_reenter",
                |x| x + 103,
            ),
        ],
        chain: chain(CHAIN),
        missing: common::lib_dir().join("libstress_missing.so"),
        undefined: lib("undef", &["undef.c"], &[], &[]),
        bad: common::with_bad_relocation(&thr_a, "libstress_bad.so"),
    };
    assert!(modlib_dl::hosted::linker().loaded().is_empty());
    let ops = ops_per_thread();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let world = &world;
            s.spawn(move || {
                let mut rng = Rng::for_thread(t);
                for i in 0..ops {
                    let x = (t * ops + i) as c_int;
                    match rng.below(8) {
                        0..=2 => world.open_call_close(&mut rng, x),
                        3 => world.chain(),
                        4 => world.noload(&mut rng, x),
                        _ => world.failing_load(rng.below(3)),
                    }
                }
            });
        }
    });
    let left = modlib_dl::hosted::linker().loaded();
    assert!(left.is_empty(), "still loaded: {left:?}");
}
