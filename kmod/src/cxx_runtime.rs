//! What C++ modules need from kmod itself: `__cxa_pure_virtual` (the
//! vtable entry of a pure virtual function, never rightly called) and the
//! destructors that modules register while running. C++ globals with
//! destructors register them at construction through `__cxa_atexit` (g++,
//! clang++; `__aeabi_atexit` on Arm) or `atexit` (clang++ with
//! `-fno-use-cxa-atexit`). kmod answers these names for every module and runs a module's registrations, last
//! first, when it is removed, or when its `module_init` fails (so nothing
//! it constructed is left registered in the kernel). Registrations belong
//! to the module whose memory holds their `__dso_handle` (the loader gives
//! each relocatable module its own: its start) or, for `atexit`, their
//! function.

use alloc::vec::Vec;
use core::ffi::{c_int, c_void};

use modlib::{ProviderId, SymbolEntry, SymbolKind, SymbolTable};

/// One registered destructor.
#[derive(Clone, Copy)]
struct Registration {
    /// `void f(void *arg)` (`__cxa_atexit`) or `void f(void)` (`atexit`).
    function: usize,
    arg: usize,
    /// The address that says which module registered it.
    owner: usize,
    takes_arg: bool,
}

/// Every module's pending registrations, in registration order. Taken
/// only to add or remove entries; no destructor runs with it held.
static REGISTRATIONS: spin::Mutex<Vec<Registration>> = spin::Mutex::new(Vec::new());

/// `__cxa_atexit(f, arg, dso)`: records `f(arg)` to run when the module
/// `dso` belongs to goes away. Returns 0.
extern "C" fn cxa_atexit(function: usize, arg: *mut c_void, dso: *mut c_void) -> c_int {
    REGISTRATIONS.lock().push(Registration {
        function,
        arg: arg as usize,
        owner: dso as usize,
        takes_arg: true,
    });
    0
}

/// `__aeabi_atexit(arg, f, dso)`: the Arm EABI's name for `__cxa_atexit`,
/// with the object first (what g++ emits for Arm).
extern "C" fn aeabi_atexit(arg: *mut c_void, function: usize, dso: *mut c_void) -> c_int {
    cxa_atexit(function, arg, dso)
}

/// `atexit(f)`: records `f()` to run when the module holding `f` goes away.
extern "C" fn atexit(function: usize) -> c_int {
    REGISTRATIONS.lock().push(Registration {
        function,
        arg: 0,
        owner: function & !1,
        takes_arg: false,
    });
    0
}

/// A call of a pure virtual function: a bug in the module. The kernel
/// cannot go on with a broken object, and returning would run garbage.
extern "C" fn cxa_pure_virtual() -> ! {
    panic!("a kernel module called a pure virtual function")
}

/// The names modules resolve to kmod's own functions, after the kernel's
/// table (a kernel that exports its own versions wins).
pub(crate) fn table(provider: ProviderId) -> SymbolTable<'static> {
    SymbolTable::new(
        alloc::vec![
            SymbolEntry::new(
                "__cxa_pure_virtual",
                cxa_pure_virtual as *const () as u64,
                SymbolKind::Function
            ),
            SymbolEntry::new(
                "__cxa_atexit",
                cxa_atexit as *const () as u64,
                SymbolKind::Function
            ),
            SymbolEntry::new("atexit", atexit as *const () as u64, SymbolKind::Function),
            SymbolEntry::new(
                "__aeabi_atexit",
                aeabi_atexit as *const () as u64,
                SymbolKind::Function
            ),
        ],
        provider,
    )
    .expect("distinct names")
}

/// Runs, last registered first, the destructors registered by the module
/// at `start..start + size`, and forgets them.
///
/// # Safety
/// The module's image must be relocated, alive and of this machine, and its
/// code trusted to run now (it is being removed, or its init failed).
pub(crate) unsafe fn run_for(start: u64, size: u64) {
    let inside = |r: &Registration| (r.owner as u64).wrapping_sub(start) < size;
    let mine: Vec<Registration> = {
        let mut all = REGISTRATIONS.lock();
        let mine = all.iter().copied().filter(|r| inside(r)).collect();
        all.retain(|r| !inside(r));
        mine
    };
    for r in mine.iter().rev() {
        if r.takes_arg {
            // SAFETY: registered through `__cxa_atexit` by the module's own
            // code as `void f(void *)` with this argument; the caller vouches
            // the module is alive and may run.
            let f = unsafe { core::mem::transmute::<usize, extern "C" fn(usize)>(r.function) };
            f(r.arg);
        } else {
            // SAFETY: as above, a `void f(void)` registered through `atexit`.
            let f = unsafe { core::mem::transmute::<usize, extern "C" fn()>(r.function) };
            f();
        }
    }
}
