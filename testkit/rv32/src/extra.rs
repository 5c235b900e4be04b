//! Checks beyond module.c: `jal` calls to a far host function through
//! the loader's range-extension stub, `ALIGN` padding kept only when
//! exact, IFUNCs bound through JUMP_SLOT and IRELATIVE, and bad input
//! refused with a typed error and nothing held.

use modlib::{load, LoadError, SymbolKind};

use crate::fixtures::{ALIGN, FAR_CALL, IFUNC, MODULE_REL};
use crate::heap::{self, HeapMemory};
use crate::host::{far_host_twice, fn_addr, host_table, HostData};
use crate::module::{get, options};
use crate::{ensure, ensure_eq, Fixture, Outcome, Runner};

/// `R_RISCV_ALIGN`.
const R_RISCV_ALIGN: u32 = 43;
/// Reach of `jal`: +-1 MiB.
const JAL_REACH: u64 = 1 << 20;
/// The RV32 stub's code: `auipc t3, 0; lw t3, 12(t3); jr t3`.
const STUB_CODE: [u32; 3] = [0x0000_0e17, 0x00ce_2e03, 0x000e_0067];

/// Reads a little-endian word at `addr` (which may be 2-byte aligned).
///
/// # Safety
/// `addr..addr+4` must be readable.
unsafe fn word_at(addr: u64) -> u32 {
    // SAFETY: the caller's contract; unaligned reads are allowed.
    unsafe { (addr as usize as *const u32).read_unaligned() }
}

/// Where the `jal` at `site` jumps.
fn jal_target(site: u64, insn: u32) -> u64 {
    let imm = ((insn >> 31) & 1) << 20
        | ((insn >> 21) & 0x3ff) << 1
        | ((insn >> 20) & 1) << 11
        | ((insn >> 12) & 0xff) << 12;
    let offset = ((imm << 11) as i32) >> 11;
    site.wrapping_add(offset as i64 as u64) & 0xffff_ffff
}

fn far_call(fx: &Fixture) -> Outcome {
    let memory = HeapMemory::new();
    let heap_before = heap::used();
    {
        let host = HostData::new();
        let table = host_table(&host);
        let image =
            load(fx.bytes, &options(), &memory, &table).map_err(|e| alloc::format!("load: {e}"))?;
        let far = fn_addr(far_host_twice as *const ());
        let distance = far.abs_diff(image.start());
        ensure!(
            distance > JAL_REACH,
            "far_host_twice ({far:#x}) is only {distance:#x} from the image"
        );
        let site = image.symbol("far_site").ok_or("no far_site")?.address;
        // SAFETY: `far_site` labels an instruction of the loaded text.
        let insn = unsafe { word_at(site) };
        ensure_eq!(insn & 0x7f, 0x6f, "opcode at far_site (jal)");
        let stub = jal_target(site, insn);
        ensure!(
            image.contains(stub) && stub != far,
            "jal at {site:#x} goes to {stub:#x}, not to a stub in the image"
        );
        // SAFETY: `stub` lies in the image (checked), which holds the
        // 16-byte stub there.
        let code = unsafe { [word_at(stub), word_at(stub + 4), word_at(stub + 8)] };
        ensure_eq!(code, STUB_CODE, "stub code");
        // SAFETY: as above.
        ensure_eq!(u64::from(unsafe { word_at(stub + 12) }), far, "stub target");
        // SAFETY: both are `int (int)` in far_call.S.
        let (jal_far, tail_far) = unsafe {
            (
                get::<extern "C" fn(i32) -> i32, _>(&image, "jal_far")?,
                get::<extern "C" fn(i32) -> i32, _>(&image, "tail_far")?,
            )
        };
        ensure_eq!(jal_far(5), 15, "jal through the stub, then jal near_add");
        ensure_eq!(tail_far(21), 42, "tail call through the stub");
    }
    ensure_eq!(memory.live_bytes(), 0, "memory held after unloading");
    ensure_eq!(
        heap::used(),
        heap_before,
        "heap bytes in use after unloading"
    );
    Ok(())
}

