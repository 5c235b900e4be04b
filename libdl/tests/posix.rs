//! POSIX `dlopen` semantics through the C ABI, with C libraries compiled at
//! test time: counted handles, dependency order and breadth-first search,
//! unloading, scopes, pseudo-handles, `dlerror`, bad handles and
//! re-entrant constructors.

mod common;

use std::ffi::{c_char, c_int, c_void};

use common::{
    c, close_ok, dlclose, dlerror, dlopen, dlsym, dlvsym, is_loaded, last_error, lib, open,
    open_ok, sym, sym_addr, take_log_with, RTLD_DEFAULT, RTLD_GLOBAL, RTLD_LAZY, RTLD_LOCAL,
    RTLD_NEXT, RTLD_NODELETE, RTLD_NOLOAD, RTLD_NOW,
};

type IntFn = unsafe extern "C" fn() -> c_int;
type StrlenFn = unsafe extern "C" fn(*const c_char) -> usize;

/// Calls an `int f(void)` of a handle.
fn call(handle: *mut c_void, name: &str) -> c_int {
    // SAFETY: every fixture function called this way is `int f(void)`.
    unsafe { sym::<IntFn>(handle, name)() }
}

#[test]
fn c_abi_names_are_ours() {
    let _serial = common::serial();
    assert_eq!(
        dlopen as *const () as usize,
        modlib_dl::capi::dlopen as *const () as usize
    );
    assert_eq!(
        dlsym as *const () as usize,
        modlib_dl::capi::dlsym as *const () as usize
    );
    assert_eq!(
        dlclose as *const () as usize,
        modlib_dl::capi::dlclose as *const () as usize
    );
    assert_eq!(
        dlerror as *const () as usize,
        modlib_dl::capi::dlerror as *const () as usize
    );
}

#[test]
fn same_object_twice_is_one_counted_handle() {
    let _serial = common::serial();
    let path = lib("refcount", &["refcount.c"], &["dltest"], &[]);
    let first = open_ok(&path, RTLD_NOW);
    assert_eq!(take_log_with("refcount:"), ["refcount:init"]);
    // The same file under another spelling of its path is the same object.
    let other = path
        .parent()
        .unwrap()
        .join(".")
        .join(path.file_name().unwrap());
    let second = open_ok(&other, RTLD_LAZY);
    assert_eq!(first, second, "second dlopen must return the same handle");
    assert!(
        take_log_with("refcount:").is_empty(),
        "constructor ran twice"
    );
    assert_eq!(call(first, "refcount_calls"), 1);
    assert_eq!(call(second, "refcount_calls"), 2, "state is shared");

    close_ok(first);
    assert!(is_loaded(&path), "one reference left: still loaded");
    assert!(
        take_log_with("refcount:").is_empty(),
        "destructor ran early"
    );
    assert_eq!(call(second, "refcount_calls"), 3);

    close_ok(second);
    assert!(!is_loaded(&path), "last reference gone: unloaded");
    assert_eq!(take_log_with("refcount:"), ["refcount:fini"]);
    // The handle is stale now.
    assert!(sym_addr(second, "refcount_calls").is_null());
    assert_eq!(last_error().as_deref(), Some("invalid handle"));
    // SAFETY: dlclose must reject a stale handle, not crash.
    assert_eq!(unsafe { dlclose(second) }, -1);
    assert_eq!(last_error().as_deref(), Some("invalid handle"));

    // Opening again loads a fresh copy with fresh state.
    let again = open_ok(&path, RTLD_NOW);
    assert_eq!(take_log_with("refcount:"), ["refcount:init"]);
    assert_eq!(call(again, "refcount_calls"), 1);
    close_ok(again);
    assert_eq!(take_log_with("refcount:"), ["refcount:fini"]);
}

fn bfs_libs() -> [std::path::PathBuf; 4] {
    let c = lib("bfs_c", &["bfs_c.c"], &["dltest"], &[]);
    let a = lib("bfs_a", &["bfs_a.c"], &["bfs_c", "dltest"], &[]);
    let b = lib("bfs_b", &["bfs_b.c"], &["dltest"], &[]);
    let root = lib(
        "bfs_root",
        &["bfs_root.c"],
        &["bfs_a", "bfs_b", "dltest"],
        &[],
    );
    [root, a, b, c]
}

