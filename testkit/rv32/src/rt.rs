//! The bare machine: reset entry, trap reporting, the virt board's 16550
//! UART (console) and SiFive test device (exit status).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

/// The 16550 UART's transmit holding register.
const UART_THR: usize = 0x1000_0000;
/// Its line status register; bit 5 is "transmitter holding register empty".
const UART_LSR: usize = 0x1000_0005;
/// The SiFive test device: writing here ends the simulation.
const TEST_DEVICE: usize = 0x10_0000;
/// Test device command: power off with exit status 0.
const EXIT_PASS: u32 = 0x5555;
/// Test device command: power off with the status in the upper 16 bits.
const EXIT_FAIL: u32 = 0x3333;

// Reset entry at the start of RAM: machine mode, hart 0 only (`-smp 1`).
// Installs the trap vector, sets up gp and the stack, clears .bss and
// enters `rust_main`, which never returns.
core::arch::global_asm!(
    r#"
    .section .text.entry, "ax"
    .globl _start
_start:
    csrw mie, zero
    la t0, trap_entry
    csrw mtvec, t0
    .option push
    .option norelax
    la gp, __global_pointer$
    .option pop
    la sp, __stack_top
    la t0, __bss_start
    la t1, __bss_end
1:
    bgeu t0, t1, 2f
    sw zero, 0(t0)
    addi t0, t0, 4
    j 1b
2:
    call rust_main
3:
    wfi
    j 3b

    .balign 4
trap_entry:
    la sp, __stack_top
    call trap_handler
4:
    wfi
    j 4b
"#
);

/// Writes one byte to the UART once it can take it.
fn put_byte(b: u8) {
    // SAFETY: UART_LSR and UART_THR are the virt machine's 16550 registers,
    // always mapped; byte-wide volatile accesses are how it is driven.
    unsafe {
        while core::ptr::read_volatile(UART_LSR as *const u8) & 0x20 == 0 {}
        core::ptr::write_volatile(UART_THR as *mut u8, b);
    }
}

/// The console: the UART.
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                put_byte(b'\r');
            }
            put_byte(b);
        }
        Ok(())
    }
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::rt::Console, format_args!($($arg)*));
    }};
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        $crate::print!($($arg)*);
        $crate::print!("\n");
    }};
}

/// Ends the run: QEMU exits with status 0 when `code` is 0, otherwise
/// with `code`.
pub fn exit(code: u16) -> ! {
    let command = if code == 0 {
        EXIT_PASS
    } else {
        (u32::from(code) << 16) | EXIT_FAIL
    };
    // SAFETY: TEST_DEVICE is the virt machine's SiFive test device; a
    // word write to it powers the machine off.
    unsafe { core::ptr::write_volatile(TEST_DEVICE as *mut u32, command) };
    loop {
        core::hint::spin_loop();
    }
}

/// Longest check name kept for trap and panic reports.
const NAME_MAX: usize = 120;

/// The name of the check running, for trap and panic reports.
static CURRENT: spin::Mutex<([u8; NAME_MAX], usize)> = spin::Mutex::new(([0; NAME_MAX], 0));

/// Records `name` as the check running (shortened to `NAME_MAX` bytes).
pub fn set_current(name: &str) {
    let mut current = CURRENT.lock();
    let mut len = name.len().min(NAME_MAX);
    while !name.is_char_boundary(len) {
        len -= 1;
    }
    current.0[..len].copy_from_slice(&name.as_bytes()[..len]);
    current.1 = len;
}

/// Prints the check running (nothing if the record is being written).
fn print_current() {
    if let Some(current) = CURRENT.try_lock() {
        print!(
            "{}",
            core::str::from_utf8(&current.0[..current.1]).unwrap_or("?")
        );
    }
}

/// Set once a trap is being reported: a trap while reporting one ends the
/// run at once instead of looping.
static IN_TRAP: AtomicBool = AtomicBool::new(false);

/// Any exception (an illegal instruction or a bad access in loaded code)
/// ends the run with its cause, place and value.
#[no_mangle]
extern "C" fn trap_handler() -> ! {
    if IN_TRAP.swap(true, Ordering::Relaxed) {
        exit(4);
    }
    let (cause, epc, tval): (usize, usize, usize);
    // SAFETY: reading machine-mode CSRs in machine mode has no side effect.
    unsafe {
        core::arch::asm!(
            "csrr {0}, mcause",
            "csrr {1}, mepc",
            "csrr {2}, mtval",
            out(reg) cause,
            out(reg) epc,
            out(reg) tval,
        );
    }
    print!("TRAP in ");
    print_current();
    println!(": mcause={cause:#x} mepc={epc:#010x} mtval={tval:#010x}");
    exit(2)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    print!("PANIC in ");
    print_current();
    println!(": {info}");
    exit(3)
}
