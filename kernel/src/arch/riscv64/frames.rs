//! Physical page frames for user pages and module pages. The pool is not
//! part of the kernel's identity map, so a frame is reachable only through
//! the one mapping that uses it: W^X holds without aliases.

use alloc::vec::Vec;

use super::paging::PAGE;

struct Pool {
    next: u64,
    end: u64,
    free: Vec<u64>,
    used: u64,
}

static POOL: spin::Mutex<Pool> = spin::Mutex::new(Pool {
    next: 0,
    end: 0,
    free: Vec::new(),
    used: 0,
});

/// Hands `[start, end)` to the pool.
pub fn init(start: u64, end: u64) {
    let mut pool = POOL.lock();
    pool.next = start;
    pool.end = end;
}

/// A free frame (contents undefined), or `None` when RAM is exhausted.
pub fn alloc() -> Option<u64> {
    let mut pool = POOL.lock();
    let frame = if let Some(f) = pool.free.pop() {
        f
    } else if pool.next < pool.end {
        let f = pool.next;
        pool.next += PAGE;
        f
    } else {
        return None;
    };
    pool.used += 1;
    Some(frame)
}

/// Returns a frame.
pub fn free(frame: u64) {
    let mut pool = POOL.lock();
    pool.used -= 1;
    pool.free.push(frame);
}

/// Frames in use.
pub fn used() -> u64 {
    POOL.lock().used
}
