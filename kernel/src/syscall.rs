//! The system calls (numbers and arguments in `sysabi`), served the same
//! on every machine; user pointers are checked against the user pool.

use alloc::vec;
use alloc::vec::Vec;

use crate::arch::Mem;
use crate::protect::{MemoryProtection, Pool, Prot};
use crate::{console, ramfs};
use sysabi as sys;
use sysabi::ERR;

/// Copies `len` bytes of user memory at `va`, if the task may read them.
pub fn from_user(va: u64, len: u64) -> Option<Vec<u8>> {
    if len > 1 << 20 || !Mem::user_range_ok(va, len, false) {
        return None;
    }
    let mut out = vec![0u8; len as usize];
    Mem::with_user_access(|| {
        // SAFETY: the range is committed, readable user memory (checked).
        unsafe { core::ptr::copy_nonoverlapping(va as *const u8, out.as_mut_ptr(), len as usize) };
    });
    Some(out)
}

/// Copies `data` to user memory at `va`, if the task may write it.
pub fn to_user(va: u64, data: &[u8]) -> bool {
    if !Mem::user_range_ok(va, data.len() as u64, true) {
        return false;
    }
    Mem::with_user_access(|| {
        // SAFETY: the range is committed, writable user memory (checked).
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), va as *mut u8, data.len()) };
    });
    true
}

fn prot_of(value: u64) -> Option<Prot> {
    match value {
        sys::PROT_READ => Some(Prot::Read),
        sys::PROT_READ_WRITE => Some(Prot::ReadWrite),
        sys::PROT_READ_EXECUTE => Some(Prot::ReadExecute),
        _ => None,
    }
}

fn ok(b: bool) -> u64 {
    if b {
        0
    } else {
        ERR
    }
}

/// Serves system call `nr` with arguments `a`; returns its result.
pub fn serve(nr: u64, a: [u64; 4]) -> u64 {
    match nr {
        sys::WRITE => match from_user(a[0], a[1]) {
            Some(bytes) => {
                console::write_bytes(&bytes);
                a[1]
            }
            None => ERR,
        },
        sys::OPEN => from_user(a[0], a[1])
            .and_then(|p| core::str::from_utf8(&p).ok().and_then(ramfs::index))
            .map_or(ERR, |i| i as u64),
        sys::SIZE => ramfs::at(a[0] as usize).map_or(ERR, |(_, d)| d.len() as u64),
        sys::READ => {
            let Some((_, data)) = ramfs::at(a[0] as usize) else {
                return ERR;
            };
            let start = (a[1] as usize).min(data.len());
            let end = start.saturating_add(a[3] as usize).min(data.len());
            if to_user(a[2], &data[start..end]) {
                (end - start) as u64
            } else {
                ERR
            }
        }
        sys::LIST => {
            let Some((name, _)) = ramfs::at(a[0] as usize) else {
                return ERR;
            };
            let n = name.len().min(a[2] as usize);
            if to_user(a[1], &name.as_bytes()[..n]) {
                n as u64
            } else {
                ERR
            }
        }
        sys::RESERVE => Mem::reserve(Pool::User, a[0], a[1]).unwrap_or(ERR),
        sys::COMMIT => ok(Mem::commit(Pool::User, a[0], a[1])),
        sys::PROTECT => prot_of(a[2]).map_or(ERR, |p| ok(Mem::protect(Pool::User, a[0], a[1], p))),
        sys::RELEASE => ok(Mem::release(Pool::User, a[0], a[1])),
        sys::DEV_READ => device_read(a),
        _ => ERR,
    }
}

fn device_read(a: [u64; 4]) -> u64 {
    let mut buf = vec![0u8; (a[2] as usize).min(4096)];
    match crate::modules::chardev_read(a[0] as i32, &mut buf) {
        Ok(n) if to_user(a[1], &buf[..n]) => n as u64,
        _ => ERR,
    }
}
