//! What the loader asks of its host for memory: reserve a span, commit it,
//! set page permissions (W^X), release it, and sync the instruction cache.
//! This module owns the one place where the loader turns a reservation into
//! byte slices; it must not know how the host provides the pages.

use core::ptr::NonNull;

/// Page permissions a committed range can have. There is deliberately no
/// read-write-execute value: the loader never asks for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    /// Read-only data, RELRO, synthesised GOT.
    Read,
    /// Writable data and bss.
    ReadWrite,
    /// Code.
    ReadExecute,
}

/// Why the host could not do what the loader asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MemoryError {
    /// No address space or pages left.
    #[error("out of memory ({size} bytes requested)")]
    Exhausted {
        /// Size of the failed request.
        size: usize,
    },
    /// The range is not inside the reservation or not page-aligned.
    #[error("bad range {offset:#x}+{len:#x}")]
    BadRange {
        /// Offset in the reservation.
        offset: usize,
        /// Length of the range.
        len: usize,
    },
    /// The platform refused the operation (an `errno` or similar code).
    #[error("platform refused the request (code {code})")]
    Refused {
        /// Platform-specific error code.
        code: i32,
    },
}

/// A span of address space handed out by a [`Memory`].
///
/// `host` is where the loader writes the bytes; `addr` is the address the
/// loaded code will run at. They are equal for a normal in-process load and
/// differ when an image is prepared for another address space (a buffer
/// standing in for target memory).
#[derive(Debug)]
pub struct Reservation {
    host: NonNull<u8>,
    addr: u64,
    size: usize,
}

// SAFETY: a `Reservation` is an exclusive claim on a span of memory, like a
// `Box<[u8]>`; it carries no thread-affine state, and all access to the bytes
// goes through `&mut self`/`&self` borrows of the image that owns it.
unsafe impl Send for Reservation {}
// SAFETY: shared access only reads through `&self` (see `bytes`), which is
// sound from several threads at once.
unsafe impl Sync for Reservation {}

impl Reservation {
    /// Describes a fresh span.
    ///
    /// # Safety
    /// `host..host+size` must be memory the caller exclusively owns until the
    /// reservation is given back to [`Memory::release`], and any part of it
    /// that has been committed must be readable (and, while it is read-write,
    /// writable) through `host`.
    pub unsafe fn new(host: NonNull<u8>, addr: u64, size: usize) -> Self {
        Reservation { host, addr, size }
    }

    /// Where the host process can reach the bytes.
    pub fn host(&self) -> NonNull<u8> {
        self.host
    }

    /// The address the loaded code sees.
    pub fn addr(&self) -> u64 {
        self.addr
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The committed, readable bytes at `offset..offset+len`.
    ///
    /// # Safety
    /// The range must lie in committed memory that currently is readable, and
    /// no `&mut` slice of it may be alive.
    pub(crate) unsafe fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        let end = offset.checked_add(len)?;
        if end > self.size {
            return None;
        }
        // SAFETY: the range is inside the reservation (checked above) and
        // committed and readable (caller's contract).
        Some(unsafe { core::slice::from_raw_parts(self.host.as_ptr().add(offset), len) })
    }

    /// The committed, writable bytes at `offset..offset+len`.
    ///
    /// # Safety
    /// The range must lie in committed memory that currently is read-write,
    /// and no other slice of it may be alive while the result is.
    pub(crate) unsafe fn bytes_mut(&mut self, offset: usize, len: usize) -> Option<&mut [u8]> {
        let end = offset.checked_add(len)?;
        if end > self.size {
            return None;
        }
        // SAFETY: inside the reservation (checked above), committed and
        // writable with no aliasing slice (caller's contract); `&mut self`
        // keeps the reservation itself from being used meanwhile.
        Some(unsafe { core::slice::from_raw_parts_mut(self.host.as_ptr().add(offset), len) })
    }
}

/// Memory provided by the host of the loader (a kernel, a user runtime, or a
/// hosted process). All offsets and lengths are page-aligned.
pub trait Memory {
    /// The page size the host protects memory in.
    fn page_size(&self) -> usize;

