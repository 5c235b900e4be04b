//! The two ELF symbol-name hash functions.

/// Powers of 33 (modulo 2^32): `POW33[k]` is 33^k.
const POW33: [u32; 9] = {
    let mut p = [1u32; 9];
    let mut k = 1;
    while k < 9 {
        p[k] = p[k - 1].wrapping_mul(33);
        k += 1;
    }
    p
};

/// The GNU hash (`DT_GNU_HASH`): h = h * 33 + c, starting at 5381.
///
/// Computed eight bytes at a time: the recurrence is linear, so eight
/// steps are `h * 33^8 + c0 * 33^7 + ... + c7` (all modulo 2^32), whose
/// products are independent of each other. This shortens the chain of
/// dependent multiply-adds that bounds a byte-at-a-time loop.
#[inline]
pub fn gnu_hash(name: &[u8]) -> u32 {
    let b = |c: &u8, k: usize| u32::from(*c).wrapping_mul(POW33[k]);
    let mut h = 5381u32;
    let mut rest = name;
    while let [c0, c1, c2, c3, c4, c5, c6, c7, tail @ ..] = rest {
        let sum = b(c0, 7)
            .wrapping_add(b(c1, 6))
            .wrapping_add(b(c2, 5))
            .wrapping_add(b(c3, 4))
            .wrapping_add(b(c4, 3))
            .wrapping_add(b(c5, 2))
            .wrapping_add(b(c6, 1))
            .wrapping_add(b(c7, 0));
        h = h.wrapping_mul(POW33[8]).wrapping_add(sum);
        rest = tail;
    }
    if let [c0, c1, c2, c3, tail @ ..] = rest {
        let sum = b(c0, 3)
            .wrapping_add(b(c1, 2))
            .wrapping_add(b(c2, 1))
            .wrapping_add(b(c3, 0));
        h = h.wrapping_mul(POW33[4]).wrapping_add(sum);
        rest = tail;
    }
    for c in rest {
        h = h.wrapping_mul(33).wrapping_add(u32::from(*c));
    }
    h
}

/// The System V hash (`DT_HASH`) from the gABI.
pub fn sysv_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        assert_eq!(gnu_hash(b""), 5381);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
        // The eight-byte steps agree with the byte-at-a-time definition.
        let name = b"a_rather_long_symbol_name_of_some_40_bytes";
        for n in 0..=name.len() {
            let slow = name[..n].iter().fold(5381u32, |h, &c| {
                h.wrapping_mul(33).wrapping_add(u32::from(c))
            });
            assert_eq!(gnu_hash(&name[..n]), slow);
        }
        assert_eq!(sysv_hash(b""), 0);
        assert_eq!(sysv_hash(b"printf"), 0x077_905a6);
    }
}
