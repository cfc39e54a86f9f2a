//! Typing helpers the tiled-array kernels share (`rand_tile`, `slice`, the stencil steps, the
//! dense tile kernels): a window inside an array, an f64 matrix, a square tile. Each
//! kernel's own rule is in its file under `kernels/`.

use super::op::{matrix, ArgType};
use super::value::DType;

/// Checks that a window of `shape` at `offset` lies inside `whole`.
pub(crate) fn window_fits(
    op: &str,
    shape: &[usize],
    offset: &[usize],
    whole: &[usize],
) -> Result<(), String> {
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

pub(crate) fn f64_matrix<'a>(a: &ArgType<'a>, i: usize, op: &str) -> Result<&'a [usize], String> {
    let (d, s) = matrix(a, i, op)?;
    if d != DType::F64 {
        return Err(format!("op {op}: args[{i}] must be f64, got {d}"));
    }
    Ok(s)
}

pub(crate) fn square(a: &ArgType<'_>, i: usize, op: &str) -> Result<usize, String> {
    let s = f64_matrix(a, i, op)?;
    if s[0] != s[1] {
        return Err(format!("op {op}: args[{i}] must be square, got {s:?}"));
    }
    Ok(s[0])
}
