//! `rand_spd`: a tile of the seed-generated symmetric positive definite matrix
//! A = (R + Rᵀ)/2 + n·I with R = rand(seed, [n, n]); diagonally dominant, hence SPD.

use super::rand::{bits, unit_f64};
use crate::graph::{Array, Value};

/// The window of A at `offset` with `shape`.
pub(super) fn rand_spd(seed: u64, n: usize, offset: &[usize], shape: &[usize]) -> Value {
    let (h, w) = (shape[0], shape[1]);
    let r = |i: usize, j: usize| unit_f64(bits(seed, (i * n + j) as u64));
    let mut v = Vec::with_capacity(h * w);
    for a in 0..h {
        let i = offset[0] + a;
        for b in 0..w {
            let j = offset[1] + b;
            let x = 0.5 * (r(i, j) + r(j, i));
            v.push(if i == j { x + n as f64 } else { x });
        }
    }
    Value::Array(Array::from_f64(shape.to_vec(), v))
}
