//! Binding dynamic symbols: each symbol of the object looked up once per
//! load, and what relocations against IFUNCs wait for.

use alloc::string::String;
use alloc::vec::Vec;

use crate::call;
use crate::error::LoadError;
use crate::kinds::{Import, UnresolvedCall};
use crate::machine::Machine;
use crate::symbol::{Lookup, ProviderId, SymbolKind, SymbolResolver};

use super::symbols::View;

/// How a dynamic symbol was bound.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bound {
    Unknown,
    Address(u64),
    /// The object's own IFUNC: its resolver runs after relocation.
    OwnIfunc(u64),
    /// An IFUNC of an object not relocated yet (index into the binder's
    /// `waiting`): its resolver runs when the image is finished.
    Waiting(usize),
    /// Defined nowhere, and left to the lazy handler for calls.
    Unresolved,
}

/// Where the value of a deferred relocation comes from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Target {
    /// An IFUNC resolver of this object (or an `IRELATIVE` one), called
    /// once the object is relocated and its code executable.
    Resolver(u64),
    /// A symbol bound to an IFUNC of another object that was not relocated
    /// yet (index into `Pending::symbols`).
    Waiting(usize),
}

/// A relocation whose value comes from an IFUNC resolver.
pub(super) struct Deferred {
    pub(super) place: u64,
    pub(super) r_type: u32,
    pub(super) target: Target,
    pub(super) addend: i64,
    pub(super) table: &'static str,
}

/// A symbol bound to an IFUNC of an object that was not relocated yet.
///
/// Why wait rather than order the relocations so that this cannot happen:
/// objects are relocated dependencies first (as glibc does), so the IFUNCs
/// of an object's dependencies are ready when it is relocated; but a
/// dependency may bind to an IFUNC of the object that needs it (the group's
/// root interposing it, or the other side of a `DT_NEEDED` cycle), and no
/// order relocates both sides first. glibc calls such a resolver in its
/// unrelocated object; here the reference waits until that object is
/// relocated and the caller finishes the image. (A resolver that itself
/// calls through a reference still waiting would find it unfilled: a
/// resolver should call nothing outside its object, as glibc requires.)
pub(super) struct WaitingSymbol {
    pub(super) name: String,
    /// Address of the IFUNC's resolver.
    pub(super) resolver: u64,
    pub(super) size: u64,
    pub(super) provider: ProviderId,
    /// Index of its entry in the imports, whose address is filled in then.
    pub(super) import: Option<usize>,
}

/// Binds each dynamic symbol once and remembers the answer.
pub(super) struct Binder<'a, 'r> {
    pub(super) view: View<'a>,
    pub(super) needs: Vec<(u16, &'a str)>,
    pub(super) resolver: &'r dyn SymbolResolver,
    pub(super) machine: Machine,
    pub(super) hwcaps: crate::HwCaps,
    pub(super) base: u64,
    pub(super) symbolic: bool,
    /// Where calls to functions nothing defines go, if they may (lazy).
    pub(super) lazy_calls: Option<u64>,
    pub(super) bound: Vec<Bound>,
    pub(super) imports: Vec<Import>,
    pub(super) waiting: Vec<WaitingSymbol>,
    /// `JUMP_SLOT`s left to the lazy handler.
    pub(super) unresolved: Vec<UnresolvedCall>,
}

impl Binder<'_, '_> {
    /// Binds symbol `index` once and remembers the answer. `call` says the
    /// reference is a PLT call (`JUMP_SLOT`): with lazy binding a function
    /// nothing defines is then bound to the lazy handler (and listed among
    /// the imports, with no provider) instead of failing.
    #[inline]
    pub(super) fn bind(&mut self, index: usize, call: bool) -> Result<(Bound, u64), LoadError> {
        if let Some(&bound @ (Bound::Address(_) | Bound::OwnIfunc(_) | Bound::Waiting(_))) =
            self.bound.get(index)
        {
            if let Some(sym) = self.view.sym(index) {
                return Ok((bound, sym.size));
            }
        }
        self.bind_first(index, call)
    }

    /// The address symbol `index` is already bound to, if it is bound to
    /// one (not an IFUNC, not waiting, not unresolved): the relocation fast
    /// path's question, answered without parsing the symbol again.
    #[inline]
    pub(super) fn bound_address(&self, index: usize) -> Option<u64> {
        match self.bound.get(index) {
            Some(&Bound::Address(address)) => Some(address),
            _ => None,
        }
    }

