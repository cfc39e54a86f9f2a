//! The kernel names a task can carry, their parameters, and their typing rules.
//!
//! Type inference runs when a task is spawned, so a shape mismatch is reported against the task
//! that causes it before anything runs. The kernels themselves live in `crate::kernels`.

use super::op_tiled;
use super::stencil::Frame;
use super::value::{DType, ValueType};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A kernel and its op-specific parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// Uniform [0,1) values (0 or 1 for integer dtypes), a pure function of (seed, shape, dtype).
    Rand {
        /// Seed of the counter-based generator.
        seed: u64,
        /// Element type.
        dtype: DType,
    },
    /// A constant array: args `[shape, value]`.
    Fill {
        /// Element type.
        dtype: DType,
    },
    /// An HDF5 dataset, probed at validation time so its type is known statically.
    Load {
        /// Path of the HDF5 file (resolved when the job was loaded).
        file: String,
        /// Dataset path inside the file.
        dataset: String,
        /// The dataset's type as found when the job was validated.
        ty: ValueType,
    },
    /// Elementwise `a + b`.
    Add,
    /// Elementwise `a - b`.
    Sub,
    /// Elementwise `a * b`.
    Mul,
    /// Elementwise `a / b`.
    Div,
    /// Sum of all elements, as an f64 scalar, in a fixed order.
    Sum,
    /// 2-D matrix product.
    Matmul,
    /// 2-D transpose.
    Transpose,
    /// Returns its input after burning CPU for `iterations` steps.
    Busy {
        /// Steps of a fixed arithmetic loop, about a nanosecond each.
        iterations: u64,
    },
    // The ops below are spawned by the workload generators (tiled arrays); job files do not
    // name them (they are not in `Op::NAMES`). Their typing rules live in `op_tiled.rs`.
    /// The window at `offset` of `rand(seed, global, dtype)`: args `[shape]`. A tile of a
    /// random array, the same bits whatever the tiling.
    RandTile {
        /// Seed of the counter-based generator.
        seed: u64,
        /// Element type.
        dtype: DType,
        /// Shape of the whole (virtual) random array.
        global: Vec<usize>,
        /// Where the window starts in it.
        offset: Vec<usize>,
    },
    /// A tile of a symmetric positive definite matrix: the window at `offset` of
    /// A = (R + Rᵀ)/2 + n·I, R = rand(seed, [n, n], f64). Args `[shape]`.
    RandSpd {
        /// Seed of R.
        seed: u64,
        /// Order of A.
        n: usize,
        /// Where the window starts in A.
        offset: Vec<usize>,
    },
    /// The window at `offset` of an HDF5 dataset, read as `dtype` (HDF5 converts). No args.
    LoadTile {
        /// Path of the HDF5 file (resolved when the job was loaded).
        file: String,
        /// Dataset path inside the file.
        dataset: String,
        /// Element type of the result.
        dtype: DType,
        /// Where the window starts.
        offset: Vec<usize>,
        /// Extent of the window.
        shape: Vec<usize>,
    },
    /// The block of `a` at `offset` with `shape` (a halo strip of a tile): args `[a]`.
    Slice {
        /// Where the block starts.
        offset: Vec<usize>,
        /// Extent of the block.
        shape: Vec<usize>,
    },
    /// One Game of Life step (B3/S23) of a u8 tile: args `[c, n, s, w, e, nw, ne, sw, se]`,
    /// the tile and its neighbours' strips; a number stands for a strip of that constant
    /// (cells outside a `dead` grid). With `Frame::PLAIN` the strips are one cell deep and the
    /// result is the tile's next state; deep halos grow and shrink it (`stencil::Frame`).
    LifeStep {
        /// The inputs may hold bytes other than 0 and 1 (data loaded from a file): read every
        /// nonzero byte as alive. Steps after the first see only 0 and 1.
        normalize: bool,
        /// Where the result lies relative to the tile.
        frame: Frame,
    },
    /// One explicit heat step of an f64 tile: args `[c, n, s, w, e]` (one-cell strips or
    /// numbers). Interior cells get u + alpha·(N+S+E+W−4u); cells on the outer ring of the
    /// global grid keep their value.
    HeatStep {
        /// Diffusion coefficient.
        alpha: f64,
        /// Shape of the whole grid.
        global: Vec<usize>,
        /// Where the tile starts in it.
        offset: Vec<usize>,
    },
    /// 2-D correlation of an f64 tile with `kernel`: args `[c, n, s, w, e, nw, ne, sw, se]`,
    /// strips kh/2 rows and kw/2 columns wide (numbers: constant outside the image).
    Conv2d {
        /// Kernel rows and columns (both odd).
        kshape: [usize; 2],
        /// Kernel values, row-major.
        kernel: Vec<f64>,
    },
    /// Cholesky factor of a tile: args `[a]`; the lower L with L·Lᵀ = a, zeros above the
    /// diagonal. A tile that is not positive definite fails the task.
    Potrf,
    /// Triangular solve: args `[l, b]`, returns X with X·lᵀ = b (l lower triangular).
    Trsm,
    /// Symmetric update: args `[c, a]`, returns c − a·aᵀ.
    Syrk,
    /// General update: args `[c, a, b]`, returns c − a·bᵀ.
    GemmNt,
    /// Accumulating product: args `[c, a, b]`, returns c + a·b.
    MatmulAcc,
    /// One task of a Task Bench graph (`crate::taskbench`): args are the outputs of its
    /// producers at the previous timestep, in `inputs` order; each is checked to hold
    /// (timestep − 1, producer) pairs, then the kernel runs and the result, a u8 array of
    /// shape [1, output_bytes], holds (timestep, point) pairs.
    TaskBench(Box<TaskBenchTask>),
    /// A kernel from the kernel table (`crate::registry`) that is not one of the variants
    /// above: an application's own. Its record gives its typing, CPU function and cost.
    Kernel(crate::registry::KernelCall),
}