#[test]
fn dependencies_load_first_and_unload_in_reverse() {
    let _serial = common::serial();
    let [root, a, b, c] = bfs_libs();
    let h = open_ok(&root, RTLD_NOW);
    for dep in [&a, &b, &c] {
        assert!(is_loaded(dep), "{} loaded as a dependency", dep.display());
    }
    let inits = take_log_with("bfs_");
    // Dependencies-first: every object's constructor after its
    // dependencies' (c before a; a and b before root), in glibc's order
    // (its `_dl_sort_maps`: c, b, a, root for these libraries).
    assert_eq!(
        inits,
        ["bfs_c:init", "bfs_b:init", "bfs_a:init", "bfs_root:init"]
    );
    assert_eq!(call(h, "bfs_root_value"), 31, "calls through a into c");
    close_ok(h);
    let finis = take_log_with("bfs_");
    let expected: Vec<String> = inits
        .iter()
        .rev()
        .map(|e| e.replace(":init", ":fini"))
        .collect();
    assert_eq!(finis, expected, "destructors in reverse constructor order");
    for object in [&root, &a, &b, &c] {
        assert!(!is_loaded(object), "{} unloaded", object.display());
    }
}

#[test]
fn handle_lookup_is_breadth_first() {
    let _serial = common::serial();
    let [root, _, _, c] = bfs_libs();
    let h = open_ok(&root, RTLD_NOW);
    // bfs_who is defined by bfs_b (direct dependency) and bfs_c (indirect,
    // through bfs_a, listed first). Breadth-first: root, a, b, c → b.
    assert_eq!(call(h, "bfs_who"), c_int::from(b'b'));
    // The root's own reference binds the same way.
    assert_eq!(call(h, "bfs_root_who"), c_int::from(b'b'));
    // c's definition is still reachable through c's own handle.
    let hc = open_ok(&c, RTLD_NOW);
    assert_eq!(call(hc, "bfs_who"), c_int::from(b'c'));
    // Nothing of the dependency graph is in the global scope.
    assert!(sym_addr(RTLD_DEFAULT, "bfs_who").is_null());
    let err = last_error().unwrap();
    assert!(err.contains("undefined symbol: bfs_who"), "{err}");
    close_ok(hc);
    close_ok(h);
    take_log_with("bfs_");
}

#[test]
fn closing_a_needed_object_keeps_it_until_its_last_user_goes() {
    let _serial = common::serial();
    let dep = lib("keep_dep", &["keep_dep.c"], &["dltest"], &[]);
    let user = lib("keep_user", &["keep_user.c"], &["keep_dep", "dltest"], &[]);
    let hd = open_ok(&dep, RTLD_NOW);
    let hu = open_ok(&user, RTLD_NOW);
    assert_eq!(take_log_with("keep_"), ["keep_dep:init", "keep_user:init"]);
    assert_eq!(call(hd, "keep_dep_value"), 7);

    close_ok(hd);
    assert!(is_loaded(&dep), "still needed by keep_user");
    assert!(take_log_with("keep_").is_empty(), "no destructor yet");
    // The user still works, and reaches the same (not reloaded) object.
    assert_eq!(call(hu, "keep_user_value"), 108);
    // The closed handle itself is no longer valid...
    assert!(sym_addr(hd, "keep_dep_value").is_null());
    assert_eq!(last_error().as_deref(), Some("invalid handle"));
    // ...but the dependency is reachable through its user's handle.
    assert_eq!(call(hu, "keep_dep_value"), 9);

    close_ok(hu);
    assert_eq!(take_log_with("keep_"), ["keep_user:fini", "keep_dep:fini"]);
    assert!(!is_loaded(&dep));
    assert!(!is_loaded(&user));
}

