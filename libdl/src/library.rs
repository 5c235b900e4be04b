//! The safe Rust wrapper, shaped like `libloading`: open a [`Library`], get
//! a typed [`Symbol`] that cannot outlive it, and close it by dropping.

use alloc::ffi::CString;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ffi::{c_void, CStr};
use core::marker::PhantomData;
use core::ops::Deref;
use std::ffi::OsStr;

use dl_core::error::Error;
use dl_core::flags::Flags;
use dl_core::handle::Handle;
use dl_core::platform::Platform;
use modlib::{bound_address, LoadedImage, Lookup, SymbolKind};

use crate::hosted::{linker, MmapMemory};

/// An open shared object (or the global scope); closed on drop.
///
/// ```no_run
/// use std::ffi::{c_char, c_int};
/// type Run = unsafe extern "C" fn(*const c_char, *mut c_char, usize) -> c_int;
///
/// // SAFETY: the plugin and its constructors are trusted.
/// let lib = unsafe { modlib_dl::Library::open("plugins/upper.so", modlib_dl::Flags::NOW)? };
/// // SAFETY: `plugin_run` has this type in the plugin ABI.
/// let run = unsafe { lib.get::<Run>(b"plugin_run\0")? };
/// let mut out = [0u8; 64];
/// // SAFETY: a NUL-terminated input and a buffer of `out.len()` bytes.
/// let status = unsafe { run(c"text".as_ptr(), out.as_mut_ptr().cast(), out.len()) };
/// lib.close()?;
/// # let _ = status;
/// # Ok::<(), modlib_dl::Error>(())
/// ```
#[derive(Debug)]
pub struct Library {
    handle: Handle,
    /// The object's own image, searched first without the linker's lock
    /// (the reference this value holds keeps the object loaded).
    image: Option<Arc<LoadedImage<MmapMemory>>>,
}

impl Library {
    /// Opens the object at `path` (or searched by file name), loading its
    /// dependencies, like `dlopen(path, flags)`. `flags` must hold exactly
    /// one of [`Flags::LAZY`] and [`Flags::NOW`] ([`Error::InvalidFlags`]
    /// otherwise); a path that is not UTF-8 or holds a NUL is
    /// [`Error::InvalidName`].
    ///
    /// # Safety
    /// Loading runs the constructors of the object and of the dependencies
    /// it brings, foreign code that may do anything; the caller vouches for
    /// them.
    pub unsafe fn open<P: AsRef<OsStr>>(path: P, flags: Flags) -> Result<Library, Error> {
        let flags = flags.check()?;
        let path = path
            .as_ref()
            .to_str()
            .filter(|p| !p.contains('\0'))
            .ok_or(Error::InvalidName)?;
        let handle = linker().open(Some(path), flags)?;
        Ok(Library {
            handle,
            image: linker().image(handle),
        })
    }

    /// [`Library::open`] with `LAZY | LOCAL`, the mode of `libloading`'s
    /// `Library::new` on Unix.
    ///
    /// # Safety
    /// As for [`Library::open`].
    pub unsafe fn new<P: AsRef<OsStr>>(path: P) -> Result<Library, Error> {
        // SAFETY: the caller's promise, passed on.
        unsafe { Library::open(path, Flags::LAZY | Flags::LOCAL) }
    }

    /// The process's global scope, like `dlopen(NULL, RTLD_NOW)`: the
    /// executable, the libraries it was started with and every object
    /// opened with [`Flags::GLOBAL`].
    pub fn this() -> Library {
        Library {
            handle: Handle::Global,
            image: None,
        }
    }