/// The parameters of one Task Bench task (boxed in `Op` to keep the enum small).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskBenchTask {
    /// Which of the app's graphs (`-and`) the task belongs to.
    pub graph: i64,
    /// Its timestep (row).
    pub timestep: i64,
    /// Its point (column).
    pub point: i64,
    /// The kernel it runs.
    pub kernel: crate::taskbench::KernelSpec,
    /// Bytes of its output (`-output`).
    pub output_bytes: usize,
    /// Bytes of scratch memory (`-scratch`).
    pub scratch_bytes: usize,
    /// The producers' points at timestep − 1, one per argument, in argument order.
    pub inputs: Vec<i64>,
}

/// The static type of one positional argument, as seen by type inference.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgType<'a> {
    /// A value produced by another task.
    Value(&'a ValueType),
    /// A number literal.
    Number,
    /// A shape literal.
    Shape(&'a [usize]),
}

impl Op {
    /// The job-file name of this op.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Rand { .. } => "rand",
            Op::Fill { .. } => "fill",
            Op::Load { .. } => "load",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Sum => "sum",
            Op::Matmul => "matmul",
            Op::Transpose => "transpose",
            Op::Busy { .. } => "busy",
            Op::RandTile { .. } => "rand_tile",
            Op::RandSpd { .. } => "rand_spd",
            Op::LoadTile { .. } => "load_tile",
            Op::Slice { .. } => "slice",
            Op::LifeStep { .. } => "life_step",
            Op::HeatStep { .. } => "heat_step",
            Op::Conv2d { .. } => "conv2d",
            Op::Potrf => "potrf",
            Op::Trsm => "trsm",
            Op::Syrk => "syrk",
            Op::GemmNt => "gemm_nt",
            Op::MatmulAcc => "matmul_acc",
            Op::TaskBench(_) => "taskbench",
            Op::Kernel(c) => c.kernel().name(),
        }
    }

    /// Infers the result type from the argument types, or says what is wrong.
    pub fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let arity = |n: usize, what: &str| -> Result<(), String> {
            if args.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "op {} takes {n} argument{} ({what}), got {}",
                    self.name(),
                    if n == 1 { "" } else { "s" },
                    args.len()
                ))
            }
        };
        match self {
            Op::Rand { dtype, .. } => {
                arity(1, "[shape]")?;
                let shape = expect_shape(&args[0], 0)?;
                Ok(ValueType::Array {
                    dtype: *dtype,
                    shape: shape.to_vec(),
                })
            }
            Op::Fill { dtype } => {
                arity(2, "[shape, value]")?;
                let shape = expect_shape(&args[0], 0)?;
                expect_scalar(&args[1], 1)?;
                Ok(ValueType::Array {
                    dtype: *dtype,
                    shape: shape.to_vec(),
                })
            }
            Op::Load { ty, .. } => {
                arity(0, "none: the dataset is named in params")?;
                Ok(ty.clone())
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                arity(2, "[a, b]")?;
                let a = operand(&args[0], 0)?;
                let b = operand(&args[1], 1)?;
                match (a, b) {
                    (None, None) => Ok(ValueType::Scalar),
                    (Some(t), None) | (None, Some(t)) => Ok(t.clone()),
                    (Some(ta), Some(tb)) => {
                        if ta == tb {
                            Ok(ta.clone())
                        } else {
                            Err(format!(
                                "op {} needs arrays of one dtype and shape: got {ta} and {tb}",
                                self.name()
                            ))
                        }
                    }
                }
            }
            Op::Sum => {
                arity(1, "[a]")?;
                match operand(&args[0], 0)? {
                    Some(_) => Ok(ValueType::Scalar),
                    None => Err("op sum takes an array, got a scalar".into()),
                }
            }
            Op::Matmul => {
                arity(2, "[a, b]")?;
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
            Op::Transpose => {
                arity(1, "[a]")?;
                let (d, s) = matrix(&args[0], 0, "transpose")?;
                Ok(ValueType::Array {
                    dtype: d,
                    shape: vec![s[1], s[0]],
                })
            }
            Op::Busy { .. } => {
                arity(1, "[a]")?;
                match &args[0] {
                    ArgType::Value(t) => Ok((*t).clone()),
                    _ => Err("op busy takes the value of a task as args[0]".into()),
                }
            }
            Op::Kernel(c) => c.infer(args),
            _ => op_tiled::infer(self, args),
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(super) fn expect_shape<'a>(a: &ArgType<'a>, i: usize) -> Result<&'a [usize], String> {
    match a {
        ArgType::Shape(s) => Ok(s),
        _ => Err(format!("args[{i}] must be a shape (an array of integers)")),
    }
}

