//! The PMSAv7 MPU and the region plan.
//!
//! The background map (PRIVDEFENA) is privileged-only: an unprivileged
//! access that no region grants faults, so a task reaches exactly the
//! granules below. Regions are power-of-two sized and aligned; each has
//! eight subregions, and a disabled subregion falls through to the
//! lower-numbered regions (the higher number wins where regions overlap).
//! No region is writable and executable.
//!
//! | region | what | base | size | privileged | unprivileged | exec |
//! |---|---|---|---|---|---|---|
//! | 0 | kernel code: vectors, text, rodata (SSRAM1) | `0x0000_0000` | 4 MiB | RO | none | yes |
//! | 1 | kernel data: data, bss, stack (SSRAM2/3), heap (RAM); subregions 1-3 (mirror, hole) off | `0x2000_0000` | 32 MiB | RW | none | XN |
//! | 2 | module pool, code view | `0x0030_0000` | 1 MiB | RO | none | yes |
//! | 3 | module pool, data view | `0x0030_0000` | 1 MiB | RW | none | XN |
//! | 4 | user pool window 0, code view | `0x2180_0000` | 1 MiB | RO | RO | yes |
//! | 5 | user pool window 0, data view | `0x2180_0000` | 1 MiB | RW | RW | XN |
//! | 6 | user pool window 1, code view | `0x2190_0000` | 1 MiB | RO | RO | yes |
//! | 7 | user pool window 1, data view | `0x2190_0000` | 1 MiB | RW | RW | XN |
//!
//! A pool is handed out in granules of one subregion (128 KiB). The code
//! and data views of a window cover the same memory and enable
//! complementary subregions: a granule is code (read-execute; read-only
//! data goes there too), data (read-write, never executable: heaps,
//! stacks, writable segments) or nothing (both views off, so it falls to
//! the kernel regions beneath). A loader's reservation is contiguous and
//! may mix code and data granules, as `libdl` and `kmod` lay objects out;
//! loaded user code and data land only in the user pool, modules only in
//! the privileged module pool. The user pool's first granule holds the
//! kernel's built-in unprivileged tasks (section `.user`), code for good.
//! The board's mirrors (SSRAM1 at `0x0040_0000`, SSRAM2/3 at
//! `0x2040_0000`) and the bit-band alias lie outside every region:
//! privileged-only.

use super::reg;

/// Subregions per region.
pub const SUBREGIONS: usize = 8;

const RBAR_VALID: u32 = 1 << 4;
const CTRL_ENABLE: u32 = 1 << 0;
const CTRL_PRIVDEFENA: u32 = 1 << 2;
const RASR_ENABLE: u32 = 1 << 0;
const RASR_XN: u32 = 1 << 28;
/// Normal memory, write-back, not shareable (TEX 0, C 1, B 1).
const RASR_NORMAL: u32 = (1 << 17) | (1 << 16);

/// Access a region grants (the RASR.AP encodings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Access {
    /// Privileged read-write, unprivileged none.
    KernelReadWrite = 0b001,
    /// Full read-write.
    ReadWrite = 0b011,
    /// Privileged read-only, unprivileged none.
    KernelRead = 0b101,
    /// Read-only at both levels.
    Read = 0b110,
}

/// One region's setting.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    /// Base address, aligned to `size`.
    pub base: u32,
    /// Size in bytes, a power of two of at least 256.
    pub size: u32,
    /// Access granted.
    pub access: Access,
    /// Whether instructions may be fetched.
    pub execute: bool,
    /// Subregions switched off (bit `i`: subregion `i`).
    pub disabled: u8,
}

/// Number of the kernel code region.
pub const KERNEL_CODE: u8 = 0;
/// Number of the kernel data region.
pub const KERNEL_DATA: u8 = 1;
/// First of the module pool's regions.
pub const MODULE_POOL: u8 = 2;
/// First of the user pool's regions.
pub const USER_POOL: u8 = 4;
/// Regions the plan uses.
pub const REGIONS: u32 = 8;

/// Programs region `number`.
pub fn set(number: u8, r: Region) {
    debug_assert!(r.size.is_power_of_two() && r.size >= 256 && r.base.is_multiple_of(r.size));
    let xn = if r.execute { 0 } else { RASR_XN };
    let size_field = r.size.trailing_zeros() - 1;
    reg::write(reg::MPU_RBAR, r.base | RBAR_VALID | u32::from(number));
    reg::write(
        reg::MPU_RASR,
        xn | (r.access as u32) << 24
            | RASR_NORMAL
            | u32::from(r.disabled) << 8
            | size_field << 1
            | RASR_ENABLE,
    );
    reg::barrier();
}

/// Regions enabled with at least one subregion on.
pub fn enabled() -> u32 {
    let regions = (reg::read(reg::MPU_TYPE) >> 8) & 0xff;
    (0..regions)
        .filter(|&n| {
            reg::write(reg::MPU_RNR, n);
            let rasr = reg::read(reg::MPU_RASR);
            rasr & RASR_ENABLE != 0 && (rasr >> 8) & 0xff != 0xff
        })
        .count() as u32
}

/// Programs the kernel's regions and enables the MPU with the privileged
/// background map; the pools' regions are set by their owners. Returns
/// the number of regions the MPU has.
pub fn init() -> u32 {
    let regions = (reg::read(reg::MPU_TYPE) >> 8) & 0xff;
    set(
        KERNEL_CODE,
        Region {
            base: 0x0000_0000,
            size: 4 << 20,
            access: Access::KernelRead,
            execute: true,
            disabled: 0,
        },
    );
    set(
        KERNEL_DATA,
        Region {
            base: 0x2000_0000,
            size: 32 << 20,
            access: Access::KernelReadWrite,
            execute: false,
            disabled: 0b0000_1110,
        },
    );
    reg::write(reg::MPU_CTRL, CTRL_ENABLE | CTRL_PRIVDEFENA);
    reg::barrier();
    regions
}