#[test]
fn global_objects_serve_later_loads_and_local_ones_do_not() {
    let _serial = common::serial();
    let local = lib("scope_local", &["scope_local.c"], &[], &[]);
    let global = lib("scope_global", &["scope_global.c"], &[], &[]);
    let uses_local = lib("scope_uses_local", &["scope_uses_local.c"], &[], &[]);
    let uses_global = lib("scope_uses_global", &["scope_uses_global.c"], &[], &[]);

    let hl = open_ok(&local, RTLD_NOW | RTLD_LOCAL);
    assert!(open(&uses_local, RTLD_NOW).is_null());
    let err = last_error().expect("an error");
    assert!(
        err.contains(uses_local.to_str().unwrap())
            && err.contains("undefined symbol")
            && err.contains("scope_local_fn"),
        "{err}"
    );
    assert!(sym_addr(RTLD_DEFAULT, "scope_local_fn").is_null());
    assert!(
        !is_loaded(&uses_local),
        "a failed load leaves nothing behind"
    );

    let hg = open_ok(&global, RTLD_NOW | RTLD_GLOBAL);
    let hu = open_ok(&uses_global, RTLD_NOW);
    assert_eq!(call(hu, "scope_uses_global"), 4243);
    assert_eq!(
        sym_addr(RTLD_DEFAULT, "scope_global_fn"),
        sym_addr(hg, "scope_global_fn")
    );

    // Promotion: reopening the local object with RTLD_GLOBAL makes it serve.
    let promoted = open_ok(&local, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
    assert_eq!(promoted, hl);
    let hul = open_ok(&uses_local, RTLD_NOW);
    assert_eq!(call(hul, "scope_uses_local"), 1718);
    assert!(!sym_addr(RTLD_DEFAULT, "scope_local_fn").is_null());

    for h in [hul, promoted, hu, hg, hl] {
        close_ok(h);
    }
}

#[test]
fn nodelete_objects_stay_after_close() {
    let _serial = common::serial();
    let path = lib("nodelete", &["nodelete.c"], &["dltest"], &[]);
    let h = open_ok(&path, RTLD_NOW | RTLD_NODELETE);
    assert_eq!(take_log_with("nodelete:"), ["nodelete:init"]);
    assert_eq!(call(h, "nodelete_next"), 1);
    // SAFETY: the symbol is `int nodelete_next(void)`.
    let next: IntFn = unsafe { sym(h, "nodelete_next") };
    close_ok(h);
    assert!(take_log_with("nodelete:").is_empty(), "no destructor");
    assert!(is_loaded(&path));
    // SAFETY: the object is never unloaded, so its code stays valid.
    assert_eq!(unsafe { next() }, 2, "same object, state kept");
    let again = open_ok(&path, RTLD_NOW);
    assert_eq!(again, h);
    assert_eq!(call(again, "nodelete_next"), 3);
    close_ok(again);
    assert!(
        take_log_with("nodelete:").is_empty(),
        "no constructor again"
    );
}

#[test]
fn dlopen_null_is_the_global_scope() {
    let _serial = common::serial();
    // SAFETY: dlopen(NULL) has no other preconditions.
    let h = unsafe { dlopen(std::ptr::null(), RTLD_NOW) };
    assert!(!h.is_null());
    // Host symbols: libc's strlen, callable.
    // SAFETY: strlen's C signature.
    let strlen: unsafe extern "C" fn(*const c_char) -> usize = unsafe { sym(h, "strlen") };
    // SAFETY: a NUL-terminated string.
    assert_eq!(unsafe { strlen(c"twelve chars".as_ptr()) }, 12);
    assert_eq!(
        strlen as *const () as usize,
        sym_addr(RTLD_DEFAULT, "strlen") as usize
    );
    // And RTLD_GLOBAL objects' symbols, once opened.
    assert!(sym_addr(h, "nullscope_fn").is_null());
    assert!(last_error().unwrap().contains("nullscope_fn"));
    let path = lib("nullscope", &["nullscope.c"], &[], &[]);
    let g = open_ok(&path, RTLD_NOW | RTLD_GLOBAL);
    assert_eq!(call(h, "nullscope_fn"), 31337);
    close_ok(g);
    assert!(
        sym_addr(h, "nullscope_fn").is_null(),
        "gone with its object"
    );
    close_ok(h);
}

/// `dlvsym` of `name` at `version` in `handle`.
fn versioned(handle: *mut c_void, name: &str, version: &str) -> *mut c_void {
    let (name, version) = (c(name), c(version));
    // SAFETY: a handle from dlopen (or a pseudo-handle) and two C strings.
    unsafe { dlvsym(handle, name.as_ptr(), version.as_ptr()) }
}

#[test]
fn dlvsym_finds_each_version() {
    let _serial = common::serial();
    let map = common::fixture_source("versioned.map");
    let path = lib(
        "versioned",
        &["versioned.c"],
        &[],
        &[&format!("-Wl,--version-script={}", map.display())],
    );
    let h = open_ok(&path, RTLD_NOW);
    let call_at = |p: *mut c_void| {
        assert!(!p.is_null(), "{:?}", last_error());
        // SAFETY: both versions of `foo` are `int foo(void)`.
        unsafe { std::mem::transmute::<*mut c_void, IntFn>(p)() }
    };
    assert_eq!(call_at(versioned(h, "foo", "V1")), 1, "foo@V1");
    assert_eq!(call_at(versioned(h, "foo", "V2")), 2, "foo@@V2");
    assert_eq!(call(h, "foo"), 2, "dlsym gives the default version");
    assert!(versioned(h, "foo", "V3").is_null());
    assert_eq!(
        last_error().unwrap(),
        format!("{}: undefined symbol: foo, version V3", path.display())
    );
    close_ok(h);

    // The host's libc, through its own version definitions.
    #[cfg(target_arch = "x86_64")]
    let (current, old) = ("GLIBC_2.14", Some("GLIBC_2.2.5"));
    #[cfg(target_arch = "aarch64")]
    let (current, old) = ("GLIBC_2.17", None::<&str>);
    #[cfg(target_arch = "riscv64")]
    let (current, old) = ("GLIBC_2.27", None::<&str>);
    #[cfg(target_arch = "arm")]
    let (current, old) = ("GLIBC_2.4", None::<&str>);
    let memcpy = versioned(RTLD_DEFAULT, "memcpy", current);
    assert!(!memcpy.is_null(), "{:?}", last_error());
    assert_eq!(
        memcpy,
        sym_addr(RTLD_DEFAULT, "memcpy"),
        "the default version"
    );
    if let Some(old) = old {
        let legacy = versioned(RTLD_DEFAULT, "memcpy", old);
        assert!(
            !legacy.is_null() && legacy != memcpy,
            "memcpy@{old} is another function"
        );
    }
    assert!(versioned(RTLD_DEFAULT, "memcpy", "NO_SUCH_VERSION").is_null());
    assert_eq!(
        last_error().unwrap(),
        "RTLD_DEFAULT: undefined symbol: memcpy, version NO_SUCH_VERSION"
    );
}

#[test]
fn default_and_next_pseudo_handles() {
    let _serial = common::serial();
    let malloc = sym_addr(RTLD_DEFAULT, "malloc");
    assert_eq!(malloc as usize, libc::malloc as *const () as usize);
    // From the test executable, the next malloc is libc's too.
    assert_eq!(sym_addr(RTLD_NEXT, "malloc"), malloc);
    assert!(sym_addr(RTLD_DEFAULT, "dltest_no_such_symbol").is_null());
    let err = last_error().unwrap();
    assert_eq!(err, "RTLD_DEFAULT: undefined symbol: dltest_no_such_symbol");

    // RTLD_NEXT from inside a loaded library that wraps strlen.
    let path = lib("next_wrap", &["next_wrap.c"], &[], &["-fno-builtin"]);
    let h = open_ok(&path, RTLD_NOW | RTLD_LOCAL);
    // SAFETY: both have strlen's signature.
    let (wrapped, mine): (StrlenFn, StrlenFn) = unsafe { (sym(h, "strlen"), sym(h, "my_strlen")) };
    assert_ne!(
        wrapped as *const () as usize,
        sym_addr(RTLD_DEFAULT, "strlen") as usize,
        "the handle finds the library's own strlen first"
    );
    // SAFETY: NUL-terminated strings.
    unsafe {
        assert_eq!(wrapped(c"hello".as_ptr()), 5);
        assert_eq!(mine(c"hello, world".as_ptr()), 12);
    }
    assert_eq!(
        call(h, "next_wrap_calls"),
        2,
        "both calls went through the wrapper"
    );
    // SAFETY: `void *next_wrap_target(void)`.
    let target: unsafe extern "C" fn() -> *mut c_void = unsafe { sym(h, "next_wrap_target") };
    assert_eq!(
        // SAFETY: as declared.
        unsafe { target() },
        sym_addr(RTLD_DEFAULT, "strlen"),
        "libc's strlen"
    );
    close_ok(h);

    // RTLD_NEXT among our own global objects: a's chain_value defers to b's.
    let a = lib("next_chain_a", &["next_chain_a.c"], &[], &[]);
    let b = lib("next_chain_b", &["next_chain_b.c"], &[], &[]);
    let ha = open_ok(&a, RTLD_NOW | RTLD_GLOBAL);
    let hb = open_ok(&b, RTLD_NOW | RTLD_GLOBAL);
    assert_eq!(call(ha, "chain_value"), 1100);
    assert_eq!(call(hb, "chain_value"), 100);
    close_ok(hb);
    close_ok(ha);
}

#[test]
fn dlerror_is_per_thread_precise_and_cleared_by_reading() {
    let _serial = common::serial();
    let _ = last_error();
    let missing = common::lib_dir().join("libdoes_not_exist.so");
    assert!(open(&missing, RTLD_NOW).is_null());
    // Another thread sees none of this thread's error, and its own error
    // does not replace this one.
    let missing_other = missing.with_file_name("libother_missing.so");
    let other = std::thread::spawn(move || {
        let before = last_error();
        assert!(open(&missing_other, RTLD_NOW).is_null());
        (before, last_error())
    })
    .join()
    .unwrap();
    assert_eq!(other.0, None, "no error leaked in from another thread");
    assert!(other.1.unwrap().contains("libother_missing.so"));
    let err = last_error().expect("this thread's error is still there");
    assert_eq!(
        err,
        format!(
            "{}: cannot open shared object file: not found",
            missing.display()
        )
    );
    assert_eq!(last_error(), None, "reading clears it");

    // A missing dependency names itself and who needed it.
    // (bfs_root needs libbfs_a.so; a copy without its neighbours cannot
    // find it.)
    let [root, ..] = bfs_libs();
    let lonely_dir = common::lib_dir().join("lonely");
    std::fs::create_dir_all(&lonely_dir).unwrap();
    let lonely = lonely_dir.join("libbfs_root.so");
    std::fs::copy(&root, &lonely).unwrap();
    assert!(open(&lonely, RTLD_NOW).is_null());
    let err = last_error().unwrap();
    assert_eq!(
        err,
        format!(
            "libbfs_a.so: cannot open shared object file: not found (needed by {})",
            lonely.display()
        )
    );
    take_log_with("bfs_");

    // Missing symbol, at load time and through dlsym.
    let undef = lib("undef", &["undef.c"], &[], &[]);
    assert!(open(&undef, RTLD_NOW).is_null());
    let err = last_error().unwrap();
    assert_eq!(
        err,
        format!(
            "{}: undefined symbol `dltest_nowhere_defined`",
            undef.display()
        )
    );
    let refcount = lib("refcount", &["refcount.c"], &["dltest"], &[]);
    let h = open_ok(&refcount, RTLD_NOW);
    assert!(sym_addr(h, "refcount_nope").is_null());
    assert_eq!(
        last_error().unwrap(),
        format!("{}: undefined symbol: refcount_nope", refcount.display())
    );
    assert_eq!(last_error(), None);
    close_ok(h);
    take_log_with("refcount:");

    // A bad relocation: the type, where, and which file.
    let bad = common::with_bad_relocation(
        &lib("badreloc", &["badreloc.c"], &[], &[]),
        "libbadreloc-patched.so",
    );
    assert!(open(&bad, RTLD_NOW).is_null());
    let err = last_error().unwrap();
    assert!(
        err.starts_with(&format!(
            "{}: unsupported {} relocation type 200 in ",
            bad.display(),
            std::env::consts::ARCH
        )) && err.contains(" at offset 0x"),
        "{err}"
    );

    // Flags dlopen refuses.
    for mode in [
        0,
        RTLD_GLOBAL,
        RTLD_NOLOAD,
        RTLD_NOW | RTLD_LAZY,
        RTLD_NOW | 0x8000,
    ] {
        assert!(open(&refcount, mode).is_null(), "{mode:#x}");
        assert!(
            last_error()
                .unwrap()
                .contains("exactly one of RTLD_LAZY and RTLD_NOW"),
            "{mode:#x}"
        );
    }
}

#[test]
fn invalid_and_stale_handles_are_errors() {
    let _serial = common::serial();
    let mut on_stack = [0u64; 4];
    let bogus: [*mut c_void; 4] = [
        (0x0fff_fff0_usize * 16) as *mut c_void, // an id never handed out
        0x1234_5677 as *mut c_void,              // not even a handle's shape
        on_stack.as_mut_ptr().cast(),            // a real pointer to something else
        (usize::MAX - 15) as *mut c_void,        // a huge id
    ];
    for h in bogus {
        assert!(sym_addr(h, "malloc").is_null(), "{h:?}");
        assert_eq!(last_error().as_deref(), Some("invalid handle"));
        // SAFETY: dlclose must reject what dlopen never returned.
        assert_eq!(unsafe { dlclose(h) }, -1, "{h:?}");
        assert_eq!(last_error().as_deref(), Some("invalid handle"));
    }
    // The pseudo-handles cannot be closed.
    for h in [RTLD_DEFAULT, RTLD_NEXT] {
        // SAFETY: as above.
        assert_eq!(unsafe { dlclose(h) }, -1);
        assert_eq!(last_error().as_deref(), Some("invalid handle"));
    }
    // Null names are refused, not dereferenced.
    // SAFETY: dlsym must reject a null name.
    assert!(unsafe { dlsym(RTLD_DEFAULT, std::ptr::null()) }.is_null());
    assert_eq!(last_error().as_deref(), Some("invalid name"));
    let _ = on_stack;
}

#[test]
fn thread_local_storage_is_per_thread() {
    let _serial = common::serial();
    let path = lib("tls", &["tls.c"], &[], common::traditional_tls());
    check_thread_local_storage(&path);
    // TLS descriptors (aarch64's default; -mtls-dialect=gnu2 on x86_64
    // and 32-bit Arm; riscv64's gcc has none): the platform's resolver.
    // The x86_64 resolver needs `xsave` (every x86-64 CPU since about
    // 2011); without it such objects are refused.
    let xsave = std::fs::read_to_string("/proc/cpuinfo")
        .is_ok_and(|info| info.split_whitespace().any(|flag| flag == "xsave"));
    let descriptors: &[(&str, &[&str])] = if cfg!(target_arch = "aarch64") {
        &[("tls_desc", &["-mtls-dialect=desc"])]
    } else if cfg!(target_arch = "x86_64") {
        &[("tls_desc", &["-mtls-dialect=gnu2"])]
    } else if cfg!(target_arch = "arm") {
        // Thumb-2 (the fixtures' default) and Arm state, whose calls to
        // the resolver differ. With section anchors (the default) the
        // static variables share one descriptor of the block's start;
        // without, each has its own, the addend in its first word.
        &[
            ("tls_desc", &["-mtls-dialect=gnu2"]),
            (
                "tls_desc_arm",
                &["-mtls-dialect=gnu2", "-marm", "-fno-section-anchors"],
            ),
        ]
    } else {
        &[]
    };
    for (name, flags) in descriptors {
        let path = lib(name, &["tls.c"], &[], flags);
        if cfg!(target_arch = "x86_64") && !xsave {
            assert!(open(&path, RTLD_NOW).is_null());
            assert!(last_error().unwrap().contains("TLS descriptors"));
        } else {
            check_thread_local_storage(&path);
        }
    }
}

/// Each thread sees its own copies of `tls.c`'s variables, from their
/// initial values, and a reload starts afresh.
fn check_thread_local_storage(path: &std::path::Path) {
    let h = open_ok(path, RTLD_NOW);
    // SAFETY: the fixture's signatures.
    let counter_address: unsafe extern "C" fn() -> *mut c_void =
        unsafe { sym(h, "tls_counter_address") };
    // SAFETY: as above.
    let zero_sum: unsafe extern "C" fn() -> std::ffi::c_long = unsafe { sym(h, "tls_zero_sum") };
    // SAFETY: as above.
    let mix: unsafe extern "C" fn(f64, f64) -> f64 = unsafe { sym(h, "tls_mix") };
    let (h_addr, counter_address, zero_sum) = (h as usize, counter_address, zero_sum);
    // What one thread sees of the library's variables, from the start. The
    // first access (which makes the thread's block) keeps values in vector
    // registers across it: (3 * 3 + 2) * (3 - 2 * 0.5) + 5 = 27.
    let run = move || {
        let h = h_addr as *mut c_void;
        // SAFETY: a plain function of the open library.
        let mixed = unsafe { mix(3.0, 2.0) };
        assert!(
            (mixed - 27.0).abs() < 1e-9,
            "registers kept across the access: {mixed}"
        );
        let seen = (
            call(h, "tls_bump"),
            call(h, "tls_bump"),
            call(h, "tls_private_bump"),
            call(h, "tls_pointer_read"),
            // SAFETY: plain functions of the open library.
            unsafe { zero_sum() },
            // SAFETY: as above.
            unsafe { zero_sum() },
        );
        // SAFETY: as above.
        (seen, unsafe { counter_address() } as usize)
    };
    let fresh = (6, 7, 101, 77, 0, 9);
    let (mine, my_counter) = run();
    assert_eq!(mine, fresh, "the first thread");
    // All alive at once (each waits for the others before it exits and
    // its blocks are freed), so that each has a block of its own.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let barrier = std::sync::Arc::clone(&barrier);
            std::thread::spawn(move || {
                let seen = run();
                barrier.wait();
                seen
            })
        })
        .collect();
    let others: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("thread ran"))
        .collect();
    let mut addresses = vec![my_counter];
    for (seen, address) in others {
        assert_eq!(seen, fresh, "each thread starts from the initial values");
        addresses.push(address);
    }
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 5, "one block per thread");
    assert_eq!(
        call(h, "tls_bump"),
        8,
        "this thread's copy went on counting"
    );
    close_ok(h);
    assert!(!is_loaded(path));

    // Loaded again: a new module, fresh blocks.
    let h = open_ok(path, RTLD_NOW);
    assert_eq!(call(h, "tls_bump"), 6);
    close_ok(h);
}

