//! x86-64 relocations (System V AMD64 psABI, table "Relocation Types").
//!
//! Notation: S symbol, A addend, P place, B load bias, GOT table address,
//! G+GOT the symbol's slot, L the symbol or its stub, Z symbol size.
//! GOT-indirect loads are never relaxed: the slot always exists, which is
//! correct at any distance.

use elf::abi::{
    R_X86_64_16, R_X86_64_32, R_X86_64_32S, R_X86_64_64, R_X86_64_8, R_X86_64_COPY,
    R_X86_64_DTPMOD64, R_X86_64_DTPOFF32, R_X86_64_DTPOFF64, R_X86_64_GLOB_DAT, R_X86_64_GOT32,
    R_X86_64_GOT64, R_X86_64_GOTOFF64, R_X86_64_GOTPC32, R_X86_64_GOTPC32_TLSDESC,
    R_X86_64_GOTPC64, R_X86_64_GOTPCREL, R_X86_64_GOTPCREL64, R_X86_64_GOTPCRELX,
    R_X86_64_GOTTPOFF, R_X86_64_IRELATIVE, R_X86_64_JUMP_SLOT, R_X86_64_NONE, R_X86_64_PC16,
    R_X86_64_PC32, R_X86_64_PC64, R_X86_64_PC8, R_X86_64_PLT32, R_X86_64_PLTOFF64,
    R_X86_64_RELATIVE, R_X86_64_RELATIVE64, R_X86_64_REX_GOTPCRELX, R_X86_64_SIZE32,
    R_X86_64_SIZE64, R_X86_64_TLSDESC, R_X86_64_TLSDESC_CALL, R_X86_64_TLSGD, R_X86_64_TLSLD,
    R_X86_64_TPOFF32, R_X86_64_TPOFF64,
};

use super::field::{any16, any8, get, put, signed16, signed32, signed8, unsigned32};
use super::fixup::{DynamicClass, Fixup, Needs, RelocFault};

/// What `__tls_get_addr` adds to the offset it is given, and `DTPREL`
/// values have subtracted (the psABI's `TLS_DTV_OFFSET`): none.
pub(crate) const TLS_DTV_OFFSET: u64 = 0;

/// `SHT_X86_64_UNWIND`: `.eh_frame` as LLVM's assembler types it, loaded
/// as data.
pub(crate) const UNWIND_SECTION_TYPE: u32 = 0x7000_0001;

/// `jmp *0(%rip)` followed by the 64-bit target, padded with `int3`.
pub(crate) const STUB_SIZE: usize = 16;

const OPCODE_CALL: u8 = 0xe8;
const OPCODE_JMP: u8 = 0xe9;
const OPCODE_LEA: u8 = 0x8d;
/// `mov $imm32, r/m` (`c7 /0`).
const OPCODE_MOV_IMM: u8 = 0xc7;
/// ModRM with mod 00 and r/m 101: a RIP-relative operand.
const MODRM_RIP_MASK: u8 = 0xc7;
const MODRM_RIP: u8 = 0x05;
/// ModRM with mod 11: a register operand in r/m.
const MODRM_REGISTER: u8 = 0xc0;
const REX: u8 = 0x40;
const REX_W: u8 = 0x08;
const REX_R: u8 = 0x04;
const REX_B: u8 = 0x01;

pub(crate) fn needs(r_type: u32) -> Needs {
    match r_type {
        R_X86_64_GOTPCREL | R_X86_64_GOTPCRELX | R_X86_64_REX_GOTPCRELX | R_X86_64_GOTPCREL64 => {
            Needs {
                got_slot: true,
                got_base: true,
                stub: false,
            }
        }
        R_X86_64_GOT32 | R_X86_64_GOT64 => Needs {
            got_slot: true,
            got_base: true,
            stub: false,
        },
        R_X86_64_GOTOFF64 | R_X86_64_GOTPC32 | R_X86_64_GOTPC64 | R_X86_64_PLTOFF64 => Needs {
            got_slot: false,
            got_base: true,
            stub: r_type == R_X86_64_PLTOFF64,
        },
        R_X86_64_PLT32 | R_X86_64_PC32 => Needs {
            got_slot: false,
            got_base: false,
            stub: true,
        },
        _ => Needs::default(),
    }
}

fn slot(fix: &Fixup) -> Result<u64, RelocFault> {
    fix.got_slot.ok_or(RelocFault::Unsupported)
}

/// A direct branch displacement to the symbol, or through its stub when the
/// symbol is beyond ±2 GiB.
fn branch32(fix: &Fixup) -> Result<[u8; 4], RelocFault> {
    let direct = fix
        .symbol
        .wrapping_add(fix.addend as u64)
        .wrapping_sub(fix.place);
    match (signed32(direct), fix.stub) {
        (Ok(field), _) => Ok(field),
        (Err(_), Some(stub)) => {
            signed32(stub.wrapping_add(fix.addend as u64).wrapping_sub(fix.place))
        }
        (Err(e), None) => Err(e),
    }
}

