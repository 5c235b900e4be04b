//! Hosted demo: load a C module (an `.o` and an `.so` built from the same
//! source) with modlib into this process, bind it to a host symbol table,
//! run its constructor, call it, run its destructor, unload it.
//!
//! Usage: `hosted <module.o|module.so>...`, for example:
//!
//! ```sh
//! gcc -c -O2 -fPIC libmodlib/examples/modules/greeter.c -o target/greeter.o
//! gcc -shared -fPIC -O2 -nostdlib libmodlib/examples/modules/greeter.c -o target/greeter.so
//! cargo run -p modlib --example hosted -- target/greeter.o target/greeter.so
//! ```

use std::ffi::{c_char, c_int, c_long, CStr};

use modlib::{load, LoadOptions, ProviderId, SymbolEntry, SymbolKind, SymbolTable};
use testkit::{CountingMemory, HostMemory, Placement};

extern "C" fn host_print(line: *const c_char) {
    // SAFETY: the module passes a NUL-terminated string.
    let text = unsafe { CStr::from_ptr(line) }.to_string_lossy();
    println!("    [module] {text}");
}

extern "C" fn host_format_int(
    buf: *mut c_char,
    len: c_int,
    label: *const c_char,
    value: c_long,
) -> c_int {
    // SAFETY: the module passes a NUL-terminated label.
    let label = unsafe { CStr::from_ptr(label) }.to_string_lossy();
    let text = format!("{label}: {value}");
    let n = text
        .len()
        .min(usize::try_from(len).unwrap_or(0).saturating_sub(1));
    // SAFETY: `buf` has room for `len` bytes; we write at most `len - 1` plus a NUL.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    n as c_int
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let host = SymbolTable::new(
        vec![
            SymbolEntry::new(
                "host_print",
                host_print as *const () as u64,
                SymbolKind::Function,
            ),
            SymbolEntry::new(
                "host_format_int",
                host_format_int as *const () as u64,
                SymbolKind::Function,
            ),
        ],
        ProviderId(0),
    )?;
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path)?;
        println!("== {path} ({} bytes)", bytes.len());
        let memory = CountingMemory::new(HostMemory::new(Placement::Anywhere));
        {
            let image = load(&bytes, &LoadOptions::default(), &memory, &host)?;
            println!(
                "  loaded {:?} object at {:#x}, {} bytes",
                image.kind(),
                image.start(),
                image.size()
            );
            for r in image.regions() {
                println!(
                    "    region {:#x} {:>6} bytes {:?}",
                    r.addr, r.size, r.protection
                );
            }
            for (key, value) in image.modinfo().entries() {
                println!("  modinfo {key} = {value}");
            }
            for import in image.imports() {
                println!(
                    "  import {} -> {:#x} from provider {:?}",
                    import.name, import.address, import.provider
                );
            }
            // SAFETY: the demo module's constructors take no arguments.
            unsafe { image.run_init()? };
            let greet = image.symbol("greet").ok_or("module has no `greet`")?;
            let sum = image
                .symbol("sum_of_squares")
                .ok_or("module has no `sum_of_squares`")?;
            // SAFETY: `greet` is `long greet(const char *)` in the module source.
            let greet: extern "C" fn(*const c_char) -> c_long =
                unsafe { std::mem::transmute(greet.address as usize) };
            // SAFETY: `sum_of_squares` is `long sum_of_squares(long)`.
            let sum: extern "C" fn(c_long) -> c_long =
                unsafe { std::mem::transmute(sum.address as usize) };
            println!(
                "  greet(\"hello from Rust\") = {}",
                greet(c"greeter: hello from Rust".as_ptr())
            );
            println!("  greet(\"again\") = {}", greet(c"greeter: again".as_ptr()));
            println!("  sum_of_squares(10) = {}", sum(10));
            // SAFETY: destructors take no arguments; run once, after init.
            unsafe { image.run_fini()? };
        }
        println!("  unloaded: {} bytes still held", memory.live_bytes());
    }
    Ok(())
}
