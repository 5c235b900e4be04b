//! The only place the loader core jumps into loaded code: initialisers,
//! finalisers and IFUNC resolvers. Callers check the machine first.

use crate::error::LoadError;
use crate::hwcaps::HwCaps;
use crate::machine::Machine;
use crate::symbol::{Symbol, SymbolKind};

/// The address a reference to `symbol` binds to: its own address, or for an
/// IFUNC the address its resolver picks (only possible for host code).
///
/// A symbol reported by a resolver is relocated code of this machine, so
/// calling an IFUNC resolver (told `caps`) is sound; this is how `dlsym`
/// finishes a lookup.
pub fn bound_address(symbol: Symbol, machine: Machine, caps: HwCaps) -> Result<u64, LoadError> {
    if symbol.kind != SymbolKind::Ifunc {
        return Ok(symbol.address);
    }
    if Machine::host() != Some(machine) {
        return Err(LoadError::Unsupported {
            what: "IFUNC symbols in objects for another machine",
        });
    }
    // SAFETY: resolvers that a resolver chain reports are loaded, relocated
    // code of this machine (host functions or fully relocated images).
    Ok(unsafe { ifunc_resolver(symbol.address, caps) })
}

/// [`bound_address`] for a reference named `name` from an object of
/// `machine`: an address the machine's words cannot hold (a 32-bit object
/// bound to a symbol above 4 GiB) is refused, never truncated.
pub(crate) fn address_for(
    symbol: Symbol,
    name: &str,
    machine: Machine,
    caps: HwCaps,
) -> Result<u64, LoadError> {
    let address = bound_address(symbol, machine, caps)?;
    if address > machine.class().max_address() {
        return Err(LoadError::SymbolBeyondClass {
            name: alloc::string::String::from(name),
            address,
        });
    }
    Ok(address)
}

/// Calls `addr` as `extern "C" fn()`.
///
/// # Safety
/// `addr` must be the address of a function of this machine, in executable
/// memory, that is sound to call with no arguments right now.
pub(crate) unsafe fn void_fn(addr: u64) {
    // SAFETY: the caller guarantees `addr` is a callable, argument-less
    // C-ABI function; a non-null address is a valid fn pointer value.
    let f: extern "C" fn() =
        unsafe { core::mem::transmute::<usize, extern "C" fn()>(addr as usize) };
    f();
}

/// Calls an IFUNC resolver at `addr` and returns the address it chose,
/// with `caps` passed as the host machine's ABI passes them (see
/// `reloc::call_ifunc_resolver`).
///
/// # Safety
/// `addr` must be an IFUNC resolver of this machine in executable memory
/// whose own relocations are already applied.
pub(crate) unsafe fn ifunc_resolver(addr: u64, caps: HwCaps) -> u64 {
    // SAFETY: per this function's contract.
    unsafe { crate::reloc::call_ifunc_resolver(addr, caps) }
}
