//! `life_step`: one Conway B3/S23 step of a u8 tile from its neighbours' one-cell strips.
//!
//! Rows are computed in fixed chunks in parallel, straight from the tile and the strips (no
//! padded copy): the interior columns of a row in one vectorisable loop, its two edge columns
//! apart. Cells are 0 or 1; with `normalize`, the inputs are first copied with every nonzero
//! byte read as 1 (initial data loaded from a file). Every cell depends only on its
//! neighbourhood, so any chunking gives the same bits.

use super::halo::{Halo, RowParts};
use super::Input;
use crate::graph::{buffers, Array, Data, Value};
use rayon::prelude::*;

/// Rows per parallel chunk: about 64 KiB of output.
fn chunk_rows(w: usize) -> usize {
    (1usize << 16).div_ceil(w.max(1)).max(1)
}

#[inline]
fn rule(s: u8, alive: u8) -> u8 {
    (s == 3) as u8 | ((s == 2) as u8 & alive)
}

/// The next state of one row from the padded rows above (`a`), at (`b`) and below (`c`).
fn step_row(a: &RowParts<'_, u8>, b: &RowParts<'_, u8>, c: &RowParts<'_, u8>, out: &mut [u8]) {
    let w = out.len();
    let edge = |j: usize| {
        let j = j as isize;
        let s = a.at(j - 1, w)
            + a.at(j, w)
            + a.at(j + 1, w)
            + b.at(j - 1, w)
            + b.at(j + 1, w)
            + c.at(j - 1, w)
            + c.at(j, w)
            + c.at(j + 1, w);
        rule(s, b.at(j, w))
    };
    out[0] = edge(0);
    if w == 1 {
        return;
    }
    out[w - 1] = edge(w - 1);
    if w == 2 {
        return;
    }
    let n = w - 2;
    let (a0, a1, a2) = (&a.mid[..n], &a.mid[1..n + 1], &a.mid[2..n + 2]);
    let (b0, b1, b2) = (&b.mid[..n], &b.mid[1..n + 1], &b.mid[2..n + 2]);
    let (c0, c1, c2) = (&c.mid[..n], &c.mid[1..n + 1], &c.mid[2..n + 2]);
    let o = &mut out[1..n + 1];
    for j in 0..n {
        let s = a0[j] + a1[j] + a2[j] + b0[j] + b2[j] + c0[j] + c1[j] + c2[j];
        o[j] = rule(s, b1[j]);
    }
}

fn step(args: &[Input<'_>]) -> Value {
    let halo = Halo::new(args, [1, 1], Array::as_u8, |x| (x != 0.0) as u8);
    let (h, w) = (halo.h, halo.w);
    // Every cell is written below.
    let mut out = buffers::take::<u8>(h * w);
    let rows = chunk_rows(w);
    let chunk = |(ci, part): (usize, &mut [u8])| {
        let r0 = (ci * rows) as isize;
        for (k, orow) in part.chunks_mut(w).enumerate() {
            let r = r0 + k as isize;
            step_row(&halo.parts(r - 1), &halo.parts(r), &halo.parts(r + 1), orow);
        }
    };
    if w > 0 && h > 0 {
        if h * w >= super::PAR_MIN {
            out.par_chunks_mut(rows * w).enumerate().for_each(chunk);
        } else {
            out.chunks_mut(rows * w).enumerate().for_each(chunk);
        }
    }
    Value::Array(Array::recycled(vec![h, w], Data::U8(out)))
}

/// A copy of a u8 array with every nonzero byte as 1.
fn binary(v: &Value) -> Value {
    let a = v.as_array().expect("typed");
    let cells = a.as_u8().expect("typed").iter().map(|&x| (x != 0) as u8);
    Value::Array(Array::new(a.shape().to_vec(), Data::U8(cells.collect())))
}

/// One step of the tile in `args[0]` with its eight neighbour strips.
pub(super) fn life_step(args: &[Input<'_>], normalize: bool) -> Value {
    if !normalize {
        return step(args);
    }
    let owned: Vec<Option<Value>> = args
        .iter()
        .map(|a| match a {
            Input::Value(v) => Some(binary(v)),
            _ => None,
        })
        .collect();
    let args: Vec<Input<'_>> = args
        .iter()
        .zip(&owned)
        .map(|(a, o)| o.as_ref().map_or(*a, Input::Value))
        .collect();
    step(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(h: usize, w: usize, cells: Vec<u8>) -> Value {
        Value::Array(Array::new(vec![h, w], Data::U8(cells)))
    }

    #[test]
    fn blinker_turns() {
        // A vertical blinker in a 3×3 tile with dead surroundings turns horizontal.
        let t = tile(3, 3, vec![0, 1, 0, 0, 1, 0, 0, 1, 0]);
        let mut args = vec![Input::Value(&t)];
        args.extend([Input::Number(0.0); 8]);
        let v = life_step(&args, false);
        assert_eq!(
            v.as_array().unwrap().as_u8().unwrap(),
            &[0, 0, 0, 1, 1, 1, 0, 0, 0]
        );
    }

    #[test]
    fn nonzero_bytes_are_alive_when_normalizing() {
        let t = tile(3, 3, vec![0, 7, 0, 0, 255, 0, 0, 2, 0]);
        let mut args = vec![Input::Value(&t)];
        args.extend([Input::Number(0.0); 8]);
        let v = life_step(&args, true);
        assert_eq!(
            v.as_array().unwrap().as_u8().unwrap(),
            &[0, 0, 0, 1, 1, 1, 0, 0, 0]
        );
    }

    #[test]
    fn narrow_tiles_read_their_strips() {
        // A 1-column tile: every cell is an edge cell; neighbours come from the strips.
        let t = tile(3, 1, vec![0, 1, 0]);
        let west = tile(3, 1, vec![1, 0, 1]);
        let east = tile(3, 1, vec![0, 0, 0]);
        let mut args = vec![Input::Value(&t), Input::Number(0.0), Input::Number(0.0)];
        args.extend([Input::Value(&west), Input::Value(&east)]);
        args.extend([Input::Number(0.0); 4]);
        // By hand: the middle cell is alive with 2 live neighbours (west rows 0 and 2) and
        // survives; the top and bottom cells are dead with 2 (west[0] or west[2], and t[1]).
        let v = life_step(&args, false);
        assert_eq!(v.as_array().unwrap().as_u8().unwrap(), &[0, 1, 0]);
    }
}