/// `lea sym(%rip), %reg` against an undefined weak symbol becomes
/// `mov $sym, %reg` (opcode `c7 /0`, the same length): address 0 may be
/// beyond the displacement's reach, and the absolute form gives S + A
/// itself. Any other RIP-relative use of such a symbol (a load from it)
/// keeps its PC-relative form, and overflows when 0 is out of reach. The
/// byte before the opcode is taken for a REX prefix if it reads as one
/// (as for every `leaq`, which pointers need).
fn lea_to_mov(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    // The displacement ends the `lea`, so its value is S + A + 4 - P + P.
    let value = fix.symbol.wrapping_add(fix.addend as u64).wrapping_add(4);
    let lea = offset
        .checked_sub(2)
        .and_then(|at| bytes.get(at..offset))
        .filter(|op| op[0] == OPCODE_LEA && op[1] & MODRM_RIP_MASK == MODRM_RIP);
    let Some(&[_, modrm]) = lea else {
        let sa = value.wrapping_sub(4);
        return put(bytes, offset, signed32(sa.wrapping_sub(fix.place))?);
    };
    let rex = offset
        .checked_sub(3)
        .and_then(|at| bytes.get(at))
        .copied()
        .filter(|b| b & 0xf0 == REX);
    // A 64-bit `mov` sign-extends its immediate, a 32-bit one zero-extends.
    let imm = match rex {
        Some(r) if r & REX_W != 0 => signed32(value)?,
        _ => unsigned32(value)?,
    };
    let register = (modrm >> 3) & 7;
    bytes[offset - 2] = OPCODE_MOV_IMM;
    bytes[offset - 1] = MODRM_REGISTER | register;
    if let Some(r) = rex {
        // The register moves from ModRM.reg to ModRM.rm: REX.R becomes REX.B.
        bytes[offset - 3] = (r & !(REX_R | REX_B)) | u8::from(r & REX_R != 0);
    }
    put(bytes, offset, imm)
}

pub(crate) fn apply(fix: &Fixup, bytes: &mut [u8], offset: usize) -> Result<(), RelocFault> {
    let (s, a, p) = (fix.symbol, fix.addend as u64, fix.place);
    let sa = s.wrapping_add(a);
    match fix.r_type {
        R_X86_64_NONE => Ok(()),
        R_X86_64_64 => put(bytes, offset, sa.to_le_bytes()),
        R_X86_64_GLOB_DAT | R_X86_64_JUMP_SLOT => put(bytes, offset, s.to_le_bytes()),
        R_X86_64_RELATIVE | R_X86_64_RELATIVE64 => {
            put(bytes, offset, fix.base.wrapping_add(a).to_le_bytes())
        }
        R_X86_64_PC32 => {
            // A call or jump to a far function may go through a stub; a data
            // reference cannot, and overflows.
            let is_branch = offset
                .checked_sub(1)
                .and_then(|o| bytes.get(o))
                .is_some_and(|&op| op == OPCODE_CALL || op == OPCODE_JMP);
            let field = if is_branch {
                branch32(fix)?
            } else if fix.undefined_weak {
                return lea_to_mov(fix, bytes, offset);
            } else {
                signed32(sa.wrapping_sub(p))?
            };
            put(bytes, offset, field)
        }
        R_X86_64_PLT32 => put(bytes, offset, branch32(fix)?),
        R_X86_64_32 => put(bytes, offset, unsigned32(sa)?),
        R_X86_64_32S => put(bytes, offset, signed32(sa)?),
        R_X86_64_16 => put(bytes, offset, any16(sa)?),
        R_X86_64_PC16 => put(bytes, offset, signed16(sa.wrapping_sub(p))?),
        R_X86_64_8 => put(bytes, offset, any8(sa)?),
        R_X86_64_PC8 => put(bytes, offset, signed8(sa.wrapping_sub(p))?),
        R_X86_64_PC64 => put(bytes, offset, sa.wrapping_sub(p).to_le_bytes()),
        R_X86_64_GOTPCREL | R_X86_64_GOTPCRELX | R_X86_64_REX_GOTPCRELX => put(
            bytes,
            offset,
            signed32(slot(fix)?.wrapping_add(a).wrapping_sub(p))?,
        ),
        R_X86_64_GOTPCREL64 => put(
            bytes,
            offset,
            slot(fix)?.wrapping_add(a).wrapping_sub(p).to_le_bytes(),
        ),
        R_X86_64_GOT32 => put(
            bytes,
            offset,
            signed32(slot(fix)?.wrapping_sub(fix.got).wrapping_add(a))?,
        ),
        R_X86_64_GOT64 => put(
            bytes,
            offset,
            slot(fix)?
                .wrapping_sub(fix.got)
                .wrapping_add(a)
                .to_le_bytes(),
        ),
        R_X86_64_GOTOFF64 => put(bytes, offset, sa.wrapping_sub(fix.got).to_le_bytes()),
        R_X86_64_GOTPC32 => put(
            bytes,
            offset,
            signed32(fix.got.wrapping_add(a).wrapping_sub(p))?,
        ),
        R_X86_64_GOTPC64 => put(
            bytes,
            offset,
            fix.got.wrapping_add(a).wrapping_sub(p).to_le_bytes(),
        ),
        R_X86_64_PLTOFF64 => {
            let l = fix.stub.unwrap_or(s);
            put(
                bytes,
                offset,
                l.wrapping_add(a).wrapping_sub(fix.got).to_le_bytes(),
            )
        }
        R_X86_64_SIZE32 => put(bytes, offset, unsigned32(fix.size.wrapping_add(a))?),
        R_X86_64_SIZE64 => put(bytes, offset, fix.size.wrapping_add(a).to_le_bytes()),
        _ => Err(RelocFault::Unsupported),
    }
}

