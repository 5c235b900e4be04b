//! What the loader asks of its host for memory: reserve a span, commit it,
//! set page permissions (W^X), release it, and sync the instruction cache.
//! This module owns the one place where the loader turns a reservation into
//! byte slices; it must not know how the host provides the pages.

use alloc::vec;
use alloc::vec::Vec;
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
// SAFETY: shared access only reads through `&self` (see `Held::bytes`),
// which is sound from several threads at once.
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
    /// multiples of the page size and the range is reserved, not yet
    /// committed.
    /// `Protection::ReadWrite` means the loader will write most of these
    /// pages (a writable segment, which relocations target), so a host may
    /// copy them in at once rather than on first write; any other value is
    /// the pages' final protection, which nothing writes or changes later:
    /// pages mapped executable must already be visible to instruction fetch
    /// (as a fresh mapping of a file is). Returns `false` if it cannot; the
    /// range is then reserved as before (or committed read-write), and the
    /// loader commits it and copies instead.
    fn map_file(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        file_offset: u64,
        protection: Protection,
    ) -> bool;
}

/// A reservation that goes back to its memory when dropped, and the one
/// lender of its bytes. It commits and protects its pages itself, so it
/// knows which are readable (committed) and which writable (committed and
/// read-write now); it lends slices of those only, tied to a borrow of it
/// (shared to read, exclusive to write), so no slice aliases a writer or
/// outlives a change of protection.
pub(crate) struct Held<M: Memory> {
    memory: M,
    res: Option<Reservation>,
    /// Committed ranges as offsets (`start..end`), sorted and disjoint,
    /// with their current protection. A range is never uncommitted before
    /// the reservation is released, and every protection is readable.
    pages: Vec<(usize, usize, Protection)>,
}

impl<M: Memory> Held<M> {
    /// Reserves `size` bytes aligned to `align` from `memory`, all of them
    /// committed read-write at once if `committed`, none otherwise.
    pub(crate) fn reserve(
        memory: M,
        size: usize,
        align: usize,
        committed: bool,
    ) -> Result<Self, MemoryError> {
        let res = if committed {
            memory.reserve_committed(size, align)?
        } else {
            memory.reserve(size, align)?
        };
        let pages = if committed {
            vec![(0, size, Protection::ReadWrite)]
        } else {
            Vec::new()
        };
        Ok(Held {
            memory,
            res: Some(res),
            pages,
        })
    }

    pub(crate) fn res(&self) -> &Reservation {
        self.res.as_ref().expect("reservation present until drop")
    }

    /// Commits `offset..offset+len`, read-write and zero-filled.
    pub(crate) fn commit(&mut self, offset: usize, len: usize) -> Result<(), MemoryError> {
        self.memory.commit(self.res(), offset, len)?;
        self.set(offset, len, Protection::ReadWrite, false);
        Ok(())
    }

    /// Sets the protection of the committed range `offset..offset+len`.
    pub(crate) fn protect(
        &mut self,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        self.memory.protect(self.res(), offset, len, prot)?;
        self.set(offset, len, prot, true);
        Ok(())
    }

    /// Makes code written to `offset..offset+len` visible to instruction
    /// fetch.
    pub(crate) fn sync_icache(&self, offset: usize, len: usize) {
        self.memory.sync_icache(self.res(), offset, len);
    }

    /// Has `mapping` place the file's pages from `file_offset` at the
    /// reserved range `offset..offset+len` with `prot` (see
    /// [`FileMapping::map_file`]), which is then committed; `false` if it
    /// cannot.
    pub(crate) fn map_file(
        &mut self,
        mapping: &dyn FileMapping,
        offset: usize,
        len: usize,
        file_offset: u64,
        prot: Protection,
    ) -> bool {
        let mapped = mapping.map_file(self.res(), offset, len, file_offset, prot);
        if mapped {
            self.set(offset, len, prot, false);
        }
        mapped
    }

    /// Records `prot` for `offset..offset+len`: for the committed parts of
    /// it only if `committed_only`, else for all of it.
    fn set(&mut self, offset: usize, len: usize, prot: Protection, committed_only: bool) {
        let end = offset.saturating_add(len);
        let mut pages = Vec::with_capacity(self.pages.len() + 2);
        for &(a, b, p) in &self.pages {
            if b <= offset || end <= a {
                pages.push((a, b, p));
                continue;
            }
            if a < offset {
                pages.push((a, offset, p));
            }
            if committed_only {
                pages.push((a.max(offset), b.min(end), prot));
            }
            if end < b {
                pages.push((end, b, p));
            }
        }
        if !committed_only {
            let at = pages.iter().position(|&(a, _, _)| a >= end);
            pages.insert(at.unwrap_or(pages.len()), (offset, end, prot));
        }
        self.pages = pages;
    }

    /// Whether `offset..offset+len` lies in committed memory (read-write
    /// now, if `writable`).
    fn lends(&self, offset: usize, len: usize, writable: bool) -> bool {
        let Some(end) = offset.checked_add(len) else {
            return false;
        };
        if end > self.res().size() {
            return false;
        }
        let mut at = offset;
        for &(a, b, p) in &self.pages {
            if at >= end {
                break;
            }
            if b <= at {
                continue;
            }
            if a > at || (writable && p != Protection::ReadWrite) {
                return false;
            }
            at = b;
        }
        at >= end
    }

    /// The bytes at `offset..offset+len`, if they are committed (every
    /// committed page is readable).
    pub(crate) fn bytes(&self, offset: usize, len: usize) -> Option<&[u8]> {
        if !self.lends(offset, len, false) {
            return None;
        }
        let host = self.res().host();
        // SAFETY: the range lies inside the reservation and in committed
        // pages (checked just above, from the commits and protections this
        // value made itself), which `Reservation::new`'s contract makes
        // readable through `host` until the reservation is released, which
        // happens only when `self` is dropped. Writes need `&mut self`,
        // which the shared borrow the slice holds excludes.
        Some(unsafe { core::slice::from_raw_parts(host.as_ptr().add(offset), len) })
    }

    /// The bytes at `offset..offset+len`, if they are committed and
    /// read-write now.
    pub(crate) fn bytes_mut(&mut self, offset: usize, len: usize) -> Option<&mut [u8]> {
        if !self.lends(offset, len, true) {
            return None;
        }
        let host = self.res().host();
        // SAFETY: the range lies inside the reservation, in committed pages
        // that are read-write now (checked just above), which
        // `Reservation::new`'s contract makes writable through `host`; the
        // slice holds the exclusive borrow of `self`, so no other slice of
        // the reservation is alive and no protection changes while it is.
        Some(unsafe { core::slice::from_raw_parts_mut(host.as_ptr().add(offset), len) })
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
