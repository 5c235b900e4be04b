//! Reading an object without loading it: a named section's bytes and its
//! `.modinfo`, for callers that decide before loading (ABI checks,
//! dependency resolution, export lists).

use crate::error::LoadError;
use crate::header;
use crate::machine::Machine;
use crate::modinfo::ModInfo;

/// The file bytes of the section called `name`, if the object has one.
pub fn section<'a>(
    bytes: &'a [u8],
    machine: Machine,
    name: &str,
) -> Result<Option<&'a [u8]>, LoadError> {
    let (file, _) = header::parse(bytes, machine)?;
    let shdr = file.elf.section_header_by_name(name).map_err(|_| {
        LoadError::malformed("section headers or their names", file.elf.ehdr.e_shoff)
    })?;
    shdr.map(|s| header::section_bytes(&file, &s)).transpose()
}

/// The object's `.modinfo` metadata (empty if it has none).
pub fn modinfo(bytes: &[u8], machine: Machine) -> Result<ModInfo, LoadError> {
    Ok(section(bytes, machine, ".modinfo")?
        .map(ModInfo::parse)
        .unwrap_or_default())
}

/// Dependencies (`DT_NEEDED`), `DT_SONAME`, search path and program headers
/// of a shared object, without loading it.
pub fn dynamic(bytes: &[u8], machine: Machine) -> Result<crate::DynamicInfo, LoadError> {
    let (file, kind) = header::parse(bytes, machine)?;
    if kind != crate::ObjectKind::Shared {
        return Err(LoadError::UnsupportedType {
            e_type: file.elf.ehdr.e_type,
        });
    }
    crate::dynamic::describe(&file)
}
