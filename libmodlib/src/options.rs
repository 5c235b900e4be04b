//! What to load for and how: the machine, how a shared object's own
//! definitions bind, lazy binding, and how Arm objects are read.

use crate::hwcaps::HwCaps;
use crate::machine::Machine;

/// How a shared object's own definitions bind against the resolver chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// ELF default: the resolver chain (the global scope) answers first and
    /// the object's own definition is the fallback, so it can be interposed.
    #[default]
    Global,
    /// The object's own definitions win (`-Bsymbolic` behaviour).
    Symbolic,
}

/// How Arm (AAELF32) objects are read where the ABI leaves the choice to
/// the platform. The default is the host's: Arm Linux reads `TARGET2` as
/// `GOT_PREL` and runs Arm-state code; bare metal reads `TARGET2` as
/// `REL32`, and an M-profile core (Cortex-M) has no Arm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArmAbi {
    /// `R_ARM_TARGET2` (the type-info references of exception tables) is
    /// `GOT_PREL` (`arm-linux-gnueabi*`'s libsupc++) when true, `REL32`
    /// (`arm-none-eabi`) when false.
    pub target2_got_relative: bool,
    /// Whether the core runs Arm-state code (A-profile). When false
    /// (M-profile), a branch between Thumb and Arm state is refused with
    /// [`crate::LoadError::Interworking`] instead of becoming a `BLX`.
    pub arm_state: bool,
}

impl ArmAbi {
    /// The host's reading (bare metal and M-profile where the host is not
    /// 32-bit Arm Linux and an A-profile core).
    pub const fn host() -> ArmAbi {
        ArmAbi {
            target2_got_relative: cfg!(all(target_arch = "arm", target_os = "linux")),
            arm_state: !cfg!(target_feature = "mclass"),
        }
    }
}

impl Default for ArmAbi {
    fn default() -> Self {
        ArmAbi::host()
    }
}

/// What to load for and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The machine objects must be built for; defaults to the host's.
    pub machine: Machine,
    /// Binding of a shared object's references to its own definitions.
    pub binding: Binding,
    /// Lazy binding (`RTLD_LAZY`): with `Some(handler)`, a call through the
    /// PLT (`JUMP_SLOT`) to a function nothing defines is bound to
    /// `handler`, which reports the missing function if it is ever called,
    /// instead of failing the load; the object's imports list it with no
    /// provider and `handler` as its address. Ignored for objects linked
    /// with `-z now` (`DF_BIND_NOW`), which must bind in full.
    pub lazy_calls: Option<u64>,
    /// How Arm objects are read (ignored for other machines).
    pub arm: ArmAbi,
    /// The CPU's capabilities, told to IFUNC resolvers; none by default.
    pub hwcaps: HwCaps,
    /// The largest image (bytes of address space, the whole reservation)
    /// a load may take: an object that needs more is refused with
    /// [`crate::LoadError::ImageTooLarge`] before any memory is reserved.
    /// `None` (the default) sets no limit beyond the loader's own (1 TiB,
    /// and what the host's `usize` can hold).
    pub max_image_size: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            machine: Machine::default_for_host(),
            binding: Binding::Global,
            lazy_calls: None,
            arm: ArmAbi::host(),
            hwcaps: HwCaps::default(),
            max_image_size: None,
        }
    }
}

impl LoadOptions {
    /// Checks an image of `size` bytes against [`LoadOptions::max_image_size`]
    /// and the host's `usize`, before anything is reserved for it.
    pub(crate) fn image_size(&self, size: u64) -> Result<usize, crate::LoadError> {
        let limit = self.max_image_size.unwrap_or(usize::MAX);
        usize::try_from(size)
            .ok()
            .filter(|&s| s <= limit)
            .ok_or(crate::LoadError::ImageTooLarge { size, limit })
    }
}
