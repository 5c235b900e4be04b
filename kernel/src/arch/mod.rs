//! Architecture code; only riscv64 so far (an aarch64 port sits beside it).

pub mod riscv64;

pub use riscv64::{csr, paging, trap};
