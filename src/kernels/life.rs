//! `life_step`: one Conway B3/S23 step of a u8 tile from its neighbours' one-cell strips.
//!
//! Rows are computed in fixed chunks in parallel; each chunk keeps a rolling window of three
//! padded rows. A cell is alive when its byte is nonzero; results are 0 or 1. Every cell
//! depends only on its neighbourhood, so any chunking gives the same bits.

use super::halo::Halo;
use super::Input;
use crate::graph::{Array, Data, Value};
use rayon::prelude::*;

/// Rows per parallel chunk: about 64 KiB of output.
fn chunk_rows(w: usize) -> usize {
    (1usize << 16).div_ceil(w.max(1)).max(1)
}

/// The next state of one row from the padded rows above (`a`), at (`b`) and below (`c`).
#[inline]
fn step_row(a: &[u8], b: &[u8], c: &[u8], out: &mut [u8]) {
    let w = out.len();
    let (a, b, c) = (&a[..w + 2], &b[..w + 2], &c[..w + 2]);
    for j in 0..w {
        let s = a[j] + a[j + 1] + a[j + 2] + b[j] + b[j + 2] + c[j] + c[j + 1] + c[j + 2];
        out[j] = (s == 3) as u8 | ((s == 2) as u8 & b[j + 1]);
    }
}

fn fill_row(halo: &Halo<'_, u8>, r: isize, buf: &mut [u8]) {
    halo.row(r, buf);
    for x in buf.iter_mut() {
        *x = (*x != 0) as u8;
    }
}

/// One step of the tile in `args[0]` with its eight neighbour strips.
pub(super) fn life_step(args: &[Input<'_>]) -> Value {
    let halo = Halo::new(args, [1, 1], Array::as_u8, |x| (x != 0.0) as u8);
    let (h, w) = (halo.h, halo.w);
    let pw = halo.padded_width();
    let mut out = vec![0u8; h * w];
    let rows = chunk_rows(w);
    let chunk = |(ci, part): (usize, &mut [u8])| {
        let r0 = (ci * rows) as isize;
        let mut bufs = [vec![0u8; pw], vec![0u8; pw], vec![0u8; pw]];
        fill_row(&halo, r0 - 1, &mut bufs[0]);
        fill_row(&halo, r0, &mut bufs[1]);
        for (k, orow) in part.chunks_mut(w).enumerate() {
            fill_row(&halo, r0 + k as isize + 1, &mut bufs[(k + 2) % 3]);
            step_row(&bufs[k % 3], &bufs[(k + 1) % 3], &bufs[(k + 2) % 3], orow);
        }
    };
    if w > 0 && h > 0 {
        if h * w >= super::PAR_MIN {
            out.par_chunks_mut(rows * w).enumerate().for_each(chunk);
        } else {
            out.chunks_mut(rows * w).enumerate().for_each(chunk);
        }
    }
    Value::Array(Array::new(vec![h, w], Data::U8(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blinker_turns() {
        // A vertical blinker in a 3×3 tile with dead surroundings turns horizontal.
        let tile = Value::Array(Array::new(
            vec![3, 3],
            Data::U8(vec![0, 1, 0, 0, 1, 0, 0, 1, 0]),
        ));
        let mut args = vec![Input::Value(&tile)];
        args.extend([Input::Number(0.0); 8]);
        let v = life_step(&args);
        assert_eq!(
            v.as_array().unwrap().as_u8().unwrap(),
            &[0, 0, 0, 1, 1, 1, 0, 0, 0]
        );
    }
}
