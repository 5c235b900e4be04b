//! Reading an object without loading it: a named section's bytes and its
//! `.modinfo`, for callers that decide before loading (ABI checks,
//! dependency resolution, export lists), and where a load would place a
//! relocatable object's sections (for debuggers and cross-checks), and
//! what a linked image defines (to build a kernel's table of exports).

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::LoadError;
use crate::kinds::DynamicInfo;
use crate::machine::Machine;
use crate::modinfo::ModInfo;
use crate::object::Object;
use crate::symbol::SymbolKind;

pub use crate::kinds::{PlacedSection, RelocatableLayout};
pub use crate::object::{SectionSizes, UndefinedSymbol};

/// The file bytes of the section called `name`, if the object has one
/// ([`Object::section`] after parsing it).
pub fn section<'a>(
    bytes: &'a [u8],
    machine: Machine,
    name: &str,
) -> Result<Option<&'a [u8]>, LoadError> {
    Object::parse(bytes, machine)?.section(name)
}

/// The object's `.modinfo` metadata (empty if it has none).
pub fn modinfo(bytes: &[u8], machine: Machine) -> Result<ModInfo, LoadError> {
    Object::parse(bytes, machine)?.modinfo()
}

/// Dependencies (`DT_NEEDED`), `DT_SONAME`, search path and program headers
/// of a shared object, without loading it.
pub fn dynamic(bytes: &[u8], machine: Machine) -> Result<DynamicInfo, LoadError> {
    Object::parse(bytes, machine)?.dynamic()
}

/// Where [`crate::load`] would place the sections, GOT and stubs of the
/// relocatable object in `bytes`, given memory with pages of `page_size`.
pub fn relocatable_layout(
    bytes: &[u8],
    machine: Machine,
    page_size: usize,
) -> Result<RelocatableLayout, LoadError> {
    Object::parse(bytes, machine)?.relocatable_layout(page_size)
}

/// The functions and data objects an ELF file for `machine` defines with
/// global (or weak) binding and default or protected visibility, from its
/// `.symtab`, sorted by name without repeats. Unlike loading, this also
/// reads executables (`ET_EXEC`): a linked kernel, whose symbols a module
/// table is made from. Empty if the file has no symbol table.
pub fn defined_globals(
    bytes: &[u8],
    machine: Machine,
) -> Result<Vec<(String, SymbolKind)>, LoadError> {
    use elf::abi::{SHN_UNDEF, STV_PROTECTED};
    use elf::abi::{STB_GLOBAL, STB_WEAK, STT_FUNC, STT_GNU_IFUNC, STT_OBJECT, STV_DEFAULT};
    match crate::header::parse(bytes, machine) {
        Ok(_)
        | Err(LoadError::UnsupportedType {
            e_type: elf::abi::ET_EXEC,
        }) => {}
        Err(e) => return Err(e),
    }
    let file = elf::ElfBytes::<elf::endian::LittleEndian>::minimal_parse(bytes)
        .map_err(|_| LoadError::malformed("ELF header or header tables out of bounds", 0))?;
    let Some((symbols, strings)) = file
        .symbol_table()
        .map_err(|_| LoadError::malformed("symbol table", 0))?
    else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(String, SymbolKind)> = Vec::new();
    for sym in symbols.iter() {
        let wanted = matches!(sym.st_bind(), STB_GLOBAL | STB_WEAK)
            && matches!(sym.st_vis(), STV_DEFAULT | STV_PROTECTED)
            && matches!(sym.st_symtype(), STT_FUNC | STT_OBJECT | STT_GNU_IFUNC)
            && sym.st_shndx != SHN_UNDEF;
        if !wanted {
            continue;
        }
        let name = strings
            .get(sym.st_name as usize)
            .map_err(|_| LoadError::malformed("symbol name", u64::from(sym.st_name)))?;
        if !name.is_empty() {
            out.push((
                String::from(name),
                SymbolKind::from_st_type(sym.st_symtype()),
            ));
        }
    }
    crate::sort::sort_by(&mut out, |a, b| a.0 < b.0);
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::path::PathBuf;

    use super::*;
    use testkit::Compiler;

    const SOURCE: &str = "
        extern int printk(const char *);
        extern int hook(void) __attribute__((weak));
        extern int counter;
        static char buffer[64];
        const char banner[] = \"hi\";
        int shown = 1;
        int show(void) { if (hook) hook(); counter++; return printk(banner); }
        char *scratch(void) { return buffer; }
        int main(void) { return 0; }
    ";

    fn source() -> PathBuf {
        let path = testkit::fixtures::out_dir().join("inspect-accessors.c");
        std::fs::write(&path, SOURCE).unwrap();
        path
    }

    fn host() -> Machine {
        Machine::host().expect("tests run on a supported machine")
    }

    #[test]
    fn imports_relocations_and_sizes_of_an_object() {
        let built = testkit::fixtures::object(&Compiler::host_gcc(), &source(), &["-O2", "-fPIC"]);
        let object = Object::parse(&built.bytes, host()).unwrap();
        let mut imports = object.undefined_symbols().unwrap();
        imports.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<(&str, bool)> = imports.iter().map(|u| (u.name.as_str(), u.weak)).collect();
        assert_eq!(
            names,
            [("counter", false), ("hook", true), ("printk", false)]
        );
        let counts = object.relocation_counts().unwrap();
        assert!(counts.iter().all(|&(_, n)| n > 0));
        assert!(
            counts.iter().map(|&(_, n)| n).sum::<usize>() >= 3,
            "{counts:?}"
        );
        let sizes = object.section_sizes().unwrap();
        assert!(sizes.text > 0, "{sizes:?}");
        assert!(sizes.rodata >= 3, "{sizes:?}");
        assert!(sizes.data >= 64 + 4, "{sizes:?}");
    }

    #[test]
    fn globals_of_a_linked_program() {
        let linked = testkit::fixtures::build(
            &Compiler::host_gcc(),
            &[&source()],
            &[
                "-O2",
                "-nostdlib",
                "-static",
                "-Wl,--unresolved-symbols=ignore-all",
                "-Wl,-e,main",
            ],
            "elf",
        );
        let globals = defined_globals(&linked.bytes, host()).unwrap();
        assert!(globals.contains(&(String::from("show"), SymbolKind::Function)));
        assert!(globals.contains(&(String::from("shown"), SymbolKind::Object)));
        assert!(!globals.iter().any(|(n, _)| n == "buffer" || n == "printk"));
        let sorted = globals.windows(2).all(|w| w[0].0 < w[1].0);
        assert!(sorted, "{globals:?}");
        // A relocatable object's definitions are read the same way; an
        // object of another machine is refused.
        let other = if host() == Machine::X86_64 {
            Machine::Aarch64
        } else {
            Machine::X86_64
        };
        assert!(defined_globals(&linked.bytes, other).is_err());
    }
}
