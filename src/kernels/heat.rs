//! `heat_step`: one explicit finite-difference step of the heat equation on an f64 tile.
//!
//! Interior cells get `u + alpha * (n + s + e + w - 4.0 * u)` (evaluated left to right);
//! cells on the outer ring of the global grid keep their value. Each cell depends only on
//! its neighbourhood, so any chunking gives the same bits.

use super::halo::Halo;
use super::Input;
use crate::graph::{Array, Value};
use rayon::prelude::*;

/// One step of the tile in `args[0]` (at `offset` of a `global` grid) with its four strips.
pub(super) fn heat_step(
    args: &[Input<'_>],
    alpha: f64,
    global: &[usize],
    offset: &[usize],
) -> Value {
    let halo = Halo::new(args, [1, 1], Array::as_f64, |x| x);
    let (h, w) = (halo.h, halo.w);
    let pw = halo.padded_width();
    let (gh, gw) = (global[0], global[1]);
    let mut out = vec![0.0f64; h * w];
    let rows = (1usize << 13).div_ceil(w.max(1)).max(1);
    let chunk = |(ci, part): (usize, &mut [f64])| {
        let r0 = ci * rows;
        let mut bufs = [vec![0.0; pw], vec![0.0; pw], vec![0.0; pw]];
        halo.row(r0 as isize - 1, &mut bufs[0]);
        halo.row(r0 as isize, &mut bufs[1]);
        for (k, orow) in part.chunks_mut(w).enumerate() {
            halo.row((r0 + k + 1) as isize, &mut bufs[(k + 2) % 3]);
            let (a, b, c) = (&bufs[k % 3], &bufs[(k + 1) % 3], &bufs[(k + 2) % 3]);
            let gr = offset[0] + r0 + k;
            let ring_row = gr == 0 || gr + 1 == gh;
            for (j, o) in orow.iter_mut().enumerate() {
                let gc = offset[1] + j;
                let u = b[j + 1];
                *o = if ring_row || gc == 0 || gc + 1 == gw {
                    u
                } else {
                    u + alpha * (a[j + 1] + c[j + 1] + b[j + 2] + b[j] - 4.0 * u)
                };
            }
        }
    };
    if w > 0 && h > 0 {
        if h * w >= super::PAR_MIN {
            out.par_chunks_mut(rows * w).enumerate().for_each(chunk);
        } else {
            out.chunks_mut(rows * w).enumerate().for_each(chunk);
        }
    }
    Value::Array(Array::from_f64(vec![h, w], out))
}
