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
use crate::image::LoadedImage;
use crate::kinds::{DynamicInfo, ThreadLocal};
use crate::memory::{FileMapping, Held, Memory, Reservation};
use crate::options::LoadOptions;
use crate::symbol::{Lookup, Symbol, SymbolResolver};

/// A mapped shared object: none can exist in this build.
pub(crate) struct Mapped<'a, M: Memory>(Infallible, PhantomData<(&'a (), M)>);

/// A relocated shared object waiting to finish: none can exist.
pub(crate) struct Pending<'a, M: Memory>(Infallible, PhantomData<(&'a (), M)>);

/// A shared object's headers: none can exist.
pub(crate) struct Headers<'a>(Infallible, PhantomData<&'a ()>);

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

impl<'a, M: Memory> Pending<'a, M> {
    pub(crate) fn mapped(&self) -> &Mapped<'a, M> {
        match self.0 {}
    }
    pub(crate) fn finish(
        self,
        _resolver: &dyn SymbolResolver,
    ) -> Result<LoadedImage<M>, LoadError> {
        match self.0 {}
    }
}
