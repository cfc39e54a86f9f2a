//! `potrf`: the Cholesky factor of one diagonal tile (faer's LLᵀ, sequential inside the
//! tile: the tile graph supplies the parallelism, and the result does not depend on threads).

use super::KernelError;
use crate::device::{array_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op_tiled::square;
use crate::graph::{ArgType, DType, ValueType};
use crate::graph::{Array, Value};
use crate::kernels::{array_in, dim, Input, F64};
use crate::registry::{Builtin, CostArgs, Gpu};
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::{Mat, Par};
use serde::{Deserialize, Serialize};

/// L with L·Lᵀ = a (lower triangle of `a` read), zeros above the diagonal.
pub(super) fn potrf(a: &Array) -> Result<Value, KernelError> {
    let n = a.shape()[0];
    let v = a.as_f64().expect("typed");
    let mut m = Mat::<f64>::from_fn(n, n, |i, j| if j <= i { v[i * n + j] } else { 0.0 });
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(
        n,
        Par::Seq,
        Default::default(),
    ));
    cholesky_in_place(
        m.as_mut(),
        Default::default(),
        Par::Seq,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .map_err(|e| KernelError(format!("the tile is not positive definite ({e:?})")))?;
    let mut out = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            out[i * n + j] = m[(i, j)];
        }
    }
    Ok(Value::Array(Array::from_f64(vec![n, n], out)))
}

/// `potrf`: Cholesky factor of a tile: args `[a]`; the lower L with L·Lᵀ = a, zeros above the
/// diagonal. A tile that is not positive definite fails the task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Potrf;

impl Builtin for Potrf {
    const NAME: &'static str = "potrf";
    const ARGS: &'static str = "[a]";
    const ARITY: Option<usize> = Some(1);
    // cuBLAS and cuSOLVER sum in their own order: on the GPU only when scoped there.
    const GPU: Option<Gpu> = Gpu::own_order(F64);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let s = square(&args[0], 0, Self::NAME)?;
        Ok(ValueType::Array {
            dtype: DType::F64,
            shape: vec![s, s],
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        potrf(array_in(args, 0))
    }

    // Dense tile kernels: flops at about 20 per ns, like `matmul`.
    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        1_000.0 + c.len() * dim(c.out, 0) / 3.0 / 20.0
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.potrf_tile(array_arg(args, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_a_small_spd_matrix() {
        let a = Array::from_f64(vec![2, 2], vec![4.0, 2.0, 2.0, 5.0]);
        let l = potrf(&a).unwrap();
        assert_eq!(
            l.as_array().unwrap().as_f64().unwrap(),
            &[2.0, 0.0, 1.0, 2.0]
        );
        let bad = Array::from_f64(vec![2, 2], vec![1.0, 2.0, 2.0, 1.0]);
        assert!(potrf(&bad).is_err());
    }
}
