//! `Memory` backed by `mmap`/`mprotect` in the test process.

use std::ptr::NonNull;

use modlib::{Memory, MemoryError, Protection, Reservation};

/// Where reservations are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Wherever the kernel puts a fresh mapping (usually far from the
    /// executable and more than 2 GiB from libc's neighbours).
    Anywhere,
    /// In the low 2 GiB (`MAP_32BIT` on x86-64), as non-PIC code with 32-bit
    /// absolute addresses requires.
    Low2G,
    /// Beyond every direct branch from the test executable: at least
    /// 16 GiB away on a 64-bit machine, 256 MiB on a 32-bit one (qemu-user,
    /// unlike Linux, maps memory right next to it).
    Far,
}

/// Anonymous mappings: reserve `PROT_NONE`, commit read-write, protect.
#[derive(Debug, Clone, Copy)]
pub struct HostMemory {
    placement: Placement,
}

impl HostMemory {
    /// Memory placed as `placement` says.
    pub fn new(placement: Placement) -> Self {
        HostMemory { placement }
    }
}

impl Default for HostMemory {
    fn default() -> Self {
        HostMemory::new(Placement::Anywhere)
    }
}

/// An inaccessible mapping of `len` bytes ending below 2 GiB, where
/// `MAP_32BIT` does not exist: tries hint addresses from 256 MiB upwards.
/// `MAP_FAILED` if none is free.
fn map_low(len: usize, flags: i32) -> *mut libc::c_void {
    map_in(0x1000_0000, 0x8000_0000, 0x1000_0000, len, flags)
}

/// How far [`Placement::Far`] keeps from the executable's code, the span
/// of hint addresses searched beyond that, and the step between hints: on a
/// 64-bit machine 16 GiB (beyond AArch64 `bl`'s 128 MiB and the ±2 GiB of
/// x86-64 and RISC-V), on a 32-bit one 256 MiB (beyond Arm `bl`'s 32 MiB).
#[cfg(target_pointer_width = "64")]
const FAR: (usize, usize, usize) = (16 << 30, 64 << 30, 1 << 30);
#[cfg(not(target_pointer_width = "64"))]
const FAR: (usize, usize, usize) = (256 << 20, 1 << 30, 64 << 20);

/// An inaccessible mapping of `len` bytes at least [`FAR`]'s distance above
/// the test executable's code (or below it, where the address space ends
/// first).
fn map_far(len: usize, flags: i32) -> *mut libc::c_void {
    let (distance, span, step) = FAR;
    let code = map_far as fn(usize, i32) -> *mut libc::c_void as usize & !(step - 1);
    let raw = code
        .checked_add(distance)
        .map_or(libc::MAP_FAILED, |start| {
            map_in(start, start.saturating_add(span), step, len, flags)
        });
    if raw != libc::MAP_FAILED {
        return raw;
    }
    match code.checked_sub(distance + span) {
        Some(below) if below >= step => map_in(below, below + span, step, len, flags),
        _ => libc::MAP_FAILED,
    }
}

/// The first of the hint addresses `start`, `start + step`, ... at which
/// `len` bytes below `limit` can be mapped without replacing anything.
fn map_in(start: usize, limit: usize, step: usize, len: usize, flags: i32) -> *mut libc::c_void {
    let mut hint = start;
    while hint.checked_add(len).is_some_and(|end| end <= limit) {
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so
        // the new anonymous, inaccessible mapping aliases no Rust object.
        let raw = unsafe {
            libc::mmap(
                hint as *mut libc::c_void,
                len,
                libc::PROT_NONE,
                flags | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if raw as usize == hint {
            return raw;
        }
        if raw != libc::MAP_FAILED {
            // A kernel without MAP_FIXED_NOREPLACE took it as a hint only.
            // SAFETY: the mapping was just created here and is unused.
            unsafe { libc::munmap(raw, len) };
        }
        match hint.checked_add(step) {
            Some(next) => hint = next,
            None => break,
        }
    }
    libc::MAP_FAILED
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn host_ptr(
    res: &Reservation,
    offset: usize,
    len: usize,
) -> Result<*mut libc::c_void, MemoryError> {
    if offset.checked_add(len).is_none_or(|end| end > res.size()) {
        return Err(MemoryError::BadRange { offset, len });
    }
    Ok(res.host().as_ptr().wrapping_add(offset).cast())
}

impl Memory for HostMemory {
    fn page_size(&self) -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size).unwrap_or(4096)
    }

    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let page = self.page_size();
        let align = align.max(page);
        let padded = size
            .checked_add(align - page)
            .ok_or(MemoryError::Exhausted { size })?;
        let base_flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        #[cfg(target_arch = "x86_64")]
        let flags = if self.placement == Placement::Low2G {
            base_flags | libc::MAP_32BIT
        } else {
            base_flags
        };
        #[cfg(not(target_arch = "x86_64"))]
        let flags = base_flags;
        let raw = if self.placement == Placement::Low2G && !cfg!(target_arch = "x86_64") {
            map_low(padded, flags)
        } else if self.placement == Placement::Far {
            map_far(padded, flags)
        } else {
            // SAFETY: an anonymous, private, inaccessible mapping at an
            // address of the kernel's choosing cannot alias any Rust object.
            unsafe { libc::mmap(std::ptr::null_mut(), padded, libc::PROT_NONE, flags, -1, 0) }
        };
        if raw == libc::MAP_FAILED {
            return Err(MemoryError::Exhausted { size });
        }
        let start = raw as usize;
        // The mapping, whole pages of it, is at least `align` bytes long, so
        // `start + align - 1` is still inside the address space.
        let aligned = (start + (align - 1)) & !(align - 1);
        let (head, tail) = (aligned - start, padded - (aligned - start) - size);
        // SAFETY: the trimmed pieces lie inside the mapping just created and
        // nothing refers to them.
        unsafe {
            if head > 0 {
                libc::munmap(raw, head);
            }
            if tail > 0 {
                libc::munmap((aligned + size) as *mut libc::c_void, tail);
            }
        }
        let host = NonNull::new(aligned as *mut u8).ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the span is a fresh mapping owned by this reservation until
        // `release`; committed parts are accessible through `host`.
        Ok(unsafe { Reservation::new(host, aligned as u64, size) })
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        self.protect(res, offset, len, Protection::ReadWrite)
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        let ptr = host_ptr(res, offset, len)?;
        let flags = match prot {
            Protection::Read => libc::PROT_READ,
            Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
            Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
        };
        // SAFETY: the range lies inside the reservation's own mapping.
        if unsafe { libc::mprotect(ptr, len, flags) } != 0 {
            return Err(MemoryError::Refused { code: errno() });
        }
        Ok(())
    }

    fn sync_icache(&self, res: &Reservation, offset: usize, len: usize) {
        #[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
        {
            extern "C" {
                fn __clear_cache(start: *mut libc::c_char, end: *mut libc::c_char);
            }
            if let Ok(ptr) = host_ptr(res, offset, len) {
                // SAFETY: the range is inside the reservation; __clear_cache
                // only performs cache maintenance on it.
                unsafe { __clear_cache(ptr.cast(), ptr.cast::<libc::c_char>().add(len)) };
            }
        }
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        let _ = (res, offset, len);
    }

    fn release(&self, res: Reservation) {
        // SAFETY: the reservation owns this mapping and is consumed here.
        unsafe { libc::munmap(res.host().as_ptr().cast(), res.size()) };
    }
}
