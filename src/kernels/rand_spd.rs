//! `rand_spd`: a tile of the seed-generated symmetric positive definite matrix
//! A = (R + Rᵀ)/2 + n·I with R = rand(seed, [n, n]); diagonally dominant, hence SPD.

use super::rand::{bits, unit_f64};
use crate::graph::op::expect_shape;
use crate::graph::op_tiled::window_fits;
use crate::graph::{ArgType, DType, ValueType};
use crate::graph::{Array, Value};
use crate::kernels::{shape_in, Input, KernelError};
use crate::registry::{Builtin, CostArgs};
use serde::{Deserialize, Serialize};

/// The window of A at `offset` with `shape`.
pub(super) fn rand_spd(seed: u64, n: usize, offset: &[usize], shape: &[usize]) -> Value {
    let (h, w) = (shape[0], shape[1]);
    let r = |i: usize, j: usize| unit_f64(bits(seed, (i * n + j) as u64));
    let mut v = Vec::with_capacity(h * w);
    for a in 0..h {
        let i = offset[0] + a;
        for b in 0..w {
            let j = offset[1] + b;
            let x = 0.5 * (r(i, j) + r(j, i));
            v.push(if i == j { x + n as f64 } else { x });
        }
    }
    Value::Array(Array::from_f64(shape.to_vec(), v))
}

/// `rand_spd`: a tile of a symmetric positive definite matrix: the window at `offset` of
/// A = (R + Rᵀ)/2 + n·I, R = rand(seed, [n, n], f64). Args `[shape]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandSpd {
    /// Seed of R.
    pub seed: u64,
    /// Order of A.
    pub n: usize,
    /// Where the window starts in A.
    pub offset: Vec<usize>,
}

impl Builtin for RandSpd {
    const NAME: &'static str = "rand_spd";
    const ARGS: &'static str = "[shape]";
    const ARITY: Option<usize> = Some(1);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let shape = expect_shape(&args[0], 0)?;
        window_fits(Self::NAME, shape, &self.offset, &[self.n, self.n])?;
        Ok(ValueType::Array {
            dtype: DType::F64,
            shape: shape.to_vec(),
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        Ok(rand_spd(self.seed, self.n, &self.offset, shape_in(args, 0)))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        200.0 + 6.0 * c.len()
    }
}
