//! What the stress tests and the fuzz mutator share: a small seeded random
//! generator and the operation count a stress run uses.

/// xorshift64: fixed seeds make every run pick the same sequence.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator for worker `index` of a run (distinct, non-zero seeds).
    pub fn for_thread(index: usize) -> Rng {
        Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d))
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Operations per thread of a stress run: `STRESS_OPS` if set, else
/// `native` on x86-64 and `emulated` elsewhere (where the suites run under
/// qemu-user).
pub fn ops_per_thread(native: usize, emulated: usize) -> usize {
    let default = if cfg!(target_arch = "x86_64") {
        native
    } else {
        emulated
    };
    std::env::var("STRESS_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
