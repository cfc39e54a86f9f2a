//! A tile with its neighbours' strips, read one padded row at a time: what the stencil
//! kernels (`life_step`, `heat_step`, `conv2d`) iterate over.
//!
//! The tile is `h`×`w`; the halo is `hr` rows above and below and `hc` columns left and
//! right. Padded row `r` runs from −hr to h+hr−1: rows above 0 come from the north strip
//! (with the nw and ne corners), rows from h on from the south strip, the others from the
//! west strip, the tile and the east strip. Building a row costs one copy of w+2hc elements
//! into a small buffer that stays in cache, instead of copying the whole tile.

use super::Input;
use crate::graph::Array;

/// One side of the halo: a neighbour's strip (row-major, `cols` wide) or a constant.
#[derive(Clone, Copy)]
enum Side<'a, T> {
    Strip(&'a [T], usize),
    Const(T),
}

impl<T: Copy> Side<'_, T> {
    fn copy_row(&self, row: usize, out: &mut [T]) {
        match *self {
            Side::Strip(v, cols) => out.copy_from_slice(&v[row * cols..(row + 1) * cols]),
            Side::Const(x) => out.fill(x),
        }
    }
}

/// A tile and its halo, as passed to a stencil kernel.
pub(super) struct Halo<'a, T> {
    tile: &'a [T],
    /// Tile rows.
    pub(super) h: usize,
    /// Tile columns.
    pub(super) w: usize,
    hr: usize,
    hc: usize,
    /// n, s, w, e, nw, ne, sw, se.
    sides: [Side<'a, T>; 8],
}

impl<'a, T: Copy + Default> Halo<'a, T> {
    /// Reads `[tile, n, s, w, e]` or `[tile, n, s, w, e, nw, ne, sw, se]` (missing corners
    /// read as `T::default()`); `data` views an array as `T`, `from_f64` converts a number.
    pub(super) fn new(
        args: &[Input<'a>],
        halo: [usize; 2],
        data: fn(&'a Array) -> Option<&'a [T]>,
        from_f64: fn(f64) -> T,
    ) -> Halo<'a, T> {
        let array = |i: usize| match args[i] {
            Input::Value(v) => v.as_array().expect("typed"),
            _ => panic!("args[{i}] should be an array"),
        };
        let tile = array(0);
        let (h, w) = (tile.shape()[0], tile.shape()[1]);
        let [hr, hc] = halo;
        let widths = [w, w, hc, hc, hc, hc, hc, hc];
        let mut sides = [Side::Const(T::default()); 8];
        for (k, side) in sides.iter_mut().enumerate() {
            let i = k + 1;
            if i >= args.len() {
                break;
            }
            *side = match args[i] {
                Input::Value(_) => Side::Strip(data(array(i)).expect("typed"), widths[k]),
                other => Side::Const(from_f64(other.scalar().expect("typed"))),
            };
        }
        Halo {
            tile: data(tile).expect("typed"),
            h,
            w,
            hr,
            hc,
            sides,
        }
    }

    /// Width of a padded row: w + 2hc.
    pub(super) fn padded_width(&self) -> usize {
        self.w + 2 * self.hc
    }

    /// Writes padded row `r` (−hr ≤ r < h+hr) into `out` (length w + 2hc).
    pub(super) fn row(&self, r: isize, out: &mut [T]) {
        let (h, w, hc) = (self.h as isize, self.w, self.hc);
        let (left, rest) = out.split_at_mut(hc);
        let (mid, right) = rest.split_at_mut(w);
        let [n, s, we, e, nw, ne, sw, se] = self.sides;
        if r < 0 {
            let k = (r + self.hr as isize) as usize;
            nw.copy_row(k, left);
            n.copy_row(k, mid);
            ne.copy_row(k, right);
        } else if r >= h {
            let k = (r - h) as usize;
            sw.copy_row(k, left);
            s.copy_row(k, mid);
            se.copy_row(k, right);
        } else {
            let k = r as usize;
            we.copy_row(k, left);
            mid.copy_from_slice(&self.tile[k * w..(k + 1) * w]);
            e.copy_row(k, right);
        }
    }
}
