//! The module ABI tag: what `module.h` writes into every module's
//! `.modinfo` as `abi=` and what `insmod` compares with the kernel's.

use modlib::Machine;

/// Version of the module ABI (`KMOD_ABI_VERSION` in `module.h`).
pub const ABI_VERSION: &str = "1";

/// The tag a module built for `machine` against this kernel carries:
/// `kmod-<version> <arch>`.
pub fn abi_tag(machine: Machine) -> alloc::string::String {
    // Joined by hand: a kernel that never prints pays for no formatter.
    let mut tag = alloc::string::String::from("kmod-");
    tag.push_str(ABI_VERSION);
    tag.push(' ');
    tag.push_str(machine.name());
    tag
}
