//! The Cortex-M machine's own boot checks, before the shared script: the
//! MPU's plan in place, the module pool handing out W^X granules, and the
//! built-in unprivileged tasks, one well-behaved and the others ended by
//! the kernel for touching kernel memory, their own code, and code in
//! their data.

use core::sync::atomic::AtomicU32;

use super::mem::{self, Mem};
use super::mpu;
use super::usertasks;
use crate::checks::Checks;
use crate::kprintln;
use crate::protect::{MemoryProtection, Pool, Prot};
use crate::task::{self, Outcome};

/// A kernel data word a task tries to read.
static KERNEL_SECRET: AtomicU32 = AtomicU32::new(0x5ec2_e7ed);

type Entry = extern "C" fn(u32, u32) -> !;

/// Runs `entry(a0, a1)` unprivileged on a stack granule of the user pool.
fn spawn(name: &str, entry: Entry, a0: u32, a1: u32) -> Outcome {
    kprintln!("> user task: {name}");
    let granule = Mem::GRANULE;
    let Some(stack) = Mem::reserve(Pool::User, granule, granule) else {
        return Outcome::NotStarted("no user stack".into());
    };
    if !Mem::commit(Pool::User, stack, granule) {
        return Outcome::NotStarted("no user stack".into());
    }
    let ctx = super::user::UserContext::start(
        entry as *const () as u32,
        (stack + granule) as u32,
        a0,
        a1,
    );
    let outcome = task::serve(ctx);
    task::report(&outcome);
    outcome
}

fn data_violation_at(outcome: &Outcome, at: u64) -> bool {
    matches!(outcome, Outcome::Faulted { cause, address, .. }
        if cause.contains("data access violation") && *address == at)
}

/// Reserves module memory, writes it as data, turns part of it into
/// code, and returns it.
fn module_pool_round_trip() -> bool {
    let g = Mem::GRANULE;
    let Some(at) = Mem::reserve(Pool::Module, 2 * g, g) else {
        return false;
    };
    let ok = Mem::commit(Pool::Module, at, 2 * g)
        && Mem::protect(Pool::Module, at, g, Prot::ReadExecute)
        && {
            Mem::sync_icache();
            true
        }
        && !Mem::protect(Pool::Module, at + 2 * g, g, Prot::ReadWrite)
        && Mem::release(Pool::Module, at, 2 * g);
    ok && mem::used().0 == 0
}

/// Runs the script, recording its checks.
pub fn run(checks: &mut Checks) {
    let g = Mem::GRANULE as u32;
    kprintln!("--- memory protection ---");
    checks.check(
        super::mpu_regions() == mpu::REGIONS,
        "the MPU has the 8 regions the plan uses",
    );
    checks.check(
        module_pool_round_trip(),
        "module pool: granules reserved, committed, made code and returned",
    );

    kprintln!("--- unprivileged tasks ---");
    let secret = &raw const KERNEL_SECRET as u32;
    let outcome = spawn("hello (write, then exit 0)", usertasks::hello, secret, 0);
    checks.check(
        outcome == Outcome::Exited(0),
        "a task printed through the write system call, which refused a kernel pointer",
    );
    let outcome = spawn(
        "load-code (data granule made read-execute, called)",
        usertasks::load_code,
        g,
        0,
    );
    checks.check(
        outcome == Outcome::Exited(42),
        "code written to a granule and protected read-execute ran",
    );

    kprintln!("--- protection ---");
    let outcome = spawn(
        "read-kernel (reads kernel data)",
        usertasks::read_kernel,
        secret,
        0,
    );
    checks.check(
        data_violation_at(&outcome, u64::from(secret)),
        "a task's read of kernel data faulted and the kernel went on",
    );
    let code = run as *const () as u32 & !1;
    let outcome = spawn(
        "read-kernel (reads kernel code)",
        usertasks::read_kernel,
        code,
        0,
    );
    checks.check(
        data_violation_at(&outcome, u64::from(code)),
        "a task's read of kernel code faulted and the kernel went on",
    );
    let text = (usertasks::write_text as *const () as usize & !1) as u64;
    let outcome = spawn(
        "write-text (writes its own code)",
        usertasks::write_text,
        0,
        0,
    );
    checks.check(
        data_violation_at(&outcome, text),
        "a task's write to its read-only code faulted (W^X)",
    );
    let outcome = spawn(
        "exec-data (calls code in its data)",
        usertasks::exec_data,
        g,
        0,
    );
    checks.check(
        matches!(outcome, Outcome::Faulted { cause, address, .. }
            if cause.contains("instruction access violation")
                && (mem::USER_POOL_START..mem::USER_POOL_END).contains(&address)),
        "a task's jump into its data faulted (data is never executable)",
    );

    let top = secret + 64;
    let outcome = spawn(
        "bad-stack (system call with its stack in kernel data)",
        usertasks::bad_stack,
        top,
        0,
    );
    checks.check(
        matches!(outcome, Outcome::Faulted { cause, address, .. }
            if cause.contains("stacking") && (u64::from(secret)..u64::from(top)).contains(&address)),
        "a task whose stack points into kernel data faulted on the system call",
    );

    checks.check(
        mem::used() == (0, 0),
        "every module and user granule returned",
    );
}
