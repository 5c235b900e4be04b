//! The address space: the kernel identity map (supervisor-only, W^X by
//! section), the module region (supervisor pages mapped on demand for
//! `kmod`), and the one user region (U pages) that all user tasks share.

use alloc::vec::Vec;

use super::csr;
use super::frames;
use super::paging::{Access, PageTable, PAGE};
use crate::protect::Prot;

/// Start of the module region: within ±2 GiB of the kernel, so modules
/// reach kernel code and data with PC-relative addressing.
pub const MODULE_BASE: u64 = 0x9000_0000;
/// End of the module region.
pub const MODULE_END: u64 = 0xa000_0000;
/// Lowest user address.
pub const USER_BASE: u64 = 0x4000_0000;
/// Start of the user area handed out by the reserve system call.
pub const USER_MMAP_BASE: u64 = 0x5000_0000;
/// End of that area.
pub const USER_MMAP_END: u64 = 0x7700_0000;
/// Top of the user stack.
pub const USER_STACK_TOP: u64 = 0x7800_0000;
/// Size of the user stack.
pub const USER_STACK_SIZE: u64 = 256 * 1024;

const READ: Access = Access {
    read: true,
    write: false,
    execute: false,
    user: false,
};
const READ_WRITE: Access = Access {
    read: true,
    write: true,
    execute: false,
    user: false,
};
const READ_EXECUTE: Access = Access {
    read: true,
    write: false,
    execute: true,
    user: false,
};

fn access(prot: Prot, user: bool) -> Access {
    let a = match prot {
        Prot::Read => READ,
        Prot::ReadWrite => READ_WRITE,
        Prot::ReadExecute => READ_EXECUTE,
    };
    Access { user, ..a }
}

/// First-fit allocator of page-aligned address ranges.
pub struct Ranges {
    free: Vec<(u64, u64)>,
}

impl Ranges {
    const fn empty() -> Self {
        Ranges { free: Vec::new() }
    }

    fn reset(&mut self, start: u64, end: u64) {
        self.free.clear();
        self.free.push((start, end));
    }

    fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        for i in 0..self.free.len() {
            let (start, end) = self.free[i];
            let at = (start + align - 1) & !(align - 1);
            if at.checked_add(size)? <= end {
                self.free.remove(i);
                if at > start {
                    self.free.push((start, at));
                }
                if at + size < end {
                    self.free.push((at + size, end));
                }
                return Some(at);
            }
        }
        None
    }

    fn release(&mut self, start: u64, size: u64) {
        self.free.push((start, start + size));
        self.free.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.free.len());
        for &(a, b) in &self.free {
            match merged.last_mut() {
                Some(last) if last.1 == a => last.1 = b,
                _ => merged.push((a, b)),
            }
        }
        self.free = merged;
    }
}

struct Space {
    table: Option<PageTable>,
    modules: Ranges,
    user: Ranges,
    /// User reservations `(start, size)`, so user requests stay inside them.
    user_reserved: Vec<(u64, u64)>,
}

static SPACE: spin::Mutex<Space> = spin::Mutex::new(Space {
    table: None,
    modules: Ranges::empty(),
    user: Ranges::empty(),
    user_reserved: Vec::new(),
});

extern "C" {
    static _kernel_start: u8;
    static _etext: u8;
    static _erodata: u8;
}

/// Builds the kernel map and turns paging on. `heap_end` is the end of the
/// identity-mapped read-write area (image data, bss and heap).
pub fn init(heap_end: u64) {
    let (start, etext, erodata) = (
        &raw const _kernel_start as u64,
        &raw const _etext as u64,
        &raw const _erodata as u64,
    );
    let mut table = PageTable::new();
    let mut identity = |from: u64, to: u64, access: Access| {
        let mut va = from;
        while va < to {
            table.map(va, va, access);
            va += PAGE;
        }
    };
    identity(start, etext, READ_EXECUTE);
    identity(etext, erodata, READ);
    identity(erodata, heap_end, READ_WRITE);
    identity(0x1000_0000, 0x1000_1000, READ_WRITE);
    identity(0x10_0000, 0x10_1000, READ_WRITE);
    csr::set_satp(table.root_ppn());
    let mut space = SPACE.lock();
    space.table = Some(table);
    space.modules.reset(MODULE_BASE, MODULE_END);
    space.user.reset(USER_MMAP_BASE, USER_MMAP_END);
}

fn map_pages(space: &mut Space, va: u64, len: u64, access: Access) -> bool {
    let mut done = 0;
    while done < len {
        let table = space.table.as_mut().expect("paging initialised");
        if table.is_mapped(va + done) {
            done += PAGE;
            continue;
        }
        let Some(frame) = frames::alloc() else {
            unmap_pages(space, va, done);
            return false;
        };
        table.map(
            va + done,
            frame,
            Access {
                read: true,
                write: true,
                execute: false,
                user: access.user,
            },
        );
        done += PAGE;
    }
    csr::sfence_vma();
    let zero = || {
        // SAFETY: the pages were just mapped read-write at `va`.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, len as usize) };
    };
    if access.user {
        csr::with_user_access(zero);
    } else {
        zero();
    }
    protect_pages(space, va, len, access)
}

