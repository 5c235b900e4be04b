//! riscv64 specifics: boot entry, control registers, Sv39 page tables,
//! traps and the switch to and from U-mode. Nothing outside `arch` knows
//! instruction encodings or CSR numbers.

pub mod boot;
pub mod csr;
pub mod paging;
pub mod trap;
