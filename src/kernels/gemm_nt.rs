//! `gemm_nt`: C − A·Bᵀ, the trailing update of a tiled Cholesky (faer GEMM, sequential inside
//! the tile).

use crate::device::{array_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op_tiled::f64_matrix;
use crate::graph::{ArgType, DType, ValueType};
use crate::graph::{Array, Value};
use crate::kernels::KernelError;
use crate::kernels::{array_in, dim, Input, F64};
use crate::registry::{Builtin, CostArgs, Gpu};
use faer::{Accum, MatMut, MatRef, Par};
use serde::{Deserialize, Serialize};

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

/// `gemm_nt`: general update: args `[c, a, b]`, returns c − a·bᵀ.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GemmNt;

impl Builtin for GemmNt {
    const NAME: &'static str = "gemm_nt";
    const ARGS: &'static str = "[c, a, b]";
    const ARITY: Option<usize> = Some(3);
    // cuBLAS and cuSOLVER sum in their own order: on the GPU only when scoped there.
    const GPU: Option<Gpu> = Gpu::own_order(F64);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        update_shape(Self::NAME, args, true)
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(gemm_nt(
            array_in(args, 0),
            array_in(args, 1),
            array_in(args, 2),
        ))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        update_cost(c)
    }

    fn launch(&self, dev: &dyn GpuOps, _: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.gemm_nt_tile(array_arg(args, 0), array_arg(args, 1), array_arg(args, 2))
    }
}

/// The typing rule of a tile update `[c, a, b]`: c (m×n) − a (m×k) · bᵀ (b n×k) when
/// `transposed`, else c + a (m×k) · b (k×n).
pub(super) fn update_shape(
    name: &str,
    args: &[ArgType<'_>],
    transposed: bool,
) -> Result<ValueType, String> {
    let c = f64_matrix(&args[0], 0, name)?;
    let a = f64_matrix(&args[1], 1, name)?;
    let b = f64_matrix(&args[2], 2, name)?;
    let (k_b, n_b) = if transposed {
        (b[1], b[0])
    } else {
        (b[0], b[1])
    };
    if a[0] != c[0] || n_b != c[1] || a[1] != k_b {
        return Err(format!(
            "op {name}: shapes do not agree (c {c:?}, a {a:?}, b {b:?})"
        ));
    }
    Ok(ValueType::Array {
        dtype: DType::F64,
        shape: c.to_vec(),
    })
}

/// The cost hint of a tile update whose args[1] is m×k: 2·m·n·k flops at about 20 per ns.
pub(super) fn update_cost(c: &CostArgs<'_>) -> f64 {
    1_000.0 + 2.0 * c.len() * c.input(1).map_or(1.0, |a| dim(a, 1)) / 20.0
}
