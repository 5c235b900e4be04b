//! A real-world library: an ordinary `gcc -shared -fPIC ... -lm` build
//! using libc and libm heavily (snprintf with %f/%e/%g, strtod, strtok_r,
//! qsort, bsearch, malloc/realloc/free, sin/cos/exp/pow/sqrt/log1p/atan2),
//! opened through our `dlopen`; every result is checked against Rust.

mod common;

use std::ffi::{c_char, c_double, c_int, c_long, c_void, CStr};

use common::{close_ok, lib, open_ok, sym, RTLD_NOW};

#[test]
fn libc_and_libm_heavy_library() {
    let path = lib("realworld", &["realworld.c"], &[], &["-lm"]);
    let h = open_ok(&path, RTLD_NOW);
    // Ours; libm (its DT_NEEDED, a system library) is the system loader's.
    let loaded = modlib_dl::hosted::linker().loaded();
    assert!(
        loaded.iter().any(|(p, _, _)| p == path.to_str().unwrap()),
        "{loaded:?}"
    );
    assert!(
        !loaded.iter().any(|(p, _, _)| p.contains("libm.so")),
        "{loaded:?}"
    );
    // SAFETY: every signature below is the fixture's.
    unsafe {
        let format: unsafe extern "C" fn(
            *mut c_char,
            usize,
            c_double,
            c_int,
            *const c_char,
        ) -> c_int = sym(h, "rw_format");
        let mut buf = [0 as c_char; 128];
        for (x, i, s) in [
            (1.234_56, 42, "small"),
            (-0.000_123, -7, "tiny"),
            (6.02e23, 65535, "avog"),
        ] {
            let cs = std::ffi::CString::new(s).unwrap();
            let n = format(buf.as_mut_ptr(), buf.len(), x, i, cs.as_ptr());
            let got = CStr::from_ptr(buf.as_ptr()).to_str().unwrap().to_string();
            let g = format_g(x);
            let want = format!("{x:.3}|{}|{g}|{i:5}|{s:<6}|{:x}", format_e(x, 4), i as u32);
            assert_eq!(got, want);
            assert_eq!(n as usize, want.len());
        }

        let sum: unsafe extern "C" fn(*const c_char, *mut c_int) -> c_double =
            sym(h, "rw_sum_fields");
        let text = "1.5, 2.25;3e2 -4.125,,0x10 1e-3";
        let mut count = 0;
        let got = sum(
            std::ffi::CString::new(text).unwrap().as_ptr(),
            &raw mut count,
        );
        let fields: Vec<f64> = text
            .split([',', ';', ' '])
            .filter(|f| !f.is_empty())
            .map(|f| match f.strip_prefix("0x") {
                Some(hex) => f64::from(u32::from_str_radix(hex, 16).unwrap()),
                None => f.parse().unwrap(),
            })
            .collect();
        assert_eq!(count as usize, fields.len());
        assert_eq!(got.to_bits(), fields.iter().sum::<f64>().to_bits());

        let sort: unsafe extern "C" fn(*mut c_double, usize) = sym(h, "rw_sort");
        let mut values: Vec<f64> = (0..1000u32)
            .map(|i| f64::from(i.wrapping_mul(2_654_435_761) % 10_007) / 7.0 - 500.0)
            .collect();
        let mut expected = values.clone();
        expected.sort_by(f64::total_cmp);
        sort(values.as_mut_ptr(), values.len());
        assert_eq!(values, expected);

        let find: unsafe extern "C" fn(*const c_int, usize, c_int) -> c_long = sym(h, "rw_find");
        let sorted: Vec<c_int> = (0..500).map(|i| i * 3 - 200).collect();
        for key in [-200, -197, 0, 1, 7, 1297, 1300] {
            let want = sorted.binary_search(&key).map_or(-1, |i| i as c_long);
            assert_eq!(find(sorted.as_ptr(), sorted.len(), key), want, "key {key}");
        }

        let maths: unsafe extern "C" fn(c_double) -> c_double = sym(h, "rw_maths");
        for x in [0.0_f64, 0.5, 1.0, 2.75, 10.0, 123.456] {
            let want = x.sin()
                + (2.0 * x).cos() * (-x).exp()
                + x.powf(1.5)
                + x.sqrt()
                + x.ln_1p()
                + x.atan2(3.0);
            let got = maths(x);
            assert!(
                (got - want).abs() <= 1e-12 * want.abs().max(1.0),
                "rw_maths({x}) = {got}, want {want}"
            );
        }

        let join: unsafe extern "C" fn(*const *const c_char, usize, c_char) -> *mut c_char =
            sym(h, "rw_join");
        let free: unsafe extern "C" fn(*mut c_void) = sym(h, "rw_free");
        let words: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let c_words: Vec<std::ffi::CString> = words
            .iter()
            .map(|w| std::ffi::CString::new(w.as_str()).unwrap())
            .collect();
        let ptrs: Vec<*const c_char> = c_words.iter().map(|w| w.as_ptr()).collect();
        let joined = join(ptrs.as_ptr(), ptrs.len(), b'-' as c_char);
        assert!(!joined.is_null());
        assert_eq!(CStr::from_ptr(joined).to_str().unwrap(), words.join("-"));
        free(joined.cast());
    }
    close_ok(h);
}

/// C's `%.{prec}e`: mantissa, `e`, sign, at least two exponent digits.
fn format_e(x: f64, prec: usize) -> String {
    let rust = format!("{x:.prec$e}");
    let (mantissa, exp) = rust.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    format!(
        "{mantissa}e{}{:02}",
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

/// C's `%g` (precision 6) for the values used here.
fn format_g(x: f64) -> String {
    let exp = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    if (-4..6).contains(&exp) {
        let s = format!("{:.*}", (5 - exp).max(0) as usize, x);
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        s
    } else {
        let e = format_e(x, 5);
        let (m, rest) = e.split_once('e').unwrap();
        let m = if m.contains('.') {
            m.trim_end_matches('0').trim_end_matches('.')
        } else {
            m
        };
        format!("{m}e{rest}")
    }
}