/// Whether a dynamic relocation is a symbol's address in a machine word:
/// `Some(true)` for `S + A`, `Some(false)` for `S`.
pub(crate) fn symbol_word(r_type: u32) -> Option<bool> {
    match r_type {
        R_X86_64_64 => Some(true),
        R_X86_64_GLOB_DAT | R_X86_64_JUMP_SLOT => Some(false),
        _ => None,
    }
}

pub(crate) fn dynamic_class(r_type: u32) -> DynamicClass {
    match r_type {
        R_X86_64_NONE => DynamicClass::None,
        R_X86_64_RELATIVE | R_X86_64_RELATIVE64 => DynamicClass::Relative,
        R_X86_64_IRELATIVE => DynamicClass::IRelative,
        R_X86_64_JUMP_SLOT => DynamicClass::JumpSlot,
        R_X86_64_64 | R_X86_64_GLOB_DAT | R_X86_64_PC32 | R_X86_64_32 | R_X86_64_PC64
        | R_X86_64_SIZE32 | R_X86_64_SIZE64 => DynamicClass::Symbolic,
        R_X86_64_DTPMOD64 => DynamicClass::TlsModule,
        R_X86_64_DTPOFF64 => DynamicClass::TlsOffset,
        R_X86_64_TPOFF64 | R_X86_64_TPOFF32 => DynamicClass::TlsStatic,
        R_X86_64_TLSDESC => DynamicClass::TlsDescriptor,
        R_X86_64_TLSGD
        | R_X86_64_TLSLD
        | R_X86_64_DTPOFF32
        | R_X86_64_GOTTPOFF
        | R_X86_64_GOTPC32_TLSDESC
        | R_X86_64_TLSDESC_CALL => DynamicClass::Tls,
        R_X86_64_COPY => DynamicClass::Copy,
        _ => DynamicClass::Unknown,
    }
}

pub(crate) fn implicit_addend(r_type: u32, bytes: &[u8], offset: usize) -> Result<i64, RelocFault> {
    match r_type {
        R_X86_64_64 | R_X86_64_RELATIVE | R_X86_64_RELATIVE64 | R_X86_64_GLOB_DAT
        | R_X86_64_JUMP_SLOT | R_X86_64_IRELATIVE | R_X86_64_PC64 => {
            Ok(i64::from_le_bytes(get::<8>(bytes, offset)?))
        }
        R_X86_64_PC32 | R_X86_64_PLT32 | R_X86_64_32S => {
            Ok(i64::from(i32::from_le_bytes(get::<4>(bytes, offset)?)))
        }
        R_X86_64_32 => Ok(i64::from(u32::from_le_bytes(get::<4>(bytes, offset)?))),
        _ => Err(RelocFault::Unsupported),
    }
}

pub(crate) fn write_stub(bytes: &mut [u8], _at: u64, target: u64) {
    let mut stub = [0xcc_u8; STUB_SIZE];
    stub[..6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
    stub[6..14].copy_from_slice(&target.to_le_bytes());
    bytes[..STUB_SIZE].copy_from_slice(&stub);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lea_of_an_undefined_weak_symbol_becomes_mov() {
        // `lea weak(%rip), %r9` 4 GiB above address 0: `mov $0, %r9`.
        let far = 0x1_0000_0000u64;
        let mut fix = crate::reloc::testing::fixup(far + 3, R_X86_64_PC32, 0, -4);
        fix.undefined_weak = true;
        let mut code = [0x4c, 0x8d, 0x0d, 0, 0, 0, 0];
        apply(&fix, &mut code, 3).unwrap();
        assert_eq!(code, [0x49, 0xc7, 0xc1, 0, 0, 0, 0]);
        // 32-bit `lea weak+8(%rip), %edx` with no REX prefix.
        fix.place = far + 2;
        fix.addend = 4;
        let mut code = [0x8d, 0x15, 0, 0, 0, 0];
        apply(&fix, &mut code, 2).unwrap();
        assert_eq!(code, [0xc7, 0xc2, 8, 0, 0, 0]);
        // A load from the symbol stays PC-relative, and is out of reach.
        let mut code = [0x8b, 0x05, 0, 0, 0, 0];
        assert_eq!(apply(&fix, &mut code, 2), Err(RelocFault::Overflow));
        // A defined symbol at 0 is not rewritten.
        fix.undefined_weak = false;
        let mut code = [0x8d, 0x15, 0, 0, 0, 0];
        assert_eq!(apply(&fix, &mut code, 2), Err(RelocFault::Overflow));
    }
}
