//! UART0 of the MPS2 board, a CMSDK APB UART: a data register and a
//! transmit-full flag.

use super::reg;

const UART0: usize = 0x4000_4000;
const DATA: usize = UART0;
const STATE: usize = UART0 + 0x04;
const CTRL: usize = UART0 + 0x08;
const BAUDDIV: usize = UART0 + 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const CTRL_TX_ENABLE: u32 = 1 << 0;

/// Enables the transmitter (the divider is the smallest the UART takes).
pub fn init() {
    reg::write(BAUDDIV, 16);
    reg::write(CTRL, CTRL_TX_ENABLE);
}

/// Sends one byte.
pub fn put(byte: u8) {
    while reg::read(STATE) & STATE_TX_FULL != 0 {}
    reg::write(DATA, u32::from(byte));
}
