//! A stencil's arguments (`life_step`, `heat_step`, `conv2d`): the tile, then one argument per
//! side of its halo in the order n, s, w, e (and nw, ne, sw, se with corners). A side is a
//! number (a constant strip: cells outside a constant boundary) or an array of the neighbour
//! it borders: the strip itself, or any larger part of that neighbour ending at the tile (its
//! whole tile, or the strip of a side that contains the corner). The kernel reads the band
//! bordering the tile: the last rows of an array above the tile, the first rows of one below,
//! the last columns of one to the left, the first of one to the right. So a tile that is its
//! own neighbour (one tile along a periodic axis) is passed as itself, and a corner that lies
//! in a side's strip is read from that strip: no task cuts either.

use super::op::ArgType;
use super::value::{DType, ValueType};
use serde::{Deserialize, Serialize};

/// Each side's direction (rows, columns) from the tile, in argument order:
/// n, s, w, e, nw, ne, sw, se.
pub const SIDES: [(isize, isize); 8] = [
    (-1, 0),
    (1, 0),
    (0, -1),
    (0, 1),
    (-1, -1),
    (-1, 1),
    (1, -1),
    (1, 1),
];

/// The part of a neighbour's axis of length `len` that borders the tile, `depth` deep:
/// (first index, extent). Its last `depth` when it lies before the tile (d = −1), its first
/// `depth` after (d = 1), all of it beside (d = 0); `None` when `len` is shorter than that.
/// What `tiles::halo_args` cuts and what the kernels read (`strip_origin`) both come from
/// here.
pub fn band(d: isize, len: usize, depth: usize) -> Option<(usize, usize)> {
    match d {
        -1 => len.checked_sub(depth).map(|s| (s, depth)),
        1 => (depth <= len).then_some((0, depth)),
        _ => Some((0, len)),
    }
}

/// Where a stencil step's result lies relative to its tile, for deep halos (`kernels::LifeStep`):
/// strips k cells deep are exchanged once every k steps, and the steps between compute ghost
/// cells around the tile from them instead of exchanging again. The default is the tile
/// itself, from one-cell strips.
///
/// A run of k steps on one exchange (`job::workloads::life`): the first grows k − 1 ghost
/// rows and columns where a neighbour tile lies, from strips k deep; each middle step keeps
/// that frame and leaves one more ring of it stale (zero: it would need cells beyond the
/// strips); the last shrinks back to the tile. The middle steps keep the frame rather than
/// shrinking it a row a step, so a run has two value sizes (tile and frame), not k, and
/// each middle step's output rows lie where its input rows lay, as in a plain step
/// (`benches/stencil_frames.rs` times each kind of frame against a plain step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Frame {
    /// Rows or columns the result extends beyond the tile on each side n, s, w, e; negative
    /// where it stops short of the tile's edge.
    pub grow: [i32; 4],
    /// Rows or columns at the result's edges n, s, w, e that are zero instead of computed.
    pub stale: [u32; 4],
}

impl Frame {
    /// The tile itself, from one-cell strips.
    pub const PLAIN: Frame = Frame {
        grow: [0; 4],
        stale: [0; 4],
    };

    /// Cells a side's strip must hold across the tile's edge: one beyond the first computed
    /// row or column, none when that lies inside the tile.
    fn reach(&self, side: usize) -> usize {
        (i64::from(self.grow[side]) - i64::from(self.stale[side]) + 1).max(0) as usize
    }

    /// The halo the step reads, [rows, columns] (at least one deep: a side that is the tile
    /// itself or a constant is read as before).
    pub fn halo(&self) -> [usize; 2] {
        [
            self.reach(0).max(self.reach(1)).max(1),
            self.reach(2).max(self.reach(3)).max(1),
        ]
    }

