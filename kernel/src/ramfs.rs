//! The read-only file system packed into the image at build time: module
//! objects, shared libraries, programs and the user image.

include!(concat!(env!("OUT_DIR"), "/ramfs_files.rs"));

/// The file called `name`; a leading directory (`/lib/`, `/bin/`) is
/// ignored, the ramfs being flat.
pub fn file(name: &str) -> Option<&'static [u8]> {
    let base = name.rsplit('/').next().unwrap_or(name);
    FILES
        .iter()
        .find(|(n, _)| *n == base)
        .map(|(_, data)| *data)
}

/// Index of the file called `name`.
pub fn index(name: &str) -> Option<usize> {
    let base = name.rsplit('/').next().unwrap_or(name);
    FILES.iter().position(|(n, _)| *n == base)
}

/// The file at `index`: name and contents.
pub fn at(index: usize) -> Option<(&'static str, &'static [u8])> {
    FILES.get(index).copied()
}
