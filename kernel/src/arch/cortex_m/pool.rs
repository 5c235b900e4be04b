//! A pool of granules behind MPU regions: windows of eight granules, each
//! window a code view and a data view over the same memory (see
//! [`mpu`](super::mpu)). Reservations are contiguous runs of granules;
//! every change reprograms the pool's regions.

use alloc::vec::Vec;

use super::mpu::{self, Access, Region, SUBREGIONS};
use crate::protect::Prot;

/// Most granules a pool has.
const MAX_GRANULES: usize = 16;

/// What a granule is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Free,
    /// Reserved, not committed: no access.
    Reserved,
    /// Read-execute (or read-only).
    Code,
    /// Read-write, never executable.
    Data,
}

/// A pool: where it is, how its regions grant access, what each granule
/// holds and which reservations are live.
#[derive(Debug)]
pub struct Pool {
    base: u32,
    granule: u32,
    granules: usize,
    first_region: u8,
    code_access: Access,
    data_access: Access,
    uses: [Use; MAX_GRANULES],
    /// Granules at the start that are code for good.
    pinned: usize,
    reservations: Vec<(u32, u32)>,
    /// The most granules in use, and the MPU regions enabled then, since
    /// [`Pool::take_peak`].
    peak: (usize, u32),
}

impl Pool {
    /// A pool of `windows` windows of `granule * 8` bytes at `base`, using
    /// regions from `first_region` (two per window); the first `pinned`
    /// granules are code for good. Nothing else is accessible yet.
    pub const fn new(
        base: u32,
        granule: u32,
        windows: usize,
        first_region: u8,
        code_access: Access,
        data_access: Access,
        pinned: usize,
    ) -> Self {
        let mut uses = [Use::Free; MAX_GRANULES];
        let mut i = 0;
        while i < pinned {
            uses[i] = Use::Code;
            i += 1;
        }
        Pool {
            base,
            granule,
            granules: windows * SUBREGIONS,
            first_region,
            code_access,
            data_access,
            uses,
            pinned,
            reservations: Vec::new(),
            peak: (0, 0),
        }
    }

    /// Writes the pool's regions from the granules' uses.
    pub fn program(&mut self) {
        let window = self.granule * SUBREGIONS as u32;
        for (w, uses) in self.uses[..self.granules].chunks(SUBREGIONS).enumerate() {
            let off = |want: Use| {
                uses.iter()
                    .enumerate()
                    .filter(|(_, u)| **u != want)
                    .fold(0u8, |m, (i, _)| m | 1 << i)
            };
            let base = self.base + w as u32 * window;
            let number = self.first_region + 2 * w as u8;
            mpu::set(
                number,
                Region {
                    base,
                    size: window,
                    access: self.code_access,
                    execute: true,
                    disabled: off(Use::Code),
                },
            );
            mpu::set(
                number + 1,
                Region {
                    base,
                    size: window,
                    access: self.data_access,
                    execute: false,
                    disabled: off(Use::Data),
                },
            );
        }
        let used = self.used();
        if used >= self.peak.0 {
            self.peak = (used, mpu::enabled());
        }
    }

    /// Granule indexes of `[va, va + len)`, if it is whole granules of
    /// this pool.
    fn span(&self, va: u64, len: u64) -> Option<core::ops::Range<usize>> {
        let g = u64::from(self.granule);
        let off = va.checked_sub(u64::from(self.base))?;
        let end = off.checked_add(len)?;
        (off.is_multiple_of(g) && len.is_multiple_of(g) && end <= g * self.granules as u64)
            .then(|| (off / g) as usize..(end / g) as usize)
    }

    fn reserved(&self, va: u64, len: u64) -> bool {
        self.reservations.iter().any(|&(s, n)| {
            u64::from(s) <= va && va.checked_add(len).is_some_and(|e| e <= u64::from(s + n))
        })
    }

