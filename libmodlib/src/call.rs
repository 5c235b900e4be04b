//! The only place the loader core jumps into loaded code: initialisers,
//! finalisers and IFUNC resolvers. Callers check the machine first.

use crate::error::LoadError;
use crate::machine::Machine;
use crate::symbol::{Symbol, SymbolKind};

/// The address a reference to `symbol` binds to: its own address, or for an
/// IFUNC the address its resolver picks (only possible for host code).
///
/// A symbol reported by a resolver is relocated code of this machine, so
/// calling an IFUNC resolver is sound; this is how `dlsym` finishes a lookup.
pub fn bound_address(symbol: Symbol, machine: Machine) -> Result<u64, LoadError> {
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
    Ok(unsafe { ifunc_resolver(symbol.address) })
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

/// Calls an IFUNC resolver at `addr` and returns the address it chose.
///
/// # Safety
/// `addr` must be an IFUNC resolver of this machine in executable memory
/// whose own relocations are already applied.
pub(crate) unsafe fn ifunc_resolver(addr: u64) -> u64 {
    // SAFETY: as for `void_fn`; resolvers return the chosen address and
    // ignore the hardware-capability arguments some ABIs pass.
    let f: extern "C" fn() -> usize =
        unsafe { core::mem::transmute::<usize, extern "C" fn() -> usize>(addr as usize) };
    f() as u64
}
