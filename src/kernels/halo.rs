//! A tile with its neighbours' strips, read one padded row at a time: what the stencil
//! kernels (`life_step`, `heat_step`, `conv2d`) iterate over.
//!
//! The tile is `h`×`w`; the halo is `hr` rows above and below and `hc` columns left and
//! right. Padded row `r` runs from −hr to h+hr−1: rows above 0 come from the north strip
//! (with the nw and ne corners), rows from h on from the south strip, the others from the
//! west strip, the tile and the east strip. `parts` hands out a padded row as its three
//! pieces without copying; `row` copies it into a buffer (w + 2hc elements, in cache).

use super::Input;
use crate::graph::{stencil, Array};

/// One side of the halo: a strip in a neighbour's array (`width` cells a row from `start`,
/// rows `stride` apart; `graph::stencil` says where) or one row of a constant (every row of
/// a constant side is the same).
enum Side<'a, T> {
    Strip {
        data: &'a [T],
        start: usize,
        stride: usize,
        width: usize,
    },
    Const(Vec<T>),
}

impl<T: Copy> Side<'_, T> {
    fn row(&self, row: usize) -> &[T] {
        match self {
            Side::Strip {
                data,
                start,
                stride,
                width,
            } => {
                let at = start + row * stride;
                &data[at..at + width]
            }
            Side::Const(r) => r,
        }
    }
}

/// A padded row in three pieces: `hc` cells left of the tile, `w` cells above, in or below
/// it, `hc` cells right of it.
pub(super) struct RowParts<'r, T> {
    /// The cells left of the tile's columns.
    pub(super) left: &'r [T],
    /// The cells in the tile's columns.
    pub(super) mid: &'r [T],
    /// The cells right of the tile's columns.
    pub(super) right: &'r [T],
}

impl<T: Copy> RowParts<'_, T> {
    /// The cell at column `j` (−hc ≤ j < w + hc, w the tile's width) of the row padded by
    /// its left and right halo cells.
    #[inline]
    pub(super) fn at(&self, j: isize, w: usize) -> T {
        if j < 0 {
            self.left[(self.left.len() as isize + j) as usize]
        } else if j as usize >= w {
            self.right[j as usize - w]
        } else {
            self.mid[j as usize]
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
    /// read as `T::default()`; a side array may be larger than its strip, see
    /// `graph::stencil`); `data` views an array as `T`, `from_f64` converts a number.
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
        let sides = std::array::from_fn(|k| {
            let i = k + 1;
            match args.get(i) {
                Some(Input::Value(_)) => {
                    let a = array(i);
                    let (start, stride) = stencil::strip_origin(k, a.shape(), halo);
                    Side::Strip {
                        data: data(a).expect("typed"),
                        start,
                        stride,
                        width: widths[k],
                    }
                }
                Some(other) => {
                    Side::Const(vec![from_f64(other.scalar().expect("typed")); widths[k]])
                }
                None => Side::Const(vec![T::default(); widths[k]]),
            }
        });
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

    /// Padded row `r` (−hr ≤ r < h+hr) as its three pieces, without copying.
    pub(super) fn parts(&self, r: isize) -> RowParts<'_, T> {
        let (h, w) = (self.h as isize, self.w);
        let [n, s, we, e, nw, ne, sw, se] = &self.sides;
        let (l, m, rt, k) = if r < 0 {
            (nw, n, ne, (r + self.hr as isize) as usize)
        } else if r >= h {
            (sw, s, se, (r - h) as usize)
        } else {
            let k = r as usize;
            return RowParts {
                left: we.row(k),
                mid: &self.tile[k * w..(k + 1) * w],
                right: e.row(k),
            };
        };
        RowParts {
            left: l.row(k),
            mid: m.row(k),
            right: rt.row(k),
        }
    }

    /// Writes padded row `r` (−hr ≤ r < h+hr) into `out` (length w + 2hc).
    pub(super) fn row(&self, r: isize, out: &mut [T]) {
        let p = self.parts(r);
        let (left, rest) = out.split_at_mut(self.hc);
        let (mid, right) = rest.split_at_mut(self.w);
        left.copy_from_slice(p.left);
        mid.copy_from_slice(p.mid);
        right.copy_from_slice(p.right);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Data, Value};

    /// A 15×12 array cut into 3×3 tiles of 5×4; cell (r, c) of the array.
    fn cell(r: usize, c: usize) -> u8 {
        (r * 31 + c * 7 + (r * c) % 5) as u8
    }

    /// Rows r0.. and columns c0.. of the array, `h`×`w`.
    fn window(r0: usize, c0: usize, h: usize, w: usize) -> Value {
        let cells = (0..h * w).map(|k| cell(r0 + k / w, c0 + k % w)).collect();
        Value::Array(Array::new(vec![h, w], Data::U8(cells)))
    }

    #[test]
    fn whole_neighbour_tiles_read_as_their_strips() {
        let (h, w, hr, hc) = (5, 4, 2, 1);
        let tile = window(h, w, h, w);
        let tile_at = |di: isize, dj: isize| {
            window(
                (h as isize * (1 + di)) as usize,
                (w as isize * (1 + dj)) as usize,
                h,
                w,
            )
        };
        // The strips cut to the halo's shape, and the whole neighbour tiles.
        let strips: Vec<Value> = stencil::SIDES
            .iter()
            .map(|&(di, dj)| {
                let (r0, rh) = match di {
                    -1 => (h - hr, hr),
                    1 => (2 * h, hr),
                    _ => (h, h),
                };
                let (c0, cw) = match dj {
                    -1 => (w - hc, hc),
                    1 => (2 * w, hc),
                    _ => (w, w),
                };
                window(r0, c0, rh, cw)
            })
            .collect();
        let tiles: Vec<Value> = stencil::SIDES
            .iter()
            .map(|&(di, dj)| tile_at(di, dj))
            .collect();
        for sides in [&strips, &tiles] {
            let args: Vec<Input<'_>> = std::iter::once(&tile)
                .chain(sides.iter())
                .map(Input::Value)
                .collect();
            let halo = Halo::new(&args, [hr, hc], Array::as_u8, |x| x as u8);
            let mut row = vec![0u8; halo.padded_width()];
            for r in -(hr as isize)..(h + hr) as isize {
                halo.row(r, &mut row);
                let want: Vec<u8> = (0..w + 2 * hc)
                    .map(|c| cell((h as isize + r) as usize, w - hc + c))
                    .collect();
                assert_eq!(row, want, "padded row {r}");
            }
        }
    }
}
