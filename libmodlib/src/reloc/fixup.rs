//! What every machine's relocation table works with: the values a
//! formula may use ([`Fixup`]), what a type needs synthesised ([`Needs`]),
//! how a dynamic type is handled ([`DynamicClass`]), why a relocation
//! failed ([`RelocFault`]), and reaching a branch target directly or
//! through its stub ([`reach`]). The machine files and the dispatch in
//! `reloc/mod.rs` import these from here, so no file imports the dispatch.

/// The values a relocation formula may use, all as run-time addresses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fixup {
    /// Relocation type.
    pub r_type: u32,
    /// P: address of the place being relocated.
    pub place: u64,
    /// S: value of the symbol.
    pub symbol: u64,
    /// Z: size of the symbol.
    pub size: u64,
    /// A: addend.
    pub addend: i64,
    /// B: load bias of a shared object (0 for relocatable objects).
    pub base: u64,
    /// GOT: address of the global offset table (0 if there is none).
    pub got: u64,
    /// G + GOT: address of this symbol's GOT slot, if it has one.
    pub got_slot: Option<u64>,
    /// Address of this symbol's range-extension stub, if it has one.
    pub stub: Option<u64>,
    /// The symbol is an undefined weak symbol nothing defined (its value
    /// is 0): a PC-relative reference to it may have to become absolute,
    /// as a linker does, since address 0 can be out of PC-relative reach.
    pub undefined_weak: bool,
    /// The symbol is a function (`STT_FUNC`, `STT_GNU_IFUNC`, or a
    /// definition the resolver reports as one): on Arm, bit 0 of its value
    /// is then its instruction set (Thumb).
    pub function: bool,
    /// What [`pair_section`] found for this relocation among the others of
    /// its section.
    pub partner: Partner,
}

/// Context a relocation takes from another relocation of the same section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Partner {
    /// Nothing (the relocation stands alone, or its partner was not found).
    #[default]
    None,
    /// The value its partner computes: for a low-part relocation, the full
    /// offset its high part encodes (or why that could not be computed);
    /// for the first of a set/subtract pair, the value to subtract.
    Value(Result<u64, RelocFault>),
    /// The partner applies this relocation as well; nothing is left to do.
    Applied,
}

/// Why a relocation could not be applied; the loader adds the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelocFault {
    /// The type is not in the machine's table.
    Unsupported,
    /// The value does not fit the field.
    Overflow,
    /// The field lies outside the target bytes.
    OutOfBounds,
    /// A relocation that needs a partner (see [`Partner`]) has none.
    Unpaired,
    /// Only linker relaxation (deleting bytes) could satisfy the relocation.
    NeedsRelaxation,
    /// A branch between Thumb and Arm state on a core without Arm state.
    Interworking,
}

/// What a relocation type needs the loader to synthesise in the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// A GOT slot holding the symbol's address.
    pub got_slot: bool,
    /// The GOT base address (GOT-relative types).
    pub got_base: bool,
    /// A stub to reach the symbol when it is out of branch range.
    pub stub: bool,
}

/// How a dynamic (ET_DYN) relocation type is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DynamicClass {
    /// No operation.
    None,
    /// B + A, no symbol.
    Relative,
    /// The value is the result of calling the resolver at B + A.
    IRelative,
    /// Needs the symbol's value; applied through [`apply`].
    Symbolic,
    /// A `JUMP_SLOT`: symbolic, and only ever called through the PLT, so a
    /// lazily bound object may leave it unresolved.
    JumpSlot,
    /// The TLS module id of the symbol's object (`DTPMOD`): 64-bit word.
    TlsModule,
    /// S + A as an offset into the symbol's TLS block (`DTPOFF`/`DTPREL`):
    /// 64-bit word.
    TlsOffset,
    /// An offset from the thread pointer into static TLS (`TPOFF`/`TPREL`,
    /// the initial-exec model), which a loaded object cannot have.
    TlsStatic,
    /// A TLS descriptor (`TLSDESC`).
    TlsDescriptor,
    /// Any other TLS type (static-link types that never appear here).
    Tls,
    /// `COPY`: only valid in executables.
    Copy,
    /// Not in the table.
    Unknown,
}

/// A branch displacement to the symbol, or through its range-extension stub
/// when the symbol is out of reach. `fits` says whether a displacement is
/// encodable; `align` is the alignment the encoding needs (its dropped low
/// bits, a power of two). Only a target with no addend can go through the stub, which
/// jumps to the symbol itself.
pub(crate) fn reach(
    fix: &Fixup,
    fits: impl Fn(i64) -> bool,
    align: u64,
) -> Result<u64, RelocFault> {
    let target = fix.symbol.wrapping_add(fix.addend as u64);
    let misaligned = |d: u64| d & (align - 1) != 0;
    let direct = target.wrapping_sub(fix.place);
    if misaligned(direct) {
        return Err(RelocFault::Overflow);
    }
    if fits(direct as i64) {
        return Ok(direct);
    }
    match fix.stub {
        Some(stub) if fix.addend == 0 => {
            let via = stub.wrapping_sub(fix.place);
            if !misaligned(via) && fits(via as i64) {
                Ok(via)
            } else {
                Err(RelocFault::Overflow)
            }
        }
        _ => Err(RelocFault::Overflow),
    }
}