    /// [`Binder::bind`] for a symbol not bound yet (or left unresolved).
    #[inline(never)]
    fn bind_first(&mut self, index: usize, call: bool) -> Result<(Bound, u64), LoadError> {
        let sym = self.view.sym(index).ok_or(LoadError::malformed(
            "relocation symbol index out of range",
            index as u64,
        ))?;
        match self.bound[index] {
            Bound::Unknown => {}
            Bound::Unresolved => {
                if let Some(handler) = self.lazy_calls.filter(|_| call) {
                    return Ok((Bound::Address(handler), 0));
                }
                return Err(LoadError::UndefinedSymbol {
                    name: self.describe(index),
                    version: self
                        .view
                        .needed_version(index, &self.needs)
                        .map(String::from),
                });
            }
            bound => return Ok((bound, sym.size)),
        }
        let name = self.view.name(&sym).ok_or(LoadError::malformed(
            "dynamic symbol name",
            u64::from(sym.name),
        ))?;
        let own = || {
            if sym.kind() == SymbolKind::Ifunc {
                Bound::OwnIfunc(sym.address(self.base))
            } else {
                Bound::Address(sym.address(self.base))
            }
        };
        let local = sym.bind() == elf::abi::STB_LOCAL || sym.other & 3 == elf::abi::STV_PROTECTED;
        let bound = if sym.is_defined() && (self.symbolic || local) {
            own()
        } else {
            let version = self.view.needed_version(index, &self.needs);
            let lookup = Lookup::new(name, version);
            let found = if sym.is_defined() {
                self.resolver.resolve_defined(&lookup)
            } else {
                self.resolver.resolve(&lookup)
            };
            match found {
                Some(found)
                    if found.symbol.kind == SymbolKind::Ifunc
                        && !self.resolver.is_relocated(found.provider) =>
                {
                    let import = (!sym.is_defined()).then(|| {
                        self.imports.push(Import {
                            name: String::from(name),
                            version: version.map(String::from),
                            address: 0,
                            provider: Some(found.provider),
                        });
                        self.imports.len() - 1
                    });
                    self.waiting.push(WaitingSymbol {
                        name: String::from(name),
                        resolver: found.symbol.address,
                        size: found.symbol.size,
                        provider: found.provider,
                        import,
                    });
                    Bound::Waiting(self.waiting.len() - 1)
                }
                Some(found) => {
                    let address = call::address_for(found.symbol, name, self.machine, self.hwcaps)?;
                    if !sym.is_defined() {
                        self.imports.push(Import {
                            name: String::from(name),
                            version: version.map(String::from),
                            address,
                            provider: Some(found.provider),
                        });
                    }
                    Bound::Address(address)
                }
                None if sym.is_defined() => own(),
                None if sym.bind() == elf::abi::STB_WEAK => {
                    self.imports.push(Import {
                        name: String::from(name),
                        version: version.map(String::from),
                        address: 0,
                        provider: None,
                    });
                    Bound::Address(0)
                }
                None => {
                    let name = String::from(name);
                    let version = version.map(String::from);
                    let Some(handler) = self.lazy_calls.filter(|_| call) else {
                        return Err(LoadError::UndefinedSymbol { name, version });
                    };
                    self.imports.push(Import {
                        name,
                        version,
                        address: handler,
                        provider: None,
                    });
                    self.bound[index] = Bound::Unresolved;
                    return Ok((Bound::Address(handler), 0));
                }
            }
        };
        self.bound[index] = bound;
        Ok((bound, sym.size))
    }

    /// Notes the `JUMP_SLOT` at run-time address `slot` if symbol `index`
    /// was left to the lazy handler.
    pub(super) fn note_lazy_slot(&mut self, index: usize, slot: u64) {
        if matches!(self.bound.get(index), Some(Bound::Unresolved)) {
            self.unresolved.push(UnresolvedCall {
                slot,
                name: self.describe(index),
                version: self
                    .view
                    .needed_version(index, &self.needs)
                    .map(String::from),
            });
        }
    }

    /// The offset in this object's TLS block of the thread-local symbol
    /// `index` (0: none, as local-dynamic code refers to the block). Only
    /// the object's own thread-local variables are reachable: a reference
    /// to another object's is refused.
    pub(super) fn tls_offset(&self, index: usize) -> Result<u64, LoadError> {
        if index == 0 {
            return Ok(0);
        }
        let sym = self.view.sym(index).ok_or(LoadError::malformed(
            "relocation symbol index out of range",
            index as u64,
        ))?;
        if !sym.is_defined() {
            return Err(LoadError::ThreadLocalStorage {
                what: "a thread-local variable of another object",
            });
        }
        Ok(sym.value)
    }

    pub(super) fn describe(&self, index: usize) -> String {
        self.view
            .sym(index)
            .and_then(|s| self.view.name(&s))
            .map_or_else(|| crate::error::numbered("symbol", index), String::from)
    }
}
