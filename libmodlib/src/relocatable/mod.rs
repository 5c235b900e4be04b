//! Loading `ET_REL` objects in two steps. [`map`]: lay out the allocated
//! sections and copy them, giving defined symbols their values.
//! [`Mapped::relocate`]: bind the undefined symbols, synthesise the GOT and
//! stubs, apply `SHT_RELA`/`SHT_REL`, protect.

mod layout;

use alloc::string::String;
use alloc::vec::Vec;

use elf::abi::{
    SHF_ALLOC, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_FINI_ARRAY,
    SHT_INIT_ARRAY, SHT_NOBITS, SHT_NOTE, SHT_PREINIT_ARRAY, SHT_PROGBITS, SHT_REL, SHT_RELA,
    SHT_SYMTAB, STB_GLOBAL, STB_GNU_UNIQUE, STB_WEAK, STT_FUNC, STT_GNU_IFUNC, STT_SECTION,
    STV_DEFAULT, STV_PROTECTED,
};
use elf::section::SectionHeader;
use elf::string_table::StringTable;
use elf::symbol::Symbol as ElfSymbol;

use crate::call;
use crate::error::LoadError;
use crate::exports::ExportTable;
use crate::header::{file_range, section_bytes, File};
use crate::image::{CodeBounds, Exports, LoadedImage};
use crate::kinds::{Import, ObjectKind, PlacedSection, Region, RelocatableLayout};
use crate::machine::Machine;
use crate::memory::{Held, Memory};
use crate::modinfo::ModInfo;
use crate::options::{ArmAbi, LoadOptions};
use crate::reloc::{self, Fixup, Partner, RelocFault};
use crate::symbol::{Lookup, Symbol, SymbolKind, SymbolResolver};

use layout::{Layout, SymbolNeeds, GROUPS, NONE};

/// The linker-defined name of the GOT, which the loader defines itself.
const GOT_SYMBOL: &str = "_GLOBAL_OFFSET_TABLE_";
/// The handle that identifies an object to `__cxa_atexit` (crtbegin defines
/// it in a linked program): the loader gives each relocatable object its
/// own, its start address, so a host can tell which module registered a
/// destructor.
const DSO_HANDLE: &str = "__dso_handle";

/// One relocation, whatever its on-disk form.
struct Entry {
    offset: u64,
    sym: u32,
    r_type: u32,
    addend: Option<i64>,
}

/// The parsed parts of a relocatable object the loader works from: its
/// section headers and names, and its symbol table.
pub(crate) struct Object<'a> {
    file: File<'a>,
    shdrs: Vec<SectionHeader>,
    names: Option<StringTable<'a>>,
    symbols: Vec<ElfSymbol>,
    strtab: StringTable<'a>,
    symtab_index: usize,
}

impl<'a> Object<'a> {
    /// Reads the section headers and the symbol table of `file`.
    pub(crate) fn parse(file: File<'a>) -> Result<Self, LoadError> {
        let (shdrs, names) = file.elf.section_headers_with_strtab().map_err(|_| {
            LoadError::malformed("section header string table", file.elf.ehdr.e_shoff)
        })?;
        let shdrs: Vec<SectionHeader> = match shdrs {
            Some(table) => table.iter().collect(),
            None => Vec::new(),
        };
        if shdrs.len() >= usize::from(SHN_LORESERVE) {
            return Err(LoadError::Unsupported {
                what: "more than 65279 sections",
            });
        }
        let symtab_index = shdrs.iter().position(|s| s.sh_type == SHT_SYMTAB);
        let (symbols, strtab) = match symtab_index {
            Some(i) => {
                let shdr = &shdrs[i];
                if shdr.sh_entsize != file.class.sym_size() as u64 {
                    return Err(LoadError::malformed(
                        "symbol table entry size",
                        shdr.sh_offset,
                    ));
                }
                let table = elf::symbol::SymbolTable::new(
                    elf::endian::LittleEndian,
                    file.class.elf(),
                    section_bytes(&file, shdr)?,
                );
                let strtab_shdr = shdrs
                    .get(shdr.sh_link as usize)
                    .ok_or(LoadError::malformed(
                        "symbol string table index",
                        shdr.sh_offset,
                    ))?;
                let strtab = StringTable::new(section_bytes(&file, strtab_shdr)?);
                (table.iter().collect(), strtab)
            }
            None => (Vec::new(), StringTable::default()),
        };
        Ok(Object {
            file,
            shdrs,
            names,
            symbols,
            strtab,
            symtab_index: symtab_index.unwrap_or(usize::MAX),
        })
    }

