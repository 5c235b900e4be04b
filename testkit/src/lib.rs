//! Hosted test support shared by the workspace's test suites: memory from
//! `mmap`, heap buffers at chosen run-time addresses (for images of other
//! machines), a counting wrapper that proves nothing leaks, and compilation
//! of C fixtures at test time. Not part of any shipped crate.

pub mod buffer;
pub mod counting;
pub mod fixtures;
pub mod stress;

pub use buffer::BufferMemory;
pub use counting::CountingMemory;
pub use fixtures::{Compiler, Fixture};
/// Memory from `mmap`: the hosted `dl`'s, placed where a test needs it.
pub use modlib_mmap::{MmapMemory as HostMemory, Placement};
pub use stress::Rng;
