//! The boot script's tally: every check passes or fails by name, and the
//! machine exits with the verdict.

use crate::kprintln;

/// Counts the boot script's checks.
#[derive(Debug, Default)]
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    /// Records one check.
    pub fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
            kprintln!("PASS {what}");
        } else {
            self.failed += 1;
            kprintln!("FAIL {what}");
        }
    }

    /// Prints the tally and leaves the machine: status 0 only if every
    /// check passed.
    pub fn finish(&self) -> ! {
        kprintln!("system: {} passed, {} failed", self.passed, self.failed);
        crate::arch::exit::exit(if self.failed == 0 { 0 } else { 1 })
    }
}