    /// The file bytes of the first section called `name`, if any.
    pub(crate) fn section(&self, name: &str) -> Result<Option<&'a [u8]>, LoadError> {
        let Some(names) = &self.names else {
            return Ok(None);
        };
        self.shdrs
            .iter()
            .find(|s| names.get(s.sh_name as usize).is_ok_and(|n| n == name))
            .map(|s| section_bytes(&self.file, s))
            .transpose()
    }

    /// The undefined global and weak symbols, with whether each is weak,
    /// in symbol table order, leaving out the names the loader defines
    /// itself (the GOT and `__dso_handle`).
    pub(crate) fn undefined(&self) -> Result<Vec<(&'a str, bool)>, LoadError> {
        let mut out = Vec::new();
        for (i, sym) in self.symbols.iter().enumerate().skip(1) {
            if sym.st_shndx != SHN_UNDEF || !matches!(sym.st_bind(), STB_GLOBAL | STB_WEAK) {
                continue;
            }
            let name = self.symbol_name(i)?;
            if !name.is_empty() && name != GOT_SYMBOL && name != DSO_HANDLE {
                out.push((name, sym.st_bind() == STB_WEAK));
            }
        }
        Ok(out)
    }

    /// How many relocations of each type apply to loaded sections, by
    /// ascending type.
    pub(crate) fn relocation_types(&self) -> Result<Vec<(u32, usize)>, LoadError> {
        let mut counts: alloc::collections::BTreeMap<u32, usize> =
            alloc::collections::BTreeMap::new();
        for (_, shdr, _) in self.relocation_sections() {
            for e in self.entries(shdr)? {
                *counts.entry(e.r_type).or_default() += 1;
            }
        }
        Ok(counts.into_iter().collect())
    }

    /// Bytes of the loaded sections in each permission group (code,
    /// read-only data, writable data), before page rounding.
    pub(crate) fn group_sizes(&self) -> [u64; 3] {
        let mut sizes = [0; 3];
        for shdr in &self.shdrs {
            if shdr.sh_flags & u64::from(SHF_ALLOC) != 0 {
                sizes[layout::group_of(shdr)] += shdr.sh_size;
            }
        }
        sizes
    }

    fn section_name(&self, index: usize) -> String {
        self.shdrs
            .get(index)
            .and_then(|s| self.names.as_ref()?.get(s.sh_name as usize).ok())
            .map_or_else(|| crate::error::numbered("section", index), String::from)
    }

    fn symbol_name(&self, index: usize) -> Result<&'a str, LoadError> {
        let sym = &self.symbols[index];
        self.strtab
            .get(sym.st_name as usize)
            .map_err(|_| LoadError::malformed("symbol name", u64::from(sym.st_name)))
    }

    /// A readable name for errors: the symbol's, or its section's.
    fn describe_symbol(&self, index: usize) -> String {
        match self.symbols.get(index) {
            Some(sym) if sym.st_symtype() == STT_SECTION => {
                self.section_name(sym.st_shndx as usize)
            }
            Some(_) => self
                .symbol_name(index)
                .map_or_else(|_| crate::error::numbered("symbol", index), String::from),
            None => crate::error::numbered("symbol", index),
        }
    }

    /// Relocation sections that apply to a loaded section, with their targets.
    fn relocation_sections(&self) -> impl Iterator<Item = (usize, &SectionHeader, usize)> + '_ {
        self.shdrs.iter().enumerate().filter_map(|(i, s)| {
            let target = s.sh_info as usize;
            ((s.sh_type == SHT_RELA || s.sh_type == SHT_REL)
                && self
                    .shdrs
                    .get(target)
                    .is_some_and(|t| t.sh_flags & u64::from(SHF_ALLOC) != 0))
            .then_some((i, s, target))
        })
    }

    fn entries(&self, shdr: &SectionHeader) -> Result<Vec<Entry>, LoadError> {
        if shdr.sh_link as usize != self.symtab_index {
            return Err(LoadError::malformed(
                "relocation section not linked to the symbol table",
                shdr.sh_offset,
            ));
        }
        let bad = || LoadError::malformed("relocation section", shdr.sh_offset);
        let data =
            file_range(self.file.data, shdr.sh_offset, shdr.sh_size, "").map_err(|_| bad())?;
        let entries = reloc::entries(data, shdr.sh_type == SHT_RELA, self.file.class)
            .map(|e| Entry {
                offset: e.offset,
                sym: e.sym(),
                r_type: e.r_type(),
                addend: e.addend,
            })
            .collect();
        Ok(entries)
    }
}

