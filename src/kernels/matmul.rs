//! `matmul`: the 2-D product, through faer for floats.
//!
//! Large products are cut into fixed blocks of `ROWS` output rows that run in parallel, each a
//! sequential faer GEMM; the blocking depends only on the shapes, so the result is the same
//! bits whatever the thread count.

use crate::device::{array_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op::matrix;
use crate::graph::{ArgType, DType, ValueType};
use crate::graph::{Array, Data, Value};
use crate::job::{JobError, Params};
use crate::kernels::{array_in, Input, KernelError, FLOATS};
use crate::registry::{Builtin, CostArgs, Gpu};
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

const ROWS: usize = 256;

fn gemm_f<T>(a: &[T], b: &[T], m: usize, k: usize, n: usize) -> Vec<T>
where
    T: faer::traits::ComplexField + Copy + Default + Send + Sync,
{
    let mut c = vec![T::default(); m * n];
    let bm = MatRef::from_row_major_slice(b, k, n);
    let block = |(i, cb): (usize, &mut [T])| {
        let rows = cb.len() / n.max(1);
        let r0 = i * ROWS;
        let am = MatRef::from_row_major_slice(&a[r0 * k..(r0 + rows) * k], rows, k);
        let cm = MatMut::from_row_major_slice_mut(cb, rows, n);
        faer::linalg::matmul::matmul(cm, Accum::Replace, am, bm, T::one_impl(), Par::Seq);
    };
    if n == 0 || m == 0 {
        return c;
    }
    if m * n * k >= 1 << 21 {
        c.par_chunks_mut(ROWS * n).enumerate().for_each(block);
    } else {
        c.chunks_mut(ROWS * n).enumerate().for_each(block);
    }
    c
}

fn gemm_int<T>(
    a: &[T],
    b: &[T],
    m: usize,
    k: usize,
    n: usize,
    mul_add: impl Fn(T, T, T) -> T,
) -> Vec<T>
where
    T: Copy + Default,
{
    let mut c = vec![T::default(); m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p];
            for j in 0..n {
                c[i * n + j] = mul_add(c[i * n + j], x, b[p * n + j]);
            }
        }
    }
    c
}

/// The product of an m×k and a k×n array.
pub(super) fn matmul(a: &Array, b: &Array) -> Value {
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    let data = match (a.data(), b.data()) {
        (Data::F64(x), Data::F64(y)) => Data::F64(gemm_f(x, y, m, k, n)),
        (Data::F32(x), Data::F32(y)) => Data::F32(gemm_f(x, y, m, k, n)),
        (Data::I64(x), Data::I64(y)) => Data::I64(gemm_int(x, y, m, k, n, |c, p, q| {
            c.wrapping_add(p.wrapping_mul(q))
        })),
        (Data::U8(x), Data::U8(y)) => Data::U8(gemm_int(x, y, m, k, n, |c, p, q| {
            c.wrapping_add(p.wrapping_mul(q))
        })),
        _ => panic!("matmul dtypes were checked when the graph was built"),
    };
    Value::Array(Array::new(vec![m, n], data))
}

/// `matmul`: the 2-D matrix product: args `[a, b]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Matmul;

impl Builtin for Matmul {
    const NAME: &'static str = "matmul";
    const ARGS: &'static str = "[a, b]";
    const ARITY: Option<usize> = Some(2);
    const IN_JOBS: bool = true;
    // cuBLAS sums in its own order: on the GPU only when scoped there.
    const GPU: Option<Gpu> = Gpu::own_order(FLOATS);
    crate::builtin_record!();

    fn parse(_: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
        Ok(Self)
    }

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let (da, sa) = matrix(&args[0], 0, "matmul")?;
        let (db, sb) = matrix(&args[1], 1, "matmul")?;
        if da != db {
            return Err(format!("op matmul needs one dtype, got {da} and {db}"));
        }
        if sa[1] != sb[0] {
            return Err(format!(
                "op matmul: inner dimensions differ ({sa:?} times {sb:?})"
            ));
        }
        Ok(ValueType::Array {
            dtype: da,
            shape: vec![sa[0], sb[1]],
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(matmul(array_in(args, 0), array_in(args, 1)))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        let k = match c.input(0) {
            Some(ValueType::Array { shape, .. }) => shape[1],
            _ => 1,
        };
        1_000.0 + 2.0 * c.len() * k as f64 / 20.0
    }

    fn launch(&self, dev: &dyn GpuOps, dtype: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.product(dtype, array_arg(args, 0), array_arg(args, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_product() {
        let (m, k, n) = (300, 70, 50);
        let a: Vec<f64> = (0..m * k).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
        let b: Vec<f64> = (0..k * n).map(|i| ((i * 5) % 11) as f64 * 0.5).collect();
        let got = matmul(
            &Array::from_f64(vec![m, k], a.clone()),
            &Array::from_f64(vec![k, n], b.clone()),
        );
        let got = got.as_array().unwrap().as_f64().unwrap().to_vec();
        for i in 0..m {
            for j in 0..n {
                let e: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert_eq!(got[i * n + j], e, "({i},{j})");
            }
        }
    }
}
