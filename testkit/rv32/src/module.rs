//! module.c, the hosted suites' main execution fixture, loaded as a
//! relocatable object in every build of the matrix and as a shared object,
//! run through what it does (constructors in priority order, calls within
//! the module and to the host, weak symbols, data both ways, GOT accesses,
//! function-pointer tables, the jump table, strings, the 1 MiB arrays,
//! destructors), and unloaded with every byte given back.

use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, CStr};
use core::sync::atomic::Ordering;

use modlib::{load, LoadOptions, LoadedImage, Machine, Memory, ObjectKind, Protection};

use crate::fixtures::{MODULE_DYN, MODULE_REL};
use crate::heap::{self, HeapMemory};
use crate::host::{
    fn_addr, host_add, host_table, host_value, set_host_value, take_trace, HostData, HOST,
    HOST_NAME,
};
use crate::{ensure, ensure_eq, Fixture, Outcome, Runner};

/// Options for RV32 objects.
pub fn options() -> LoadOptions {
    LoadOptions {
        machine: Machine::Riscv32,
        ..LoadOptions::default()
    }
}

/// The exported symbol `name` of `image` as pointer type `F`.
///
/// # Safety
/// `F` must be the symbol's C type (a function pointer or a data pointer),
/// and the value must not be used after the image is dropped.
pub unsafe fn get<F: Copy, M: Memory>(image: &LoadedImage<M>, name: &str) -> Result<F, String> {
    assert_eq!(size_of::<F>(), size_of::<usize>());
    let addr = image
        .symbol(name)
        .ok_or_else(|| alloc::format!("`{name}` is not exported"))?
        .address as usize;
    ensure!(addr != 0, "`{name}` is at address 0");
    // SAFETY: `F` is pointer-sized (asserted) and the caller vouches for
    // its type.
    Ok(unsafe { core::mem::transmute_copy::<usize, F>(&addr) })
}

/// The loader's final protection of the region holding `addr`.
pub fn protection_at<M: Memory>(image: &LoadedImage<M>, addr: u64) -> Option<Protection> {
    image
        .regions()
        .iter()
        .find(|r| r.addr <= addr && addr < r.addr + r.size as u64)
        .map(|r| r.protection)
}

/// Reads a C string the module hands out.
///
/// # Safety
/// `p` must be null or point to a NUL-terminated string.
unsafe fn c_str(p: *const c_char) -> Result<String, String> {
    ensure!(!p.is_null(), "null string");
    // SAFETY: the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    Ok(String::from(s.to_str().map_err(|_| "string is not UTF-8")?))
}

fn fib(n: i32) -> i32 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

fn dense_switch(x: i32, y: i32) -> i32 {
    match x {
        0 => y + 17,
        1 => y * 4,
        2 => y - 99,
        3 => y << 3,
        4 => y ^ 123,
        5 => y / 8,
        6 => y % 61,
        7 => !y,
        8 => y * y,
        9 => y + 77,
        10 => y | 31,
        11 => -y,
        12 => y & 0x55,
        13 => fib(y & 7),
        14 => y >> 2,
        15 => 500 - y,
        _ => -1,
    }
}

fn string_hash(s: &str) -> i32 {
    let h = s.bytes().fold(5381u32, |h, b| {
        h.wrapping_mul(33).wrapping_add(u32::from(b))
    });
    (h & 0x7fff_ffff) as i32
}

const WORDS: [&str; 5] = ["zero", "one", "two", "three", "four"];

fn words_hash() -> i32 {
    let mut h = 0i32;
    for (i, w) in WORDS.iter().enumerate() {
        h ^= string_hash(w).wrapping_add(i as i32);
    }
    h ^ string_hash("hello, loader") ^ string_hash("merged literal")
}

fn big_zero_sum() -> i32 {
    (0u32..1 << 20)
        .map(|i| u32::from(i.wrapping_mul(7) as u8))
        .fold(0u32, u32::wrapping_add) as i32
}

/// Constructor priorities in the order they must run.
const CTOR_ORDER: [i32; 4] = [101, 150, 300, 65535];
/// Destructor trace codes in the order they must run.
const DTOR_ORDER: [i32; 3] = [-65535, -150, -101];

