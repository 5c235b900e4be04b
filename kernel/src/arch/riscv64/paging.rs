//! Sv39 page tables: one root shared by the kernel (supervisor-only pages)
//! and the single user address space (U pages), as in a PROTECTED build.
//! Tables live in the kernel heap, which is identity-mapped, so a table's
//! physical address is its virtual address.

use alloc::boxed::Box;

/// Page size.
pub const PAGE: u64 = 4096;

const V: u64 = 1 << 0;
const R: u64 = 1 << 1;
const W: u64 = 1 << 2;
const X: u64 = 1 << 3;
const U: u64 = 1 << 4;
const A: u64 = 1 << 6;
const D: u64 = 1 << 7;

/// Access a mapping grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Readable.
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
    /// Reachable from U-mode.
    pub user: bool,
}

impl Access {
    fn bits(self) -> u64 {
        let mut b = V | A | D;
        if self.read {
            b |= R;
        }
        if self.write {
            b |= W;
        }
        if self.execute {
            b |= X;
        }
        if self.user {
            b |= U;
        }
        b
    }
}

#[repr(C, align(4096))]
struct Table([u64; 512]);

/// The page table.
pub struct PageTable {
    root: *mut Table,
}

// SAFETY: the table is only reached through the kernel's one mutex around it.
unsafe impl Send for PageTable {}

impl PageTable {
    /// An empty table.
    pub fn new() -> Self {
        PageTable {
            root: Box::into_raw(Box::new(Table([0; 512]))),
        }
    }

    /// Physical page number of the root, for `satp`.
    pub fn root_ppn(&self) -> u64 {
        self.root as u64 / PAGE
    }

    /// The leaf entry for `va`, creating intermediate tables if asked.
    fn leaf(&mut self, va: u64, create: bool) -> Option<&mut u64> {
        let mut table = self.root;
        for level in [2u32, 1] {
            let index = ((va >> (12 + 9 * level)) & 0x1ff) as usize;
            // SAFETY: `table` is a live table owned by this page table.
            let entry = unsafe { &mut (*table).0[index] };
            if *entry & V == 0 {
                if !create {
                    return None;
                }
                let next = Box::into_raw(Box::new(Table([0; 512])));
                *entry = ((next as u64 / PAGE) << 10) | V;
            }
            table = ((*entry >> 10) * PAGE) as *mut Table;
        }
        let index = ((va >> 12) & 0x1ff) as usize;
        // SAFETY: as above, for the last-level table.
        Some(unsafe { &mut (*table).0[index] })
    }

    /// Maps page `va` to frame `pa`.
    pub fn map(&mut self, va: u64, pa: u64, access: Access) {
        let entry = self.leaf(va, true).expect("created");
        *entry = ((pa / PAGE) << 10) | access.bits();
    }

    /// Changes the access of a mapped page; false if it is not mapped.
    pub fn protect(&mut self, va: u64, access: Access) -> bool {
        match self.leaf(va, false) {
            Some(entry) if *entry & V != 0 => {
                *entry = (*entry & !0x3ff) | access.bits();
                true
            }
            _ => false,
        }
    }

    /// Removes the mapping of page `va`, returning its frame.
    pub fn unmap(&mut self, va: u64) -> Option<u64> {
        let entry = self.leaf(va, false)?;
        if *entry & V == 0 {
            return None;
        }
        let pa = (*entry >> 10) * PAGE;
        *entry = 0;
        Some(pa)
    }

    /// Whether page `va` is mapped.
    pub fn is_mapped(&mut self, va: u64) -> bool {
        self.leaf(va, false).is_some_and(|e| *e & V != 0)
    }

    /// The access page `va` grants, if mapped.
    pub fn access(&mut self, va: u64) -> Option<Access> {
        let e = *self.leaf(va, false)?;
        (e & V != 0).then_some(Access {
            read: e & R != 0,
            write: e & W != 0,
            execute: e & X != 0,
            user: e & U != 0,
        })
    }
}