fn protect_pages(space: &mut Space, va: u64, len: u64, access: Access) -> bool {
    let table = space.table.as_mut().expect("paging initialised");
    let mut ok = true;
    let mut at = va;
    while at < va + len {
        ok &= table.protect(at, access);
        at += PAGE;
    }
    csr::sfence_vma();
    ok
}

fn unmap_pages(space: &mut Space, va: u64, len: u64) {
    let table = space.table.as_mut().expect("paging initialised");
    let mut at = va;
    while at < va + len {
        if let Some(frame) = table.unmap(at) {
            frames::free(frame);
        }
        at += PAGE;
    }
    csr::sfence_vma();
}

fn page_aligned(va: u64, len: u64) -> bool {
    va.is_multiple_of(PAGE) && len.is_multiple_of(PAGE)
}

/// Reserves module address space.
pub fn module_reserve(size: u64, align: u64) -> Option<u64> {
    SPACE.lock().modules.alloc(size, align.max(PAGE))
}

/// Maps zeroed read-write module pages.
pub fn module_commit(va: u64, len: u64) -> bool {
    page_aligned(va, len) && map_pages(&mut SPACE.lock(), va, len, READ_WRITE)
}

/// Sets module page permissions.
pub fn module_protect(va: u64, len: u64, prot: Prot) -> bool {
    page_aligned(va, len) && protect_pages(&mut SPACE.lock(), va, len, access(prot, false))
}

/// Unmaps a module reservation and frees its address space.
pub fn module_release(va: u64, size: u64) {
    let mut space = SPACE.lock();
    unmap_pages(&mut space, va, size);
    space.modules.release(va, size);
}

/// Maps zeroed read-write user pages at a fixed address (image, stack).
pub fn user_map_fixed(va: u64, len: u64) -> bool {
    page_aligned(va, len) && map_pages(&mut SPACE.lock(), va, len, access(Prot::ReadWrite, true))
}

/// Sets the final permissions of pages mapped by [`user_map_fixed`].
pub fn user_protect_fixed(va: u64, len: u64, prot: Prot) -> bool {
    page_aligned(va, len) && protect_pages(&mut SPACE.lock(), va, len, access(prot, true))
}

/// Reserves user address space for the task (the `reserve` system call).
pub fn user_reserve(size: u64, align: u64) -> Option<u64> {
    if size == 0 || !size.is_multiple_of(PAGE) {
        return None;
    }
    let mut space = SPACE.lock();
    let va = space
        .user
        .alloc(size, align.clamp(PAGE, 1 << 30).next_power_of_two())?;
    space.user_reserved.push((va, size));
    Some(va)
}

fn user_owned(space: &Space, va: u64, len: u64) -> bool {
    page_aligned(va, len)
        && space
            .user_reserved
            .iter()
            .any(|&(s, n)| s <= va && va.checked_add(len).is_some_and(|e| e <= s + n))
}

/// Commits pages of a user reservation read-write and zeroed.
pub fn user_commit(va: u64, len: u64) -> bool {
    let mut space = SPACE.lock();
    user_owned(&space, va, len) && map_pages(&mut space, va, len, access(Prot::ReadWrite, true))
}

/// Changes permissions of committed user pages.
pub fn user_protect(va: u64, len: u64, prot: Prot) -> bool {
    let mut space = SPACE.lock();
    user_owned(&space, va, len) && protect_pages(&mut space, va, len, access(prot, true))
}

/// Releases a whole user reservation.
pub fn user_release(va: u64, size: u64) -> bool {
    let mut space = SPACE.lock();
    let Some(i) = space.user_reserved.iter().position(|&r| r == (va, size)) else {
        return false;
    };
    space.user_reserved.remove(i);
    unmap_pages(&mut space, va, size);
    space.user.release(va, size);
    true
}

/// Removes every user mapping (between tasks).
pub fn user_reset() {
    let mut space = SPACE.lock();
    unmap_pages(&mut space, USER_BASE, USER_STACK_TOP - USER_BASE);
    space.user_reserved.clear();
    space.user.reset(USER_MMAP_BASE, USER_MMAP_END);
}

/// Whether `[va, va+len)` is entirely mapped user memory, writable if
/// `write` (for system call arguments).
pub fn user_range_ok(va: u64, len: u64, write: bool) -> bool {
    if va < USER_BASE || va.checked_add(len).is_none_or(|e| e > USER_STACK_TOP) {
        return false;
    }
    let mut space = SPACE.lock();
    let table = space.table.as_mut().expect("paging initialised");
    let mut page = va & !(PAGE - 1);
    while page < va + len {
        match table.access(page) {
            Some(a) if a.user && a.read && (a.write || !write) => {}
            _ => return false,
        }
        page += PAGE;
    }
    true
}
