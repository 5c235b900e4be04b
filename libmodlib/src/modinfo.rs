//! `.modinfo`: NUL-separated `key=value` strings a module carries about
//! itself (name, version, license, description, depends, ABI tag).

use alloc::string::String;
use alloc::vec::Vec;

/// Metadata from a `.modinfo` section, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    entries: Vec<(String, String)>,
}

impl ModInfo {
    /// Parses the raw section; entries without `=` or not UTF-8 are skipped.
    pub fn parse(raw: &[u8]) -> Self {
        let entries = raw
            .split(|&b| b == 0)
            .filter_map(|item| core::str::from_utf8(item).ok())
            .filter_map(|item| item.split_once('='))
            .map(|(k, v)| (String::from(k), String::from(v)))
            .collect();
        ModInfo { entries }
    }

    /// The first value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value for `key` (a key such as `depends` may repeat).
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All entries in file order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// Whether there is no metadata.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_skips_junk() {
        let info =
            ModInfo::parse(b"name=chardev\0\0license=GPL\0junk\0depends=a\0depends=b\0\xff=x\0");
        assert_eq!(info.get("name"), Some("chardev"));
        assert_eq!(info.get("license"), Some("GPL"));
        assert_eq!(info.get_all("depends").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(info.entries().len(), 4);
    }
}
