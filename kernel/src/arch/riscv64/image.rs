//! The user image (a static ELF64 in the ramfs) loaded into the user
//! region at its link addresses, and its initial stack with `argv`.

use alloc::string::String;
use alloc::vec::Vec;

use super::csr;
use super::paging::PAGE;
use super::trap::UserContext;
use super::vm;
use crate::protect::Prot;
use crate::ramfs;

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

/// Loads `user.elf` from the ramfs and gives it a stack holding `args`:
/// the task, ready to run.
pub fn start(args: &[&str]) -> Result<UserContext, String> {
    vm::user_reset();
    let elf = ramfs::file("user.elf").ok_or_else(|| String::from("no user.elf in the ramfs"))?;
    let entry =
        load_image(elf).ok_or_else(|| String::from("user.elf is not a loadable user image"))?;
    let stack = vm::USER_STACK_TOP - vm::USER_STACK_SIZE;
    if !vm::user_map_fixed(stack, vm::USER_STACK_SIZE) {
        return Err(String::from("no memory for the user stack"));
    }
    let (sp, argv) = push_args(args);
    Ok(UserContext::start(entry, sp, args.len() as u64, argv))
}
