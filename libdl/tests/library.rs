//! The safe Rust wrapper: `Library::open`/`get`/`close`, `Library::this`,
//! closing on drop, and its errors.

mod common;

use std::ffi::{c_char, c_int};

use common::{lib, take_log_with};
use dl::{Error, Flags, Library};

fn wrapper() -> String {
    lib("wrapper", &["wrapper.c"], &["dltest"], &[])
        .to_str()
        .unwrap()
        .to_string()
}

fn loaded(path: &str) -> bool {
    match Library::open(path, Flags::NOW | Flags::NOLOAD) {
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
    let library = Library::open(&path, Flags::NOW).unwrap();
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
        let first = Library::open(&path, Flags::NOW).unwrap();
        let second = Library::open(&path, Flags::LAZY).unwrap();
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
    assert_eq!(ours.address(), dl::capi::dlopen as *const () as usize);
    this.close().unwrap();
    // `this` again after closing: still usable, closing it is a no-op.
    drop(Library::this());
}

#[test]
fn errors() {
    let _serial = common::serial();
    let missing = common::lib_dir().join("libnot_there.so");
    let missing = missing.to_str().unwrap();
    let e = Library::open(missing, Flags::NOW).unwrap_err();
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
    assert_eq!(
        Library::open("", Flags::NOW).unwrap_err(),
        Error::InvalidName
    );

    let path = wrapper();
    let library = Library::open(&path, Flags::NOW).unwrap();
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
        Library::open(tls, Flags::NOW).unwrap_err(),
        Error::ThreadLocalStorage { path, what } if path == tls && what.contains("initial-exec")
    ));
}

/// Loading through the hosted platform tells IFUNC resolvers the CPU's
/// capabilities, as the system's loader does (`AT_HWCAP`, `AT_HWCAP2`).
#[test]
fn ifunc_resolvers_are_told_the_cpu_capabilities() {
    // Serialised: the other tests watch `wrapper` being loaded and unloaded.
    let _serial = common::serial();
    let library = Library::open(&wrapper(), Flags::NOW).unwrap();
    // SAFETY: getauxval has no preconditions.
    let (hwcap, hwcap2): (libc::c_ulong, libc::c_ulong) = unsafe {
        (
            libc::getauxval(libc::AT_HWCAP),
            libc::getauxval(libc::AT_HWCAP2),
        )
    };
    // `c_ulong`: a word, widened.
    #[allow(
        clippy::unnecessary_cast,
        reason = "`c_ulong` is `u32` on 32-bit machines"
    )]
    let (hwcap, hwcap2) = (hwcap as u64, hwcap2 as u64);
    assert_eq!(modlib::hwcaps(), modlib::HwCaps { hwcap, hwcap2 });
    library.close().unwrap();
    take_log_with("wrapper:");
}
