//! The user image (a static ELF32 Arm executable in the ramfs) placed in
//! user-pool granules at its link addresses, and its initial stack with
//! `argv` in a granule of its own. A granule holding any writable segment
//! is data (never executable); the others are code.

use alloc::string::String;
use alloc::vec::Vec;

use super::mem::{self, Mem};
use super::user::UserContext;
use crate::protect::{MemoryProtection, Pool, Prot};
use crate::ramfs;

const PT_LOAD: u32 = 1;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const EM_ARM: u16 = 40;

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

/// A loadable segment: where it goes, what of the file fills it, flags.
struct Segment<'a> {
    vaddr: u64,
    memsz: u64,
    data: &'a [u8],
    flags: u32,
}

/// The `PT_LOAD` segments and entry of an ELF32 little-endian Arm
/// executable.
fn parse(elf: &[u8]) -> Option<(u32, Vec<Segment<'_>>)> {
    if elf.get(..6)? != b"\x7fELF\x01\x01" || u16_at(elf, 16)? != 2 || u16_at(elf, 18)? != EM_ARM {
        return None;
    }
    let entry = u32_at(elf, 24)?;
    let phoff = u32_at(elf, 28)? as usize;
    let phentsize = usize::from(u16_at(elf, 42)?);
    let phnum = usize::from(u16_at(elf, 44)?);
    let mut segments = Vec::new();
    for i in 0..phnum {
        let p = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if u32_at(elf, p)? != PT_LOAD {
            continue;
        }
        let offset = u32_at(elf, p + 4)? as usize;
        let filesz = u32_at(elf, p + 16)? as usize;
        let memsz = u32_at(elf, p + 20)?;
        if filesz > memsz as usize {
            return None;
        }
        segments.push(Segment {
            vaddr: u64::from(u32_at(elf, p + 8)?),
            memsz: u64::from(memsz),
            data: elf.get(offset..offset.checked_add(filesz)?)?,
            flags: u32_at(elf, p + 24)?,
        });
    }
    Some((entry, segments))
}

/// Places the image's segments; returns the entry.
fn load_image(elf: &[u8]) -> Result<u32, &'static str> {
    let (entry, segments) = parse(elf).ok_or("not an ELF32 Arm executable")?;
    let g = Mem::GRANULE;
    let start = segments
        .iter()
        .map(|s| s.vaddr)
        .min()
        .ok_or("no segments")?
        / g
        * g;
    let end = segments
        .iter()
        .map(|s| (s.vaddr + s.memsz).div_ceil(g) * g)
        .max()
        .ok_or("no segments")?;
    if !mem::user_reserve_at(start, end - start) || !Mem::commit(Pool::User, start, end - start) {
        return Err("its granules are not free user-pool granules");
    }
    for s in &segments {
        // SAFETY: the granules under every segment were just committed
        // read-write and zeroed; the copy stays inside the segment.
        unsafe {
            core::ptr::copy_nonoverlapping(s.data.as_ptr(), s.vaddr as *mut u8, s.data.len());
        }
    }
    for granule in (start..end).step_by(g as usize) {
        let holds = |flag: u32| {
            segments.iter().any(|s| {
                s.flags & flag != 0 && s.vaddr < granule + g && s.vaddr + s.memsz > granule
            })
        };
        let prot = match (holds(PF_W), holds(PF_X)) {
            (true, true) => return Err("a granule would be writable and executable"),
            (true, false) => Prot::ReadWrite,
            (false, _) => Prot::ReadExecute,
        };
        if !Mem::protect(Pool::User, granule, g, prot) {
            return Err("its granules could not be protected");
        }
    }
    Mem::sync_icache();
    Ok(entry)
}

/// Writes `args` at the top of the stack granule ending at `top`: the
/// strings, then the `argv` array; returns (sp, argv).
fn push_args(top: u32, args: &[&str]) -> (u32, u32) {
    let mut sp = top;
    let mut pointers: Vec<u32> = Vec::with_capacity(args.len() + 1);
    for arg in args {
        sp -= arg.len() as u32 + 1;
        // SAFETY: the stack granule is committed read-write and the
        // strings are far smaller than it.
        unsafe {
            core::ptr::copy_nonoverlapping(arg.as_ptr(), sp as *mut u8, arg.len());
            ((sp + arg.len() as u32) as *mut u8).write(0);
        }
        pointers.push(sp);
    }
    pointers.push(0);
    sp = (sp - 4 * pointers.len() as u32) & !7;
    // SAFETY: as above; the array lies below the strings.
    unsafe { core::ptr::copy_nonoverlapping(pointers.as_ptr(), sp as *mut u32, pointers.len()) };
    (sp, sp)
}

/// Places `user.elf` from the ramfs and gives it a stack holding `args`:
/// the task, ready to run.
pub fn start(args: &[&str]) -> Result<UserContext, String> {
    Mem::reset_user();
    let elf = ramfs::file("user.elf").ok_or_else(|| String::from("no user.elf in the ramfs"))?;
    let entry = load_image(elf).map_err(|why| alloc::format!("user.elf: {why}"))?;
    let g = Mem::GRANULE;
    let stack = Mem::reserve(Pool::User, g, g)
        .filter(|&at| Mem::commit(Pool::User, at, g))
        .ok_or_else(|| String::from("no user granule for the stack"))?;
    let (sp, argv) = push_args((stack + g) as u32, args);
    Ok(UserContext::start(entry, sp, args.len() as u32, argv))
}
