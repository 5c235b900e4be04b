//! What every platform's thread-local storage shares: the registry of
//! modules (objects with `PT_TLS`) behind their ids, and the blocks made
//! from their templates. Where a thread keeps its blocks is the platform's
//! business (a `thread_local!` when hosted, one list per task in the QEMU
//! user runtime).

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::vec::Vec;

use modlib::ThreadLocal;

/// The registered modules of a platform.
pub struct TlsModules {
    inner: spin::Mutex<Registry>,
}

struct Registry {
    slots: Vec<Option<(u32, ThreadLocal)>>,
    generation: u32,
}

/// Bits of a module id holding its slot (plus one); the slot's
/// generation is above them. An id fits the machine's word, as the
/// `DTPMOD` relocations that store it do: half for each on 32-bit
/// machines, 32 bits each on 64-bit ones.
const SLOT_BITS: u32 = usize::BITS / 2;

/// The generations an id can tell apart.
const GENERATION_MASK: u32 = u32::MAX >> (32 - SLOT_BITS);

impl TlsModules {
    /// No module registered.
    #[must_use]
    pub const fn new() -> Self {
        TlsModules {
            inner: spin::Mutex::new(Registry {
                slots: Vec::new(),
                generation: 0,
            }),
        }
    }

    /// The slot and generation a module id names: its slot in the
    /// registry (plus one, so that 0 is never an id) below, the slot's
    /// generation above (so that a stale id is noticed). No lock taken.
    #[must_use]
    pub fn split(module: u64) -> Option<(usize, u32)> {
        let slot = usize::try_from(module & ((1 << SLOT_BITS) - 1))
            .ok()?
            .checked_sub(1)?;
        Some((slot, (module >> SLOT_BITS) as u32))
    }

    /// Registers a template; returns its module id (never 0).
    pub fn register(&self, tls: ThreadLocal) -> u64 {
        let mut r = self.inner.lock();
        r.generation = (r.generation.wrapping_add(1) & GENERATION_MASK).max(1);
        let entry = Some((r.generation, tls));
        let slot = if let Some(free) = r.slots.iter().position(Option::is_none) {
            r.slots[free] = entry;
            free
        } else {
            r.slots.push(entry);
            r.slots.len() - 1
        };
        (u64::from(r.generation) << SLOT_BITS) | (slot as u64 + 1)
    }

    /// Forgets `module`; returns its slot and generation if it was
    /// registered (for the caller to drop its blocks of it).
    pub fn unregister(&self, module: u64) -> Option<(usize, u32)> {
        let (slot, generation) = Self::split(module)?;
        let mut r = self.inner.lock();
        let entry = r.slots.get_mut(slot)?;
        entry.take_if(|(g, _)| *g == generation)?;
        Some((slot, generation))
    }

    /// The slot and generation of a registered `module`, with its template.
    pub fn lookup(&self, module: u64) -> Option<(usize, u32, ThreadLocal)> {
        let (slot, generation) = Self::split(module)?;
        let r = self.inner.lock();
        match r.slots.get(slot) {
            Some(Some((g, tls))) if *g == generation => Some((slot, generation, *tls)),
            _ => None,
        }
    }
}

impl TlsModules {
    /// The block of `module` among a thread's `blocks` (indexed by slot),
    /// made from the module's template and put there on first use; `None`
    /// for an id that names no registered module, or out of memory.
    pub fn block_in(&self, blocks: &mut Vec<Option<TlsBlock>>, module: u64) -> Option<*mut u8> {
        let (slot, generation) = Self::split(module)?;
        if let Some(Some(b)) = blocks.get(slot) {
            if b.generation == generation {
                return Some(b.as_ptr());
            }
        }
        let (_, _, tls) = self.lookup(module)?;
        // SAFETY: a registered module's template is readable until it is
        // unregistered, which happens before its object is unmapped.
        let block = unsafe { TlsBlock::new(&tls, generation) }?;
        let ptr = block.as_ptr();
        if blocks.len() <= slot {
            blocks.resize_with(slot + 1, || None);
        }
        blocks[slot] = Some(block);
        Some(ptr)
    }

    /// Frees `blocks`' block of a module [`TlsModules::unregister`] gave
    /// back as `(slot, generation)`.
    pub fn drop_block(blocks: &mut [Option<TlsBlock>], (slot, generation): (usize, u32)) {
        if let Some(entry) = blocks.get_mut(slot) {
            entry.take_if(|b| b.generation == generation);
        }
    }
}

impl Default for TlsModules {
    fn default() -> Self {
        Self::new()
    }
}

/// One thread's block of one module: its template, then zeros. Freed when
/// dropped.
pub struct TlsBlock {
    /// Generation of the module it belongs to.
    pub generation: u32,
    ptr: *mut u8,
    layout: Layout,
}

// SAFETY: the block is plain memory owned by this value.
unsafe impl Send for TlsBlock {}

impl TlsBlock {
    /// A fresh block of `tls` for module generation `generation`; `None` if
    /// memory runs out.
    ///
    /// # Safety
    /// `tls.init` must address `tls.init_size` readable bytes (the template
    /// of a registered, still loaded object).
    #[must_use]
    pub unsafe fn new(tls: &ThreadLocal, generation: u32) -> Option<TlsBlock> {
        let layout = Layout::from_size_align(tls.size.max(1), tls.align.max(1)).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the template is readable per the contract, and the block
        // holds at least `min(init_size, size)` bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(
                tls.init as usize as *const u8,
                ptr,
                tls.init_size.min(tls.size),
            );
        }
        Some(TlsBlock {
            generation,
            ptr,
            layout,
        })
    }

    /// The first byte of the block.
    #[must_use]
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr
    }
}

impl Drop for TlsBlock {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed` with `layout` and is freed
        // only here.
        unsafe { dealloc(self.ptr, self.layout) };
    }
}
