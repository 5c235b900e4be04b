//! The safe Rust wrapper, shaped like `libloading`: open a [`Library`], get
//! a typed [`Symbol`] that cannot outlive it, and close it by dropping.

use alloc::string::String;
use core::marker::PhantomData;
use core::ops::Deref;

use crate::error::Error;
use crate::flags::Flags;
use crate::handle::Handle;
use crate::hosted::linker;

/// An open shared object (or the global scope); closed on drop.
#[derive(Debug)]
pub struct Library {
    handle: Handle,
}

impl Library {
    /// Opens the object at `path` (or searched by file name), loading its
    /// dependencies, like `dlopen(path, flags)`.
    pub fn open(path: &str, flags: Flags) -> Result<Library, Error> {
        linker()
            .open(Some(path), flags)
            .map(|handle| Library { handle })
    }

    /// The global scope, like `dlopen(NULL, RTLD_NOW)`.
    pub fn this() -> Library {
        Library {
            handle: Handle::Global,
        }
    }

    /// Looks up `name` in this object and its dependencies (breadth-first).
    ///
    /// # Safety
    /// `T` must be the symbol's real type (a function pointer type or a
    /// pointer to data); calling through a wrong type is undefined.
    pub unsafe fn get<T: Copy>(&self, name: &str) -> Result<Symbol<'_, T>, Error> {
        if core::mem::size_of::<T>() != core::mem::size_of::<usize>() {
            return Err(Error::SymbolNotFound {
                object: String::from("<type of pointer size required>"),
                name: String::from(name),
            });
        }
        let address = linker().symbol(self.handle, name, 0)?;
        Ok(Symbol {
            address: address as usize,
            lifetime: PhantomData,
        })
    }

    /// Closes the object now, reporting any error (dropping closes too).
    pub fn close(self) -> Result<(), Error> {
        let handle = self.handle;
        core::mem::forget(self);
        linker().close(handle)
    }

    /// The raw handle (what `dlopen` would return).
    pub fn handle(&self) -> Handle {
        self.handle
    }
}

impl Drop for Library {
    fn drop(&mut self) {
        let _ = linker().close(self.handle);
    }
}

/// A symbol of a [`Library`], usable as a `T` while the library is open.
pub struct Symbol<'lib, T> {
    address: usize,
    lifetime: PhantomData<&'lib T>,
}

impl<T> Symbol<'_, T> {
    /// The symbol's address.
    pub fn address(&self) -> usize {
        self.address
    }
}

impl<T: Copy> Deref for Symbol<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `get` checked that `T` is pointer-sized and the caller of
        // `get` vouched that `T` is the symbol's type, so the address field
        // is a valid `T` (a function pointer or data pointer).
        unsafe { &*(&raw const self.address).cast::<T>() }
    }
}

impl<T> core::fmt::Debug for Symbol<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Symbol({:#x})", self.address)
    }
}
