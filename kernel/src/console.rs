//! The 16550 UART console of QEMU virt, and the kernel's print macros.

use core::fmt::{self, Write};

const UART: usize = 0x1000_0000;
const LSR: usize = 5;
const LSR_THR_EMPTY: u8 = 1 << 5;

static LOCK: spin::Mutex<()> = spin::Mutex::new(());

fn put(byte: u8) {
    // SAFETY: the UART registers are mapped device memory; polling LSR
    // until the transmit register is empty, then writing THR, is the
    // documented 16550 protocol.
    unsafe {
        while core::ptr::read_volatile((UART + LSR) as *const u8) & LSR_THR_EMPTY == 0 {}
        core::ptr::write_volatile(UART as *mut u8, byte);
    }
}

/// Writes raw bytes to the console.
pub fn write_bytes(bytes: &[u8]) {
    let _guard = LOCK.lock();
    for &b in bytes {
        if b == b'\n' {
            put(b'\r');
        }
        put(b);
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
