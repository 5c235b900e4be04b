//! Arm (AAELF32) relocations: the table is being filled in; until then
//! every type is refused as unsupported.

use super::{DynamicClass, Fixup, Needs, RelocFault};

/// What `__tls_get_addr` adds to a `tls_index` offset on Arm: nothing.
pub(crate) const TLS_DTV_OFFSET: u64 = 0;
/// Bytes of a range-extension veneer.
pub(crate) const STUB_SIZE: usize = 16;

/// What a relocation type needs synthesised.
pub(crate) fn needs(_r_type: u32) -> Needs {
    Needs::default()
}

/// Applies one relocation.
pub(crate) fn apply(_fix: &Fixup, _bytes: &mut [u8], _offset: usize) -> Result<(), RelocFault> {
    Err(RelocFault::Unsupported)
}

/// The implicit addend of a `REL` relocation.
pub(crate) fn implicit_addend(
    _r_type: u32,
    _bytes: &[u8],
    _offset: usize,
) -> Result<i64, RelocFault> {
    Err(RelocFault::Unsupported)
}

/// How a dynamic relocation type is handled.
pub(crate) fn dynamic_class(_r_type: u32) -> DynamicClass {
    DynamicClass::Unknown
}

/// Writes a veneer.
pub(crate) fn write_stub(_bytes: &mut [u8], _at: u64, _target: u64) {}
