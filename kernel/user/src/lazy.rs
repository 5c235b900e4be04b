//! Where lazily bound calls to functions no object defines go (`RTLD_LAZY`):
//! the task reports what is missing and ends with status 127, as a system
//! loader ends the program.

use crate::dlfcn::linker;
use crate::{print, println, sys};

/// Entered in place of the missing function (its arguments are ignored).
pub extern "C" fn unresolved_call() -> ! {
    print!(
        "symbol lookup error: a function that no loaded object defines was called \
         (bound lazily, RTLD_LAZY)"
    );
    let mut separator = ": ";
    for (object, name) in linker().unresolved_calls() {
        print!("{separator}{object}: undefined symbol: {name}");
        separator = "; ";
    }
    println!();
    sys::exit(127)
}

/// The handler's address, for the platform.
pub fn handler() -> u64 {
    (unresolved_call as extern "C" fn() -> !) as usize as u64
}
