//! The safe Rust wrapper, shaped like `libloading`: open a [`Library`], get
//! a typed [`Symbol`] that cannot outlive it, and close it by dropping.

use alloc::string::String;
use alloc::sync::Arc;
use core::marker::PhantomData;

use core::ops::Deref;
use dl_core::error::Error;
use dl_core::flags::Flags;
use dl_core::handle::Handle;
use modlib::{bound_address, LoadedImage, Lookup};

use crate::hosted::{linker, MmapMemory};

/// An open shared object (or the global scope); closed on drop.
#[derive(Debug)]
pub struct Library {
    handle: Handle,
    /// The object's own image, searched first without the linker's lock
    /// (the reference this value holds keeps the object loaded).
    image: Option<Arc<LoadedImage<MmapMemory>>>,
}

impl Library {
    /// Opens the object at `path` (or searched by file name), loading its
    /// dependencies, like `dlopen(path, flags)`.
    pub fn open(path: &str, flags: Flags) -> Result<Library, Error> {
        let handle = linker().open(Some(path), flags)?;
        Ok(Library {
            handle,
            image: linker().image(handle),
        })
    }

    /// The global scope, like `dlopen(NULL, RTLD_NOW)`.
    pub fn this() -> Library {
        Library {
            handle: Handle::Global,
            image: None,
        }
    }

    /// Looks up `name` in this object and its dependencies (breadth-first).
    /// A `T` that is not pointer-sized is refused with
    /// [`Error::SymbolTypeSize`].
    ///
    /// # Safety
    /// `T` must be the symbol's real type (a function pointer type or a
    /// pointer to data); calling through a wrong type is undefined.
    pub unsafe fn get<T: Copy>(&self, name: &str) -> Result<Symbol<'_, T>, Error> {
        if core::mem::size_of::<T>() != core::mem::size_of::<usize>() {
            return Err(Error::SymbolTypeSize {
                name: String::from(name),
                size: core::mem::size_of::<T>(),
                expected: core::mem::size_of::<usize>(),
            });
        }
        // The object heads its own search scope: a definition there is the
        // answer, found without the lock. Anything else takes the full path.
        let own = self
            .image
            .as_ref()
            .and_then(|image| image.lookup(&Lookup::new(name, None)).map(|s| (image, s)));
        let address = match own {
            Some((image, symbol)) => {
                bound_address(symbol, image.machine()).map_err(|_| Error::SymbolNotFound {
                    object: String::new(),
                    name: String::from(name),
                })?
            }
            None => linker().symbol(self.handle, name, 0)?,
        };
        Ok(Symbol {
            address: address as usize,
            lifetime: PhantomData,
        })
    }

    /// Closes the object now, reporting any error (dropping closes too).
    pub fn close(mut self) -> Result<(), Error> {
        let handle = self.handle;
        let image = self.image.take();
        core::mem::forget(self);
        let result = linker().close(handle);
        drop(image);
        result
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
