//! Lazy binding's end of the line (hosted): where calls through the PLT to
//! functions no object defined go when an object was opened `RTLD_LAZY`.
//! Like the system's loader, it reports the missing symbol and ends the
//! program, here with `abort`.

use std::io::Write as _;

/// Reports the functions that lazily bound objects call but nothing
/// defines, and aborts. Takes no arguments: it is entered in place of the
/// missing function, whose arguments it ignores.
pub(crate) extern "C" fn unresolved_call() -> ! {
    let missing = super::linker().unresolved_calls();
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "dl: symbol lookup error: a function that no loaded object defines was called \
         (bound lazily, RTLD_LAZY)"
    );
    let mut separator = ": ";
    for (object, name) in &missing {
        let _ = write!(err, "{separator}{object}: undefined symbol: {name}");
        separator = "; ";
    }
    let _ = writeln!(err);
    drop(err);
    std::process::abort()
}

/// The address lazily bound calls go to.
pub(crate) fn handler() -> u64 {
    (unresolved_call as extern "C" fn() -> !) as usize as u64
}
