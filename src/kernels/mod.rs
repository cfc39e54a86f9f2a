//! CPU kernels, one per file, and the dispatch from an `Op` to its kernel.
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
    let array = |i: usize| value(i).as_array().expect("typed");
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
        Op::RandTile {
            seed,
            dtype,
            global,
            offset,
        } => Ok(rand_tile::rand_tile(
            *seed,
            *dtype,
            global,
            offset,
            shape(0),
        )),
        Op::RandSpd { seed, n, offset } => Ok(rand_spd::rand_spd(*seed, *n, offset, shape(0))),
        Op::LoadTile {
            file,
            dataset,
            dtype,
            offset,
            shape,
        } => crate::store::read_window(Path::new(file), dataset, *dtype, offset, shape)
            .map_err(|e| KernelError(e.to_string())),
        Op::Slice { offset, shape } => Ok(slice::slice(array(0), offset, shape)),
        Op::LifeStep { normalize, frame } => Ok(life::life_step(args, *normalize, *frame)),
        Op::HeatStep {
            alpha,
            global,
            offset,
        } => Ok(heat::heat_step(args, *alpha, global, offset)),
        Op::Conv2d { kshape, kernel } => Ok(conv2d::conv2d(args, *kshape, kernel)),
        Op::Potrf => potrf::potrf(array(0)),
        Op::Trsm => Ok(trsm::trsm(array(0), array(1))),
        Op::Syrk => Ok(syrk::syrk(array(0), array(1))),
        Op::GemmNt => Ok(gemm_nt::gemm_nt(array(0), array(1), array(2))),
        Op::MatmulAcc => Ok(matmul_acc::matmul_acc(array(0), array(1), array(2))),
        Op::TaskBench(t) => taskbench::run(t, args),
        Op::Kernel(c) => c.run(args),
    }
}

/// Arrays at least this long are processed in parallel chunks.
pub(crate) const PAR_MIN: usize = 1 << 16;
/// Chunk length for parallel elementwise work and for the fixed-order reduction.
pub(crate) const CHUNK: usize = 1 << 13;
