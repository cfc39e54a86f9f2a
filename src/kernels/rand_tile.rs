//! `rand_tile`: a window of a virtual `rand` array, so a tiled array generated tile by tile has
//! the same bits as `rand(seed, global)` whatever the tiling or rank count.

use super::rand::{bits, coin, unit_f32, unit_f64};
use crate::graph::buffers::{self, Element};
use crate::graph::op::expect_shape;
use crate::graph::op_tiled::window_fits;
use crate::graph::{ArgType, ValueType};
use crate::graph::{Array, DType, Data, Value};
use crate::kernels::{shape_in, Input, KernelError};
use crate::registry::{Builtin, CostArgs};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Global linear index of the first element of each row (last axis) of the window.
fn row_starts(global: &[usize], offset: &[usize], shape: &[usize]) -> Vec<u64> {
    let d = shape.len();
    if d == 0 {
        return vec![0];
    }
    let rows: usize = shape[..d - 1].iter().product();
    let mut starts = Vec::with_capacity(rows);
    let mut idx = vec![0usize; d - 1];
    for _ in 0..rows {
        let mut lin = 0u64;
        for a in 0..d - 1 {
            lin = lin * global[a] as u64 + (offset[a] + idx[a]) as u64;
        }
        starts.push(lin * global[d - 1] as u64 + offset[d - 1] as u64);
        for a in (0..d - 1).rev() {
            idx[a] += 1;
            if idx[a] < shape[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    starts
}

/// The window's elements in a buffer of the tile pool (`graph::buffers`), which the next
/// steps of a stencil reuse once this tile dies; from the allocator, the initial tiles'
/// memory stayed with the process (`benches/memory.py --tiles 8,1`: Life peaked at 2× the
/// data a rank owns).
fn window<T: Element + Sync>(
    seed: u64,
    global: &[usize],
    offset: &[usize],
    shape: &[usize],
    f: impl Fn(u64) -> T + Sync,
) -> Vec<T> {
    let w = shape.last().copied().unwrap_or(1);
    let starts = row_starts(global, offset, shape);
    // Every element is written below.
    let mut out = buffers::take::<T>(starts.len() * w);
    if w == 0 {
        return out;
    }
    let fill = |(row, chunk): (usize, &mut [T])| {
        let s = starts[row];
        for (j, x) in chunk.iter_mut().enumerate() {
            *x = f(bits(seed, s + j as u64));
        }
    };
    if out.len() >= super::PAR_MIN {
        out.par_chunks_mut(w).enumerate().for_each(fill);
    } else {
        out.chunks_mut(w).enumerate().for_each(fill);
    }
    out
}

/// The window of `rand(seed, global, dtype)` at `offset` with `shape`.
pub(super) fn rand_tile(
    seed: u64,
    dtype: DType,
    global: &[usize],
    offset: &[usize],
    shape: &[usize],
) -> Value {
    let data = match dtype {
        DType::F64 => Data::F64(window(seed, global, offset, shape, unit_f64)),
        DType::F32 => Data::F32(window(seed, global, offset, shape, unit_f32)),
        DType::I64 => Data::I64(window(seed, global, offset, shape, |b| i64::from(coin(b)))),
        DType::U8 => Data::U8(window(seed, global, offset, shape, coin)),
    };
    Value::Array(Array::recycled(shape.to_vec(), data))
}

/// `rand_tile`: the window at `offset` of `rand(seed, global, dtype)`: args `[shape]`. A
/// tile of a random array, the same bits whatever the tiling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RandTile {
    /// Seed of the counter-based generator.
    pub seed: u64,
    /// Element type.
    pub dtype: DType,
    /// Shape of the whole (virtual) random array.
    pub global: Vec<usize>,
    /// Where the window starts in it.
    pub offset: Vec<usize>,
}

impl Builtin for RandTile {
    const NAME: &'static str = "rand_tile";
    const ARGS: &'static str = "[shape]";
    const ARITY: Option<usize> = Some(1);
    crate::builtin_record!();

    fn infer(&self, args: &[ArgType<'_>]) -> Result<ValueType, String> {
        let shape = expect_shape(&args[0], 0)?;
        window_fits(Self::NAME, shape, &self.offset, &self.global)?;
        Ok(ValueType::Array {
            dtype: self.dtype,
            shape: shape.to_vec(),
        })
    }

    fn run(&self, args: &[Input<'_>]) -> Result<Value, KernelError> {
        let shape = shape_in(args, 0);
        Ok(rand_tile(
            self.seed,
            self.dtype,
            &self.global,
            &self.offset,
            shape,
        ))
    }

    fn cost_ns(&self, c: &CostArgs<'_>) -> f64 {
        200.0 + 2.0 * c.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_match_the_whole_array() {
        let global = [7, 9];
        let whole = super::super::rand::rand(3, DType::F64, &global);
        let whole = whole.as_array().unwrap().as_f64().unwrap().to_vec();
        let t = rand_tile(3, DType::F64, &global, &[2, 4], &[3, 5]);
        let t = t.as_array().unwrap().as_f64().unwrap().to_vec();
        for i in 0..3 {
            for j in 0..5 {
                assert_eq!(t[i * 5 + j], whole[(2 + i) * 9 + 4 + j]);
            }
        }
    }
}
