//! `modlib-mmap`: image memory for a Linux process, a [`modlib::Memory`]
//! over anonymous `mmap` mappings protected with `mprotect`. The hosted
//! platform of `modlib-dl` loads into it, and so do the workspace's tests (through
//! `testkit`), which also place it where their fixtures need it.

use core::ptr::NonNull;

use modlib::{Memory, MemoryError, Protection, Reservation};

/// Where reservations are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// Wherever the kernel puts a fresh mapping (usually far from the
    /// executable and more than 2 GiB from libc's neighbours).
    #[default]
    Anywhere,
    /// In the low 2 GiB (`MAP_32BIT` on x86-64), as non-PIC code with 32-bit
    /// absolute addresses requires.
    Low2G,
    /// Beyond every direct branch from the executable: at least 16 GiB away
    /// on a 64-bit machine, 256 MiB on a 32-bit one (qemu-user, unlike
    /// Linux, maps memory right next to it). Tests use it to prove that far
    /// calls go through veneers or the GOT.
    Far,
}

/// Anonymous private mappings: reserved inaccessible, committed read-write,
/// then protected W^X by the loader.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MmapMemory {
    placement: Placement,
}

impl MmapMemory {
    /// Memory placed as `placement` says.
    pub const fn new(placement: Placement) -> Self {
        MmapMemory { placement }
    }

    /// Where this memory places reservations.
    pub const fn placement(&self) -> Placement {
        self.placement
    }
}

/// Commits up to this size are populated at once (see `commit`).
const POPULATE_UP_TO: usize = 256 * 1024;

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

/// The host address of `len` bytes at `offset` in `res`, if inside it.
fn range(res: &Reservation, offset: usize, len: usize) -> Result<*mut libc::c_void, MemoryError> {
    if offset.checked_add(len).is_none_or(|end| end > res.size()) {
        return Err(MemoryError::BadRange { offset, len });
    }
    Ok(res.host().as_ptr().wrapping_add(offset).cast())
}

/// The `mmap`/`mprotect` flags for `prot`.
pub fn prot_flags(prot: Protection) -> libc::c_int {
    match prot {
        Protection::Read => libc::PROT_READ,
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
    }
}

impl Memory for MmapMemory {
    fn page_size(&self) -> usize {
        // SAFETY: sysconf has no preconditions.
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096)
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
            unsafe { libc::mmap(core::ptr::null_mut(), padded, libc::PROT_NONE, flags, -1, 0) }
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

    fn reserve_committed(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        if align > self.page_size() || self.placement != Placement::Anywhere {
            let res = self.reserve(size, align)?;
            if let Err(e) = self.commit(&res, 0, size) {
                self.release(res);
                return Err(e);
            }
            return Ok(res);
        }
        // Page alignment is what `mmap` gives: one call maps the span
        // read-write (populated when small, as in `commit`).
        let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        if size <= POPULATE_UP_TO {
            flags |= libc::MAP_POPULATE;
        }
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let raw = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(MemoryError::Exhausted { size });
        }
        let host = NonNull::new(raw.cast::<u8>()).ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the span is a mapping owned by this reservation until
        // `release`, committed read-write in full and reachable through `host`.
        Ok(unsafe { Reservation::new(host, raw as u64, size) })
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        if len > POPULATE_UP_TO {
            return self.protect(res, offset, len, Protection::ReadWrite);
        }
        // A small image is written whole right away (its segments are
        // copied in): fault its pages in with one call instead of one
        // fault per page.
        let ptr = range(res, offset, len)?;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_POPULATE;
        // SAFETY: the range lies within the reservation's own mapping, which
        // nothing borrows while it is committed; fresh zeroed pages replace
        // its inaccessible ones.
        let got = unsafe { libc::mmap(ptr, len, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0) };
        if got == ptr {
            Ok(())
        } else {
            Err(MemoryError::Refused { code: errno() })
        }
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        let ptr = range(res, offset, len)?;
        // SAFETY: the range lies within the reservation's own mapping.
        if unsafe { libc::mprotect(ptr, len, prot_flags(prot)) } != 0 {
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
            if let Ok(ptr) = range(res, offset, len) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Reserved, committed, written, protected and given back; a placed
    /// memory keeps its placement when asked for committed memory at once.
    #[test]
    fn reserve_commit_protect_release() {
        for memory in [MmapMemory::default(), MmapMemory::new(Placement::Low2G)] {
            let page = memory.page_size();
            let res = memory.reserve(3 * page, 4 * page).unwrap();
            assert_eq!(res.addr() % (4 * page) as u64, 0);
            memory.commit(&res, page, page).unwrap();
            // SAFETY: the page at `page` is committed read-write.
            unsafe { res.host().as_ptr().add(page).write(7) };
            memory.protect(&res, page, page, Protection::Read).unwrap();
            // SAFETY: still readable.
            assert_eq!(unsafe { res.host().as_ptr().add(page).read() }, 7);
            assert!(memory
                .protect(&res, 3 * page, page, Protection::Read)
                .is_err());
            memory.release(res);

            let res = memory.reserve_committed(page, page).unwrap();
            if memory.placement() == Placement::Low2G {
                assert!(res.addr() + page as u64 <= 1 << 31);
            }
            // SAFETY: committed read-write in full.
            unsafe { res.host().as_ptr().write(1) };
            memory.release(res);
        }
    }
}
