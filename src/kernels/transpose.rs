//! `transpose`: the 2-D transpose, by cache-friendly blocks.

use crate::graph::op::matrix;
use crate::graph::{ArgType, Value, ValueType};
use crate::graph::{Array, Data};
use crate::job::{JobError, Params};
use crate::kernels::{array_in, Input, KernelError};
use crate::registry::{Builtin, CostArgs};
use serde::{Deserialize, Serialize};
use std::path::Path;

const B: usize = 32;

fn transpose_vec<T: Copy + Default>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    let mut out = vec![T::default(); v.len()];
    for i0 in (0..rows).step_by(B) {
        for j0 in (0..cols).step_by(B) {
            for i in i0..(i0 + B).min(rows) {
                for j in j0..(j0 + B).min(cols) {
                    out[j * rows + i] = v[i * cols + j];
                }
            }
        }
    }
    out
}

/// The transpose of a 2-D array.
pub(super) fn transpose(a: &Array) -> crate::graph::Value {
    let (r, c) = (a.shape()[0], a.shape()[1]);
    let data = match a.data() {
        Data::F64(v) => Data::F64(transpose_vec(v, r, c)),
        Data::F32(v) => Data::F32(transpose_vec(v, r, c)),
        Data::I64(v) => Data::I64(transpose_vec(v, r, c)),
        Data::U8(v) => Data::U8(transpose_vec(v, r, c)),
    };
    crate::graph::Value::Array(Array::new(vec![c, r], data))
}

/// `transpose`: the 2-D transpose: args `[a]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transpose;

impl Builtin for Transpose {
    const NAME: &'static str = "transpose";
    const ARGS: &'static str = "[a]";
    const ARITY: Option<usize> = Some(1);
    const IN_JOBS: bool = true;
    crate::builtin_record!();

    fn parse(_: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
        Ok(Self)
    }

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let (d, s) = matrix(&args[0], 0, "transpose")?;
        Ok(ValueType::Array {
            dtype: d,
            shape: vec![s[1], s[0]],
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(transpose(array_in(args, 0)))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        100.0 + 2.0 * c.len()
    }
}
