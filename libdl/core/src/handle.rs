//! What a `dlopen` handle is, and how it travels through the C ABI as a
//! pointer.

/// A handle to search symbols in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handle {
    /// `RTLD_DEFAULT`: the global scope.
    Default,
    /// `RTLD_NEXT`: the global scope after the caller's object.
    Next,
    /// `dlopen(NULL)`: the global scope, as a handle that can be closed.
    Global,
    /// An object opened by `dlopen`.
    Object(u32),
}

const DEFAULT: usize = 0;
const NEXT: usize = usize::MAX;
const GLOBAL: usize = usize::MAX - 1;
/// Object handles are small multiples of this, never valid user pointers.
const STRIDE: usize = 16;

impl Handle {
    /// The C pointer value for this handle.
    pub fn to_raw(self) -> usize {
        match self {
            Handle::Default => DEFAULT,
            Handle::Next => NEXT,
            Handle::Global => GLOBAL,
            Handle::Object(id) => id as usize * STRIDE,
        }
    }

    /// The handle a C pointer value stands for.
    pub fn from_raw(raw: usize) -> Option<Handle> {
        match raw {
            DEFAULT => Some(Handle::Default),
            NEXT => Some(Handle::Next),
            GLOBAL => Some(Handle::Global),
            r if r % STRIDE == 0 => u32::try_from(r / STRIDE).ok().map(Handle::Object),
            _ => None,
        }
    }
}
