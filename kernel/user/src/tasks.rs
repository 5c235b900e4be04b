//! What the user image does, chosen by `argv[1]`: run a program module,
//! run the user-demo plugins, read the kernel module's device, and the
//! protection probes.

use alloc::ffi::CString;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, c_int, CStr};

use dl_core::{Flags, Handle, Platform};

use crate::dlfcn::linker;
use crate::{println, sys};

/// Loads program module `name` (`/lib/<name>.mo`), calls its
/// `main(argc, argv)`, unloads it, and returns its exit status.
pub fn run_program(name: &str, args: &[&str]) -> i32 {
    let path = alloc::format!("/lib/{name}.mo");
    let handle = match linker().open(Some(&path), Flags::NOW) {
        Ok(h) => h,
        Err(e) => {
            println!("run {name}: {e}");
            return 127;
        }
    };
    let status = match linker().symbol(handle, "main", 0) {
        Ok(main) => {
            let owned: Vec<CString> = args
                .iter()
                .map(|a| CString::new(*a).unwrap_or_default())
                .collect();
            let mut argv: Vec<*const c_char> = owned.iter().map(|a| a.as_ptr()).collect();
            argv.push(core::ptr::null());
            // SAFETY: `main` is the module's `int main(int, char **)`; argv
            // and its strings outlive the call.
            unsafe {
                let main: extern "C" fn(c_int, *const *const c_char) -> c_int =
                    core::mem::transmute(main as usize);
                main(args.len() as c_int, argv.as_ptr())
            }
        }
        Err(e) => {
            println!("run {name}: {e}");
            126
        }
    };
    let _ = linker().close(handle);
    println!("program {name} exited with status {status}");
    status
}

fn ramfs_names() -> Vec<String> {
    let mut names = Vec::new();
    let mut buf = [0u8; 128];
    for i in 0.. {
        let n = sys::call(sys::LIST, i, buf.as_mut_ptr() as u64, buf.len() as u64, 0);
        if n == sys::ERR {
            break;
        }
        names.push(String::from_utf8_lossy(&buf[..n as usize]).into_owned());
    }
    names
}

/// # Safety
/// `symbol` must be a function returning a static C string.
unsafe fn call_text(symbol: u64) -> String {
    // SAFETY: per the contract.
    unsafe {
        let f: extern "C" fn() -> *const c_char = core::mem::transmute(symbol as usize);
        CStr::from_ptr(f()).to_string_lossy().into_owned()
    }
}

/// The user-demo plugin run: every `plugin_*.so` in the ramfs is loaded,
/// described, run on `input` and unloaded; failures are shown.
pub fn plugins(input: &str) -> i32 {
    let files: Vec<String> = ramfs_names()
        .into_iter()
        .filter(|n| n.starts_with("plugin_") && n.ends_with(".so"))
        .collect();
    println!("plugins: {} found, input \"{input}\"", files.len());
    let (mut ran, mut failed) = (0, 0);
    let c_input = CString::new(input).unwrap_or_default();
    for file in &files {
        let path = alloc::format!("/lib/{file}");
        let handle = match linker().open(Some(&path), Flags::NOW) {
            Ok(h) => h,
            Err(e) => {
                println!("  {file:<22} FAILED TO LOAD: {e}");
                failed += 1;
                continue;
            }
        };
        let sym = |n: &str| linker().symbol(handle, n, 0);
        match (
            sym("plugin_name"),
            sym("plugin_description"),
            sym("plugin_run"),
        ) {
            (Ok(name), Ok(desc), Ok(run)) => {
                // SAFETY: the plugin ABI (user-demo/plugins/plugin.h) fixes
                // these signatures.
                let (name, desc) = unsafe { (call_text(name), call_text(desc)) };
                let mut out = [0u8; 256];
                // SAFETY: as above; `out` holds `len` bytes.
                let rc = unsafe {
                    let run: extern "C" fn(*const c_char, *mut c_char, usize) -> c_int =
                        core::mem::transmute(run as usize);
                    run(c_input.as_ptr(), out.as_mut_ptr().cast(), out.len())
                };
                let text = CStr::from_bytes_until_nul(&out)
                    .map_or_else(|_| String::new(), |s| s.to_string_lossy().into_owned());
                println!("  {name:<8} ({desc}) -> \"{text}\" [{rc}]");
                ran += 1;
            }
            _ => {
                println!("  {file:<22} lacks the plugin functions");
                failed += 1;
            }
        }
        let _ = linker().close(handle);
    }
    println!(
        "{} plugins: {ran} ran, {failed} failed to load",
        files.len()
    );
    i32::from(!(ran == 3 && failed == 1))
}

