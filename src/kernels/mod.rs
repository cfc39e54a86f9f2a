//! CPU kernels, one per file, and the dispatch from an `Op` to its kernel.
//!
//! Kernels are pure functions of their inputs: no MPI, no scheduler state. Every kernel is
//! deterministic whatever the thread count (reductions use fixed chunking, never rayon's
//! dynamic split), which is what makes results bit-identical across rank and thread counts.
//! Large inputs are processed in parallel on the calling rayon pool.

mod busy;
mod elementwise;
mod fill;
mod matmul;
mod rand;
mod sum;
mod transpose;

use crate::graph::{Op, Value};
use std::path::Path;

pub use elementwise::BinOp;

/// One positional argument as a kernel sees it.
#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// The value of another task.
    Value(&'a Value),
    /// A number literal.
    Number(f64),
    /// A shape literal.
    Shape(&'a [usize]),
}

impl Input<'_> {
    /// The input as a scalar, if it is a number or a scalar value.
    pub fn scalar(&self) -> Option<f64> {
        match self {
            Input::Number(x) => Some(*x),
            Input::Value(Value::Scalar(x)) => Some(*x),
            _ => None,
        }
    }
}

/// A kernel failed while running (for example an integer division by zero).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct KernelError(pub String);

/// Runs `op` on `args`. Arguments were type-checked when the graph was built, so a mismatch
/// here is a bug and panics (the scheduler turns a panic into a task failure).
pub fn run(op: &Op, args: &[Input<'_>]) -> Result<Value, KernelError> {
    let shape = |i: usize| match args[i] {
        Input::Shape(s) => s,
        _ => panic!("op {op}: args[{i}] should be a shape"),
    };
    let value = |i: usize| match args[i] {
        Input::Value(v) => v,
        _ => panic!("op {op}: args[{i}] should be a value"),
    };
    match op {
        Op::Rand { seed, dtype } => Ok(rand::rand(*seed, *dtype, shape(0))),
        Op::Fill { dtype } => Ok(fill::fill(
            *dtype,
            shape(0),
            args[1].scalar().expect("typed"),
        )),
        Op::Load { file, dataset, ty } => crate::store::read_dataset(Path::new(file), dataset, ty)
            .map_err(|e| KernelError(e.to_string())),
        Op::Add => elementwise::binary(BinOp::Add, args[0], args[1]),
        Op::Sub => elementwise::binary(BinOp::Sub, args[0], args[1]),
        Op::Mul => elementwise::binary(BinOp::Mul, args[0], args[1]),
        Op::Div => elementwise::binary(BinOp::Div, args[0], args[1]),
        Op::Sum => Ok(Value::Scalar(sum::sum(value(0).as_array().expect("typed")))),
        Op::Matmul => Ok(matmul::matmul(
            value(0).as_array().expect("typed"),
            value(1).as_array().expect("typed"),
        )),
        Op::Transpose => Ok(transpose::transpose(value(0).as_array().expect("typed"))),
        Op::Busy { iterations } => {
            busy::burn(*iterations);
            Ok(value(0).clone())
        }
    }
}

/// Arrays at least this long are processed in parallel chunks.
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Chunk length for parallel elementwise work and for the fixed-order reduction.
pub(crate) const CHUNK: usize = 1 << 13;
