//! What `dl-core` needs from the user image: memory and files through
//! system calls, and the user symbol table standing in for the "host"
//! (the C runtime libraries link against, and the dlfcn functions).

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr::NonNull;

use dl_core::{ErrorSlot, FileError, HostObject, HostScope, Platform, ThreadLocalStorage};
use modlib::{Lookup, Machine, Memory, MemoryError, Protection, Reservation, Symbol};

use crate::sys;

/// Image memory from the kernel's reserve/commit/protect/release calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserMemory;

impl Memory for UserMemory {
    fn page_size(&self) -> usize {
        crate::arch::PAGE_SIZE
    }

    fn reserve(&self, size: usize, align: usize) -> Result<Reservation, MemoryError> {
        let va = sys::call(sys::RESERVE, size as u64, align as u64, 0, 0);
        if va == sys::ERR {
            return Err(MemoryError::Exhausted { size });
        }
        let host = NonNull::new(va as *mut u8).ok_or(MemoryError::Exhausted { size })?;
        // SAFETY: the kernel reserved this range for us alone; committed
        // pages are mapped at the same address.
        Ok(unsafe { Reservation::new(host, va, size) })
    }

    fn commit(&self, res: &Reservation, offset: usize, len: usize) -> Result<(), MemoryError> {
        match sys::call(sys::COMMIT, res.addr() + offset as u64, len as u64, 0, 0) {
            sys::ERR => Err(MemoryError::Exhausted { size: len }),
            _ => Ok(()),
        }
    }

    fn protect(
        &self,
        res: &Reservation,
        offset: usize,
        len: usize,
        prot: Protection,
    ) -> Result<(), MemoryError> {
        let p = match prot {
            Protection::Read => sys::PROT_READ,
            Protection::ReadWrite => sys::PROT_READ_WRITE,
            Protection::ReadExecute => sys::PROT_READ_EXECUTE,
        };
        match sys::call(sys::PROTECT, res.addr() + offset as u64, len as u64, p, 0) {
            sys::ERR => Err(MemoryError::BadRange { offset, len }),
            _ => Ok(()),
        }
    }

    fn sync_icache(&self, _res: &Reservation, _offset: usize, _len: usize) {
        crate::arch::fence_i();
    }

    fn release(&self, res: Reservation) {
        sys::call(sys::RELEASE, res.addr(), res.size() as u64, 0, 0);
    }
}

/// The user symbol table as the loader's host scope. The runtime plays the
/// part of libc/libm, so `DT_NEEDED` entries naming them are satisfied.
pub struct Runtime;

const RUNTIME_PROVIDES: &[&str] = &["libc.so.6", "libm.so.6", "libdl.so.2", "libc.so", "libm.so"];

impl HostScope for Runtime {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        crate::table::get(lookup.name)
    }
    fn object(&self, name: &str) -> Option<HostObject> {
        RUNTIME_PROVIDES.contains(&name).then_some(HostObject(0))
    }
    fn resolve_in(&self, _object: HostObject, lookup: &Lookup<'_>) -> Option<Symbol> {
        crate::table::get(lookup.name)
    }
    fn resolve_after(&self, _addr: u64, _lookup: &Lookup<'_>) -> Option<Option<Symbol>> {
        None
    }
    fn name(&self, _object: HostObject) -> String {
        String::from("user runtime")
    }
    fn load(&self, _path: &str) -> Option<HostObject> {
        None
    }
}

/// The task's `dlerror` state (a task is one thread).
static ERROR: spin::Mutex<ErrorSlot> = spin::Mutex::new(ErrorSlot::new());

/// The user image as a platform for `dl-core`.
pub struct UserPlatform {
    runtime: Runtime,
}

impl UserPlatform {
    /// The platform.
    pub const fn new() -> Self {
        UserPlatform { runtime: Runtime }
    }
}

fn open(path: &str) -> Option<u64> {
    let fd = sys::call(sys::OPEN, path.as_ptr() as u64, path.len() as u64, 0, 0);
    (fd != sys::ERR).then_some(fd)
}

impl Platform for UserPlatform {
    type Memory = UserMemory;

    fn memory(&self) -> UserMemory {
        UserMemory
    }
    fn machine(&self) -> Machine {
        crate::arch::MACHINE
    }
    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError> {
        let fd = open(path).ok_or_else(|| FileError(String::from("no such file")))?;
        let size = sys::call(sys::SIZE, fd, 0, 0, 0);
        let mut buf = vec![0u8; size as usize];
        let n = sys::call(sys::READ, fd, 0, buf.as_mut_ptr() as u64, size);
        if n != size {
            return Err(FileError(String::from("short read")));
        }
        Ok(buf)
    }
    fn exists(&self, path: &str) -> bool {
        open(path).is_some()
    }
    fn canonical(&self, path: &str) -> String {
        alloc::format!("/lib/{}", path.rsplit('/').next().unwrap_or(path))
    }
    fn search_path(&self) -> Vec<String> {
        vec![String::from("/lib")]
    }
    fn host(&self) -> Option<&dyn HostScope> {
        Some(&self.runtime)
    }
    fn unresolved_call(&self) -> Option<u64> {
        Some(crate::lazy::handler())
    }
    fn thread_local(&self) -> Option<&dyn ThreadLocalStorage> {
        Some(&crate::tls::UserTls)
    }
    fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot)) {
        f(&mut ERROR.lock());
    }
    fn thread_id(&self) -> u64 {
        1
    }
    fn yield_now(&self) {
        core::hint::spin_loop();
    }
}
