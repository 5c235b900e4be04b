//! Image memory: anonymous `mmap` mappings protected with `mprotect`, the
//! `modlib-mmap` crate's (which the tests use too).

pub(crate) use modlib_mmap::prot_flags;
pub use modlib_mmap::MmapMemory;
