//! `gemm_nt`: C − A·Bᵀ, the trailing update of a tiled Cholesky (faer GEMM, sequential inside
//! the tile).

use crate::graph::{Array, Value};
use faer::{Accum, MatMut, MatRef, Par};

/// C − A·Bᵀ (C m×n, A m×k, B n×k).
pub(super) fn gemm_nt(c: &Array, a: &Array, b: &Array) -> Value {
    let (m, n) = (c.shape()[0], c.shape()[1]);
    let k = a.shape()[1];
    let am = MatRef::from_row_major_slice(a.as_f64().expect("typed"), m, k);
    let bm = MatRef::from_row_major_slice(b.as_f64().expect("typed"), n, k);
    let mut out = c.as_f64().expect("typed").to_vec();
    if m > 0 && n > 0 {
        let om = MatMut::from_row_major_slice_mut(&mut out, m, n);
        faer::linalg::matmul::matmul(om, Accum::Add, am, bm.transpose(), -1.0, Par::Seq);
    }
    Value::Array(Array::from_f64(vec![m, n], out))
}
