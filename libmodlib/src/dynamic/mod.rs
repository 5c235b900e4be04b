//! `ET_DYN` shared objects: loading them ([`load`], with the cargo feature
//! `shared-objects`, on by default; a kernel that loads only relocatable
//! modules leaves it out) and reading dynamic symbol tables ([`symbols`],
//! always: the host's own objects have them too).

#[cfg(feature = "shared-objects")]
mod apply;
#[cfg(feature = "shared-objects")]
mod bind;
#[cfg(not(feature = "shared-objects"))]
mod disabled;
#[cfg(feature = "shared-objects")]
mod load;
#[cfg(feature = "shared-objects")]
mod pages;
#[cfg(feature = "shared-objects")]
mod parse;
pub(crate) mod symbols;
#[cfg(feature = "shared-objects")]
mod tags;

#[cfg(feature = "shared-objects")]
pub(crate) use load::{map, Mapped, Pending};
#[cfg(feature = "shared-objects")]
pub(crate) use parse::{describe, headers, section_by_name, Headers};

#[cfg(not(feature = "shared-objects"))]
pub(crate) use disabled::{describe, headers, map, section_by_name, Headers, Mapped, Pending};
