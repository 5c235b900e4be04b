//! A relocatable object's exported symbols: the one sorted symbol table
//! type, with every name packed into one buffer
//! ([`SymbolTable::packed`](crate::SymbolTable::packed)).

/// Exported symbols by name.
pub(crate) type ExportTable = crate::table::SymbolTable<'static>;