/// A relocatable object whose sections are in memory (read-write) and
/// whose defined symbols have their run-time values, not yet bound or
/// relocated: none of its code may run. Dropping it gives its memory back.
pub(crate) struct Mapped<'a, M: Memory> {
    obj: Object<'a>,
    plan: Layout,
    held: Held<M>,
    start: u64,
    machine: Machine,
    /// How Arm objects are read.
    arm: ArmAbi,
    /// The CPU's capabilities, for IFUNC resolvers.
    hwcaps: crate::HwCaps,
    /// Run-time value of every symbol; undefined ones are 0 until bound.
    values: Vec<u64>,
    /// Whether each symbol is a function (its type, or for an undefined
    /// one what its definition turned out to be).
    functions: Vec<bool>,
    exports: ExportTable,
}

/// Lays out the object `obj` in memory from `memory` and copies its
/// sections there, without binding or relocating anything.
pub(crate) fn map<M: Memory>(
    obj: Object<'_>,
    options: LoadOptions,
    memory: M,
) -> Result<Mapped<'_, M>, LoadError> {
    let machine = options.machine;
    let plan = plan(&obj, machine, options.arm, memory.page_size() as u64)?;
    // Everything the file alone can show wrong is found before any memory
    // is reserved, and the image's size is checked against the limit.
    validate(&obj, &plan, machine)?;
    options.image_size(plan.total as u64)?;

    let mut held = Held::reserve(memory, plan.total, plan.align, false)
        .map_err(|_| LoadError::OutOfMemory { size: plan.total })?;
    let start = held.res().addr();
    if start.saturating_add(plan.total as u64) > machine.class().max_address() {
        return Err(LoadError::AddressBeyondClass {
            addr: start,
            size: plan.total,
        });
    }
    held.commit(0, plan.total)?;

    copy_sections(&obj, &plan, &mut held)?;
    let values = defined_values(&obj, &plan, start)?;
    let exports = exports(&obj, &values)?;
    let functions = obj
        .symbols
        .iter()
        .map(|s| matches!(s.st_symtype(), STT_FUNC | STT_GNU_IFUNC))
        .collect();
    Ok(Mapped {
        obj,
        plan,
        held,
        start,
        machine,
        arm: options.arm,
        hwcaps: options.hwcaps,
        values,
        functions,
        exports,
    })
}