    /// The result's shape for a tile of `tile`, or why there is none (a frame short of more
    /// than the tile, or more stale rows or columns than it has).
    pub fn shape(&self, tile: [usize; 2]) -> Result<[usize; 2], String> {
        let axis = |len: usize, a: usize| {
            let n = len as i64 + i64::from(self.grow[a]) + i64::from(self.grow[a + 1]);
            let stale = i64::from(self.stale[a]) + i64::from(self.stale[a + 1]);
            (n >= stale).then_some(n as usize)
        };
        match (axis(tile[0], 0), axis(tile[1], 2)) {
            (Some(h), Some(w)) => Ok([h, w]),
            _ => Err(format!(
                "frame {self:?} does not fit a {}×{} tile",
                tile[0], tile[1]
            )),
        }
    }
}

/// Where side `k`'s strip lies in the row-major array of `shape` given for it, the halo
/// being `halo` = [rows, columns] deep: (index of the strip's first element, row stride).
/// The array has been typed by `infer` (it covers the strip).
pub fn strip_origin(k: usize, shape: &[usize], halo: [usize; 2]) -> (usize, usize) {
    let (di, dj) = SIDES[k];
    let (rows, cols) = (shape[0], shape[1]);
    let first = |d, len, depth| {
        band(d, len, depth)
            .expect("typed: the array covers the strip")
            .0
    };
    (
        first(di, rows, halo[0]) * cols + first(dj, cols, halo[1]),
        cols,
    )
}

