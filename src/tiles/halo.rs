//! Halo strips for stencils: for a tile, the strips of its neighbours that a stencil step
//! reads, each a `slice` task placed beside the neighbour it is cut from, so only the strip
//! crosses ranks, never a whole tile.

use super::array::TiledArray;
use crate::graph::stencil::{band, SIDES};
use crate::graph::{Arg, Graph, GraphError, Handle, Op, Scope};

/// What lies beyond the edges of the array.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Boundary {
    /// The array wraps around (a torus).
    Periodic,
    /// Every cell outside has this value.
    Constant(f64),
}

/// Side names in stencil argument order (`graph::stencil::SIDES`): strip task ids end in
/// them.
const NAMES: [&str; 8] = ["n", "s", "w", "e", "nw", "ne", "sw", "se"];

/// Spawns the strips tile (i, j) of `a` reads: `halo` = [rows, columns] deep, four sides
/// (n, s, w, e) or eight with `corners`. Returns the stencil's arguments after the tile:
/// strip tasks, or numbers where the strip lies outside a `Constant` boundary or is empty.
/// Strip ids are `{prefix}{direction}`.
///
/// No task cuts what the stencil can read in place (`graph::stencil`): a side whose
/// neighbour is the tile itself (one tile along a periodic axis) is the tile, and a corner
/// of the same neighbour tile as a side's strip (one tile column or row, periodic: the nw
/// corner of a row strip is the last cell of the north strip) is that strip. So only side
/// strips cross ranks, and Life on periodic row strips spawns two slices per tile and step,
/// not eight.
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
    for (k, &(di, dj)) in SIDES[..n_dirs].iter().enumerate() {
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
        if (ni, nj) == (i, j) {
            args.push(Arg::Task(a.tile(i, j)));
            continue;
        }
        // A corner of the same neighbour tile as the side (di, 0) or (0, dj): that side's
        // strip (or tile) holds it. Sides come first in `SIDES`, so a corner finds them in
        // `args`.
        if di != 0 && dj != 0 {
            let side =
                |d: (isize, isize)| &args[SIDES.iter().position(|&s| s == d).expect("a side")];
            let held = [(side((di, 0)), nj == j), (side((0, dj)), ni == i)]
                .into_iter()
                .find_map(|(arg, same)| match arg {
                    Arg::Task(t) if same => Some(*t),
                    _ => None,
                });
            if let Some(t) = held {
                args.push(Arg::Task(t));
                continue;
            }
        }
        let strip = g.spawn_named(
            format!("{prefix}{}", NAMES[k]),
            Op::new(crate::kernels::Slice {
                offset: vec![r0, c0],
                shape: vec![rh, cw],
            }),
            vec![Arg::Task(a.tile(ni, nj))],
            Scope::Any,
        )?;
        g.place(strip, a.grid.placement(ni, nj));
        args.push(Arg::Task(strip));
    }
    Ok(args)
}

/// Deep halos: the sides of a stencil step on `grown`, the result of an earlier step of the
/// same tile whose sides were `first` (what `halo_args` returned for `tile`). Where `first`
/// read another tile's strip, `grown` holds those cells as ghost cells itself and the step
/// reads nothing beyond it (its `graph::stencil::Frame` leaves them stale or shrinks them
/// away), so that side gets a placeholder number; likewise a corner, which only a step
/// reading both sides beside it needs. A side that was a constant (outside a constant
/// boundary) stays that constant, and one that was the tile itself (one tile along a
/// periodic axis) is `grown`. No task is spawned.
pub fn ghost_args(first: &[Arg], tile: Handle, grown: Handle) -> Vec<Arg> {
    first
        .iter()
        .map(|a| match *a {
            Arg::Task(t) if t == tile => Arg::Task(grown),
            Arg::Task(_) => Arg::Number(0.0),
            ref other => other.clone(),
        })
        .collect()
}

