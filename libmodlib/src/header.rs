//! Checks the ELF identification and header before anything else is read.

use elf::endian::LittleEndian;
use elf::ElfBytes;

use crate::class::Class;
use crate::error::LoadError;
use crate::kinds::ObjectKind;
use crate::machine::Machine;

/// A parsed file: header checked, tables located within the bytes.
pub(crate) struct File<'a> {
    /// The parsed header and table locations.
    pub elf: ElfBytes<'a, LittleEndian>,
    /// The whole file.
    pub data: &'a [u8],
    /// Its class (the machine's: checked by [`parse`]).
    pub class: Class,
    /// The machine it is for (checked by [`parse`]).
    pub machine: Machine,
}

/// Checks magic, class, encoding, machine and type, and locates the tables.
pub(crate) fn parse(bytes: &[u8], machine: Machine) -> Result<(File<'_>, ObjectKind), LoadError> {
    if bytes.len() < 4 || bytes[..4] != elf::abi::ELFMAGIC {
        return Err(LoadError::NotElf);
    }
    let class = *bytes
        .get(elf::abi::EI_CLASS)
        .ok_or(LoadError::malformed("truncated identification", 0))?;
    if class != elf::abi::ELFCLASS64 && class != elf::abi::ELFCLASS32 {
        return Err(LoadError::UnsupportedClass { class });
    }
    let encoding = *bytes
        .get(elf::abi::EI_DATA)
        .ok_or(LoadError::malformed("truncated identification", 0))?;
    if encoding != elf::abi::ELFDATA2LSB {
        return Err(LoadError::UnsupportedEncoding { encoding });
    }
    // `e_machine` lies at the same place in both classes: a mismatch is
    // named before the class decides how the rest is read.
    let e_machine = bytes
        .get(18..20)
        .map(|m| u16::from_le_bytes([m[0], m[1]]))
        .ok_or(LoadError::malformed("truncated ELF header", 0))?;
    if e_machine != machine.e_machine() {
        return Err(LoadError::WrongMachine {
            expected: machine,
            found: e_machine,
        });
    }
    if class != machine.elf_class() {
        return Err(LoadError::WrongClass { machine, class });
    }
    if !machine.compiled_in() {
        return Err(LoadError::MachineNotBuilt { machine });
    }
    let elf = ElfBytes::<LittleEndian>::minimal_parse(bytes)
        .map_err(|_| LoadError::malformed("ELF header or header tables out of bounds", 0))?;
    let file = File {
        elf,
        data: bytes,
        class: machine.class(),
        machine,
    };
    let kind = match file.elf.ehdr.e_type {
        elf::abi::ET_REL => ObjectKind::Relocatable,
        elf::abi::ET_DYN => ObjectKind::Shared,
        e_type => return Err(LoadError::UnsupportedType { e_type }),
    };
    Ok((file, kind))
}

/// The file bytes of a section (empty for `SHT_NOBITS`), bounds-checked.
pub(crate) fn section_bytes<'a>(
    file: &File<'a>,
    shdr: &elf::section::SectionHeader,
) -> Result<&'a [u8], LoadError> {
    if shdr.sh_type == elf::abi::SHT_NOBITS {
        return Ok(&[]);
    }
    file_range(
        file.data,
        shdr.sh_offset,
        shdr.sh_size,
        "section data outside the file",
    )
}

/// `bytes[offset..offset+size]`, or `Malformed { what }`.
pub(crate) fn file_range<'a>(
    bytes: &'a [u8],
    offset: u64,
    size: u64,
    what: &'static str,
) -> Result<&'a [u8], LoadError> {
    let start = usize::try_from(offset).map_err(|_| LoadError::malformed(what, offset))?;
    let len = usize::try_from(size).map_err(|_| LoadError::malformed(what, offset))?;
    start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(LoadError::malformed(what, offset))
}