fn expect_scalar(a: &ArgType<'_>, i: usize) -> Result<(), String> {
    match a {
        ArgType::Number | ArgType::Value(ValueType::Scalar) => Ok(()),
        _ => Err(format!(
            "args[{i}] must be a number or the id of a task that yields a scalar"
        )),
    }
}

/// An elementwise operand: `Some(type)` for an array, `None` for a scalar.
fn operand<'a>(a: &ArgType<'a>, i: usize) -> Result<Option<&'a ValueType>, String> {
    match a {
        ArgType::Number | ArgType::Value(ValueType::Scalar) => Ok(None),
        ArgType::Value(t) => Ok(Some(t)),
        ArgType::Shape(_) => Err(format!(
            "args[{i}] is a shape; expected a task id or a number"
        )),
    }
}

pub(super) fn matrix<'a>(
    a: &ArgType<'a>,
    i: usize,
    op: &str,
) -> Result<(DType, &'a [usize]), String> {
    match a {
        ArgType::Value(ValueType::Array { dtype, shape }) if shape.len() == 2 => {
            Ok((*dtype, shape.as_slice()))
        }
        ArgType::Value(t) => Err(format!("op {op} needs 2-D arrays; args[{i}] is a {t}")),
        _ => Err(format!("op {op}: args[{i}] must be the id of a task")),
    }
}