impl<M: Memory> Mapped<'_, M> {
    pub(crate) fn held(&self) -> &Held<M> {
        &self.held
    }

    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// An exported symbol at its run-time address.
    pub(crate) fn lookup(&self, lookup: &Lookup<'_>) -> Option<Symbol> {
        self.exports.get(lookup.name)
    }

    /// Binds the undefined symbols through `resolver`, synthesises the GOT
    /// and stubs, applies the relocations and protects the image. An IFUNC
    /// of an object `resolver` says is not relocated yet is refused: a
    /// relocatable object is loaded on its own, never in a group where that
    /// could be waited for.
    pub(crate) fn relocate(
        self,
        resolver: &dyn SymbolResolver,
    ) -> Result<LoadedImage<M>, LoadError> {
        let Mapped {
            obj,
            plan,
            mut held,
            start,
            machine,
            arm,
            hwcaps,
            mut values,
            mut functions,
            exports,
        } = self;
        let imports = bind_undefined(
            &obj,
            &plan,
            start,
            (machine, hwcaps),
            resolver,
            (&mut values, &mut functions),
        )?;
        write_got_and_stubs(&obj, &plan, &values, start, machine, &mut held)?;
        let symbols = Bound {
            values: &values,
            functions: &functions,
        };
        apply_relocations(&obj, &plan, symbols, start, (machine, arm), &mut held)?;

        let mut regions = Vec::new();
        for (g, &(offset, size)) in plan.groups.iter().enumerate() {
            if size == 0 {
                continue;
            }
            held.protect(offset, size, GROUPS[g])?;
            if g == 0 {
                held.sync_icache(offset, size);
            }
            regions.push(Region {
                addr: start + offset as u64,
                size,
                protection: GROUPS[g],
            });
        }

        // Every pointer the image's users will call, checked before any is.
        let bounds = CodeBounds {
            regions: &regions,
            imports: &imports,
            machine,
        };
        let (init, fini) = init_fini(&obj, &plan, &held, &bounds)?;

        let modinfo = obj
            .section(".modinfo")?
            .map(ModInfo::parse)
            .unwrap_or_default();

        Ok(LoadedImage {
            exports: Exports::Table(exports),
            held,
            machine,
            kind: ObjectKind::Relocatable,
            base: start,
            regions,
            init,
            fini,
            entry: None,
            modinfo,
            imports,
            dynamic: None,
            thread_local: None,
            unresolved: Vec::new(),
            exception_index: plan
                .exception_index
                .map(|(offset, size)| (start + offset as u64, size)),
        })
    }
}

/// Scans the relocations for the GOT slots and stubs they need, checks the
/// allocated sections lie in the file, and plans the layout.
fn plan(obj: &Object<'_>, machine: Machine, arm: ArmAbi, page: u64) -> Result<Layout, LoadError> {
    // Which symbols need GOT slots and stubs.
    let mut needs = SymbolNeeds::new(obj.symbols.len());
    for (_, shdr, _) in obj.relocation_sections() {
        for e in obj.entries(shdr)? {
            let sym = e.sym as usize;
            // Index 0 is the null symbol, which every symbol table has.
            if sym >= obj.symbols.len() {
                return Err(LoadError::malformed(
                    "relocation symbol index out of range",
                    e.offset,
                ));
            }
            let need = reloc::needs(machine, arm, e.r_type);
            needs.got_base |= need.got_base;
            if sym != 0 {
                needs.got[sym] |= need.got_slot;
                needs.stub[sym] |= need.stub;
            }
        }
    }
    let got_symbol = (1..obj.symbols.len()).find(|&i| {
        obj.symbols[i].st_shndx == SHN_UNDEF && obj.symbol_name(i).is_ok_and(|n| n == GOT_SYMBOL)
    });
    needs.got_base |= got_symbol.is_some();
    for (i, shdr) in obj.shdrs.iter().enumerate() {
        if shdr.sh_flags & u64::from(SHF_ALLOC) == 0 {
            continue;
        }
        if !loadable_section_type(shdr.sh_type, machine) {
            return Err(LoadError::UnsupportedSection {
                section: obj.section_name(i),
                sh_type: shdr.sh_type,
            });
        }
        if shdr.sh_type != SHT_NOBITS {
            section_bytes(&obj.file, shdr)
                .map_err(|_| LoadError::malformed("section data outside the file", i as u64))?;
        }
    }
    layout::plan(
        &obj.shdrs,
        &obj.symbols,
        &needs,
        reloc::stub_size(machine),
        machine.word_size(),
        reloc::exception_index_type(machine),
        page,
    )
}

/// Whether an allocated section of type `sh_type` is one the loader gives
/// its meaning: bytes (`PROGBITS`, `NOBITS`, `NOTE`), the init and fini
/// arrays it calls, and the machine's own kinds (unwind tables). Anything
/// else (a dynamic table in a relocatable object, an unknown extension)
/// would be loaded and silently ignored, so it is refused.
fn loadable_section_type(sh_type: u32, machine: crate::Machine) -> bool {
    matches!(
        sh_type,
        SHT_PROGBITS | SHT_NOBITS | SHT_NOTE | SHT_INIT_ARRAY | SHT_FINI_ARRAY | SHT_PREINIT_ARRAY
    ) || reloc::loadable_section_type(machine, sh_type)
}