#[test]
fn thread_local_storage_the_loader_cannot_give_is_refused() {
    let _serial = common::serial();
    let path = common::initial_exec_tls_library();
    assert!(open(&path, RTLD_NOW).is_null());
    assert_eq!(
        last_error().unwrap(),
        format!(
            "{}: unsupported thread-local storage: {}",
            path.display(),
            common::INITIAL_EXEC_MESSAGE
        )
    );
    assert!(!is_loaded(&path));
}

/// A copy of `path` with its `DT_TEXTREL` tag and `DF_TEXTREL` flag
/// taken out: its relocations of code are then a file's lie.
fn without_textrel(path: &std::path::Path) -> std::path::PathBuf {
    let mut bytes = std::fs::read(path).unwrap();
    let (start, size) = common::section_of_type(&bytes, 6 /* SHT_DYNAMIC */);
    let mut found = false;
    let word = common::WORD;
    for at in (start..start + size).step_by(2 * word) {
        match common::word_at(&bytes, at) {
            22 /* DT_TEXTREL */ => {
                common::put_word(&mut bytes, at, 21); // DT_DEBUG
                found = true;
            }
            30 /* DT_FLAGS */ => {
                let flags = common::word_at(&bytes, at + word) & !4 /* DF_TEXTREL */;
                common::put_word(&mut bytes, at + word, flags);
            }
            _ => {}
        }
    }
    assert!(found, "the linker marked {} DT_TEXTREL", path.display());
    let out = common::lib_dir().join("libtextrel-patched.so");
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn text_relocations_only_when_declared() {
    let _serial = common::serial();
    let path = lib("textrel", &["textrel.c"], &[], &["-Wl,-z,notext"]);
    assert!(
        std::fs::metadata(&path).unwrap().len() > 64 * 1024,
        "mapped, not read"
    );
    let h = open_ok(&path, RTLD_NOW);
    assert_eq!(
        call(h, "textrel_call"),
        4243,
        "the pointer in .text was relocated"
    );
    close_ok(h);

    let lie = without_textrel(&path);
    assert!(open(&lie, RTLD_NOW).is_null());
    let error = last_error().unwrap();
    assert!(
        error.starts_with(&format!("{}: relocation at offset", lie.display()))
            && error.ends_with("writes to a read-only segment (the object has no DT_TEXTREL)"),
        "{error}"
    );
    assert!(!is_loaded(&lie));
}

/// Set to a library's path in the child process of
/// [`lazy_binding_defers_missing_functions_to_their_call`].
const LAZY_CHILD: &str = "DL_TEST_LAZY_CHILD";

#[test]
fn lazy_binding_defers_missing_functions_to_their_call() {
    let _serial = common::serial();
    let path = lib("lazy", &["lazy.c"], &[], &["-Wl,-z,lazy"]);
    assert!(open(&path, RTLD_NOW).is_null());
    assert_eq!(
        last_error().unwrap(),
        format!("{}: undefined symbol `lazy_never_defined`", path.display())
    );
    let h = open_ok(&path, RTLD_LAZY);
    assert_eq!(call(h, "lazy_ok"), 1, "the rest of the library works");
    close_ok(h);

    // Linked -z now, it must bind in full whatever the mode.
    let now = lib("lazy_now", &["lazy.c"], &[], &["-Wl,-z,now"]);
    assert!(open(&now, RTLD_LAZY).is_null());
    assert!(last_error()
        .unwrap()
        .ends_with("undefined symbol `lazy_never_defined`"));

    // The call itself ends the program, naming what is missing.
    let exe = std::env::current_exe().expect("this test binary");
    let child = testkit::fixtures::program_command(&exe)
        .args([
            "--exact",
            "lazy_call_in_a_child_process",
            "--test-threads=1",
        ])
        .env(LAZY_CHILD, &path)
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&child.stderr);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&child.status),
        Some(libc::SIGABRT),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "dl: symbol lookup error: a function that no loaded object defines was called \
             (bound lazily, RTLD_LAZY): {}: undefined symbol: lazy_never_defined",
            path.display()
        )),
        "{stderr}"
    );
}

