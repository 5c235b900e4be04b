//! Little-endian field access and range checks shared by the machine tables.

use super::fixup::RelocFault;

/// Reads the `N` bytes at `offset`.
pub(crate) fn get<const N: usize>(bytes: &[u8], offset: usize) -> Result<[u8; N], RelocFault> {
    let end = offset.checked_add(N).ok_or(RelocFault::OutOfBounds)?;
    let field = bytes.get(offset..end).ok_or(RelocFault::OutOfBounds)?;
    let mut out = [0u8; N];
    out.copy_from_slice(field);
    Ok(out)
}

/// Writes `value` at `offset`.
pub(crate) fn put<const N: usize>(
    bytes: &mut [u8],
    offset: usize,
    value: [u8; N],
) -> Result<(), RelocFault> {
    let end = offset.checked_add(N).ok_or(RelocFault::OutOfBounds)?;
    bytes
        .get_mut(offset..end)
        .ok_or(RelocFault::OutOfBounds)?
        .copy_from_slice(&value);
    Ok(())
}

/// `value` as a signed 32-bit field, or `Overflow`.
pub(crate) fn signed32(value: u64) -> Result<[u8; 4], RelocFault> {
    i32::try_from(value as i64)
        .map(i32::to_le_bytes)
        .map_err(|_| RelocFault::Overflow)
}

/// `value` as an unsigned 32-bit field, or `Overflow`.
pub(crate) fn unsigned32(value: u64) -> Result<[u8; 4], RelocFault> {
    u32::try_from(value)
        .map(u32::to_le_bytes)
        .map_err(|_| RelocFault::Overflow)
}

/// `value` as a 16-bit field that may be read signed or unsigned.
pub(crate) fn any16(value: u64) -> Result<[u8; 2], RelocFault> {
    let v = value as i64;
    if (-0x8000..=0xffff).contains(&v) {
        Ok((v as u16).to_le_bytes())
    } else {
        Err(RelocFault::Overflow)
    }
}

/// `value` as a signed 16-bit field.
pub(crate) fn signed16(value: u64) -> Result<[u8; 2], RelocFault> {
    i16::try_from(value as i64)
        .map(i16::to_le_bytes)
        .map_err(|_| RelocFault::Overflow)
}

/// `value` as an 8-bit field that may be read signed or unsigned.
pub(crate) fn any8(value: u64) -> Result<[u8; 1], RelocFault> {
    let v = value as i64;
    if (-0x80..=0xff).contains(&v) {
        Ok([v as u8])
    } else {
        Err(RelocFault::Overflow)
    }
}

/// `value` as a signed 8-bit field.
pub(crate) fn signed8(value: u64) -> Result<[u8; 1], RelocFault> {
    i8::try_from(value as i64)
        .map(|v| [v as u8])
        .map_err(|_| RelocFault::Overflow)
}

/// `value` as a 32-bit field that may be read signed or unsigned.
pub(crate) fn any32(value: u64) -> Result<[u8; 4], RelocFault> {
    let v = value as i64;
    if (-0x8000_0000..=0xffff_ffff).contains(&v) {
        Ok((v as u32).to_le_bytes())
    } else {
        Err(RelocFault::Overflow)
    }
}

/// Whether `value`, read as signed, fits in `bits` bits two's complement.
pub(crate) fn fits_signed(value: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&value)
}

/// The little-endian 32-bit instruction word at `offset`.
pub(crate) fn word(bytes: &[u8], offset: usize) -> Result<u32, RelocFault> {
    get::<4>(bytes, offset).map(u32::from_le_bytes)
}

/// Replaces the bits of `mask` in the 32-bit word at `offset` with `bits`.
pub(crate) fn patch32(
    bytes: &mut [u8],
    offset: usize,
    mask: u32,
    bits: u32,
) -> Result<(), RelocFault> {
    let old = word(bytes, offset)?;
    put(bytes, offset, ((old & !mask) | (bits & mask)).to_le_bytes())
}

/// Replaces the bits of `mask` in the 16-bit word at `offset` with `bits`.
pub(crate) fn patch16(
    bytes: &mut [u8],
    offset: usize,
    mask: u16,
    bits: u16,
) -> Result<(), RelocFault> {
    let old = u16::from_le_bytes(get::<2>(bytes, offset)?);
    put(bytes, offset, ((old & !mask) | (bits & mask)).to_le_bytes())
}

/// Writes a literal-pool stub: the 32-bit instruction words of `code`, then
/// the 64-bit `target` they load and jump to.
pub(crate) fn literal_stub(bytes: &mut [u8], code: &[u32], target: u64) {
    let (insns, literal) = bytes.split_at_mut(code.len() * 4);
    for (slot, insn) in insns.chunks_exact_mut(4).zip(code) {
        slot.copy_from_slice(&insn.to_le_bytes());
    }
    // The literal is a 64-bit word, or a 32-bit one for 32-bit machines
    // (whose targets lie below 4 GiB).
    let width = literal.len().min(8);
    literal[..width].copy_from_slice(&target.to_le_bytes()[..width]);
}
