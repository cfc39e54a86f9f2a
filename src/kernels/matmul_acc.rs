//! `matmul_acc`: C + A·B, one step of a tiled GEMM's fixed-order accumulation over the inner
//! tiles (faer GEMM, sequential inside the tile).

use super::gemm_nt::{update_cost, update_shape};
use crate::graph::{ArgType, ValueType};
use crate::graph::{Array, Value};
use crate::kernels::{array_in, Input, KernelError};
use crate::registry::{Builtin, CostArgs};
use faer::{Accum, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

/// C + A·B (C m×n, A m×k, B k×n).
pub(super) fn matmul_acc(c: &Array, a: &Array, b: &Array) -> Value {
    let (m, n) = (c.shape()[0], c.shape()[1]);
    let k = a.shape()[1];
    let am = MatRef::from_row_major_slice(a.as_f64().expect("typed"), m, k);
    let bm = MatRef::from_row_major_slice(b.as_f64().expect("typed"), k, n);
    let mut out = c.as_f64().expect("typed").to_vec();
    if m > 0 && n > 0 {
        let om = MatMut::from_row_major_slice_mut(&mut out, m, n);
        faer::linalg::matmul::matmul(om, Accum::Add, am, bm, 1.0, Par::Seq);
    }
    Value::Array(Array::from_f64(vec![m, n], out))
}

/// `matmul_acc`: accumulating product: args `[c, a, b]`, returns c + a·b.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatmulAcc;

impl Builtin for MatmulAcc {
    const NAME: &'static str = "matmul_acc";
    const ARGS: &'static str = "[c, a, b]";
    const ARITY: Option<usize> = Some(3);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        update_shape(Self::NAME, args, false)
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(matmul_acc(
            array_in(args, 0),
            array_in(args, 1),
            array_in(args, 2),
        ))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        update_cost(c)
    }
}