#[test]
fn lazy_calls_bind_when_a_later_global_object_defines_them() {
    let _serial = common::serial();
    let user = lib(
        "lazy_late_user",
        &["lazy_late_user.c"],
        &[],
        &["-Wl,-z,lazy"],
    );
    let provider = lib("lazy_late_provider", &["lazy_late_provider.c"], &[], &[]);
    let waiting = || {
        modlib_dl::hosted::linker()
            .unresolved_calls()
            .iter()
            .any(|(object, name)| object.ends_with("liblazy_late_user.so") && name == "lazy_late")
    };
    let u = open_ok(&user, RTLD_LAZY);
    assert!(waiting(), "nothing defines lazy_late yet");
    // Local objects serve nobody else: the call still waits.
    let local = open_ok(&provider, RTLD_LAZY | RTLD_LOCAL);
    assert!(waiting(), "a local object does not serve others");
    // Made global (a second open with RTLD_GLOBAL): the waiting call binds.
    let global = open_ok(&provider, RTLD_NOW | RTLD_GLOBAL);
    assert!(!waiting(), "bound once a global object defines it");
    assert_eq!(call(u, "lazy_late_call"), 42);
    // The caller now holds its provider loaded, as a dependency.
    close_ok(global);
    close_ok(local);
    assert!(is_loaded(&provider), "held by the object that calls it");
    assert_eq!(call(u, "lazy_late_call"), 42);
    close_ok(u);
    assert!(!is_loaded(&user));
    assert!(!is_loaded(&provider), "released with its caller");
}