    /// Reserves `size` bytes aligned to `align`.
    pub fn reserve(&mut self, size: u64, align: u64) -> Option<u64> {
        let g = u64::from(self.granule);
        if size == 0 || !size.is_multiple_of(g) {
            return None;
        }
        let count = (size / g) as usize;
        let align = align.max(g).checked_next_power_of_two()?;
        let first = (0..self.granules).find(|&i| {
            let at = u64::from(self.base) + i as u64 * g;
            at.is_multiple_of(align)
                && i + count <= self.granules
                && self.uses[i..i + count].iter().all(|u| *u == Use::Free)
        })?;
        self.uses[first..first + count].fill(Use::Reserved);
        let va = self.base + first as u32 * self.granule;
        self.reservations.push((va, size as u32));
        self.program();
        Some(u64::from(va))
    }

    /// Reserves the whole granules `[va, va + size)`, if they are free.
    pub fn reserve_at(&mut self, va: u64, size: u64) -> bool {
        let Some(span) = self.span(va, size).filter(|s| !s.is_empty()) else {
            return false;
        };
        if !self.uses[span.clone()].iter().all(|u| *u == Use::Free) {
            return false;
        }
        self.uses[span].fill(Use::Reserved);
        self.reservations.push((va as u32, size as u32));
        self.program();
        true
    }

    /// Makes reserved granules read-write and zeroes them.
    pub fn commit(&mut self, va: u64, len: u64) -> bool {
        let Some(span) = self.span(va, len) else {
            return false;
        };
        if !self.reserved(va, len) {
            return false;
        }
        self.uses[span].fill(Use::Data);
        self.program();
        // SAFETY: the granules were just made read-write for the kernel
        // and belong to a live reservation.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, len as usize) };
        true
    }

    /// Sets the permissions of committed granules.
    pub fn protect(&mut self, va: u64, len: u64, prot: Prot) -> bool {
        let Some(span) = self.span(va, len) else {
            return false;
        };
        if !self.reserved(va, len) || self.uses[span.clone()].contains(&Use::Reserved) {
            return false;
        }
        let to = match prot {
            Prot::ReadWrite => Use::Data,
            Prot::Read | Prot::ReadExecute => Use::Code,
        };
        self.uses[span].fill(to);
        self.program();
        true
    }

    /// Returns the reservation `(va, size)`.
    pub fn release(&mut self, va: u64, size: u64) -> bool {
        let Some(i) = self
            .reservations
            .iter()
            .position(|&(s, n)| (u64::from(s), u64::from(n)) == (va, size))
        else {
            return false;
        };
        self.reservations.remove(i);
        if let Some(span) = self.span(va, size) {
            self.uses[span].fill(Use::Free);
        }
        self.program();
        true
    }

    /// Returns every reservation; pinned granules stay.
    pub fn reset(&mut self) {
        self.reservations.clear();
        self.uses[self.pinned..].fill(Use::Free);
        self.program();
    }

    /// Whether every granule of `[va, va + len)` is data, or code if
    /// `!write`.
    pub fn accessible(&self, va: u64, len: u64, write: bool) -> bool {
        let g = u64::from(self.granule);
        let (base, end) = (
            u64::from(self.base),
            u64::from(self.base) + g * self.granules as u64,
        );
        if va < base || va.checked_add(len).is_none_or(|e| e > end) {
            return false;
        }
        let first = ((va - base) / g) as usize;
        let last = ((va + len).max(va + 1) - 1 - base) / g;
        self.uses[first..=last as usize]
            .iter()
            .all(|u| *u == Use::Data || (*u == Use::Code && !write))
    }

    /// The most granules in use since the last call, with the number of
    /// MPU regions enabled at that moment; starts over from now.
    pub fn take_peak(&mut self) -> (usize, u32) {
        let peak = self.peak;
        self.peak = (self.used(), mpu::enabled());
        peak
    }

    /// Granules in use (reserved or committed), pinned ones excluded.
    pub fn used(&self) -> usize {
        self.uses[self.pinned..self.granules]
            .iter()
            .filter(|u| **u != Use::Free)
            .count()
    }
}
