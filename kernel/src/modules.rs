//! The kernel side of the split: `kmod` in the kernel, with memory from the
//! module pool and the kernel's exported symbol table. The modules are
//! the same C sources the hosted `kmod` tests load (`chardev`, `consumer`).

use alloc::vec::Vec;
use core::alloc::Layout;
use core::ffi::{c_char, c_ulong, CStr};
use core::ptr::NonNull;

use kmod::{KernelTable, KmodError, ModHandle, ModuleManager};
use modlib::{Memory, MemoryError, Protection, Reservation};

use crate::arch::{clock, Mem};
use crate::protect::{MemoryProtection, Pool, Prot};
use crate::{kprintln, ramfs};

/// Module memory: the module pool, granule by granule with W^X.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelMemory;

impl Memory for KernelMemory {
    fn page_size(&self) -> usize {
        Mem::GRANULE as usize
    }

    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let va = Mem::reserve(Pool::Module, size as u64, align as u64)
            .ok_or(MemoryError::Exhausted { size })?;
        let host = NonNull::new(va as *mut u8).ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the range was just taken from the module pool and is
        // ours until `release`; committed pages are mapped at `va`.
        Ok(unsafe { Reservation::new(host, va, size) })
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        if Mem::commit(Pool::Module, res.addr() + offset as u64, len as u64) {
            Ok(())
        } else {
            Err(MemoryError::Exhausted { size: len })
        }
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        let prot = match prot {
            Protection::Read => Prot::Read,
            Protection::ReadWrite => Prot::ReadWrite,
            Protection::ReadExecute => Prot::ReadExecute,
        };
        if Mem::protect(Pool::Module, res.addr() + offset as u64, len as u64, prot) {
            Ok(())
        } else {
            Err(MemoryError::BadRange { offset, len })
        }
    }

    fn sync_icache(&self, _res: &Reservation, _offset: usize, _len: usize) {
        Mem::sync_icache();
    }

    fn release(&self, res: Reservation) {
        Mem::release(Pool::Module, res.addr(), res.size() as u64);
    }
}

/// Prints a line from a module.
extern "C" fn klog(msg: *const c_char) {
    // SAFETY: modules pass NUL-terminated strings.
    let text = unsafe { CStr::from_ptr(msg) }
        .to_str()
        .unwrap_or("<non-UTF-8>");
    kprintln!("  [module] {text}");
}

const KMALLOC_HEADER: usize = 16;

/// Kernel heap allocation for modules (16-byte aligned).
extern "C" fn kmalloc(size: usize) -> *mut u8 {
    let Ok(layout) = Layout::from_size_align(size + KMALLOC_HEADER, 16) else {
        return core::ptr::null_mut();
    };
    // SAFETY: non-zero size; the header records it for `kfree`.
    unsafe {
        let p = alloc::alloc::alloc(layout);
        if p.is_null() {
            return p;
        }
        p.cast::<usize>().write(size);
        p.add(KMALLOC_HEADER)
    }
}

/// Frees memory from [`kmalloc`].
extern "C" fn kfree(ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: `ptr` came from `kmalloc`, whose header holds the size.
    unsafe {
        let base = ptr.sub(KMALLOC_HEADER);
        let size = base.cast::<usize>().read();
        alloc::alloc::dealloc(
            base,
            Layout::from_size_align_unchecked(size + KMALLOC_HEADER, 16),
        );
    }
}

/// A kernel variable modules may read (`unsigned long` in C: 32 bits on
/// Arm, 64 on riscv64).
#[no_mangle]
static mut KERNEL_TICKS: c_ulong = 0;

extern "C" {
    fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8;
    fn strlen(s: *const c_char) -> usize;
}

kmod::export_symbols!(KERNEL_SYMBOLS = [fn klog, fn kmalloc, fn kfree, fn memcpy, fn memset, fn strlen, data KERNEL_TICKS]);

static MODULES: spin::Once<ModuleManager<KernelMemory>> = spin::Once::new();

/// The kernel's module manager.
pub fn manager() -> &'static ModuleManager<KernelMemory> {
    MODULES.call_once(|| {
        let table = KernelTable::new(KERNEL_SYMBOLS).expect("kernel symbol names are unique");
        ModuleManager::new(KernelMemory, table)
    })
}

/// Loads `name` from `<name>.o` in the ramfs, printing time and size.
pub fn insmod(name: &str) -> Result<ModHandle, KmodError> {
    let file = alloc::format!("{name}.o");
    let image = ramfs::file(&file).ok_or(KmodError::NotFound {
        name: Some(file.clone()),
    })?;
    // SAFETY: updating a plain counter before modules read it.
    unsafe { KERNEL_TICKS = clock::micros() as c_ulong };
    let modules = manager();
    let start = clock::micros();
    let handle = modules.insmod(image, name)?;
    let us = clock::micros() - start;
    let size = manager()
        .modules()
        .iter()
        .find(|m| m.name == name)
        .map_or(0, |m| m.size);
    kprintln!(
        "insmod {name}: loaded in {us} us, holds {} KiB",
        size / 1024
    );
    Ok(handle)
}

/// Prints the `lsmod` view.
pub fn lsmod() {
    kprintln!("lsmod:");
    kprintln!(
        "  {:<10} {:>8} {:<8} {:>4}  used by",
        "module",
        "size",
        "version",
        "refs"
    );
    for m in manager().modules() {
        kprintln!(
            "  {:<10} {:>8} {:<8} {:>4}  [{}]",
            m.name,
            m.size,
            m.version.as_deref().unwrap_or("-"),
            m.refcount,
            m.used_by.join(", ")
        );
    }
}

/// Reads device `minor` of the `chardev` module into `buf`: kernel code
/// calling into a loaded module, holding a reference while it runs.
pub fn chardev_read(minor: i32, buf: &mut [u8]) -> Result<usize, KmodError> {
    let m = manager();
    let handle = m.modhandle("chardev").ok_or(KmodError::NotFound {
        name: Some("chardev".into()),
    })?;
    let read = m.modsym(handle, "chardev_read")?;
    m.module_get(handle)?;
    // SAFETY: `chardev_read` is `int chardev_read(int, char *, int)` in the
    // module's source; the module is live and pinned by `module_get`.
    let n = unsafe {
        let f: extern "C" fn(i32, *mut u8, i32) -> i32 = core::mem::transmute(read);
        f(minor, buf.as_mut_ptr(), buf.len() as i32)
    };
    m.module_put(handle)?;
    usize::try_from(n).map_err(|_| KmodError::NotFound {
        name: Some(alloc::format!("chardev minor {minor}")),
    })
}

/// The address of `symbol`, exported by module `module` (for a function,
/// with the machine's instruction-set bit).
pub fn function(module: &str, symbol: &str) -> Option<u64> {
    let m = manager();
    m.modsym(m.modhandle(module)?, symbol)
        .ok()
        .map(|f| f as u64)
}

/// Bytes held by each module, for the closing report.
pub fn sizes() -> Vec<(alloc::string::String, usize)> {
    manager()
        .modules()
        .into_iter()
        .map(|m| (m.name, m.size))
        .collect()
}
