//! `busy`: burn CPU for a number of steps of a fixed arithmetic loop (about 1 ns each), for
//! scheduling benchmarks.

use std::hint::black_box;

/// Runs `iterations` dependent multiply-adds that the compiler cannot remove.
pub(super) fn burn(iterations: u64) {
    let mut x = black_box(1.0f64);
    for _ in 0..iterations {
        x = x * 0.999_999_9 + 1e-7;
    }
    black_box(x);
}
