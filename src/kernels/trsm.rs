//! `trsm`: X with X·Lᵀ = B for a lower-triangular tile L (the panel update of a tiled
//! Cholesky), solved as L·Xᵀ = Bᵀ by faer, sequentially inside the tile.

use crate::graph::{Array, Value};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{MatMut, MatRef, Par};

/// X = B·L⁻ᵀ.
pub(super) fn trsm(l: &Array, b: &Array) -> Value {
    let s = l.shape()[0];
    let m = b.shape()[0];
    let lm = MatRef::from_row_major_slice(l.as_f64().expect("typed"), s, s);
    let mut x = b.as_f64().expect("typed").to_vec();
    if m > 0 && s > 0 {
        let xm = MatMut::from_row_major_slice_mut(&mut x, m, s);
        solve_lower_triangular_in_place(lm, xm.transpose_mut(), Par::Seq);
    }
    Value::Array(Array::from_f64(vec![m, s], x))
}
