//! An object parsed once: its header, and either a relocatable object's
//! section headers and symbol table or a shared object's program headers
//! and dynamic table. Identifying, inspecting and mapping all work from
//! this one value, so a client that checks an object before loading it
//! (its `.modinfo`, an export list, its dependencies) reads the file once.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::dynamic;
use crate::error::LoadError;
use crate::header::{self, File};
use crate::image::LoadedImage;
use crate::kinds::{DynamicInfo, ObjectKind, RelocatableLayout};
use crate::machine::Machine;
use crate::mapped::MappedImage;
use crate::memory::{FileMapping, Memory};
use crate::modinfo::ModInfo;
use crate::options::{ArmAbi, LoadOptions};
use crate::relocatable;
use crate::symbol::SymbolResolver;

/// A symbol a relocatable object uses but does not define: one it imports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndefinedSymbol {
    /// Its name.
    pub name: String,
    /// Whether the reference is weak (it loads as 0 if nothing defines it).
    pub weak: bool,
}

/// Bytes of a relocatable object's loaded sections by the permission they
/// end up with (before rounding to pages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SectionSizes {
    /// Code (read and execute).
    pub text: u64,
    /// Read-only data.
    pub rodata: u64,
    /// Writable data, `.bss` included.
    pub data: u64,
}

/// An ELF object for one machine, parsed and checked, not yet in memory.
pub struct Object<'a> {
    machine: Machine,
    parts: Parts<'a>,
}

enum Parts<'a> {
    Relocatable(Box<relocatable::Object<'a>>),
    Shared(Box<(File<'a>, dynamic::Headers<'a>)>),
}

impl<'a> Object<'a> {
    /// Parses the object in `bytes`, which must be for `machine`.
    pub fn parse(bytes: &'a [u8], machine: Machine) -> Result<Self, LoadError> {
        let (file, kind) = header::parse(bytes, machine)?;
        let parts = match kind {
            ObjectKind::Relocatable => {
                Parts::Relocatable(Box::new(relocatable::Object::parse(file)?))
            }
            ObjectKind::Shared => {
                let headers = dynamic::headers(&file)?;
                Parts::Shared(Box::new((file, headers)))
            }
        };
        Ok(Object { machine, parts })
    }

    /// Relocatable or shared.
    pub fn kind(&self) -> ObjectKind {
        match self.parts {
            Parts::Relocatable(_) => ObjectKind::Relocatable,
            Parts::Shared(..) => ObjectKind::Shared,
        }
    }

    /// The machine it is for.
    pub fn machine(&self) -> Machine {
        self.machine
    }

    /// The file bytes of the first section called `name`, if the object
    /// has one (and keeps its section headers).
    pub fn section(&self, name: &str) -> Result<Option<&'a [u8]>, LoadError> {
        match &self.parts {
            Parts::Relocatable(obj) => obj.section(name),
            Parts::Shared(shared) => Ok(dynamic::section_by_name(&shared.0, name)),
        }
    }

    /// Its `.modinfo` metadata (empty if it has none).
    pub fn modinfo(&self) -> Result<ModInfo, LoadError> {
        Ok(self
            .section(".modinfo")?
            .map(ModInfo::parse)
            .unwrap_or_default())
    }

    /// Dependencies (`DT_NEEDED`), `DT_SONAME`, search path and program
    /// headers of a shared object; `UnsupportedType` for a relocatable one.
    pub fn dynamic(&self) -> Result<DynamicInfo, LoadError> {
        match &self.parts {
            Parts::Shared(shared) => dynamic::describe(&shared.1),
            Parts::Relocatable(_) => Err(LoadError::UnsupportedType {
                e_type: elf::abi::ET_REL,
            }),
        }
    }

    /// The symbols a relocatable object imports, in symbol table order
    /// (without the GOT and `__dso_handle`, which the loader defines);
    /// `UnsupportedType` for a shared object.
    pub fn undefined_symbols(&self) -> Result<Vec<UndefinedSymbol>, LoadError> {
        let undefined = self.relocatable()?.undefined()?;
        Ok(undefined
            .into_iter()
            .map(|(name, weak)| UndefinedSymbol {
                name: String::from(name),
                weak,
            })
            .collect())
    }

    /// How many relocations of each type (`r_type`, ascending) a
    /// relocatable object applies to its loaded sections.
    pub fn relocation_counts(&self) -> Result<Vec<(u32, usize)>, LoadError> {
        self.relocatable()?.relocation_types()
    }

    /// Bytes of a relocatable object's loaded sections per permission.
    pub fn section_sizes(&self) -> Result<SectionSizes, LoadError> {
        let [text, rodata, data] = self.relocatable()?.group_sizes();
        Ok(SectionSizes { text, rodata, data })
    }

    fn relocatable(&self) -> Result<&relocatable::Object<'a>, LoadError> {
        match &self.parts {
            Parts::Relocatable(obj) => Ok(obj),
            Parts::Shared(..) => Err(LoadError::UnsupportedType {
                e_type: elf::abi::ET_DYN,
            }),
        }
    }

    /// Where loading would place the sections, GOT and stubs of a
    /// relocatable object, given pages of `page_size` bytes.
    pub fn relocatable_layout(&self, page_size: usize) -> Result<RelocatableLayout, LoadError> {
        if !page_size.is_power_of_two() {
            return Err(LoadError::Unsupported {
                what: "a page size that is not a power of two",
            });
        }
        match &self.parts {
            Parts::Relocatable(obj) => {
                relocatable::describe(obj, self.machine, ArmAbi::host(), page_size as u64)
            }
            Parts::Shared(..) => Err(LoadError::UnsupportedType {
                e_type: elf::abi::ET_DYN,
            }),
        }
    }

    /// Maps the object into memory from `memory` without relocating it
    /// (see [`crate::map`]); `options.machine` must be the object's.
    pub fn map<M: Memory>(
        self,
        options: &LoadOptions,
        memory: M,
    ) -> Result<MappedImage<'a, M>, LoadError> {
        self.map_from(None, *options, memory)
    }

    /// [`Object::map`] for an object whose bytes are a file the host can
    /// also map (see [`crate::map_file`]).
    pub fn map_file<M: Memory>(
        self,
        mapping: &dyn FileMapping,
        options: &LoadOptions,
        memory: M,
    ) -> Result<MappedImage<'a, M>, LoadError> {
        self.map_from(Some(mapping), *options, memory)
    }

    /// Maps and relocates the object (see [`crate::load`]).
    pub fn load<M: Memory>(
        self,
        options: &LoadOptions,
        memory: M,
        resolver: &dyn SymbolResolver,
    ) -> Result<LoadedImage<M>, LoadError> {
        self.map(options, memory)?.relocate(resolver)
    }

    fn map_from<M: Memory>(
        self,
        mapping: Option<&dyn FileMapping>,
        options: LoadOptions,
        memory: M,
    ) -> Result<MappedImage<'a, M>, LoadError> {
        if options.machine != self.machine {
            return Err(LoadError::WrongMachine {
                expected: options.machine,
                found: self.machine.e_machine(),
            });
        }
        Ok(match self.parts {
            Parts::Relocatable(obj) => {
                MappedImage::relocatable(relocatable::map(*obj, options, memory)?, self.machine)
            }
            Parts::Shared(shared) => {
                let (file, headers) = *shared;
                MappedImage::shared(
                    dynamic::map(&file, headers, options, memory, mapping)?,
                    self.machine,
                )
            }
        })
    }
}