type FnV = extern "C" fn() -> i32;
type FnI = extern "C" fn(i32) -> i32;
type FnII = extern "C" fn(i32, i32) -> i32;
type FnIII = extern "C" fn(i32, i32, i32) -> i32;

/// Runs a loaded module.c through everything it does. `direct` says
/// whether the build references host data directly: on a 32-bit machine
/// every build does (PIC through the GOT, non-PIC with absolute fields,
/// which reach the whole address space).
fn exercise<M: Memory>(image: &LoadedImage<M>, direct: bool, host: &HostData) -> Outcome {
    take_trace();
    // SAFETY: every `get` below names a module.c symbol with its C type,
    // and nothing obtained here outlives `image`; the raw pointers are to
    // module.c's data, accessed while no module code runs; the constructors
    // and destructors are the image's own (built for this machine, calling
    // only host functions of its table), run once each.
    unsafe {
        // Constructors: `.init_array` in priority order.
        image
            .run_init()
            .map_err(|e| alloc::format!("run_init: {e}"))?;
        ensure_eq!(take_trace(), CTOR_ORDER, "constructor order (host trace)");
        let ctor_total: FnV = get(image, "ctor_total")?;
        let ctor_order: FnI = get(image, "ctor_order")?;
        ensure_eq!(ctor_total(), 4, "constructors run");
        let seen: Vec<i32> = (0..4).map(|i| ctor_order(i)).collect();
        ensure_eq!(seen, CTOR_ORDER, "constructor order (module log)");

        // Calls within the module.
        let fib_m: FnI = get(image, "fib")?;
        let sum_of_squares: FnI = get(image, "sum_of_squares")?;
        let calls_so_far: FnV = get(image, "calls_so_far")?;
        ensure_eq!(fib_m(20), 6765, "fib(20)");
        ensure_eq!(sum_of_squares(10), 385, "sum_of_squares(10)");
        ensure_eq!(sum_of_squares(3), 14, "sum_of_squares(3)");
        ensure_eq!(calls_so_far(), 2, "static counter");

        // Calls to the host and back.
        let add_via_host: FnII = get(image, "add_via_host")?;
        let call_back: FnI = get(image, "call_back_through_host")?;
        ensure_eq!(add_via_host(2, 3), 12, "add_via_host");
        ensure_eq!(call_back(5), 31, "host calls back into the module");

        // Weak symbols.
        let call_weak_defined: FnV = get(image, "call_weak_defined")?;
        let weak_state: FnV = get(image, "weak_state")?;
        let call_optional: FnI = get(image, "call_optional")?;
        ensure_eq!(call_weak_defined(), 12, "weak definition");
        ensure_eq!(weak_state(), 3, "undefined weak symbols are null");
        ensure_eq!(call_optional(4), 401, "weak reference the host defines");
        for missing in ["missing_function", "missing_data"] {
            let import = image.imports().iter().find(|i| i.name == missing);
            let import = import.ok_or_else(|| alloc::format!("{missing} not imported"))?;
            ensure_eq!((import.address, import.provider), (0, None), "{missing}");
        }
        for local in [
            "local_square",
            "static_calls",
            "triple",
            "big_zero",
            "words",
        ] {
            ensure!(image.symbol(local).is_none(), "local `{local}` is exported");
        }

        // Module data, both sides.
        let mod_counter: *mut i32 = get(image, "mod_counter")?;
        let get_counter: FnV = get(image, "get_counter")?;
        let set_counter: extern "C" fn(i32) = get(image, "set_counter")?;
        ensure_eq!(mod_counter.read_volatile(), 7, "initial mod_counter");
        mod_counter.write_volatile(40);
        ensure_eq!(get_counter(), 40, "host write seen by the module");
        set_counter(-9);
        ensure_eq!(
            mod_counter.read_volatile(),
            -9,
            "module write seen by the host"
        );
        ensure_eq!(add_via_host(1, 1), -7, "add_via_host reads mod_counter");

        // bss, common and static data.
        let bump_all: FnV = get(image, "bump_all")?;
        ensure_eq!(bump_all(), 20301, "bump_all");
        ensure_eq!(bump_all(), 40602, "bump_all again");
        let bss: *mut i32 = get(image, "bss_counter")?;
        let common: *mut i32 = get(image, "common_counter")?;
        ensure_eq!(
            (bss.read_volatile(), common.read_volatile()),
            (4, 6),
            "bss_counter, common_counter"
        );
        let common_address: extern "C" fn() -> *mut i32 = get(image, "common_address")?;
        ensure_eq!(common_address(), common, "common address");
        let answer: *const i32 = get(image, "answer")?;
        let answer_address: extern "C" fn() -> *const i32 = get(image, "answer_address")?;
        ensure_eq!(answer_address(), answer, "const address, both sides");
        ensure_eq!(answer.read(), 42, "const data");

        // Host data through calls, and directly through the GOT.
        let via_calls: FnV = get(image, "host_data_via_calls")?;
        set_host_value(8);
        ensure_eq!(via_calls(), 17, "host data through calls");
        ensure_eq!(host_value(), 17, "host value after the module set it");
        if direct {
            let host_data_direct: FnV = get(image, "host_data_direct")?;
            let host_name_char: extern "C" fn(i32) -> c_char = get(image, "host_name_char")?;
            let optional_present: FnV = get(image, "optional_present")?;
            ensure_eq!(
                host_data_direct(),
                41,
                "host data read and written directly"
            );
            ensure_eq!(host.value.load(Ordering::SeqCst), 41, "host_value");
            ensure_eq!(host.array[3].load(Ordering::SeqCst), 6, "host_array[3]");
            let read: Vec<u8> = (0..9).map(|i| host_name_char(i)).collect();
            ensure_eq!(
                &read[..],
                HOST_NAME.to_bytes(),
                "host_name through a host pointer"
            );
            ensure_eq!(optional_present(), 1, "address of a host function");
        } else {
            ensure!(
                image.symbol("host_data_direct").is_none(),
                "non-PIC build exports host_data_direct"
            );
        }

        // Function-pointer tables.
        let apply_op: FnIII = get(image, "apply_op")?;
        let results: Vec<i32> = (0..5).map(|i| apply_op(i, 7, 3)).collect();
        ensure_eq!(results, [10, 4, 21, 7, 10], "const function table");
        let apply_mutable: FnIII = get(image, "apply_mutable")?;
        let swap_mutable: extern "C" fn() = get(image, "swap_mutable")?;
        ensure_eq!(
            (apply_mutable(0, 7, 3), apply_mutable(1, 7, 3)),
            (21, 10),
            "writable table"
        );
        swap_mutable();
        ensure_eq!(
            (apply_mutable(0, 7, 3), apply_mutable(1, 7, 3)),
            (10, 21),
            "swapped table"
        );
        let op_pointer: extern "C" fn(i32) -> Option<FnII> = get(image, "op_pointer")?;
        let op_max = op_pointer(3).ok_or("op_max pointer is null")?;
        ensure_eq!(
            op_max as usize as u64,
            image.symbol("op_max").map_or(0, |s| s.address),
            "op_max pointer"
        );
        ensure_eq!(op_max(-4, 9), 9, "module function through its pointer");
        let in_table = op_pointer(4).ok_or("host_add pointer is null")?;
        ensure_eq!(
            in_table as usize as u64,
            fn_addr(host_add as *const ()),
            "host function in a table"
        );

        // The jump table.
        let dense: FnII = get(image, "dense_switch")?;
        let switch_sum: FnI = get(image, "switch_sum")?;
        for x in -2..=17 {
            ensure_eq!(dense(x, 37), dense_switch(x, 37), "dense_switch({x})");
        }
        for y in [37, -12, 1000] {
            let want: i32 = (-1..=16).map(|i| dense_switch(i, y) * (i + 2)).sum();
            ensure_eq!(switch_sum(y), want, "switch_sum({y})");
        }

        // Strings.
        let word: extern "C" fn(i32) -> *const c_char = get(image, "word")?;
        for (i, w) in WORDS.iter().enumerate() {
            ensure_eq!(c_str(word(i as i32))?, *w, "word({i})");
        }
        let literal: extern "C" fn() -> *const c_char = get(image, "literal")?;
        ensure_eq!(c_str(literal())?, "merged literal", "literal");
        let greeting: *const *const c_char = get(image, "greeting")?;
        ensure_eq!(c_str(*greeting)?, "hello, loader", "greeting");
        let words_hash_m: FnV = get(image, "words_hash")?;
        ensure_eq!(words_hash_m(), words_hash(), "words_hash");

        // The 1 MiB arrays.
        let big_zero_check: FnV = get(image, "big_zero_check")?;
        ensure_eq!(big_zero_check(), big_zero_sum(), "1 MiB bss array");
        ensure_eq!(big_zero_check(), -1, "bss array keeps what was written");
        let big_zero_address: extern "C" fn() -> *const u8 = get(image, "big_zero_address")?;
        let big_zero = big_zero_address();
        ensure!(
            image.contains(big_zero as u64 + (1 << 20) - 1),
            "bss outside the image"
        );
        ensure_eq!(*big_zero.add(12345), (12345u32 * 7) as u8, "bss contents");
        let big_data_sum: FnV = get(image, "big_data_sum")?;
        ensure_eq!(big_data_sum(), 6, "1 MiB data array");
        let big_data: *mut u8 = get(image, "big_data")?;
        big_data.add(100).write_volatile(200);
        ensure_eq!(big_data.add(4096).read_volatile(), 2, "big_data[4096]");
        ensure_eq!(big_data_sum(), 206, "host write to big_data");

        // Metadata, protections, imports.
        let info = image.modinfo();
        ensure_eq!(info.get("name"), Some("module"), "modinfo name");
        ensure_eq!(info.get("license"), Some("MIT"), "modinfo license");
        for f in ["fib", "dense_switch", "add_via_host"] {
            let a = image.symbol(f).map_or(0, |s| s.address);
            ensure_eq!(
                protection_at(image, a),
                Some(Protection::ReadExecute),
                "{f}"
            );
        }
        for d in ["mod_counter", "bss_counter", "common_counter", "big_data"] {
            let a = image.symbol(d).map_or(0, |s| s.address);
            ensure_eq!(protection_at(image, a), Some(Protection::ReadWrite), "{d}");
        }
        ensure_eq!(
            protection_at(image, answer as u64),
            Some(Protection::Read),
            "const data"
        );
        for name in ["host_add", "host_trace", "host_optional"] {
            let import = image.imports().iter().find(|i| i.name == name);
            let import = import.ok_or_else(|| alloc::format!("{name} not imported"))?;
            ensure_eq!(import.provider, Some(HOST), "provider of {name}");
        }

        // Destructors, in reverse priority order.
        image
            .run_fini()
            .map_err(|e| alloc::format!("run_fini: {e}"))?;
        ensure_eq!(take_trace(), DTOR_ORDER, "destructor order");
    }
    Ok(())
}

/// Loads `fx` as `kind`, exercises it, drops it, and checks that the
/// memory and the heap are back where they were.
fn load_and_exercise(fx: &Fixture, kind: ObjectKind) -> Outcome {
    let memory = HeapMemory::new();
    let heap_before = heap::used();
    {
        let host = HostData::new();
        let table = host_table(&host);
        let image =
            load(fx.bytes, &options(), &memory, &table).map_err(|e| alloc::format!("load: {e}"))?;
        ensure_eq!(image.kind(), kind, "object kind");
        exercise(&image, true, &host)?;
    }
    ensure_eq!(
        (memory.live_bytes(), memory.live_reservations()),
        (0, 0),
        "memory held after the image was dropped"
    );
    ensure_eq!(
        heap::used(),
        heap_before,
        "heap bytes in use after unloading"
    );
    Ok(())
}

/// Every module.c build.
pub fn run(runner: &mut Runner) {
    for fx in MODULE_REL {
        runner.check(fx.label, || load_and_exercise(fx, ObjectKind::Relocatable));
    }
    for fx in MODULE_DYN {
        runner.check(fx.label, || load_and_exercise(fx, ObjectKind::Shared));
    }
}