/// Where a load would place the parts of the object `obj`.
pub(crate) fn describe(
    obj: &Object<'_>,
    machine: Machine,
    arm: ArmAbi,
    page: u64,
) -> Result<RelocatableLayout, LoadError> {
    let plan = plan(obj, machine, arm, page)?;
    let sections = obj
        .shdrs
        .iter()
        .zip(&plan.sections)
        .enumerate()
        .filter_map(|(index, (shdr, offset))| {
            offset.map(|offset| PlacedSection {
                index,
                name: obj.section_name(index),
                offset,
                size: shdr.sh_size as usize,
            })
        })
        .collect();
    let stub_size = reloc::stub_size(machine);
    let named = |table: &[u32], at: usize, size: usize| -> Vec<(String, usize)> {
        table
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n != NONE)
            .map(|(i, &n)| (obj.describe_symbol(i), at + n as usize * size))
            .collect()
    };
    let word = machine.word_size();
    let got_entries = named(&plan.got_slot, plan.got, word);
    let stub_entries = named(&plan.stub, plan.stubs, stub_size);
    Ok(RelocatableLayout {
        sections,
        got: plan
            .got_needed
            .then_some((plan.got, got_entries.len().max(1) * word)),
        stubs: (!stub_entries.is_empty()).then_some((plan.stubs, stub_entries.len() * stub_size)),
        got_entries,
        stub_entries,
        size: plan.total,
    })
}

fn copy_sections<M: Memory>(
    obj: &Object<'_>,
    plan: &Layout,
    held: &mut Held<M>,
) -> Result<(), LoadError> {
    for (shdr, offset) in obj.shdrs.iter().zip(&plan.sections) {
        let Some(offset) = *offset else { continue };
        if shdr.sh_type == SHT_NOBITS {
            continue;
        }
        let data = section_bytes(&obj.file, shdr)?;
        let dst = held
            .bytes_mut(offset, data.len())
            .ok_or(LoadError::malformed(
                "section outside the image",
                shdr.sh_offset,
            ))?;
        dst.copy_from_slice(data);
    }
    Ok(())
}

/// The run-time value of every defined symbol (undefined ones are 0 here,
/// bound by [`bind_undefined`]).
fn defined_values(obj: &Object<'_>, plan: &Layout, start: u64) -> Result<Vec<u64>, LoadError> {
    let mut values = Vec::with_capacity(obj.symbols.len());
    for (i, sym) in obj.symbols.iter().enumerate() {
        let value = match sym.st_shndx {
            SHN_UNDEF => 0,
            SHN_ABS => sym.st_value,
            SHN_COMMON => {
                let offset =
                    plan.commons[i].ok_or(LoadError::malformed("common symbol", i as u64))?;
                start + offset as u64
            }
            SHN_XINDEX => {
                return Err(LoadError::Unsupported {
                    what: "extended section indices (SHN_XINDEX)",
                })
            }
            index if index >= SHN_LORESERVE => {
                return Err(LoadError::malformed(
                    "symbol in a reserved section index",
                    i as u64,
                ))
            }
            index => {
                let shdr = obj
                    .shdrs
                    .get(usize::from(index))
                    .ok_or(LoadError::malformed(
                        "symbol section index out of range",
                        i as u64,
                    ))?;
                match plan.sections[usize::from(index)] {
                    Some(offset) if sym.st_value <= shdr.sh_size => {
                        start + offset as u64 + sym.st_value
                    }
                    Some(_) => {
                        return Err(LoadError::malformed(
                            "symbol value beyond its section",
                            i as u64,
                        ))
                    }
                    None => 0,
                }
            }
        };
        values.push(value);
    }
    Ok(values)
}

