//! The built-in kernels, one per file: each file's params type implements
//! `registry::Builtin` (name, signature, typing rule, params parser, CPU function, cost hint,
//! GPU function) beside the CPU code, and `registry/builtins.rs` registers it in one line.
//!
//! Kernels are pure functions of their inputs: no MPI, no scheduler state. Every kernel is
//! deterministic whatever the thread count (reductions use fixed chunking, never rayon's
//! dynamic split), which is what makes results bit-identical across rank and thread counts.
//! Large inputs are processed in parallel on the calling rayon pool.

mod busy;
mod conv2d;
mod elementwise;
mod fill;
mod gemm_nt;
mod halo;
mod heat;
mod life;
mod load;
mod matmul;
mod matmul_acc;
mod potrf;
mod rand;
mod rand_spd;
mod rand_tile;
mod slice;
mod sum;
mod syrk;
mod taskbench;
mod transpose;
mod trsm;

use crate::graph::{Array, DType, Op, Value, ValueType};

pub use busy::Busy;
pub use conv2d::Conv2d;
pub use elementwise::{Add, BinOp, Div, Mul, Sub};
pub use fill::Fill;
pub use gemm_nt::GemmNt;
pub use heat::HeatStep;
pub use life::LifeStep;
pub use load::{Load, LoadTile};
pub use matmul::Matmul;
pub use matmul_acc::MatmulAcc;
pub use potrf::Potrf;
pub use rand::Rand;
pub use rand_spd::RandSpd;
pub use rand_tile::RandTile;
pub use slice::Slice;
pub use sum::Sum;
pub use syrk::Syrk;
pub use taskbench::TaskBenchTask;
pub use transpose::Transpose;
pub use trsm::Trsm;

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

/// Runs `op` on `args`: its record's CPU function (one indirect call).
pub fn run(op: &Op, args: &[Input<'_>]) -> Result<Value, KernelError> {
    op.run(args)
}

/// Argument `i` as a shape literal (typed when the graph was built: a mismatch is a bug).
pub(crate) fn shape_in<'a>(args: &[Input<'a>], i: usize) -> &'a [usize] {
    match args[i] {
        Input::Shape(s) => s,
        _ => panic!("args[{i}] should be a shape"),
    }
}

/// Argument `i` as a value.
pub(crate) fn value_in<'a>(args: &[Input<'a>], i: usize) -> &'a Value {
    match args[i] {
        Input::Value(v) => v,
        _ => panic!("args[{i}] should be a value"),
    }
}

/// Argument `i` as an array.
pub(crate) fn array_in<'a>(args: &[Input<'a>], i: usize) -> &'a Array {
    value_in(args, i).as_array().expect("typed")
}

/// Extent of axis `a` of an array type (1 for a scalar), for cost hints.
pub(crate) fn dim(ty: &ValueType, a: usize) -> f64 {
    match ty {
        ValueType::Array { shape, .. } => shape.get(a).copied().unwrap_or(1) as f64,
        ValueType::Scalar => 1.0,
    }
}

/// Every dtype: the GPU functions that run on all of them.
pub(crate) const ALL: &[DType] = &[DType::F64, DType::F32, DType::I64, DType::U8];
/// The float dtypes.
pub(crate) const FLOATS: &[DType] = &[DType::F64, DType::F32];
/// f64 alone (the stencil and dense tile kernels).
pub(crate) const F64: &[DType] = &[DType::F64];

/// Arrays at least this long are processed in parallel chunks.
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Chunk length for parallel elementwise work and for the fixed-order reduction.
pub(crate) const CHUNK: usize = 1 << 13;
