//! User tasks: the user image (a static ELF in the ramfs) loaded into the
//! one user address space, started in U-mode with `argv`, and served
//! system calls until it exits or faults. A fault ends the task, is
//! reported with the faulting address, and the kernel carries on.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use crate::arch::csr;
use crate::arch::paging::PAGE;
use crate::arch::trap::{self, TrapKind, UserContext};
use crate::vm::{self, Prot};
use crate::{console, modules, ramfs};
use sysabi as sys;
use sysabi::ERR;

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It called `exit`.
    Exited(i32),
    /// It faulted and was ended.
    Faulted {
        /// What kind of fault.
        cause: &'static str,
        /// The faulting address (`stval`).
        address: u64,
        /// Where it happened.
        pc: u64,
    },
    /// It could not be started.
    NotStarted(String),
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?))
}

/// Maps the static user image's `PT_LOAD` segments; returns the entry.
fn load_image(elf: &[u8]) -> Option<u64> {
    if elf.get(..4)? != b"\x7fELF" {
        return None;
    }
    let entry = u64_at(elf, 24)?;
    let phoff = u64_at(elf, 32)? as usize;
    let phnum = u16_at(elf, 56)? as usize;
    for i in 0..phnum {
        let p = phoff + i * 56;
        if u32_at(elf, p)? != 1 {
            continue;
        }
        let flags = u32_at(elf, p + 4)?;
        let (offset, vaddr, filesz, memsz) = (
            u64_at(elf, p + 8)?,
            u64_at(elf, p + 16)?,
            u64_at(elf, p + 32)?,
            u64_at(elf, p + 40)?,
        );
        let start = vaddr & !(PAGE - 1);
        let end = (vaddr + memsz + PAGE - 1) & !(PAGE - 1);
        if start < vm::USER_BASE
            || end > vm::USER_MMAP_BASE
            || !vm::user_map_fixed(start, end - start)
        {
            return None;
        }
        let data = elf.get(offset as usize..(offset + filesz) as usize)?;
        csr::with_user_access(|| {
            // SAFETY: the segment's pages were just mapped read-write.
            unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), vaddr as *mut u8, data.len()) };
        });
        let prot = match (flags & 2 != 0, flags & 1 != 0) {
            (true, true) => return None,
            (false, true) => Prot::ReadExecute,
            (true, false) => Prot::ReadWrite,
            (false, false) => Prot::Read,
        };
        vm::user_protect_fixed(start, end - start, prot);
    }
    csr::fence_i();
    Some(entry)
}

/// Builds the initial stack: argv strings, then the argv array; returns
/// (sp, argv).
fn push_args(args: &[&str]) -> (u64, u64) {
    let top = vm::USER_STACK_TOP;
    let mut sp = top;
    let mut pointers = Vec::with_capacity(args.len() + 1);
    csr::with_user_access(|| {
        for arg in args {
            sp -= arg.len() as u64 + 1;
            // SAFETY: the stack pages are mapped read-write for the user.
            unsafe {
                core::ptr::copy_nonoverlapping(arg.as_ptr(), sp as *mut u8, arg.len());
                *((sp + arg.len() as u64) as *mut u8) = 0;
            }
            pointers.push(sp);
        }
        pointers.push(0);
        sp &= !15;
        sp -= 8 * pointers.len() as u64;
        sp &= !15;
        for (i, p) in pointers.iter().enumerate() {
            // SAFETY: as above.
            unsafe { ((sp + 8 * i as u64) as *mut u64).write(*p) };
        }
    });
    (sp, sp)
}

/// Runs the user image with `args` until it exits or faults.
pub fn run(args: &[&str]) -> Outcome {
    vm::user_reset();
    let Some(elf) = ramfs::file("user.elf") else {
        return Outcome::NotStarted(String::from("no user.elf in the ramfs"));
    };
    let Some(entry) = load_image(elf) else {
        return Outcome::NotStarted(String::from("user.elf is not a loadable user image"));
    };
    let stack = vm::USER_STACK_TOP - vm::USER_STACK_SIZE;
    if !vm::user_map_fixed(stack, vm::USER_STACK_SIZE) {
        return Outcome::NotStarted(String::from("no memory for the user stack"));
    }
    let (sp, argv) = push_args(args);
    let mut ctx = UserContext::start(entry, sp, args.len() as u64, argv);
    let outcome = loop {
        let t = trap::run_user(&mut ctx);
        match t.kind() {
            TrapKind::Syscall => {
                let (nr, a) = ctx.take_syscall();
                if nr == sys::EXIT {
                    break Outcome::Exited(a[0] as i32);
                }
                ctx.set_syscall_result(syscall(nr, a));
            }
            kind => {
                break Outcome::Faulted {
                    cause: kind.describe(),
                    address: t.value,
                    pc: ctx.pc(),
                }
            }
        }
    };
    vm::user_reset();
    outcome
}

fn from_user(va: u64, len: u64) -> Option<Vec<u8>> {
    if len > 1 << 20 || !vm::user_range_ok(va, len, false) {
        return None;
    }
    let mut out = vec![0u8; len as usize];
    csr::with_user_access(|| {
        // SAFETY: the range is mapped, readable user memory (checked).
        unsafe { core::ptr::copy_nonoverlapping(va as *const u8, out.as_mut_ptr(), len as usize) };
    });
    Some(out)
}

fn to_user(va: u64, data: &[u8]) -> bool {
    if !vm::user_range_ok(va, data.len() as u64, true) {
        return false;
    }
    csr::with_user_access(|| {
        // SAFETY: the range is mapped, writable user memory (checked).
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

/// Serves one system call; the result goes back in `a0`.
fn syscall(nr: u64, a: [u64; 4]) -> u64 {
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
        sys::RESERVE => vm::user_reserve(a[0], a[1]).unwrap_or(ERR),
        sys::COMMIT => ok(vm::user_commit(a[0], a[1])),
        sys::PROTECT => prot_of(a[2]).map_or(ERR, |p| ok(vm::user_protect(a[0], a[1], p))),
        sys::RELEASE => ok(vm::user_release(a[0], a[1])),
        sys::DEV_READ => {
            let mut buf = vec![0u8; (a[2] as usize).min(4096)];
            match modules::chardev_read(a[0] as i32, &mut buf) {
                Ok(n) if to_user(a[1], &buf[..n]) => n as u64,
                _ => ERR,
            }
        }
        _ => ERR,
    }
}
