//! `syrk`: C − A·Aᵀ for a diagonal tile of a tiled Cholesky (faer GEMM, sequential inside the
//! tile; the full tile is updated so later kernels may read either triangle).

use super::gemm_nt::update_cost;
use crate::device::{array_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op_tiled::{f64_matrix, square};
use crate::graph::{ArgType, DType, ValueType};
use crate::graph::{Array, Value};
use crate::kernels::KernelError;
use crate::kernels::{array_in, Input, F64};
use crate::registry::{Builtin, CostArgs, Gpu};
use faer::{Accum, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

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

/// `syrk`: symmetric update: args `[c, a]`, returns c − a·aᵀ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Syrk;

impl Builtin for Syrk {
    const NAME: &'static str = "syrk";
    const ARGS: &'static str = "[c, a]";
    const ARITY: Option<usize> = Some(2);
    // cuBLAS and cuSOLVER sum in their own order: on the GPU only when scoped there.
    const GPU: Option<Gpu> = Gpu::own_order(F64);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let s = square(&args[0], 0, Self::NAME)?;
        let a = f64_matrix(&args[1], 1, Self::NAME)?;
        if a[0] != s {
            return Err(format!(
                "op {}: a has {} rows, c is {s}×{s}",
                Self::NAME,
                a[0]
            ));
        }
        Ok(ValueType::Array {
            dtype: DType::F64,
            shape: vec![s, s],
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(syrk(array_in(args, 0), array_in(args, 1)))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        update_cost(c)
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.syrk_tile(array_arg(args, 0), array_arg(args, 1))
    }
}
