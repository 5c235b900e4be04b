//! The kernel console: the machine's UART behind a lock, and the kernel's
//! print macros.

use core::fmt::{self, Write};

use crate::arch;

static LOCK: spin::Mutex<()> = spin::Mutex::new(());

/// Writes raw bytes to the console.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = LOCK.lock();
    for &b in bytes {
        if b == b'\n' {
            arch::console::put(b'\r');
        }
        arch::console::put(b);
    }
}

struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Prints formatted text.
pub fn print(args: fmt::Arguments<'_>) {
    let _ = Console.write_fmt(args);
}

/// Prints to the console.
#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
