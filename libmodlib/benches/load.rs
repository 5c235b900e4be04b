//! Load benchmarks (filled in below).

fn main() {}