/// What can be checked from the file before the object is placed: symbol
/// values and names, that no global is defined twice, IFUNC resolvers in
/// the code, and every relocation's place inside a section with bytes.
/// (Values are checked as offsets from 0; [`map`] computes them again at
/// the object's address.)
fn validate(obj: &Object<'_>, plan: &Layout, machine: Machine) -> Result<(), LoadError> {
    let values = defined_values(obj, plan, 0)?;
    ifunc_resolvers_in_code(obj, plan, &values, (0, machine))?;
    drop(exports(obj, &values)?);
    for (i, sym) in obj.symbols.iter().enumerate().skip(1) {
        if sym.st_shndx == SHN_UNDEF {
            obj.symbol_name(i)?;
        }
    }
    for (rel_index, shdr, target) in obj.relocation_sections() {
        if plan.sections[target].is_none() {
            continue;
        }
        let target_shdr = &obj.shdrs[target];
        if target_shdr.sh_type == SHT_NOBITS {
            return Err(LoadError::malformed(
                "relocations against a NOBITS section",
                shdr.sh_offset,
            ));
        }
        for e in obj.entries(shdr)? {
            if e.offset >= target_shdr.sh_size {
                return Err(relocation_error(
                    obj,
                    machine,
                    rel_index,
                    &e,
                    RelocFault::OutOfBounds,
                ));
            }
        }
    }
    Ok(())
}

/// Checks that every IFUNC the object defines has its resolver in the
/// object's code (the text group): a module that binds to it calls it.
fn ifunc_resolvers_in_code(
    obj: &Object<'_>,
    plan: &Layout,
    values: &[u64],
    (start, machine): (u64, Machine),
) -> Result<(), LoadError> {
    let (text, size) = plan.groups[0];

    let text = start + text as u64;
    for (sym, &value) in obj.symbols.iter().zip(values) {
        if sym.st_symtype() != STT_GNU_IFUNC || sym.st_shndx == SHN_UNDEF {
            continue;
        }
        let in_code = sym.st_shndx != SHN_ABS
            && reloc::code_address(machine, value)
                .checked_sub(text)
                .is_some_and(|d| d < size as u64);
        if !in_code {
            return Err(LoadError::CodeOutsideObject {
                what: String::from("IFUNC resolver"),
                address: value,
            });
        }
    }
    Ok(())
}

/// Binds every undefined symbol into `values`; returns the imports that
/// bound them.
fn bind_undefined(
    obj: &Object<'_>,
    plan: &Layout,
    start: u64,
    (machine, hwcaps): (Machine, crate::HwCaps),
    resolver: &dyn SymbolResolver,
    (values, functions): (&mut [u64], &mut [bool]),
) -> Result<Vec<Import>, LoadError> {
    let mut imports = Vec::new();
    for (i, sym) in obj.symbols.iter().enumerate().skip(1) {
        if sym.st_shndx != SHN_UNDEF {
            continue;
        }
        let name = obj.symbol_name(i)?;
        values[i] = if name.is_empty() {
            0
        } else if name == GOT_SYMBOL && plan.got_needed {
            start + plan.got as u64
        } else if name == DSO_HANDLE {
            start
        } else {
            let lookup = Lookup::new(name, None);
            match resolver.resolve(&lookup) {
                Some(found)
                    if found.symbol.kind == SymbolKind::Ifunc
                        && !resolver.is_relocated(found.provider) =>
                {
                    return Err(LoadError::UnrelocatedIfunc {
                        name: String::from(name),
                    })
                }
                Some(found) => {
                    let address = call::address_for(found.symbol, name, machine, hwcaps)?;
                    functions[i] =
                        matches!(found.symbol.kind, SymbolKind::Function | SymbolKind::Ifunc);
                    imports.push(Import {
                        name: String::from(name),
                        version: None,
                        address,
                        provider: Some(found.provider),
                    });
                    address
                }
                None if sym.st_bind() == STB_WEAK => {
                    imports.push(Import {
                        name: String::from(name),
                        version: None,
                        address: 0,
                        provider: None,
                    });
                    0
                }
                None => {
                    return Err(LoadError::UndefinedSymbol {
                        name: String::from(name),
                        version: None,
                    })
                }
            }
        };
    }
    Ok(imports)
}

