//! Hosted test support shared by the workspace's test suites: memory from
//! `mmap`, a counting wrapper that proves nothing leaks, and compilation of
//! C fixtures at test time. Not part of any shipped crate.

pub mod counting;
pub mod fixtures;
pub mod mmap;

pub use counting::CountingMemory;
pub use fixtures::{Compiler, Fixture};
pub use mmap::{HostMemory, Placement};
