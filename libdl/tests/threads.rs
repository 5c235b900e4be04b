//! Thread safety: four threads open, look up, call and close a set of
//! libraries (with shared dependencies, `RTLD_GLOBAL` promotion and a
//! constructor that itself calls `dlopen`) thousands of times; afterwards
//! nothing is left loaded. The only test of its binary, so that it alone
//! decides what is loaded.

mod common;

use std::ffi::{c_int, c_void};
use std::path::PathBuf;

use common::{
    close_ok, last_error, lib, open, open_ok, sym, sym_addr, RTLD_DEFAULT, RTLD_GLOBAL, RTLD_NOW,
};

const THREADS: usize = 4;
const ITERATIONS: usize = 1500;

type Fn1 = unsafe extern "C" fn(c_int) -> c_int;

/// A library, its function, and what that function should return.
type Case = (PathBuf, &'static str, fn(c_int) -> c_int);

fn call(handle: *mut c_void, name: &str, x: c_int) -> c_int {
    // SAFETY: the thr_* fixtures are all `int f(int)`.
    unsafe { sym::<Fn1>(handle, name)(x) }
}

#[test]
fn concurrent_open_lookup_close_leaves_nothing_loaded() {
    lib("thr_base", &["thr_base.c"], &[], &[]);
    let libs: Vec<Case> = vec![
        (
            lib("thr_a", &["thr_a.c"], &["thr_base"], &[]),
            "thr_a",
            |x| 2 * x + 1,
        ),
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
    ];
    assert!(modlib_dl::hosted::linker().loaded().is_empty());
    let missing = common::lib_dir().join("libthr_missing.so");
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let libs = &libs;
            let missing = &missing;
            s.spawn(move || {
                for i in 0..ITERATIONS {
                    let x = (t * ITERATIONS + i) as c_int;
                    let (path, name, expect) = &libs[(t + i) % libs.len()];
                    let flags = if i % 7 == 0 {
                        RTLD_NOW | RTLD_GLOBAL
                    } else {
                        RTLD_NOW
                    };
                    let h = open_ok(path, flags);
                    assert_eq!(call(h, name, x), expect(x), "{name} in thread {t}");
                    // Hold a second library across the first one's close.
                    let (path2, name2, expect2) = &libs[(t + i + 1) % libs.len()];
                    let h2 = open_ok(path2, RTLD_NOW);
                    close_ok(h);
                    assert_eq!(call(h2, name2, x), expect2(x), "{name2} in thread {t}");
                    assert!(!sym_addr(RTLD_DEFAULT, "malloc").is_null());
                    if i % 50 == 0 {
                        // This thread's errors stay this thread's.
                        assert!(open(missing, RTLD_NOW).is_null());
                        let err = last_error().unwrap();
                        assert!(err.contains("libthr_missing.so"), "{err}");
                        assert_eq!(last_error(), None);
                    }
                    close_ok(h2);
                }
            });
        }
    });
    let left = modlib_dl::hosted::linker().loaded();
    assert!(left.is_empty(), "still loaded: {left:?}");
}
