//! `trsm`: X with X·Lᵀ = B for a lower-triangular tile L (the panel update of a tiled
//! Cholesky), solved as L·Xᵀ = Bᵀ by faer, sequentially inside the tile.

use crate::device::{array_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op_tiled::{f64_matrix, square};
use crate::graph::{ArgType, DType, ValueType};
use crate::graph::{Array, Value};
use crate::kernels::KernelError;
use crate::kernels::{array_in, dim, Input, F64};
use crate::registry::{Builtin, CostArgs, Gpu};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

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

/// `trsm`: triangular solve: args `[l, b]`, returns X with X·lᵀ = b (l lower triangular).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trsm;

impl Builtin for Trsm {
    const NAME: &'static str = "trsm";
    const ARGS: &'static str = "[l, b]";
    const ARITY: Option<usize> = Some(2);
    // cuBLAS and cuSOLVER sum in their own order: on the GPU only when scoped there.
    const GPU: Option<Gpu> = Gpu::own_order(F64);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let s = square(&args[0], 0, Self::NAME)?;
        let b = f64_matrix(&args[1], 1, Self::NAME)?;
        if b[1] != s {
            return Err(format!(
                "op {}: b has {} columns, l is {s}×{s}",
                Self::NAME,
                b[1]
            ));
        }
        Ok(ValueType::Array {
            dtype: DType::F64,
            shape: b.to_vec(),
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(trsm(array_in(args, 0), array_in(args, 1)))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        1_000.0 + c.len() * dim(c.out, 1) / 20.0
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.trsm_tile(array_arg(args, 0), array_arg(args, 1))
    }
}
