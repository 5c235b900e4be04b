//! Time since boot from SysTick on the 25 MHz processor clock: a
//! millisecond interrupt counts, the current value gives the fraction.

use core::sync::atomic::{AtomicU32, Ordering};

use super::reg;

const CPU_HZ: u32 = 25_000_000;
const TICK_HZ: u32 = 1000;
const RELOAD: u32 = CPU_HZ / TICK_HZ - 1;
const CSR_ENABLE: u32 = 1 << 0;
const CSR_TICKINT: u32 = 1 << 1;
const CSR_CLKSOURCE_CPU: u32 = 1 << 2;

static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Starts the millisecond tick.
pub fn init() {
    reg::write(reg::SYST_RVR, RELOAD);
    reg::write(reg::SYST_CVR, 0);
    reg::write(reg::SYST_CSR, CSR_ENABLE | CSR_TICKINT | CSR_CLKSOURCE_CPU);
}

/// The SysTick exception: one more millisecond. It touches no floating
/// point register, which exceptions do not save.
pub extern "C" fn tick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

/// Microseconds since boot.
pub fn micros() -> u64 {
    loop {
        let ms = MILLIS.load(Ordering::Relaxed);
        let left = reg::read(reg::SYST_CVR);
        if MILLIS.load(Ordering::Relaxed) == ms {
            let done = RELOAD - left.min(RELOAD);
            return u64::from(ms) * 1000 + u64::from(done / (CPU_HZ / 1_000_000));
        }
    }
}
