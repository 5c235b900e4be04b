//! What the rest of the loader sees of shared objects when the
//! `shared-objects` feature is off: the same names, but types with no
//! values (so every path through them is known dead and compiled away),
//! and a header reader that refuses every `ET_DYN` object.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;
use core::marker::PhantomData;

use crate::error::LoadError;
use crate::header::File;
use crate::image::{DynamicInfo, LoadedImage, ThreadLocal};
use crate::memory::{FileMapping, Held, Memory, Reservation};
use crate::symbol::{Lookup, Symbol, SymbolResolver};
use crate::LoadOptions;

/// A mapped shared object: none can exist in this build.
pub(crate) struct Mapped<'a, M: Memory>(Infallible, PhantomData<(&'a (), M)>);

/// A relocated shared object waiting to finish: none can exist.
pub(crate) struct Pending<'a, M: Memory>(Infallible, PhantomData<(&'a (), M)>);

/// A shared object's headers: none can exist.
pub(crate) struct Headers<'a>(Infallible, PhantomData<&'a ()>);

/// A loaded shared object's symbol tables: none can exist.
pub(crate) struct ImageSymbols(Infallible);

/// Refuses a shared object: this build loads relocatable objects only.
pub(crate) fn headers<'a>(_file: &File<'a>) -> Result<Headers<'a>, LoadError> {
    Err(LoadError::Unsupported {
        what: "shared objects (this loader was built without the `shared-objects` feature)",
    })
}

pub(crate) fn describe(headers: &Headers<'_>) -> Result<DynamicInfo, LoadError> {
    match headers.0 {}
}

pub(crate) fn section_by_name<'a>(_file: &File<'a>, _name: &str) -> Option<&'a [u8]> {
    None
}

pub(crate) fn map<'a, M: Memory>(
    _file: &File<'a>,
    headers: Headers<'a>,
    _options: LoadOptions,
    _memory: M,
    _mapping: Option<&dyn FileMapping>,
) -> Result<Box<Mapped<'a, M>>, LoadError> {
    match headers.0 {}
}

impl<M: Memory> Mapped<'_, M> {
    pub(crate) fn held(&self) -> &Held<M> {
        match self.0 {}
    }
    pub(crate) fn base(&self) -> u64 {
        match self.0 {}
    }
    pub(crate) fn info(&self) -> &DynamicInfo {
        match self.0 {}
    }
    pub(crate) fn thread_local(&self) -> Option<ThreadLocal> {
        match self.0 {}
    }
    pub(crate) fn set_tls_module(&mut self, _module: u64) {
        match self.0 {}
    }
    pub(crate) fn set_tls_descriptor_resolver(&mut self, _resolver: u64) {
        match self.0 {}
    }
    pub(crate) fn lookup(&self, _lookup: &Lookup<'_>) -> Option<Symbol> {
        match self.0 {}
    }
}

impl<'a, M: Memory> Mapped<'a, M> {
    pub(crate) fn relocate(
        self: Box<Self>,
        _resolver: &dyn SymbolResolver,
    ) -> Result<Pending<'a, M>, LoadError> {
        match self.0 {}
    }
}

impl<M: Memory> Pending<'_, M> {
    pub(crate) fn mapped(&self) -> &Mapped<'_, M> {
        match self.0 {}
    }
    pub(crate) fn finish(
        self,
        _resolver: &dyn SymbolResolver,
    ) -> Result<LoadedImage<M>, LoadError> {
        match self.0 {}
    }
}

impl ImageSymbols {
    pub(crate) fn lookup(
        &self,
        _res: &Reservation,
        _base: u64,
        _lookup: &Lookup<'_>,
    ) -> Option<Symbol> {
        match self.0 {}
    }
    pub(crate) fn public_view<'a>(
        &self,
        _res: &'a Reservation,
    ) -> Option<crate::symtab::DynamicSymbols<'a>> {
        match self.0 {}
    }
    pub(crate) fn all(&self, _res: &Reservation, _base: u64) -> Vec<(String, Symbol)> {
        match self.0 {}
    }
}
