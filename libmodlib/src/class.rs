//! The ELF class of an object (ELFCLASS32 or ELFCLASS64): the width of its
//! addresses and words and the sizes of the table entries that follow from
//! it. Every reader of raw table bytes asks the class instead of assuming
//! a width; nothing else about the class lives elsewhere.

/// ELFCLASS32 or ELFCLASS64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    /// 32-bit words and addresses (`Elf32_*` structures).
    Elf32,
    /// 64-bit words and addresses (`Elf64_*` structures).
    Elf64,
}

impl Class {
    /// The class of the code this crate is compiled into (for tables the
    /// host's own loader placed in memory).
    pub(crate) const HOST: Class = if cfg!(target_pointer_width = "64") {
        Class::Elf64
    } else {
        Class::Elf32
    };

    /// Bytes in an address-sized word.
    pub(crate) const fn word(self) -> usize {
        match self {
            Class::Elf32 => 4,
            Class::Elf64 => 8,
        }
    }

    /// Bits in an address-sized word (the GNU hash bloom filter's word).
    pub(crate) const fn bits(self) -> u32 {
        self.word() as u32 * 8
    }

    /// The largest address an object of this class can name.
    pub(crate) const fn max_address(self) -> u64 {
        match self {
            Class::Elf32 => u32::MAX as u64,
            Class::Elf64 => u64::MAX,
        }
    }

    /// Bytes in a symbol table entry (`Elf32_Sym`: 16, `Elf64_Sym`: 24).
    pub(crate) const fn sym_size(self) -> usize {
        match self {
            Class::Elf32 => 16,
            Class::Elf64 => 24,
        }
    }

    /// Bytes in a dynamic table entry (`Elf32_Dyn`: 8, `Elf64_Dyn`: 16).
    pub(crate) const fn dyn_size(self) -> usize {
        2 * self.word()
    }

    /// Bytes in a relocation entry: `REL` has two words, `RELA` three.
    pub(crate) const fn rel_size(self, rela: bool) -> usize {
        if rela {
            3 * self.word()
        } else {
            2 * self.word()
        }
    }

    /// `value` reduced to this class's word arithmetic (modulo 2^32 for
    /// ELF32): what a sum of a base and an addend is on the machine.
    #[inline]
    pub(crate) const fn wrap(self, value: u64) -> u64 {
        value & self.max_address()
    }

    /// The `elf` crate's name for this class.
    pub(crate) const fn elf(self) -> elf::file::Class {
        match self {
            Class::Elf32 => elf::file::Class::ELF32,
            Class::Elf64 => elf::file::Class::ELF64,
        }
    }

    /// The word at `off` of `bytes`, zero-extended, if it lies inside.
    #[inline]
    pub(crate) fn word_at(self, bytes: &[u8], off: usize) -> Option<u64> {
        let field = bytes.get(off..off.checked_add(self.word())?)?;
        Some(match self {
            Class::Elf32 => u64::from(u32::from_le_bytes(field.try_into().ok()?)),
            Class::Elf64 => u64::from_le_bytes(field.try_into().ok()?),
        })
    }

    /// The word at `off` of `bytes` read as signed (an addend), if inside.
    #[inline]
    pub(crate) fn signed_at(self, bytes: &[u8], off: usize) -> Option<i64> {
        let word = self.word_at(bytes, off)?;
        Some(match self {
            Class::Elf32 => i64::from(word as u32 as i32),
            Class::Elf64 => word as i64,
        })
    }

    /// The word `value` as this class stores it, or `None` if it does not
    /// fit (an ELF32 word holds no value above 4 GiB; nothing is truncated).
    #[inline]
    pub(crate) fn word_bytes(self, value: u64) -> Option<([u8; 8], usize)> {
        match self {
            Class::Elf32 => {
                let v = u32::try_from(value).ok()?;
                let mut out = [0u8; 8];
                out[..4].copy_from_slice(&v.to_le_bytes());
                Some((out, 4))
            }
            Class::Elf64 => Some((value.to_le_bytes(), 8)),
        }
    }

    /// Writes `value` as a word at `off` of `bytes`; `false` (nothing
    /// written) if the field lies outside or the value does not fit.
    #[inline]
    pub(crate) fn put_word(self, bytes: &mut [u8], off: usize, value: u64) -> bool {
        let Some((word, len)) = self.word_bytes(value) else {
            return false;
        };
        match off.checked_add(len).and_then(|end| bytes.get_mut(off..end)) {
            Some(field) => {
                field.copy_from_slice(&word[..len]);
                true
            }
            None => false,
        }
    }

    /// The words of `table` in order (a partial word at the end is ignored).
    pub(crate) fn words(self, table: &[u8]) -> impl Iterator<Item = u64> + '_ {
        table
            .chunks_exact(self.word())
            .map(move |w| self.word_at(w, 0).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::Class;

    #[test]
    fn words_of_each_class() {
        let bytes = [1, 0, 0, 0x80, 2, 0, 0, 0];
        assert_eq!(Class::Elf32.word_at(&bytes, 0), Some(0x8000_0001));
        assert_eq!(Class::Elf32.signed_at(&bytes, 0), Some(-0x7fff_ffff));
        assert_eq!(Class::Elf64.word_at(&bytes, 0), Some(0x2_8000_0001));
        assert_eq!(Class::Elf32.word_at(&bytes, 5), None);
        assert_eq!(
            Class::Elf32.words(&bytes).collect::<alloc::vec::Vec<_>>(),
            [0x8000_0001, 2]
        );
        let mut out = [0u8; 6];
        assert!(Class::Elf32.put_word(&mut out, 2, 0xdead_beef));
        assert_eq!(out, [0, 0, 0xef, 0xbe, 0xad, 0xde]);
        assert!(
            !Class::Elf32.put_word(&mut out, 0, 1 << 32),
            "no silent truncation"
        );
        assert!(!Class::Elf64.put_word(&mut out, 0, 1), "field outside");
        assert_eq!(Class::Elf32.rel_size(false), 8);
        assert_eq!(Class::Elf32.rel_size(true), 12);
        assert_eq!(Class::Elf64.rel_size(true), 24);
    }
}
