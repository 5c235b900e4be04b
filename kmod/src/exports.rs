//! The export list a module declares with `EXPORT_SYMBOL`: NUL-separated
//! names in its `.kmod_exports` section.

use alloc::string::String;
use alloc::vec::Vec;

/// Section holding the names of exported symbols.
pub(crate) const SECTION: &str = ".kmod_exports";

/// Names listed in a raw `.kmod_exports` section, deduplicated, in order.
pub(crate) fn parse(raw: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for name in raw
        .split(|&b| b == 0)
        .filter_map(|n| core::str::from_utf8(n).ok())
    {
        if !name.is_empty() && !names.iter().any(|n| n == name) {
            names.push(String::from(name));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_and_dedups() {
        assert_eq!(super::parse(b"a\0b\0\0a\0c"), ["a", "b", "c"]);
    }
}
