//! The 16550 UART of QEMU virt.

const UART: usize = 0x1000_0000;
const LSR: usize = 5;
const LSR_THR_EMPTY: u8 = 1 << 5;

/// Sends one byte.
pub fn put(byte: u8) {
    // SAFETY: the UART registers are mapped device memory; polling LSR
    // until the transmit register is empty, then writing THR, is the
    // documented 16550 protocol.
    unsafe {
        while core::ptr::read_volatile((UART + LSR) as *const u8) & LSR_THR_EMPTY == 0 {}
        core::ptr::write_volatile(UART as *mut u8, byte);
    }
}