/// Fills the GOT slots and writes the stubs. A symbol whose address the
/// machine's word cannot hold (a 32-bit object bound above 4 GiB) is
/// refused, never truncated.
fn write_got_and_stubs<M: Memory>(
    obj: &Object<'_>,
    plan: &Layout,
    values: &[u64],
    start: u64,
    machine: Machine,
    held: &mut Held<M>,
) -> Result<(), LoadError> {
    let stub_size = reloc::stub_size(machine);
    let class = machine.class();
    for (i, &value) in values.iter().enumerate() {
        if (plan.got_slot[i] != NONE || plan.stub[i] != NONE) && value > class.max_address() {
            return Err(LoadError::SymbolBeyondClass {
                name: obj.describe_symbol(i),
                address: value,
            });
        }
        if plan.got_slot[i] != NONE {
            let at = plan.got + plan.got_slot[i] as usize * class.word();
            if let Some(slot) = held.bytes_mut(at, class.word()) {
                class.put_word(slot, 0, value);
            }
        }
        if plan.stub[i] != NONE {
            let at = plan.stubs + plan.stub[i] as usize * stub_size;
            if let Some(stub) = held.bytes_mut(at, stub_size) {
                reloc::write_stub(machine, stub, start + at as u64, value);
            }
        }
    }
    Ok(())
}

/// The symbols' bound values and whether each is a function.
#[derive(Clone, Copy)]
struct Bound<'v> {
    values: &'v [u64],
    functions: &'v [bool],
}

fn apply_relocations<M: Memory>(
    obj: &Object<'_>,
    plan: &Layout,
    symbols: Bound<'_>,
    start: u64,
    (machine, arm): (Machine, ArmAbi),
    held: &mut Held<M>,
) -> Result<(), LoadError> {
    let stub_size = reloc::stub_size(machine) as u64;
    let got = if plan.got_needed {
        start + plan.got as u64
    } else {
        0
    };
    for (rel_index, shdr, target) in obj.relocation_sections() {
        let Some(target_offset) = plan.sections[target] else {
            continue;
        };
        let target_shdr = &obj.shdrs[target];
        if target_shdr.sh_type == SHT_NOBITS {
            return Err(LoadError::malformed(
                "relocations against a NOBITS section",
                shdr.sh_offset,
            ));
        }
        let entries = obj.entries(shdr)?;
        let size = target_shdr.sh_size as usize;
        let bytes = held
            .bytes_mut(target_offset, size)
            .ok_or(LoadError::malformed(
                "section outside the image",
                target_shdr.sh_offset,
            ))?;
        let section_addr = start + target_offset as u64;
        // Every fixup of the section first (implicit addends read from the
        // bytes as the file has them), then the machine pairs those that
        // depend on each other, then they are applied in table order.
        let mut fixups = Vec::with_capacity(entries.len());
        for e in &entries {
            let sym = e.sym as usize;
            let fault = |f| relocation_error(obj, machine, rel_index, e, f);
            let offset = usize::try_from(e.offset)
                .ok()
                .filter(|&o| o < size)
                .ok_or_else(|| fault(RelocFault::OutOfBounds))?;
            let addend = match e.addend {
                Some(a) => a,
                None => reloc::implicit_addend(machine, e.r_type, bytes, offset).map_err(fault)?,
            };
            fixups.push(Fixup {
                r_type: e.r_type,
                place: section_addr + e.offset,
                symbol: symbols.values[sym],
                size: obj.symbols[sym].st_size,
                addend,
                base: 0,
                got,
                got_slot: (plan.got_slot[sym] != NONE)
                    .then(|| got + u64::from(plan.got_slot[sym]) * machine.word_size() as u64),
                stub: (plan.stub[sym] != NONE)
                    .then(|| start + plan.stubs as u64 + u64::from(plan.stub[sym]) * stub_size),
                function: symbols.functions[sym],
                undefined_weak: symbols.values[sym] == 0
                    && obj.symbols[sym].st_shndx == SHN_UNDEF
                    && obj.symbols[sym].st_bind() == STB_WEAK,
                partner: Partner::None,
            });
        }
        reloc::pair_section(machine, &mut fixups);
        for (e, fix) in entries.iter().zip(&fixups) {
            // In bounds: checked when the fixup was built.
            let offset = e.offset as usize;
            reloc::apply(machine, arm, fix, bytes, offset)
                .map_err(|f| relocation_error(obj, machine, rel_index, e, f))?;
        }
    }
    Ok(())
}

