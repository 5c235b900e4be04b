//! Memory-mapped registers of the System Control Space (Armv7-M ARM,
//! B3.2) and the board's devices, read and written with volatile
//! accesses.

/// SysTick control and status.
pub const SYST_CSR: usize = 0xE000_E010;
/// SysTick reload value.
pub const SYST_RVR: usize = 0xE000_E014;
/// SysTick current value.
pub const SYST_CVR: usize = 0xE000_E018;
/// System handler control and state.
pub const SHCSR: usize = 0xE000_ED24;
/// Configurable fault status (MMFSR, BFSR, UFSR).
pub const CFSR: usize = 0xE000_ED28;
/// HardFault status.
pub const HFSR: usize = 0xE000_ED2C;
/// MemManage fault address.
pub const MMFAR: usize = 0xE000_ED34;
/// BusFault address.
pub const BFAR: usize = 0xE000_ED38;
/// MPU type (number of data regions).
pub const MPU_TYPE: usize = 0xE000_ED90;
/// MPU control.
pub const MPU_CTRL: usize = 0xE000_ED94;
/// MPU region number (selects the region `MPU_RASR` reads).
pub const MPU_RNR: usize = 0xE000_ED98;
/// MPU region base address (with VALID, selects the region).
pub const MPU_RBAR: usize = 0xE000_ED9C;
/// MPU region attribute and size.
pub const MPU_RASR: usize = 0xE000_EDA0;

/// Reads the 32-bit register at `addr`.
pub fn read(addr: usize) -> u32 {
    // SAFETY: callers pass the address of a System Control Space or device
    // register, always mapped for privileged code; reads have no side
    // effects on the registers used here.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// Writes the 32-bit register at `addr`.
pub fn write(addr: usize, value: u32) {
    // SAFETY: callers pass the address of a System Control Space or device
    // register and a value its definition allows.
    unsafe { core::ptr::write_volatile(addr as *mut u32, value) }
}

/// Waits for memory accesses and system register writes to complete and
/// refetches instructions, so a new MPU or control setting applies to
/// what follows.
pub fn barrier() {
    // SAFETY: barriers only order the instruction stream.
    unsafe { core::arch::asm!("dsb", "isb", options(nostack, preserves_flags)) };
}
