//! The shared-ownership pointer dl-core uses: `alloc`'s `Arc` where the
//! target has atomic compare-and-swap, portable-atomic's (over the image's
//! critical sections) on ARMv6-M and other targets without it.

#[cfg(target_has_atomic = "ptr")]
pub use alloc::sync::Arc;
#[cfg(not(target_has_atomic = "ptr"))]
pub use portable_atomic_util::Arc;