    /// Reserves `size` bytes of address space aligned to at least `align`
    /// (a power of two, at least the page size). Nothing is accessible yet.
    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError>;

    /// Makes `offset..offset+len` of `res` accessible read-write and zero-filled.
    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError>;

    /// [`Memory::reserve`] and [`Memory::commit`] of the whole span, which
    /// the loader asks for when an image has no gaps; hosts that can do it
    /// in one step override this.
    fn reserve_committed(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let res = self.reserve(size, align)?;
        match self.commit(&res, 0, size) {
            Ok(()) => Ok(res),
            Err(e) => {
                self.release(res);
                Err(e)
            }
        }
    }

    /// Changes the permissions of a committed range.
    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError>;

    /// Makes code written to `offset..offset+len` visible to instruction fetch.
    fn sync_icache(&self, res: &Reservation, offset: usize, len: usize);

    /// Gives the whole span back.
    fn release(&self, res: Reservation);
}

/// `Memory` for handles that lead to a `Memory` (`&M`, `Arc<M>`).
macro_rules! forward_memory {
    ($($handle:ty),*) => {$(
        impl<T: Memory + ?Sized> Memory for $handle {
            fn page_size(&self) -> usize {
                (**self).page_size()
            }
            fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
                (**self).reserve(size, align)
            }
            fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
                (**self).commit(res, offset, len)
            }
            fn reserve_committed(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
                (**self).reserve_committed(size, align)
            }
            fn protect(
                &self,
                res: &Reservation,
                offset: usize,
                len: usize,
                prot: Protection,
            ) -> Result<(), MemoryError> {
                (**self).protect(res, offset, len, prot)
            }
            fn sync_icache(&self, res: &Reservation, offset: usize, len: usize) {
                (**self).sync_icache(res, offset, len);
            }
            fn release(&self, res: Reservation) {
                (**self).release(res);
            }
        }
    )*};
}

forward_memory!(&T);
// `Arc` needs atomic compare-and-swap, which ARMv6-M lacks.
#[cfg(target_has_atomic = "ptr")]
forward_memory!(alloc::sync::Arc<T>);

/// An object file whose pages the host can place into an image without
/// copying them: a private, copy-on-write mapping of the file (what `mmap`
/// of a file gives). Passed to [`crate::load_file`] beside the file's bytes.
pub trait FileMapping {
    /// Makes `offset..offset+len` of `res` hold the file's bytes from
    /// `file_offset` on, private to the image (writes never reach the
    /// file), with `protection`. `offset`, `len` and `file_offset` are
    /// multiples of the page size and the range is committed.
    /// `Protection::ReadWrite` means the loader will write most of these
    /// pages (a writable segment, which relocations target), so a host may
    /// copy them in at once rather than on first write; any other value is
    /// the pages' final protection, which nothing writes or changes later:
    /// pages mapped executable must already be visible to instruction fetch
    /// (as a fresh mapping of a file is). Returns `false` if it cannot; the
    /// range is then unchanged and the loader copies instead.
    fn map_file(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        file_offset: u64,
        protection: Protection,
    ) -> bool;
}

/// A reservation that goes back to its memory when dropped, unless kept.
pub(crate) struct Held<M: Memory> {
    pub(crate) memory: M,
    pub(crate) res: Option<Reservation>,
}

impl<M: Memory> Held<M> {
    pub(crate) fn res(&self) -> &Reservation {
        self.res.as_ref().expect("reservation present until drop")
    }
    pub(crate) fn res_mut(&mut self) -> &mut Reservation {
        self.res.as_mut().expect("reservation present until drop")
    }
}

impl<M: Memory> Drop for Held<M> {
    fn drop(&mut self) {
        if let Some(res) = self.res.take() {
            self.memory.release(res);
        }
    }
}

/// Rounds `v` up to a multiple of the power of two `align`.
pub(crate) fn align_up(v: u64, align: u64) -> Option<u64> {
    Some(v.checked_add(align - 1)? & !(align - 1))
}

/// Rounds `v` down to a multiple of the power of two `align`.
pub(crate) fn align_down(v: u64, align: u64) -> u64 {
    v & !(align - 1)
}
