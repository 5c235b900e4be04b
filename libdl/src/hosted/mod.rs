//! The hosted Linux platform: `mmap` memory, files read with system calls,
//! `DL_LIBRARY_PATH`, then `LD_LIBRARY_PATH` and the system library
//! directories (the system loader's, whose libraries it loads), and the host
//! process's own objects as the fallback global scope. [`linker`] is the
//! process-wide instance the C ABI and [`crate::Library`] share.

mod files;
mod host;
mod lazy;
mod memory;
mod tls;
mod tlsdesc;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use modlib::HwCaps;

pub use host::HostLinkMap;
pub use memory::MmapMemory;

use dl_core::capi::ErrorSlot;
use dl_core::linker::Linker;
use dl_core::platform::{FileContents, FileError, HostScope, Platform, ThreadLocalStorage};

/// The system's library directories, searched last.
const SYSTEM_DIRS: &[&str] = &[
    #[cfg(target_arch = "x86_64")]
    "/lib/x86_64-linux-gnu",
    #[cfg(target_arch = "x86_64")]
    "/usr/lib/x86_64-linux-gnu",
    #[cfg(target_arch = "aarch64")]
    "/lib/aarch64-linux-gnu",
    #[cfg(target_arch = "aarch64")]
    "/usr/lib/aarch64-linux-gnu",
    #[cfg(target_arch = "riscv64")]
    "/lib/riscv64-linux-gnu",
    #[cfg(target_arch = "riscv64")]
    "/usr/lib/riscv64-linux-gnu",
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    "/lib/arm-linux-gnueabihf",
    #[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
    "/usr/lib/arm-linux-gnueabihf",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
];

/// The Linux process this code runs in.
pub struct Hosted {
    host: HostLinkMap,
}

impl Hosted {
    /// The platform for this process.
    pub const fn new() -> Self {
        Hosted {
            host: HostLinkMap::new(),
        }
    }
}

impl Default for Hosted {
    fn default() -> Self {
        Self::new()
    }
}

impl Platform for Hosted {
    type Memory = MmapMemory;

    fn memory(&self) -> MmapMemory {
        MmapMemory::default()
    }

    fn read_file(&self, path: &str) -> Result<Vec<u8>, FileError> {
        files::read(path)
    }

    fn open_file(&self, path: &str) -> Result<Box<dyn FileContents>, FileError> {
        files::open_object(path).map(|f| Box::new(f) as Box<dyn FileContents>)
    }

    fn identifies_open_files(&self) -> bool {
        true
    }

    fn exists(&self, path: &str) -> bool {
        files::exists(path)
    }

    fn canonical(&self, path: &str) -> String {
        files::identity(path)
    }

    fn search_path(&self) -> Vec<String> {
        files::env(c"DL_LIBRARY_PATH")
            .map(|v| {
                v.split(':')
                    .filter(|d| !d.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The directories the system's loader searches: `LD_LIBRARY_PATH`,
    /// then the system's library directories. What is found there is the
    /// system loader's to load.
    fn system_path(&self) -> Vec<String> {
        let user = files::env(c"LD_LIBRARY_PATH").unwrap_or_default();
        user.split([':', ';'])
            .filter(|d| !d.is_empty())
            .map(String::from)
            .chain(SYSTEM_DIRS.iter().map(|d| String::from(*d)))
            .collect()
    }

    fn host(&self) -> Option<&dyn HostScope> {
        Some(&self.host)
    }

    /// The process's `AT_HWCAP` and `AT_HWCAP2`, as the system's loader
    /// tells IFUNC resolvers.
    fn hwcaps(&self) -> HwCaps {
        static HWCAPS: spin::Once<HwCaps> = spin::Once::new();
        *HWCAPS.call_once(|| {
            // SAFETY: getauxval has no preconditions.
            let (hwcap, hwcap2) = unsafe {
                (
                    libc::getauxval(libc::AT_HWCAP),
                    libc::getauxval(libc::AT_HWCAP2),
                )
            };
            #[allow(
                clippy::unnecessary_cast,
                reason = "`unsigned long` is 32 bits on 32-bit machines"
            )]
            HwCaps {
                hwcap: hwcap as u64,
                hwcap2: hwcap2 as u64,
            }
        })
    }

    fn unresolved_call(&self) -> Option<u64> {
        Some(lazy::handler())
    }

    fn thread_local(&self) -> Option<&dyn ThreadLocalStorage> {
        Some(&tls::HostedTls)
    }

    fn thread_id(&self) -> u64 {
        // SAFETY: pthread_self has no preconditions.
        unsafe { libc::pthread_self() as u64 }
    }

    fn yield_now(&self) {
        // SAFETY: sched_yield has no preconditions.
        unsafe { libc::sched_yield() };
    }

    fn with_error_slot(&self, f: &mut dyn FnMut(&mut ErrorSlot)) {
        let _ = ERROR.try_with(|slot| f(&mut slot.borrow_mut()));
    }
}

std::thread_local! {
    /// Each thread's `dlerror` state.
    static ERROR: RefCell<ErrorSlot> = const { RefCell::new(ErrorSlot::new()) };
}

static LINKER: Linker<Hosted> = Linker::new(Hosted::new());

/// The process-wide linker behind the C ABI and [`crate::Library`].
pub fn linker() -> &'static Linker<Hosted> {
    &LINKER
}
