//! Typing rules of the tiled-array ops (`rand_tile`, `slice`, the stencil steps and the
//! dense tile kernels). Split from `op.rs` so each file stays one idea: the ops a job file
//! names there, the ops the workload generators spawn here.

use super::op::{expect_shape, matrix, ArgType, Op};
use super::stencil;
use super::value::{DType, ValueType};

/// Infers the result type of a tiled-array op.
pub(super) fn infer(op: &Op, args: &[ArgType<'_>]) -> Result<ValueType, String> {
    let name = op.name();
    let arity = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!("op {name} takes {n} arguments, got {}", args.len()))
        }
    };
    let array = |dtype: DType, shape: Vec<usize>| Ok(ValueType::Array { dtype, shape });
    match op {
        Op::RandTile {
            dtype,
            global,
            offset,
            ..
        } => {
            arity(1)?;
            let shape = expect_shape(&args[0], 0)?;
            window_fits(name, shape, offset, global)?;
            array(*dtype, shape.to_vec())
        }
        Op::RandSpd { n, offset, .. } => {
            arity(1)?;
            let shape = expect_shape(&args[0], 0)?;
            window_fits(name, shape, offset, &[*n, *n])?;
            array(DType::F64, shape.to_vec())
        }
        Op::LoadTile { dtype, shape, .. } => {
            arity(0)?;
            array(*dtype, shape.clone())
        }
        Op::Slice { offset, shape } => {
            arity(1)?;
            let ArgType::Value(ValueType::Array {
                dtype,
                shape: whole,
            }) = &args[0]
            else {
                return Err(format!("op {name}: args[0] must be an array task"));
            };
            window_fits(name, shape, offset, whole)?;
            array(*dtype, shape.clone())
        }
        Op::LifeStep { frame, .. } => {
            arity(9)?;
            let t = stencil::infer(name, args, DType::U8, frame.halo())?;
            let ValueType::Array { shape, .. } = &t else {
                unreachable!("stencil::infer types an array")
            };
            let shape = frame
                .shape([shape[0], shape[1]])
                .map_err(|e| format!("op {name}: {e}"))?;
            array(DType::U8, shape.to_vec())
        }
        Op::HeatStep { global, offset, .. } => {
            arity(5)?;
            let t = stencil::infer(name, args, DType::F64, [1, 1])?;
            if let ValueType::Array { shape, .. } = &t {
                window_fits(name, shape, offset, global)?;
            }
            Ok(t)
        }
        Op::Conv2d { kshape, kernel } => {
            arity(9)?;
            if kshape[0] % 2 == 0 || kshape[1] % 2 == 0 || kernel.len() != kshape[0] * kshape[1] {
                return Err(format!(
                    "op {name}: the kernel must have odd sides and {} values",
                    kshape[0] * kshape[1]
                ));
            }
            stencil::infer(name, args, DType::F64, [kshape[0] / 2, kshape[1] / 2])
        }
        Op::Potrf => {
            arity(1)?;
            let s = square(&args[0], 0, name)?;
            array(DType::F64, vec![s, s])
        }
        Op::Trsm => {
            arity(2)?;
            let s = square(&args[0], 0, name)?;
            let b = f64_matrix(&args[1], 1, name)?;
            if b[1] != s {
                return Err(format!("op {name}: b has {} columns, l is {s}×{s}", b[1]));
            }
            array(DType::F64, b.to_vec())
        }
        Op::Syrk => {
            arity(2)?;
            let s = square(&args[0], 0, name)?;
            let a = f64_matrix(&args[1], 1, name)?;
            if a[0] != s {
                return Err(format!("op {name}: a has {} rows, c is {s}×{s}", a[0]));
            }
            array(DType::F64, vec![s, s])
        }
        Op::GemmNt | Op::MatmulAcc => {
            arity(3)?;
            let c = f64_matrix(&args[0], 0, name)?;
            let a = f64_matrix(&args[1], 1, name)?;
            let b = f64_matrix(&args[2], 2, name)?;
            // gemm_nt: c (m×n) − a (m×k) · bᵀ (b is n×k); matmul_acc: c + a (m×k) · b (k×n).
            let (k_b, n_b) = if matches!(op, Op::GemmNt) {
                (b[1], b[0])
            } else {
                (b[0], b[1])
            };
            if a[0] != c[0] || n_b != c[1] || a[1] != k_b {
                return Err(format!(
                    "op {name}: shapes do not agree (c {c:?}, a {a:?}, b {b:?})"
                ));
            }
            array(DType::F64, c.to_vec())
        }
        Op::TaskBench(t) => {
            arity(t.inputs.len())?;
            let shape = vec![1, t.output_bytes];
            for (i, a) in args.iter().enumerate() {
                match a {
                    ArgType::Value(ValueType::Array { dtype: DType::U8, shape: s }) if *s == shape => {}
                    _ => {
                        return Err(format!(
                            "op {name}: args[{i}] must be a u8 array of shape {shape:?} (a Task Bench output)"
                        ))
                    }
                }
            }
            array(DType::U8, shape)
        }
        _ => unreachable!("op {name} is typed in op.rs"),
    }
}

fn window_fits(op: &str, shape: &[usize], offset: &[usize], whole: &[usize]) -> Result<(), String> {
    let fits = shape.len() == whole.len()
        && offset.len() == whole.len()
        && (0..whole.len()).all(|a| offset[a] + shape[a] <= whole[a]);
    if fits {
        Ok(())
    } else {
        Err(format!(
            "op {op}: window {shape:?} at {offset:?} does not fit in {whole:?}"
        ))
    }
}

fn f64_matrix<'a>(a: &ArgType<'a>, i: usize, op: &str) -> Result<&'a [usize], String> {
    let (d, s) = matrix(a, i, op)?;
    if d != DType::F64 {
        return Err(format!("op {op}: args[{i}] must be f64, got {d}"));
    }
    Ok(s)
}

fn square(a: &ArgType<'_>, i: usize, op: &str) -> Result<usize, String> {
    let s = f64_matrix(a, i, op)?;
    if s[0] != s[1] {
        return Err(format!("op {op}: args[{i}] must be square, got {s:?}"));
    }
    Ok(s[0])
}