/// Types a stencil's arguments: a 2-D tile `[h, w]` of `dtype`, then its sides (4, or 8
/// with corners), each a number or a `dtype` array covering the side's strip: as tall as
/// the tile beside it (n, s: at least `halo[0]` rows) and as wide as the tile above or below
/// it (w, e: at least `halo[1]` columns; a corner at least the halo in both).
pub(crate) fn infer(
    op: &str,
    args: &[ArgType<'_>],
    dtype: DType,
    halo: [usize; 2],
) -> Result<ValueType, String> {
    let ArgType::Value(ValueType::Array { dtype: d, shape }) = &args[0] else {
        return Err(format!("op {op}: args[0] must be a 2-D {dtype} tile"));
    };
    if *d != dtype || shape.len() != 2 {
        return Err(format!("op {op}: args[0] must be a 2-D {dtype} tile"));
    }
    let tile = [shape[0], shape[1]];
    for (i, a) in args.iter().enumerate().skip(1) {
        let (di, dj) = SIDES[i - 1];
        let dirs = [di, dj];
        let strip = [axis(di, tile[0], halo[0]), axis(dj, tile[1], halo[1])];
        // Beside the tile (d = 0) exactly the tile's length; off it, at least the halo deep.
        let covers = |s: &[usize]| {
            s.len() == 2 && (0..2).all(|x| s[x] == strip[x] || (dirs[x] != 0 && s[x] > strip[x]))
        };
        match a {
            ArgType::Number => {}
            ArgType::Value(ValueType::Array { dtype: d, shape: s }) if *d == dtype && covers(s) => {
            }
            other => {
                return Err(format!(
                    "op {op}: args[{i}] must be a number or a {dtype} array covering the strip \
                     {strip:?} (the strip, or the neighbour part that ends in it), got {other:?}"
                ))
            }
        }
    }
    Ok(ValueType::Array {
        dtype,
        shape: shape.clone(),
    })
}

/// The strip's extent along an axis: the halo's depth across it (d ≠ 0), else the tile's.
fn axis(d: isize, tile: usize, halo: usize) -> usize {
    if d == 0 {
        tile
    } else {
        halo
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arr(shape: &[usize]) -> ValueType {
        ValueType::Array {
            dtype: DType::U8,
            shape: shape.to_vec(),
        }
    }

    /// A 6×5 tile with a [2, 1] halo and the given side arrays (all eight sides).
    fn check(sides: [&[usize]; 8]) -> Result<ValueType, String> {
        let types: Vec<ValueType> = std::iter::once(&[6usize, 5][..])
            .chain(sides)
            .map(arr)
            .collect();
        let args: Vec<ArgType<'_>> = types.iter().map(ArgType::Value).collect();
        infer("op", &args, DType::U8, [2, 1])
    }

    #[test]
    fn frames_read_one_cell_beyond_their_first_computed_row() {
        assert_eq!(Frame::PLAIN.halo(), [1, 1]);
        assert_eq!(Frame::PLAIN.shape([6, 5]), Ok([6, 5]));
        // Growing 3 rows north and 1 column east reads 4 rows and 2 columns deep.
        let grown = Frame {
            grow: [3, 0, 0, 1],
            stale: [0; 4],
        };
        assert_eq!(grown.halo(), [4, 2]);
        assert_eq!(grown.shape([6, 5]), Ok([9, 6]));
        // A stale ring that covers the growth reads nothing beyond the tile.
        let middle = Frame {
            grow: [0; 4],
            stale: [2, 2, 0, 0],
        };
        assert_eq!(middle.halo(), [1, 1]);
        assert_eq!(middle.shape([6, 5]), Ok([6, 5]));
        // Shrinking.
        let shrink = Frame {
            grow: [-2, -2, 0, 0],
            stale: [0; 4],
        };
        assert_eq!(shrink.shape([6, 5]), Ok([2, 5]));
        assert!(Frame {
            grow: [-4, -3, 0, 0],
            stale: [0; 4]
        }
        .shape([6, 5])
        .is_err());
        assert!(Frame {
            grow: [0; 4],
            stale: [4, 3, 0, 0]
        }
        .shape([6, 5])
        .is_err());
    }

    #[test]
    fn a_side_is_its_strip_or_a_larger_part_of_the_neighbour() {
        let strips: [&[usize]; 8] = [
            &[2, 5],
            &[2, 5],
            &[6, 1],
            &[6, 1],
            &[2, 1],
            &[2, 1],
            &[2, 1],
            &[2, 1],
        ];
        assert_eq!(check(strips), Ok(arr(&[6, 5])));
        // The whole 6×5 neighbour tile for every side; a row strip for the corners.
        assert!(check([&[6, 5]; 8]).is_ok());
        assert!(check([
            &[6, 5],
            &[6, 5],
            &[6, 5],
            &[6, 5],
            &[2, 5],
            &[2, 5],
            &[2, 5],
            &[2, 5]
        ])
        .is_ok());
        // n must be as wide as the tile; w as tall; each at least the halo deep.
        let mut bad = strips;
        bad[0] = &[2, 4];
        let e = check(bad).unwrap_err();
        assert!(e.contains("args[1]") && e.contains("[2, 5]"), "{e}");
        bad = strips;
        bad[2] = &[7, 1];
        assert!(check(bad).unwrap_err().contains("args[3]"));
        bad = strips;
        bad[1] = &[1, 5];
        assert!(check(bad).unwrap_err().contains("args[2]"));
        bad = strips;
        bad[7] = &[2, 0];
        assert!(check(bad).unwrap_err().contains("args[8]"));
    }

    #[test]
    fn the_strip_is_the_band_bordering_the_tile() {
        // A 6×5 array given for each side, halo [2, 1]: (first element, row stride).
        let shape = [6, 5];
        let want = [
            (4 * 5, 5),     // n: its last 2 rows
            (0, 5),         // s: its first rows
            (4, 5),         // w: its last column
            (0, 5),         // e: its first column
            (4 * 5 + 4, 5), // nw: last rows, last column
            (4 * 5, 5),     // ne: last rows, first column
            (4, 5),         // sw: first rows, last column
            (0, 5),         // se: first rows, first column
        ];
        for (k, w) in want.into_iter().enumerate() {
            assert_eq!(strip_origin(k, &shape, [2, 1]), w, "side {k}");
        }
        // A strip of exactly the halo's shape starts at its first element.
        for k in 0..8 {
            assert_eq!(strip_origin(k, &[2, 1], [2, 1]), (0, 1), "side {k}");
        }
    }
}
