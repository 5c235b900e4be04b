//! Symbols as the loader sees them, and the resolver chain that answers the
//! undefined ones. Resolvers say who answered, so callers can record
//! dependencies.

use crate::hash::gnu_hash;

/// What a symbol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SymbolKind {
    /// Code (`STT_FUNC`).
    Function,
    /// Data (`STT_OBJECT`, `STT_COMMON`).
    Object,
    /// A thread-local variable (`STT_TLS`): the address is the load bias
    /// plus the variable's offset in each thread's block of the object.
    ThreadLocal,
    /// A GNU indirect function: the address is a resolver that returns the
    /// real address (`STT_GNU_IFUNC`).
    Ifunc,
    /// Anything else (`STT_NOTYPE`, absolute values).
    Other,
}

impl SymbolKind {
    /// The kind for an ELF `st_info` type field.
    pub fn from_st_type(st_type: u8) -> Self {
        match st_type {
            elf::abi::STT_FUNC => SymbolKind::Function,
            elf::abi::STT_OBJECT | elf::abi::STT_COMMON => SymbolKind::Object,
            elf::abi::STT_TLS => SymbolKind::ThreadLocal,
            elf::abi::STT_GNU_IFUNC => SymbolKind::Ifunc,
            _ => SymbolKind::Other,
        }
    }
}

/// A resolved symbol: its run-time address, size and kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Symbol {
    /// Run-time address (for [`SymbolKind::Ifunc`], the resolver's address).
    pub address: u64,
    /// Size in bytes, 0 if unknown.
    pub size: u64,
    /// What it names.
    pub kind: SymbolKind,
}

/// Identifies the resolver (kernel table, a loaded module, the host scope…)
/// that answered a lookup. The values mean whatever the caller assigns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderId(pub u32);

/// A lookup answered by a resolver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    /// The symbol found.
    pub symbol: Symbol,
    /// Who found it.
    pub provider: ProviderId,
}

/// A symbol to look up: its name, the version the reference asks for, and
/// the name's GNU hash, computed once and shared by every resolver asked.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// Symbol name.
    pub name: &'a str,
    /// Required version (`GLIBC_2.14`), if the reference is versioned.
    pub version: Option<&'a str>,
    /// GNU hash of `name`.
    pub gnu_hash: u32,
}

impl<'a> Lookup<'a> {
    /// A lookup for `name`, optionally at `version`.
    #[inline]
    pub fn new(name: &'a str, version: Option<&'a str>) -> Self {
        Lookup {
            name,
            version,
            gnu_hash: gnu_hash(name.as_bytes()),
        }
    }
}

/// Answers symbol lookups. Implemented by [`crate::SymbolTable`], by loaded
/// images, by [`Chain`], and by hosts for their own scopes.
pub trait SymbolResolver {
    /// Finds `lookup`, or `None` if this resolver does not define it.
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved>;

    /// Finds `lookup` for a shared object that defines the symbol itself:
    /// only definitions that come before the object's own in its search
    /// order, `None` to let its own definition bind. The default asks
    /// [`SymbolResolver::resolve`] (for resolvers that never list the object
    /// being loaded, that is the same).
    fn resolve_defined(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        self.resolve(lookup)
    }

    /// Whether the object `provider` names is relocated, so that IFUNC
    /// resolvers among its symbols may be called. A loader relocating
    /// objects that bind to each other (a `dlopen` group, see
    /// [`crate::MappedImage`]) answers `false` for those not relocated yet:
    /// references to their IFUNCs then wait for
    /// [`crate::RelocatedImage::finish`]. The default, `true`, is right for
    /// resolvers that only report finished objects.
    fn is_relocated(&self, provider: ProviderId) -> bool {
        let _ = provider;
        true
    }
}

impl<T: SymbolResolver + ?Sized> SymbolResolver for &T {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        (**self).resolve(lookup)
    }
    fn resolve_defined(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        (**self).resolve_defined(lookup)
    }
    fn is_relocated(&self, provider: ProviderId) -> bool {
        (**self).is_relocated(provider)
    }
}

/// Resolvers asked in order; the first answer wins and reports its provider.
#[derive(Clone, Copy)]
pub struct Chain<'a> {
    links: &'a [&'a dyn SymbolResolver],
}

impl<'a> Chain<'a> {
    /// A chain over `links`, asked first to last.
    pub fn new(links: &'a [&'a dyn SymbolResolver]) -> Self {
        Chain { links }
    }
}

impl SymbolResolver for Chain<'_> {
    fn resolve(&self, lookup: &Lookup<'_>) -> Option<Resolved> {
        self.links.iter().find_map(|link| link.resolve(lookup))
    }

    fn is_relocated(&self, provider: ProviderId) -> bool {
        self.links.iter().all(|link| link.is_relocated(provider))
    }
}

/// A resolver that knows nothing: every undefined symbol stays undefined.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSymbols;

impl SymbolResolver for NoSymbols {
    fn resolve(&self, _lookup: &Lookup<'_>) -> Option<Resolved> {
        None
    }
}
