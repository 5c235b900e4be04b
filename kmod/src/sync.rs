//! The shared-ownership pointer kmod uses: `alloc`'s `Arc` where the target
//! has atomic compare-and-swap, portable-atomic's (over the kernel's
//! critical sections) on ARMv6-M and other targets without it.

#[cfg(target_has_atomic = "ptr")]
pub(crate) use alloc::sync::Arc;
#[cfg(not(target_has_atomic = "ptr"))]
pub(crate) use portable_atomic_util::Arc;
