//! Image memory from anonymous `mmap`, protected with `mprotect`.

use core::ptr::NonNull;

use modlib::{Memory, MemoryError, Protection, Reservation};

/// Anonymous private mappings: reserved inaccessible, committed read-write,
/// then protected W^X by the loader.
#[derive(Debug, Clone, Copy, Default)]
pub struct MmapMemory;

/// Commits up to this size are populated at once (see `commit`).
const POPULATE_UP_TO: usize = 256 * 1024;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn range(res: &Reservation, offset: usize, len: usize) -> Result<*mut libc::c_void, MemoryError> {
    if offset.checked_add(len).is_none_or(|end| end > res.size()) {
        return Err(MemoryError::BadRange { offset, len });
    }
    Ok(res.host().as_ptr().wrapping_add(offset).cast())
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
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
        // SAFETY: a fresh anonymous inaccessible mapping aliases nothing.
        let raw =
            unsafe { libc::mmap(core::ptr::null_mut(), padded, libc::PROT_NONE, flags, -1, 0) };
        if raw == libc::MAP_FAILED {
            return Err(MemoryError::Exhausted { size });
        }
        let start = raw as usize;
        let aligned = (start + align - 1) & !(align - 1);
        let head = aligned - start;
        let tail = padded - head - size;
        // SAFETY: both trimmed pieces belong to the mapping just made and
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
        // SAFETY: the span is a mapping owned by this reservation until
        // `release`; committed pages are reachable through `host`.
        Ok(unsafe { Reservation::new(host, aligned as u64, size) })
    }

    fn reserve_committed(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        if align > self.page_size() {
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
        #[cfg(not(target_arch = "x86_64"))]
        {
            extern "C" {
                fn __clear_cache(start: *mut libc::c_char, end: *mut libc::c_char);
            }
            if let Ok(ptr) = range(res, offset, len) {
                // SAFETY: cache maintenance on a range of our own mapping.
                unsafe { __clear_cache(ptr.cast(), ptr.cast::<libc::c_char>().add(len)) };
            }
        }
        #[cfg(target_arch = "x86_64")]
        let _ = (res, offset, len);
    }

    fn release(&self, res: Reservation) {
        // SAFETY: the reservation owns this mapping and is consumed.
        unsafe { libc::munmap(res.host().as_ptr().cast(), res.size()) };
    }
}

/// The `mmap`/`mprotect` flags for `prot`.
pub(crate) fn prot_flags(prot: Protection) -> libc::c_int {
    match prot {
        Protection::Read => libc::PROT_READ,
        Protection::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Protection::ReadExecute => libc::PROT_READ | libc::PROT_EXEC,
    }
}