    /// Looks up `name` in this object and its dependencies (breadth-first).
    /// `name` may be a `&str`, a `&CStr`, or bytes with or without a
    /// trailing NUL (`b"name\0"`); one that is not UTF-8 or holds another
    /// NUL is [`Error::InvalidName`]. A `T` that is not pointer-sized is
    /// refused with [`Error::SymbolTypeSize`].
    ///
    /// # Safety
    /// `T` must be the symbol's real type (a function pointer type or a
    /// pointer to data, or an `Option` of one); calling through a wrong
    /// type is undefined.
    pub unsafe fn get<T>(&self, name: impl SymbolName) -> Result<Symbol<'_, T>, Error> {
        let name = name.symbol_name()?;
        if core::mem::size_of::<T>() != core::mem::size_of::<usize>() {
            return Err(Error::SymbolTypeSize {
                name: String::from(name),
                size: core::mem::size_of::<T>(),
                expected: core::mem::size_of::<usize>(),
            });
        }
        // The object heads its own search scope: a definition there is the
        // answer, found without the lock. Anything else takes the full path,
        // as does a thread-local variable (the calling thread's instance).
        let own = self
            .image
            .as_ref()
            .and_then(|image| image.lookup(&Lookup::new(name, None)).map(|s| (image, s)))
            .filter(|(_, s)| s.kind != SymbolKind::ThreadLocal);
        let address = match own {
            Some((image, symbol)) => {
                bound_address(symbol, image.machine(), linker().platform().hwcaps()).map_err(
                    |_| Error::SymbolNotFound {
                        object: String::new(),
                        name: String::from(name),
                    },
                )?
            }
            None => linker().symbol(self.handle, name, 0)?,
        };
        Ok(Symbol {
            address: address as usize,
            lifetime: PhantomData,
        })
    }

    /// Closes the object now, reporting any error (dropping closes too).
    pub fn close(self) -> Result<(), Error> {
        let (handle, image) = self.into_parts();
        let result = linker().close(handle);
        drop(image);
        result
    }

    /// The raw handle (what `dlopen` would return).
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The `dlopen` handle, still open: the reference this value held now
    /// belongs to the caller (to `dlclose`, or to [`Library::from_raw`]).
    pub fn into_raw(self) -> *mut c_void {
        let (handle, _image) = self.into_parts();
        core::ptr::without_provenance_mut(handle.to_raw())
    }

    /// Takes over a reference to an open object: a handle from `dlopen` or
    /// [`Library::into_raw`], closed when the value is dropped.
    ///
    /// # Safety
    /// `handle` must be an open handle of this process's loader whose
    /// reference nothing else will close.
    pub unsafe fn from_raw(handle: *mut c_void) -> Library {
        let handle = Handle::from_raw(handle as usize).unwrap_or(Handle::Default);
        Library {
            handle,
            image: linker().image(handle),
        }
    }

    /// The handle and image, without closing the handle.
    fn into_parts(self) -> (Handle, Option<Arc<LoadedImage<MmapMemory>>>) {
        let mut this = core::mem::ManuallyDrop::new(self);
        (this.handle, this.image.take())
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

impl<'lib, T> Symbol<'lib, T> {
    /// The symbol's address.
    pub fn address(&self) -> usize {
        self.address
    }

    /// The symbol's address as a pointer.
    pub fn as_raw_ptr(&self) -> *mut c_void {
        core::ptr::with_exposed_provenance_mut(self.address)
    }

    /// The address, no longer tied to the library's lifetime: using it after
    /// the library is closed is the caller's responsibility.
    pub fn into_raw(self) -> *mut c_void {
        self.as_raw_ptr()
    }

    /// A symbol at `ptr` (from [`Symbol::into_raw`] or `dlsym`), tied to
    /// the lifetime of `library`.
    ///
    /// # Safety
    /// `ptr` must be a `T` of an object that `library` keeps loaded.
    pub unsafe fn from_raw<L: ?Sized>(ptr: *mut c_void, library: &'lib L) -> Symbol<'lib, T> {
        let _ = library;
        Symbol {
            address: ptr.expose_provenance(),
            lifetime: PhantomData,
        }
    }
}

impl<'lib, T> Symbol<'lib, Option<T>> {
    /// `None` for a symbol whose address is null, else the symbol as a `T`.
    pub fn lift_option(self) -> Option<Symbol<'lib, T>> {
        (self.address != 0).then_some(Symbol {
            address: self.address,
            lifetime: PhantomData,
        })
    }
}

impl<T> Clone for Symbol<'_, T> {
    fn clone(&self) -> Self {
        Symbol {
            address: self.address,
            lifetime: PhantomData,
        }
    }
}

impl<T> Deref for Symbol<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: `get` checked that `T` is pointer-sized and the caller of
        // `get` (or `from_raw`) vouched that `T` is the symbol's type, so
        // the address field is a valid `T` (a function or data pointer).
        unsafe { &*(&raw const self.address).cast::<T>() }
    }
}

impl<T> core::fmt::Debug for Symbol<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Symbol({:#x})", self.address)
    }
}

/// A symbol name [`Library::get`] takes: `&str`, `&CStr`, or bytes with or
/// without a trailing NUL (and their owned forms).
pub trait SymbolName {
    /// The name without its NUL; [`Error::InvalidName`] if it is not UTF-8
    /// or holds a NUL before its end.
    fn symbol_name(&self) -> Result<&str, Error>;
}

impl SymbolName for str {
    fn symbol_name(&self) -> Result<&str, Error> {
        self.as_bytes().symbol_name()
    }
}

impl SymbolName for [u8] {
    fn symbol_name(&self) -> Result<&str, Error> {
        let bytes = self.strip_suffix(&[0]).unwrap_or(self);
        if bytes.contains(&0) {
            return Err(Error::InvalidName);
        }
        core::str::from_utf8(bytes).map_err(|_| Error::InvalidName)
    }
}

impl<const N: usize> SymbolName for [u8; N] {
    fn symbol_name(&self) -> Result<&str, Error> {
        self.as_slice().symbol_name()
    }
}

impl SymbolName for CStr {
    fn symbol_name(&self) -> Result<&str, Error> {
        self.to_str().map_err(|_| Error::InvalidName)
    }
}

impl SymbolName for String {
    fn symbol_name(&self) -> Result<&str, Error> {
        self.as_str().symbol_name()
    }
}

impl SymbolName for Vec<u8> {
    fn symbol_name(&self) -> Result<&str, Error> {
        self.as_slice().symbol_name()
    }
}

impl SymbolName for CString {
    fn symbol_name(&self) -> Result<&str, Error> {
        self.as_c_str().symbol_name()
    }
}

impl<N: SymbolName + ?Sized> SymbolName for &N {
    fn symbol_name(&self) -> Result<&str, Error> {
        (**self).symbol_name()
    }
}

#[cfg(test)]
mod tests {
    use super::SymbolName;
    use dl_core::error::Error;

    #[test]
    fn names_in_every_form() {
        assert_eq!("f".symbol_name(), Ok("f"));
        assert_eq!(b"f".symbol_name(), Ok("f"));
        assert_eq!(b"f\0".symbol_name(), Ok("f"));
        assert_eq!(c"f".symbol_name(), Ok("f"));
        assert_eq!(alloc::string::String::from("f").symbol_name(), Ok("f"));
        assert_eq!(b"f\0g".symbol_name(), Err(Error::InvalidName));
        assert_eq!(b"f\0\0".symbol_name(), Err(Error::InvalidName));
        assert_eq!(b"\xff".symbol_name(), Err(Error::InvalidName));
    }
}
