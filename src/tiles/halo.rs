//! Halo strips for stencils: for a tile, the strips of its neighbours that a stencil step
//! reads, each a `slice` task placed beside the neighbour it is cut from, so only the strip
//! crosses ranks, never a whole tile.

use super::array::TiledArray;
use crate::graph::{Arg, Graph, GraphError, Op, Scope};

/// What lies beyond the edges of the array.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Boundary {
    /// The array wraps around (a torus).
    Periodic,
    /// Every cell outside has this value.
    Constant(f64),
}

/// Neighbour directions in stencil argument order: n, s, w, e, nw, ne, sw, se.
const DIRS: [(isize, isize, &str); 8] = [
    (-1, 0, "n"),
    (1, 0, "s"),
    (0, -1, "w"),
    (0, 1, "e"),
    (-1, -1, "nw"),
    (-1, 1, "ne"),
    (1, -1, "sw"),
    (1, 1, "se"),
];

/// Index in `DIRS` of direction (di, dj).
fn dir_index((di, dj): (isize, isize)) -> usize {
    DIRS.iter()
        .position(|&(a, b, _)| (a, b) == (di, dj))
        .expect("a neighbour direction")
}

/// The rows (or columns) of a neighbour part of length `len` that border the tile: its last
/// `width` when it lies before (d = −1), its first `width` after (d = 1), all of it beside.
fn band(d: isize, len: usize, width: usize) -> Option<(usize, usize)> {
    match d {
        -1 => len.checked_sub(width).map(|s| (s, width)),
        1 => (width <= len).then_some((0, width)),
        _ => Some((0, len)),
    }
}

/// Spawns the strips tile (i, j) of `a` reads: `halo` = [rows, columns] deep, four sides
/// (n, s, w, e) or eight with `corners`. Returns the stencil's arguments after the tile:
/// strip tasks, or numbers where the strip lies outside a `Constant` boundary or is empty.
/// Strip ids are `{prefix}{direction}`.
///
/// A corner whose neighbour tile is also a side's (one tile column or row, periodic: the nw
/// corner of a row strip is the last cell of the north strip) is cut from that side's strip,
/// beside the reading tile: only the side strip crosses ranks, not a one-cell message per
/// corner as well (Life on row strips: 2 messages per boundary per step instead of 6).
#[allow(clippy::too_many_arguments)]
pub fn halo_args(
    g: &mut Graph,
    a: &TiledArray,
    i: usize,
    j: usize,
    halo: [usize; 2],
    corners: bool,
    boundary: Boundary,
    prefix: &str,
) -> Result<Vec<Arg>, GraphError> {
    let [rows, cols] = a.grid.tiles();
    let [hr, hc] = halo;
    let outside = match boundary {
        Boundary::Periodic => 0.0,
        Boundary::Constant(x) => x,
    };
    let n_dirs = if corners { 8 } else { 4 };
    let mut args = Vec::with_capacity(n_dirs);
    for &(di, dj, name) in &DIRS[..n_dirs] {
        if (di != 0 && hr == 0) || (dj != 0 && hc == 0) {
            args.push(Arg::Number(outside));
            continue;
        }
        let wrap = |k: usize, d: isize, n: usize| -> Option<usize> {
            let k = k as isize + d;
            if (0..n as isize).contains(&k) {
                Some(k as usize)
            } else if boundary == Boundary::Periodic {
                Some(k.rem_euclid(n as isize) as usize)
            } else {
                None
            }
        };
        let (Some(ni), Some(nj)) = (wrap(i, di, rows), wrap(j, dj, cols)) else {
            args.push(Arg::Number(outside));
            continue;
        };
        let [h, w] = a.grid.extent(ni, nj);
        let (Some((r0, rh)), Some((c0, cw))) = (band(di, h, hr), band(dj, w, hc)) else {
            return Err(GraphError::Type(format!(
                "tile ({ni}, {nj}) is {h}×{w}, narrower than the halo {hr}×{hc} of its neighbour"
            )));
        };
        // A corner of the same neighbour tile as the side strip (di, 0) or (0, dj): cut
        // from that strip (at its columns c0.. or rows r0..), beside the reading tile. Side
        // strips come first in `DIRS`, so a corner finds them in `args`.
        let corner = di != 0 && dj != 0;
        let side = |d: (isize, isize), same_tile: bool, offset: [usize; 2]| match (corner
            && same_tile)
            .then(|| &args[dir_index(d)])
        {
            Some(Arg::Task(t)) => Some((*t, offset.to_vec())),
            _ => None,
        };
        let (source, offset, at) = side((di, 0), nj == j, [0, c0])
            .or_else(|| side((0, dj), ni == i, [r0, 0]))
            .map(|(strip, offset)| (strip, offset, a.grid.placement(i, j)))
            .unwrap_or((a.tile(ni, nj), vec![r0, c0], a.grid.placement(ni, nj)));
        let strip = g.spawn_named(
            format!("{prefix}{name}"),
            Op::Slice {
                offset,
                shape: vec![rh, cw],
            },
            vec![Arg::Task(source)],
            Scope::Any,
        )?;
        g.place(strip, at);
        args.push(Arg::Task(strip));
    }
    Ok(args)
}
