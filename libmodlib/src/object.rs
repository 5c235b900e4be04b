//! An object parsed once: its header, and either a relocatable object's
//! section headers and symbol table or a shared object's program headers
//! and dynamic table. Identifying, inspecting and mapping all work from
//! this one value, so a client that checks an object before loading it
//! (its `.modinfo`, an export list, its dependencies) reads the file once.

use alloc::boxed::Box;

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
