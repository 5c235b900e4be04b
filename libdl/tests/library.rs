//! The safe Rust wrapper: `Library::open`/`get`/`close`, `Library::this`,
//! closing on drop, the forms of paths and names it takes, raw handles and
//! symbols, and its errors.

mod common;

use std::ffi::{c_char, c_int};

use common::{lib, take_log_with};
use modlib_dl::{Error, Flags, Library};

fn wrapper() -> String {
    lib("wrapper", &["wrapper.c"], &["dltest"], &[])
        .to_str()
        .unwrap()
        .to_string()
}

/// Opens a fixture of this suite.
fn open<P: AsRef<std::ffi::OsStr>>(path: P, flags: Flags) -> Result<Library, Error> {
    // SAFETY: the suite's fixtures have constructors that only log.
    unsafe { Library::open(path, flags) }
}

fn loaded(path: &str) -> bool {
    match open(path, Flags::NOW | Flags::NOLOAD) {
        Ok(library) => {
            library.close().unwrap();
            true
        }
        Err(Error::NotLoaded { name }) => {
            assert_eq!(name, path);
            false
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn open_get_call_and_close() {
    let _serial = common::serial();
    let path = wrapper();
    let library = open(&path, Flags::NOW).unwrap();
    assert_eq!(take_log_with("wrapper:"), ["wrapper:init"]);
    // SAFETY: the fixture's signatures.
    unsafe {
        let add = library
            .get::<unsafe extern "C" fn(c_int, c_int) -> c_int>("wrapper_add")
            .unwrap();
        assert_eq!(add(40, 2), 42);
        let bump = library
            .get::<unsafe extern "C" fn() -> c_int>("wrapper_bump")
            .unwrap();
        assert_eq!(bump(), 41);
        // Data symbols come as pointers.
        let counter = library.get::<*mut c_int>("wrapper_counter").unwrap();
        assert_eq!(**counter, 41);
        **counter = 99;
        assert_eq!(bump(), 100);
        assert_eq!(counter.address(), *counter as usize);
    }
    assert!(loaded(&path));
    library.close().unwrap();
    assert_eq!(take_log_with("wrapper:"), ["wrapper:fini"]);
    assert!(!loaded(&path));
}

#[test]
fn drop_closes() {
    let _serial = common::serial();
    let path = wrapper();
    {
        let first = open(&path, Flags::NOW).unwrap();
        let second = open(&path, Flags::LAZY).unwrap();
        assert_eq!(first.handle(), second.handle());
        drop(first);
        assert!(loaded(&path), "one reference left");
        assert_eq!(take_log_with("wrapper:"), ["wrapper:init"]);
        // SAFETY: the fixture's signature.
        let add =
            unsafe { second.get::<unsafe extern "C" fn(c_int, c_int) -> c_int>("wrapper_add") }
                .unwrap();
        // SAFETY: `second` keeps the library open while `add` is used.
        assert_eq!(unsafe { add(1, 2) }, 3);
    }
    assert_eq!(take_log_with("wrapper:"), ["wrapper:fini"]);
    assert!(!loaded(&path));
}

#[test]
fn this_is_the_global_scope() {
    let this = Library::this();
    // SAFETY: strlen's C signature.
    let strlen =
        unsafe { this.get::<unsafe extern "C" fn(*const c_char) -> usize>("strlen") }.unwrap();
    // SAFETY: a NUL-terminated string.
    assert_eq!(unsafe { strlen(c"seven!!".as_ptr()) }, 7);
    assert_eq!(strlen.address(), libc::strlen as *const () as usize);
    // The executable's (and so our) own exports are in it too.
    // SAFETY: only the address is used.
    let ours = unsafe { this.get::<*const ()>("dlopen") }.unwrap();
    assert_eq!(
        ours.address(),
        modlib_dl::capi::dlopen as *const () as usize
    );
    this.close().unwrap();
    // `this` again after closing: still usable, closing it is a no-op.
    drop(Library::this());
}

#[test]
fn errors() {
    let _serial = common::serial();
    let missing = common::lib_dir().join("libnot_there.so");
    let missing = missing.to_str().unwrap();
    let e = open(missing, Flags::NOW).unwrap_err();
    assert_eq!(
        e,
        Error::NotFound {
            name: missing.to_string(),
            needed_by: None
        }
    );
    assert_eq!(
        e.to_string(),
        format!("{missing}: cannot open shared object file: not found")
    );
    assert_eq!(open("", Flags::NOW).unwrap_err(), Error::InvalidName);

    let path = wrapper();
    let library = open(&path, Flags::NOW).unwrap();
    // SAFETY: only the lookup is exercised.
    let e = unsafe { library.get::<unsafe extern "C" fn()>("wrapper_missing") }.unwrap_err();
    assert_eq!(
        e,
        Error::SymbolNotFound {
            object: path.clone(),
            name: "wrapper_missing".to_string()
        }
    );
    assert_eq!(
        e.to_string(),
        format!("{path}: undefined symbol: wrapper_missing")
    );
    // A type that is not pointer-sized is refused rather than transmuted,
    // with an error naming the symbol and both sizes.
    // SAFETY: refused before any use.
    let e = unsafe { library.get::<u8>("wrapper_add") }.unwrap_err();
    let pointer = std::mem::size_of::<usize>();
    assert_eq!(
        e,
        Error::SymbolTypeSize {
            name: "wrapper_add".to_string(),
            size: 1,
            expected: pointer,
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "wrapper_add: a symbol's address takes {pointer} bytes, but the requested type has 1"
        )
    );
    drop(library);
    take_log_with("wrapper:");

    let tls = common::initial_exec_tls_library();
    let tls = tls.to_str().unwrap();
    assert!(matches!(
        open(tls, Flags::NOW).unwrap_err(),
        Error::ThreadLocalStorage { path, what } if path == tls && what.contains("initial-exec")
    ));
}

/// Loading through the hosted platform tells IFUNC resolvers the CPU's
/// capabilities, as the system's loader does (`AT_HWCAP`, `AT_HWCAP2`):
/// the platform passes them with each load.
#[test]
fn ifunc_resolvers_are_told_the_cpu_capabilities() {
    use modlib_dl::Platform;
    let path = lib(
        "ifunc_args",
        &["../../../libmodlib/tests/fixtures/ifunc_args.c"],
        &[],
        &[],
    );
    // SAFETY: getauxval has no preconditions.
    let (hwcap, hwcap2): (libc::c_ulong, libc::c_ulong) = unsafe {
        (
            libc::getauxval(libc::AT_HWCAP),
            libc::getauxval(libc::AT_HWCAP2),
        )
    };
    #[allow(
        clippy::unnecessary_cast,
        reason = "`unsigned long` is 32 bits on 32-bit machines"
    )]
    let caps = modlib::HwCaps {
        hwcap: hwcap as u64,
        hwcap2: hwcap2 as u64,
    };
    assert_eq!(modlib_dl::hosted::Hosted::new().hwcaps(), caps);
    let library = open(&path, Flags::NOW).unwrap();
    // SAFETY: the types of ifunc_args.c.
    let (call_seven, resolver_args) = unsafe {
        (
            library
                .get::<extern "C" fn() -> c_int>("call_seven")
                .unwrap(),
            library
                .get::<extern "C" fn() -> *const [u64; 4]>("resolver_args")
                .unwrap(),
        )
    };
    assert_eq!(call_seven(), 14);
    // SAFETY: the fixture's static array.
    let seen = unsafe { *resolver_args() };
    let expected = if cfg!(target_arch = "aarch64") {
        [caps.hwcap | 1 << 62, 24, caps.hwcap, caps.hwcap2]
    } else if cfg!(target_arch = "riscv64") || cfg!(target_arch = "arm") {
        [caps.hwcap, 0, 0, 0]
    } else {
        [0; 4]
    };
    assert_eq!(seen, expected);
}

/// `open` takes what `libloading` takes: anything that is an `OsStr`.
#[test]
fn paths_in_every_form() {
    let _serial = common::serial();
    let path = wrapper();
    let as_path = std::path::Path::new(&path);
    let libraries = [
        open(&path, Flags::NOW).unwrap(),
        open(path.as_str(), Flags::NOW).unwrap(),
        open(as_path, Flags::NOW).unwrap(),
        open(std::path::PathBuf::from(&path), Flags::NOW).unwrap(),
        open(std::ffi::OsString::from(&path), Flags::NOW).unwrap(),
        // SAFETY: the fixture's constructor only logs.
        unsafe { Library::new(&path) }.unwrap(),
    ];
    assert!(libraries
        .iter()
        .all(|l| l.handle() == libraries[0].handle()));
    drop(libraries);
    assert_eq!(take_log_with("wrapper:"), ["wrapper:init", "wrapper:fini"]);
    assert!(!loaded(&path));
}

/// A path the loader cannot name (not UTF-8, or cut short by a NUL) is
/// refused before any file is looked at.
#[test]
fn paths_that_are_not_names() {
    use std::os::unix::ffi::OsStrExt;
    let path = wrapper();
    let not_utf8 = std::ffi::OsStr::from_bytes(b"/tmp/\xff.so");
    assert_eq!(open(not_utf8, Flags::NOW).unwrap_err(), Error::InvalidName);
    let with_nul = format!("{path}\0.so");
    assert_eq!(open(with_nul, Flags::NOW).unwrap_err(), Error::InvalidName);
}

/// `get` takes `&str`, `&CStr`, and bytes with or without their NUL.
#[test]
fn names_in_every_form() {
    type Add = unsafe extern "C" fn(c_int, c_int) -> c_int;
    let _serial = common::serial();
    let library = open(wrapper(), Flags::NOW).unwrap();
    // SAFETY: the fixture's signature; only compared, then called once.
    let symbols = unsafe {
        [
            library.get::<Add>("wrapper_add").unwrap(),
            library.get::<Add>(b"wrapper_add\0").unwrap(),
            library.get::<Add>(b"wrapper_add").unwrap(),
            library.get::<Add>(&b"wrapper_add\0"[..]).unwrap(),
            library.get::<Add>(c"wrapper_add").unwrap(),
            library.get::<Add>(String::from("wrapper_add")).unwrap(),
            library.get::<Add>(c"wrapper_add".to_owned()).unwrap(),
        ]
    };
    assert!(symbols.iter().all(|s| s.address() == symbols[0].address()));
    // SAFETY: the library is open.
    assert_eq!(unsafe { symbols[4](2, 3) }, 5);
    for bad in [&b"wrapper_add\0x"[..], b"wrapper_add\0\0", b"wrapper_\xff"] {
        // SAFETY: refused before any lookup.
        let e = unsafe { library.get::<Add>(bad) }.unwrap_err();
        assert_eq!(e, Error::InvalidName, "{bad:?}");
    }
    drop(library);
    take_log_with("wrapper:");
}

/// Modes C's `dlopen` refuses (glibc's rule: exactly one of `LAZY` and
/// `NOW`, plus modifiers) are refused with a typed error, loading nothing.
#[test]
fn flags_dlopen_refuses() {
    let _serial = common::serial();
    let path = wrapper();
    for flags in [
        Flags::LOCAL,
        Flags::GLOBAL,
        Flags::NOLOAD,
        Flags::NODELETE,
        Flags::NOW | Flags::LAZY,
        Flags::NOW | Flags::LAZY | Flags::GLOBAL,
    ] {
        let e = open(&path, flags).unwrap_err();
        assert_eq!(e, Error::InvalidFlags { mode: flags.bits() });
        assert!(
            e.to_string()
                .ends_with("exactly one of RTLD_LAZY and RTLD_NOW is required"),
            "{e}"
        );
    }
    assert!(!loaded(&path));
    assert_eq!(take_log_with("wrapper:"), Vec::<String>::new());
}

/// A library becomes a `dlopen` handle and back, keeping its reference
/// in between; symbols become addresses and back, and clone.
#[test]
fn raw_handles_and_symbols() {
    type Add = unsafe extern "C" fn(c_int, c_int) -> c_int;
    let _serial = common::serial();
    let path = wrapper();
    let raw = open(&path, Flags::NOW).unwrap().into_raw();
    assert!(loaded(&path), "into_raw keeps the reference");
    // SAFETY: a handle from this loader, and a NUL-terminated name.
    let from_c = unsafe { modlib_dl::capi::dlsym(raw, c"wrapper_add".as_ptr()) };
    assert!(!from_c.is_null());
    // SAFETY: `raw` is open and its reference is handed over here.
    let library = unsafe { Library::from_raw(raw) };
    // SAFETY: the fixture's signature.
    let add = unsafe { library.get::<Add>("wrapper_add") }.unwrap();
    assert_eq!(add.as_raw_ptr(), from_c);
    let copy = add.clone();
    assert_eq!(copy.address(), add.address());
    let address = add.into_raw();
    // SAFETY: `address` is `wrapper_add` of `library`, still open.
    let again = unsafe { modlib_dl::Symbol::<Add>::from_raw(address, &library) };
    // SAFETY: the library is open.
    assert_eq!(unsafe { again(20, 22) }, 42);
    // SAFETY: as above.
    assert_eq!(unsafe { copy(1, 1) }, 2);

    // SAFETY: an `Option` of the fixture's signature.
    let maybe = unsafe { library.get::<Option<Add>>("wrapper_add") }.unwrap();
    let lifted = maybe.lift_option().expect("a non-null function");
    // SAFETY: the library is open.
    assert_eq!(unsafe { lifted(3, 4) }, 7);
    // SAFETY: a null `Option<Add>` is `None`.
    let null =
        unsafe { modlib_dl::Symbol::<Option<Add>>::from_raw(std::ptr::null_mut(), &library) };
    assert!(null.lift_option().is_none());

    library.close().unwrap();
    assert!(!loaded(&path));
    assert_eq!(take_log_with("wrapper:"), ["wrapper:init", "wrapper:fini"]);
}

/// `Library::this()` is the handle `dlopen(NULL)` returns.
#[test]
fn this_is_dlopen_of_null() {
    // SAFETY: a null name asks for the global scope.
    let global = unsafe { modlib_dl::capi::dlopen(std::ptr::null(), modlib_dl::capi::RTLD_NOW) };
    assert_eq!(Library::this().into_raw(), global);
    // SAFETY: the handle just returned.
    assert_eq!(unsafe { modlib_dl::capi::dlclose(global) }, 0);
}

/// As with `libloading`, a library and a function symbol can be shared
/// between threads.
#[test]
fn library_and_function_symbols_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Library>();
    send_sync::<modlib_dl::Symbol<'static, unsafe extern "C" fn()>>();
}
