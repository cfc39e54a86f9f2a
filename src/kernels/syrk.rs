//! `syrk`: C − A·Aᵀ for a diagonal tile of a tiled Cholesky (faer GEMM, sequential inside the
//! tile; the full tile is updated so later kernels may read either triangle).

use crate::graph::{Array, Value};
use faer::{Accum, MatMut, MatRef, Par};

/// C − A·Aᵀ.
pub(super) fn syrk(c: &Array, a: &Array) -> Value {
    let (n, k) = (a.shape()[0], a.shape()[1]);
    let am = MatRef::from_row_major_slice(a.as_f64().expect("typed"), n, k);
    let mut out = c.as_f64().expect("typed").to_vec();
    if n > 0 {
        let om = MatMut::from_row_major_slice_mut(&mut out, n, n);
        faer::linalg::matmul::matmul(om, Accum::Add, am, am.transpose(), -1.0, Par::Seq);
    }
    Value::Array(Array::from_f64(vec![n, n], out))
}
