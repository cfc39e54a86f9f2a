//! `sum`: the sum of all elements as an f64, in a fixed order.
//!
//! The array is cut into fixed chunks of `CHUNK` elements; each chunk is summed left to right,
//! then the chunk sums are added left to right. The chunking depends only on the length, so
//! the result is the same bits whatever the thread count; chunks run in parallel when large.

use super::{CHUNK, PAR_MIN};
use crate::device::{array_arg, DeviceInput, GpuOps, Launched};
use crate::graph::op::operand;
use crate::graph::{ArgType, DType, Value, ValueType};
use crate::graph::{Array, Data};
use crate::job::{JobError, Params};
use crate::kernels::{array_in, Input, KernelError, ALL};
use crate::registry::{Builtin, CostArgs, Gpu};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::Path;

fn chunked<T: Copy + Sync>(v: &[T], to_f64: impl Fn(T) -> f64 + Sync) -> f64 {
    let chunk_sum = |c: &[T]| c.iter().fold(0.0f64, |s, &x| s + to_f64(x));
    let partials: Vec<f64> = if v.len() >= PAR_MIN {
        v.par_chunks(CHUNK).map(chunk_sum).collect()
    } else {
        v.chunks(CHUNK).map(chunk_sum).collect()
    };
    partials.iter().fold(0.0, |s, &x| s + x)
}

/// The sum of the array's elements.
pub(super) fn sum(a: &Array) -> f64 {
    match a.data() {
        Data::F64(v) => chunked(v, |x| x),
        Data::F32(v) => chunked(v, f64::from),
        Data::I64(v) => chunked(v, |x| x as f64),
        Data::U8(v) => chunked(v, f64::from),
    }
}

/// `sum`: the sum of all elements, as an f64 scalar, in a fixed order: args `[a]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sum;

impl Builtin for Sum {
    const NAME: &'static str = "sum";
    const ARGS: &'static str = "[a]";
    const ARITY: Option<usize> = Some(1);
    const IN_JOBS: bool = true;
    const GPU: Option<Gpu> = Gpu::exact(ALL);
    crate::builtin_record!();

    fn parse(_: &mut Params<'_>, _: &Path) -> Result<Self, JobError> {
        Ok(Self)
    }

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        match operand(&args[0], 0)? {
            Some(_) => Ok(ValueType::Scalar),
            None => Err("op sum takes an array, got a scalar".into()),
        }
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(Value::Scalar(sum(array_in(args, 0))))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        100.0 + 0.5 * c.input(0).map_or(0, ValueType::len) as f64
    }

    fn launch(&self, dev: &dyn GpuOps, dtype: DType, args: &[DeviceInput<'_>]) -> Launched {
        dev.reduce_sum(dtype, array_arg(args, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_sequential_sum_of_chunks() {
        let v: Vec<f64> = (0..200_000).map(|i| (i as f64).sin()).collect();
        let mut expect = 0.0;
        for c in v.chunks(CHUNK) {
            let mut s = 0.0;
            for &x in c {
                s += x;
            }
            expect += s;
        }
        let got = sum(&Array::from_f64(vec![v.len()], v));
        assert_eq!(got.to_bits(), expect.to_bits());
    }
}