/// The child process of [`lazy_binding_defers_missing_functions_to_their_call`]
/// (does nothing unless started by it): calls the missing function.
#[test]
fn lazy_call_in_a_child_process() {
    let Some(path) = std::env::var_os(LAZY_CHILD) else {
        return;
    };
    let h = open_ok(std::path::Path::new(&path), RTLD_LAZY);
    // SAFETY: `void lazy_call_missing(void)`; it calls the lazy handler,
    // which aborts.
    unsafe {
        let call_missing: unsafe extern "C" fn() = sym(h, "lazy_call_missing");
        call_missing();
    }
    unreachable!("the call to a missing function returned");
}

#[test]
fn constructors_may_call_dlopen() {
    let _serial = common::serial();
    let inner = lib("reenter_inner", &["reenter_inner.c"], &["dltest"], &[]);
    let outer = lib("reenter_outer", &["reenter_outer.c"], &["dltest"], &[]);
    let h = open_ok(&outer, RTLD_NOW);
    assert_eq!(
        take_log_with("reenter_"),
        [
            "reenter_outer:init",
            "reenter_inner:init",
            "reenter_outer:init done"
        ]
    );
    assert_eq!(call(h, "reenter_outer_result"), 99);
    assert!(is_loaded(&inner));
    close_ok(h);
    assert_eq!(
        take_log_with("reenter_"),
        ["reenter_outer:fini", "reenter_inner:fini"]
    );
    assert!(!is_loaded(&inner), "the destructor's dlclose unloaded it");
    assert!(!is_loaded(&outer));
}

