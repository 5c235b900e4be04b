//! `dlopen` mode flags, with the values glibc uses so that C code compiled
//! against either header agrees.

use core::ops::{BitOr, BitOrAssign};

use crate::error::Error;

/// A `dlopen` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flags(i32);

impl Flags {
    /// Lazy binding: every reference is still bound at load time, but a
    /// call to a function no object defines does not fail the load; it
    /// binds when a later global object defines it, and reports the missing
    /// function if made before (on platforms with such a handler).
    pub const LAZY: Flags = Flags(0x1);
    /// Resolve every symbol before `dlopen` returns.
    pub const NOW: Flags = Flags(0x2);
    /// Only return a handle if the object is already loaded.
    pub const NOLOAD: Flags = Flags(0x4);
    /// The object and its dependencies serve later loads and `RTLD_DEFAULT`.
    pub const GLOBAL: Flags = Flags(0x100);
    /// The object's symbols serve only itself and lookups through its handle.
    pub const LOCAL: Flags = Flags(0);
    /// Never unload the object.
    pub const NODELETE: Flags = Flags(0x1000);

    /// The raw mode value.
    pub const fn bits(self) -> i32 {
        self.0
    }

    /// Flags from a raw mode, if `dlopen` accepts it (as glibc's does):
    /// exactly one of `LAZY`/`NOW`, any of the modifiers `NOLOAD`,
    /// `GLOBAL`/`LOCAL` and `NODELETE`, and no unknown bit.
    pub const fn from_bits(mode: i32) -> Option<Flags> {
        let known = 0x1 | 0x2 | 0x4 | 0x100 | 0x1000;
        let binding = mode & 0x3;
        if mode & !known != 0 || binding == 0 || binding == 0x3 {
            None
        } else {
            Some(Flags(mode))
        }
    }

    /// `self` if `dlopen` accepts it (see [`Flags::from_bits`]), else
    /// [`Error::InvalidFlags`]: `LOCAL` or `GLOBAL` alone, `NOW | LAZY`.
    pub const fn check(self) -> Result<Flags, Error> {
        match Flags::from_bits(self.0) {
            Some(flags) => Ok(flags),
            None => Err(Error::InvalidFlags { mode: self.0 }),
        }
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

#[cfg(test)]
mod tests {
    use super::Flags;
    use crate::error::Error;

    #[test]
    fn modes() {
        assert!(Flags::from_bits(0x2 | 0x100).is_some());
        assert!(Flags::from_bits(0x1 | 0x4 | 0x1000).is_some());
        assert!(Flags::from_bits(0).is_none());
        assert!(Flags::from_bits(0x3).is_none());
        assert!(Flags::from_bits(0x2 | 0x8000).is_none());
        assert!((Flags::NOW | Flags::GLOBAL).contains(Flags::GLOBAL));
    }

    /// As glibc's `dlopen`: one binding mode, exactly, plus modifiers.
    #[test]
    fn check_wants_exactly_one_binding_mode() {
        for flags in [
            Flags::LAZY,
            Flags::NOW,
            Flags::NOW | Flags::LOCAL,
            Flags::LAZY | Flags::GLOBAL | Flags::NODELETE,
            Flags::NOW | Flags::NOLOAD,
        ] {
            assert_eq!(flags.check(), Ok(flags));
        }
        for flags in [
            Flags::LOCAL,
            Flags::GLOBAL,
            Flags::NOLOAD,
            Flags::NODELETE | Flags::GLOBAL,
            Flags::NOW | Flags::LAZY,
        ] {
            assert_eq!(
                flags.check(),
                Err(Error::InvalidFlags { mode: flags.bits() })
            );
        }
        let mut flags = Flags::NOW;
        flags |= Flags::GLOBAL;
        assert_eq!(flags, Flags::NOW | Flags::GLOBAL);
    }
}