/// The error for relocation `e` of relocation section `rel_index`.
fn relocation_error(
    obj: &Object<'_>,
    machine: Machine,
    rel_index: usize,
    e: &Entry,
    fault: RelocFault,
) -> LoadError {
    match fault {
        RelocFault::Unsupported => LoadError::UnsupportedRelocation {
            machine,
            r_type: e.r_type,
            section: obj.section_name(rel_index),
            offset: e.offset,
        },
        RelocFault::Overflow => LoadError::RelocationOverflow {
            r_type: e.r_type,
            symbol: obj.describe_symbol(e.sym as usize),
            offset: e.offset,
        },
        RelocFault::OutOfBounds => LoadError::RelocationOutOfBounds {
            section: obj.section_name(rel_index),
            offset: e.offset,
        },
        RelocFault::Unpaired => LoadError::malformed(
            "relocation without the partner relocation it depends on",
            e.offset,
        ),
        RelocFault::NeedsRelaxation => LoadError::RelaxationRequired {
            r_type: e.r_type,
            section: obj.section_name(rel_index),
            offset: e.offset,
        },
        RelocFault::Interworking => LoadError::Interworking {
            symbol: obj.describe_symbol(e.sym as usize),
            section: obj.section_name(rel_index),
            offset: e.offset,
        },
    }
}

/// `.init_array`/`.fini_array` contents in call order: sections sorted by
/// priority suffix (unsuffixed last); init runs forward, fini backward.
/// Each entry must lie in the object's code or be a function it imported
/// (`bounds`), else the load is refused naming the section.
fn init_fini<M: Memory>(
    obj: &Object<'_>,
    plan: &Layout,
    held: &Held<M>,
    bounds: &CodeBounds<'_>,
) -> Result<(Vec<u64>, Vec<u64>), LoadError> {
    let collect = |sh_type: u32| -> Result<Vec<u64>, LoadError> {
        let mut sections: Vec<(u32, usize, usize, usize)> = Vec::new();
        for (i, shdr) in obj.shdrs.iter().enumerate() {
            if shdr.sh_type != sh_type {
                continue;
            }
            let Some(offset) = plan.sections[i] else {
                continue;
            };
            let name = obj.section_name(i);
            let priority = name
                .rsplit_once('.')
                .and_then(|(_, p)| p.parse::<u32>().ok())
                .unwrap_or(u32::MAX);
            sections.push((priority, offset, shdr.sh_size as usize, i));
        }
        // Ties (several unsuffixed arrays) keep section order.
        crate::sort::sort_by_key(&mut sections, |&(p, offset, _, _)| (p, offset));
        let mut out = Vec::new();
        for (_, offset, size, index) in sections {
            let bytes = held.bytes(offset, size).ok_or(LoadError::malformed(
                "init/fini array outside the image",
                offset as u64,
            ))?;
            let class = obj.file.class;
            for f in class
                .words(bytes)
                .filter(|&f| f != 0 && f != class.max_address())
            {
                if bounds.check("", f, true).is_err() {
                    return Err(LoadError::CodeOutsideObject {
                        what: obj.section_name(index),
                        address: f,
                    });
                }
                out.push(f);
            }
        }
        Ok(out)
    };
    // `.preinit_array` runs before `.init_array` (as in a program, and as
    // Zephyr's loader does for extensions).
    let mut init = collect(SHT_PREINIT_ARRAY)?;
    init.extend(collect(SHT_INIT_ARRAY)?);
    let mut fini = collect(SHT_FINI_ARRAY)?;
    fini.reverse();
    Ok((init, fini))
}

fn exports(obj: &Object<'_>, values: &[u64]) -> Result<ExportTable, LoadError> {
    let mut items = Vec::new();
    let mut names_len = 0;
    for (i, sym) in obj.symbols.iter().enumerate() {
        let global = matches!(sym.st_bind(), STB_GLOBAL | STB_WEAK | STB_GNU_UNIQUE);
        let visible = matches!(sym.st_vis(), STV_DEFAULT | STV_PROTECTED);
        if !global || !visible || sym.st_shndx == SHN_UNDEF {
            continue;
        }
        let name = obj.symbol_name(i)?;
        if name.is_empty() {
            continue;
        }
        names_len += name.len();
        items.push((
            name,
            Symbol {
                address: values[i],
                size: sym.st_size,
                kind: SymbolKind::from_st_type(sym.st_symtype()),
            },
        ));
    }
    ExportTable::packed(items, names_len, crate::ProviderId(0))
        .map_err(|d| LoadError::DuplicateDefinition { name: d.name })
}
