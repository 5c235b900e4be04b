//! The kernel's exported symbol table: a static list built by
//! [`export_symbols!`](crate::export_symbols), sorted and checked for
//! duplicates once, then searched by binary search.

use alloc::vec::Vec;

use modlib::{DuplicateSymbol, ProviderId, SymbolEntry, SymbolKind, SymbolTable};

/// One kernel item exported to modules.
#[derive(Debug, Clone, Copy)]
pub struct KernelSymbol {
    /// Name modules refer to.
    pub name: &'static str,
    /// Address of the item.
    pub address: *const (),
    /// Function or data.
    pub kind: SymbolKind,
}

// SAFETY: a `KernelSymbol` only records an address; it never dereferences
// it, so sharing it between threads is sound.
unsafe impl Sync for KernelSymbol {}
// SAFETY: as above.
unsafe impl Send for KernelSymbol {}

/// Builds a `static` table of kernel symbols from items in scope:
///
/// ```
/// extern "C" fn printk(_line: *const u8) {}
/// extern "C" fn kmalloc(_size: usize) -> *mut u8 { core::ptr::null_mut() }
/// static JIFFIES: u64 = 0;
/// modlib_kmod::export_symbols!(KERNEL_SYMBOLS = [fn printk, fn kmalloc, data JIFFIES]);
/// let table = modlib_kmod::KernelTable::new(KERNEL_SYMBOLS).unwrap();
/// assert!(table.table().get("printk").is_some());
/// ```
///
/// `fn` items must be `extern "C"`; `data` items are statics.
#[macro_export]
macro_rules! export_symbols {
    ($table:ident = [$($kind:ident $item:ident),* $(,)?]) => {
        /// Kernel symbols exported to modules.
        pub static $table: &[$crate::KernelSymbol] = &[
            $($crate::export_symbols!(@entry $kind $item)),*
        ];
    };
    (@entry fn $item:ident) => {
        $crate::KernelSymbol {
            name: stringify!($item),
            address: $item as *const (),
            kind: $crate::SymbolKind::Function,
        }
    };
    (@entry data $item:ident) => {
        $crate::KernelSymbol {
            name: stringify!($item),
            address: (&raw const $item).cast::<()>(),
            kind: $crate::SymbolKind::Object,
        }
    };
}

/// The kernel's symbols as a resolver (provider [`KernelTable::PROVIDER`]).
#[derive(Debug, Clone)]
pub struct KernelTable {
    table: SymbolTable<'static>,
}

impl KernelTable {
    /// The provider id kernel symbols report.
    pub const PROVIDER: ProviderId = ProviderId(0);

    /// Sorts `symbols`; fails if a name repeats.
    pub fn new(symbols: &'static [KernelSymbol]) -> Result<Self, DuplicateSymbol> {
        let entries: Vec<SymbolEntry<'static>> = symbols
            .iter()
            .map(|s| SymbolEntry::new(s.name, s.address as u64, s.kind))
            .collect();
        Ok(KernelTable {
            table: SymbolTable::new(entries, Self::PROVIDER)?,
        })
    }

    /// The table as a resolver.
    pub fn table(&self) -> &SymbolTable<'static> {
        &self.table
    }
}