/// Which of the sides n, s, w, e in `args` (from `halo_args` for `tile`) are strips of
/// another tile: where a deep-halo step grows ghost cells (`ghost_args`).
pub fn neighbour_sides(args: &[Arg], tile: Handle) -> [bool; 4] {
    std::array::from_fn(|k| matches!(args.get(k), Some(Arg::Task(t)) if *t != tile))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::DType;
    use crate::tiles::{Source, TileGrid};

    /// The slice tasks one stencil step spawns for every tile of a 24×20 array cut into
    /// `tiles`, and the step's argument list for tile (0, 0).
    fn step(tiles: [usize; 2], halo: [usize; 2], boundary: Boundary) -> (usize, Vec<Arg>) {
        let mut g = Graph::new();
        let grid = TileGrid::even([24, 20], tiles);
        let a = TiledArray::from_source(&mut g, grid, &Source::Seed(1), DType::U8, "a.").unwrap();
        let before = g.tasks().len();
        let mut first = Vec::new();
        for i in 0..tiles[0] {
            for j in 0..tiles[1] {
                let args = halo_args(&mut g, &a, i, j, halo, true, boundary, &format!("{i}_{j}."));
                if (i, j) == (0, 0) {
                    first = args.unwrap();
                }
            }
        }
        let slices = g.tasks()[before..]
            .iter()
            .filter(|t| t.op.name() == "slice")
            .count();
        assert_eq!(slices, g.tasks().len() - before, "only slices are spawned");
        (slices, first)
    }

    #[test]
    fn only_strips_the_stencil_cannot_read_in_place_are_cut() {
        // Periodic row strips: n and s are cut; w and e are the tile itself, the corners
        // the n or s strip.
        let (slices, args) = step([4, 1], [1, 1], Boundary::Periodic);
        assert_eq!(slices, 4 * 2);
        let task = |k: usize| match args[k] {
            Arg::Task(t) => t,
            _ => panic!("side {k} should be a task"),
        };
        let (n, s) = (task(0), task(1));
        assert_ne!(n, s);
        assert_eq!(task(2), task(3), "w and e: the tile itself");
        assert_eq!((task(4), task(5)), (n, n), "nw and ne in the north strip");
        assert_eq!((task(6), task(7)), (s, s), "sw and se in the south strip");
        // Periodic column strips: the same across.
        assert_eq!(step([1, 5], [1, 1], Boundary::Periodic).0, 5 * 2);
        // One periodic tile is all its own neighbours.
        assert_eq!(step([1, 1], [2, 3], Boundary::Periodic).0, 0);
        // Distinct neighbours everywhere: every side is cut (8 per tile) ...
        assert_eq!(step([3, 3], [1, 1], Boundary::Periodic).0, 9 * 8);
        // ... except outside a constant boundary: a corner tile of 3×3 has 3 neighbours, an
        // edge tile 5, the middle one 8.
        let (slices, args) = step([3, 3], [1, 1], Boundary::Constant(0.0));
        assert_eq!(slices, 4 * 3 + 4 * 5 + 8);
        assert!(matches!(args[0], Arg::Number(x) if x == 0.0));
        // Dead row strips: w, e and the corners lie outside (numbers); n and s are cut
        // where there is a neighbour.
        assert_eq!(step([4, 1], [1, 1], Boundary::Constant(0.0)).0, 2 * 3);
    }

    #[test]
    fn ghost_steps_read_only_what_lies_outside_or_wraps() {
        // Dead row strips: the top tile's n side is outside (a number), its s side a strip;
        // w, e and the corners are outside. A later step on its frame keeps the numbers and
        // has a placeholder where the strip was (the frame holds those cells now).
        let mut g = Graph::new();
        let a = TiledArray::from_source(
            &mut g,
            TileGrid::even([24, 20], [4, 1]),
            &Source::Seed(1),
            DType::U8,
            "a.",
        )
        .unwrap();
        let tile = a.tile(0, 0);
        let sides = halo_args(
            &mut g,
            &a,
            0,
            0,
            [3, 3],
            true,
            Boundary::Constant(0.0),
            "t.",
        )
        .unwrap();
        assert_eq!(neighbour_sides(&sides, tile), [false, true, false, false]);
        let frame = a.tile(1, 0); // any other handle stands for the frame
        let ghost = ghost_args(&sides, tile, frame);
        assert!(ghost
            .iter()
            .all(|x| matches!(x, Arg::Number(v) if *v == 0.0)));
        // Periodic row strips: n and s are strips (ghost rows), w and e the tile itself,
        // which a later step reads as its frame (the wrap along the row).
        let sides = halo_args(&mut g, &a, 2, 0, [3, 1], true, Boundary::Periodic, "p.").unwrap();
        let tile = a.tile(2, 0);
        assert_eq!(neighbour_sides(&sides, tile), [true, true, false, false]);
        let ghost = ghost_args(&sides, tile, frame);
        assert!(matches!(ghost[0], Arg::Number(_)) && matches!(ghost[1], Arg::Number(_)));
        assert!(matches!(ghost[2], Arg::Task(t) if t == frame));
        assert!(matches!(ghost[3], Arg::Task(t) if t == frame));
    }
}