fn align_exact(fx: &Fixture) -> Outcome {
    let memory = HeapMemory::new();
    let host = HostData::new();
    let image = load(fx.bytes, &options(), &memory, &host_table(&host))
        .map_err(|e| alloc::format!("load: {e}"))?;
    let target = image.symbol("aligned_target").ok_or("no aligned_target")?;
    ensure_eq!(target.address % 8, 0, "aligned_target alignment");
    // SAFETY: `aligned_target` is code of the loaded image (`ret`).
    let ret = unsafe { word_at(target.address) } & 0xffff;
    ensure_eq!(ret, 0x8082, "the `ret` after the padding");
    Ok(())
}

fn align_inexact(fx: &Fixture) -> Outcome {
    let memory = HeapMemory::new();
    let host = HostData::new();
    match load(fx.bytes, &options(), &memory, &host_table(&host)) {
        Err(LoadError::RelaxationRequired { r_type, .. }) => {
            ensure_eq!(r_type, R_RISCV_ALIGN, "relocation type");
        }
        Err(e) => return Err(alloc::format!("unexpected error: {e}")),
        Ok(_) => return Err("loaded although the padding must shrink".into()),
    }
    ensure_eq!(memory.live_bytes(), 0, "memory held after the refusal");
    Ok(())
}

fn ifunc(fx: &Fixture) -> Outcome {
    let memory = HeapMemory::new();
    let heap_before = heap::used();
    {
        let host = HostData::new();
        let image = load(fx.bytes, &options(), &memory, &host_table(&host))
            .map_err(|e| alloc::format!("load: {e}"))?;
        let scaled = image.symbol("scaled").ok_or("no scaled")?;
        ensure_eq!(scaled.kind, SymbolKind::Ifunc, "kind of `scaled`");
        type FnI = extern "C" fn(i32) -> i32;
        // SAFETY: the types are ifunc.c's.
        let (call_scaled, call_hidden, scaled_pointer, resolver_count) = unsafe {
            (
                get::<FnI, _>(&image, "call_scaled")?,
                get::<FnI, _>(&image, "call_hidden")?,
                get::<extern "C" fn() -> FnI, _>(&image, "scaled_pointer")?,
                get::<extern "C" fn() -> i32, _>(&image, "resolver_count")?,
            )
        };
        ensure_eq!(call_scaled(5), 10, "exported IFUNC (impl_two)");
        ensure_eq!(call_hidden(5), 6, "second IFUNC (impl_one)");
        ensure_eq!(scaled_pointer()(7), 14, "IFUNC address taken");
        ensure!(
            resolver_count() >= 2,
            "resolvers ran {} times",
            resolver_count()
        );
    }
    ensure_eq!(memory.live_bytes(), 0, "memory held after unloading");
    ensure_eq!(
        heap::used(),
        heap_before,
        "heap bytes in use after unloading"
    );
    Ok(())
}

/// Truncated and foreign bytes are refused with the error that names why,
/// taking nothing.
fn bad_input() -> Outcome {
    let memory = HeapMemory::new();
    let host = HostData::new();
    let table = host_table(&host);
    let object = MODULE_REL[0].bytes;
    let heap_before = heap::used();
    for len in [object.len() / 2, object.len() - 1, 100, 40] {
        match load(&object[..len], &options(), &memory, &table) {
            Err(LoadError::Malformed { .. }) => {}
            Err(e) => return Err(alloc::format!("{len} bytes: unexpected error {e}")),
            Ok(_) => return Err(alloc::format!("{len} of {} bytes loaded", object.len())),
        }
    }
    ensure_eq!(
        load(b"\x7fELX not an object", &options(), &memory, &table).err(),
        Some(LoadError::NotElf),
        "bytes without the ELF magic"
    );
    ensure_eq!(memory.live_reservations(), 0, "reservations held");
    ensure_eq!(heap::used(), heap_before, "heap bytes in use");
    Ok(())
}

/// All of the above.
pub fn run(runner: &mut Runner) {
    for fx in FAR_CALL {
        runner.check(fx.label, || far_call(fx));
    }
    runner.check(ALIGN[0].label, || align_exact(&ALIGN[0]));
    runner.check(ALIGN[1].label, || align_inexact(&ALIGN[1]));
    for fx in IFUNC {
        runner.check(fx.label, || ifunc(fx));
    }
    runner.check("truncated and non-ELF input refused", bad_input);
}