/// Reads the device the kernel's `consumer` module registered through
/// `chardev`.
pub fn device() -> i32 {
    let mut buf = [0u8; 64];
    let n = sys::call(
        sys::DEV_READ,
        0,
        buf.as_mut_ptr() as u64,
        buf.len() as u64,
        0,
    );
    if n == sys::ERR {
        println!("device: read of chardev minor 0 failed");
        return 1;
    }
    let text = core::str::from_utf8(&buf[..n as usize]).unwrap_or("<binary>");
    println!("device: chardev minor 0 (served by kernel module code) says \"{text}\"");
    i32::from(text != "hello from consumer")
}

/// Opens `liblazy.so`, which calls a function nothing defines: refused
/// with `RTLD_NOW`, loaded with `RTLD_LAZY`, where its other functions work
/// and the call to the missing one ends the task (status 127).
pub fn lazy() -> i32 {
    let path = "/lib/liblazy.so";
    match linker().open(Some(path), Flags::NOW) {
        Ok(_) => {
            println!("lazy: RTLD_NOW loaded a library with a missing function");
            return 1;
        }
        Err(e) => println!("lazy: RTLD_NOW: {e}"),
    }
    let handle = match linker().open(Some(path), Flags::LAZY) {
        Ok(h) => h,
        Err(e) => {
            println!("lazy: RTLD_LAZY: {e}");
            return 1;
        }
    };
    let call = |name: &str| match linker().symbol(handle, name, 0) {
        // SAFETY: both are `int f(void)`/`void f(void)` functions of the
        // open library (the int result of the second is never produced).
        Ok(f) => unsafe {
            let f: extern "C" fn() -> i32 = core::mem::transmute(f as usize);
            f()
        },
        Err(e) => {
            println!("lazy: {e}");
            -1
        }
    };
    println!("lazy: RTLD_LAZY loaded it; lazy_ok() = {}", call("lazy_ok"));
    println!("lazy: calling lazy_call_missing()");
    call("lazy_call_missing");
    println!("lazy: the call to the missing function returned");
    1
}

/// Loads the fault library and calls `function` with `arg`, which must
/// not return.
pub fn fault(function: &str, arg: usize) -> i32 {
    // A shared object where the machine's libraries are built so, else a
    // relocatable one.
    let path = ["/lib/libfault.so", "/lib/libfault.o"]
        .into_iter()
        .find(|p| linker().platform().exists(p))
        .unwrap_or("/lib/libfault.so");
    let handle = match linker().open(Some(path), Flags::NOW) {
        Ok(h) => h,
        Err(e) => {
            println!("fault: {e}");
            return 1;
        }
    };
    let f = linker().symbol(handle, function, 0).unwrap_or(0);
    println!("fault: calling {function} in {path} at {f:#x}");
    // SAFETY: deliberately running code that the kernel must stop: the
    // probe functions take one word or nothing (which ignores it).
    unsafe {
        let f: extern "C" fn(usize) -> c_int = core::mem::transmute(f as usize);
        f(arg);
    }
    println!("fault: {function} returned: protection did not hold");
    let _ = linker().close(Handle::Default);
    1
}