#[test]
fn objects_bound_through_the_global_scope_stay_while_used() {
    let _serial = common::serial();
    let provider = lib("bound_provider", &["bound_provider.c"], &["dltest"], &[]);
    let user = lib("bound_user", &["bound_user.c"], &["dltest"], &[]);
    let hp = open_ok(&provider, RTLD_NOW | RTLD_GLOBAL);
    let hu = open_ok(&user, RTLD_NOW);
    assert_eq!(
        take_log_with("bound_"),
        ["bound_provider:init", "bound_user:init"]
    );
    // The provider's last handle goes, but bound_user still calls into it:
    // like a dependency, it stays until its user is unloaded.
    close_ok(hp);
    assert!(is_loaded(&provider));
    assert!(take_log_with("bound_").is_empty(), "no destructor yet");
    assert_eq!(call(hu, "bound_use"), 556);
    close_ok(hu);
    assert_eq!(
        take_log_with("bound_"),
        ["bound_user:fini", "bound_provider:fini"]
    );
    assert!(!is_loaded(&provider));
    assert!(!is_loaded(&user));
}

#[test]
fn noload_never_reads_or_reports() {
    let _serial = common::serial();
    let _ = last_error();
    // A file that is not an object: loading it would fail with "not an ELF
    // file", so a quiet NULL shows RTLD_NOLOAD did not read it.
    let junk = common::lib_dir().join("libnoload_junk.so");
    std::fs::write(&junk, b"not an object").unwrap();
    assert!(open(&junk, RTLD_NOW | RTLD_NOLOAD).is_null());
    assert_eq!(
        last_error(),
        None,
        "RTLD_NOLOAD of an unloaded file is not an error"
    );
    let missing = common::lib_dir().join("libnoload_missing.so");
    assert!(open(&missing, RTLD_NOW | RTLD_NOLOAD).is_null());
    assert_eq!(last_error(), None, "nor is RTLD_NOLOAD of a missing file");
    assert!(open(&junk, RTLD_NOW).is_null());
    assert!(
        last_error().unwrap().contains("not an ELF file"),
        "a real open reads it"
    );
}
