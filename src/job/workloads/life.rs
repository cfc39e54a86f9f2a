//! `life`: Conway's Game of Life (B3/S23) on a tiled u8 grid. Output `/grid` (0 or 1).
//!
//! Each step, each tile reads its eight neighbours' one-cell strips (cut by `slice` tasks on
//! the neighbours' ranks) and produces its next state. Parameters: `grid`, `tiles`, `steps`,
//! `boundary`: `periodic` (a torus, the default) or `dead` (cells outside the grid are dead),
//! `seed` (a uniform 0/1 grid) or `init` (a dataset; nonzero bytes are alive), `device`
//! (`"gpu"` or `"cpu"`: a device scope on every step task), `halo` (default 1).
//!
//! Deep halos (`halo` k > 1): strips k cells deep are exchanged once every k steps. The first
//! step after an exchange computes, beside the tile's next state, the k − 1 rows and columns
//! of ghost cells around it that later steps need; each of the next steps reads only its own
//! tile's previous result, and the last gives the tile alone again (`graph::stencil::Frame`).
//! A k-th of the messages and slice tasks, for about k − 1 rows (or columns) a tile computes
//! twice per step, and a neighbour may fall up to k steps behind before its rank waits for it.
//! Results are bit for bit those of `halo` 1: every cell follows the same rule from the same
//! neighbours.

use super::inputs::{device_scope, graph_err, source, tile_counts};
use crate::graph::stencil::Frame;
use crate::graph::{Arg, DType, Graph, Op};
use crate::job::{JobError, Params};
use crate::tiles::{
    ghost_args, halo_args, neighbour_sides, Boundary, Source, TileGrid, TiledArray,
};
use std::path::Path;

/// Spawns the Life workload.
pub(super) fn generate(p: &mut Params<'_>, base: &Path, g: &mut Graph) -> Result<(), JobError> {
    let dims = p.dims("grid", 2)?;
    let shape = [dims[0], dims[1]];
    let tiles = tile_counts(p, "tiles", shape)?;
    let steps = p.u64("steps")?;
    let (count, key) = super::stepped_count(tiles, steps, 8);
    super::check_task_count(p, key, count, 9)?;
    let boundary = match p.str_opt("boundary")?.unwrap_or("periodic") {
        "periodic" => Boundary::Periodic,
        "dead" => Boundary::Constant(0.0),
        other => {
            return Err(p.error(
                "boundary",
                format!("unknown boundary {other:?} (periodic or dead)"),
            ))
        }
    };
    let scope = device_scope(p)?;
    let grid = TileGrid::even(shape, tiles);
    let depth = halo_depth(p, &grid, steps)?;
    let src = source(p, base, &dims)?;
    let mut cur =
        TiledArray::from_source(g, grid, &src, DType::U8, "life.0.").map_err(graph_err)?;
    let mut s = 1;
    while s <= steps {
        // One exchange, then m steps on it (`stencil::Frame`).
        let m = depth.min(steps - s + 1);
        let deep = |n: usize| if n > 1 { m as usize } else { 1 };
        let halo = [deep(tiles[0]), deep(tiles[1])];
        let mut first = Vec::with_capacity(cur.tiles.len());
        let mut last = Vec::with_capacity(cur.tiles.len());
        for i in 0..tiles[0] {
            for j in 0..tiles[1] {
                let id = format!("life.{s}.{i}_{j}");
                let tile = cur.tile(i, j);
                let sides = halo_args(g, &cur, i, j, halo, true, boundary, &format!("{id}."))
                    .map_err(graph_err)?;
                let from_neighbour = neighbour_sides(&sides, tile);
                let op = Op::new(crate::kernels::LifeStep {
                    // Only data from a file may hold bytes other than 0 and 1.
                    normalize: s == 1 && matches!(src, Source::File { .. }),
                    frame: frame(from_neighbour, m, 1),
                });
                let args = std::iter::once(Arg::Task(tile)).chain(sides.iter().cloned());
                let h = g
                    .spawn_named(id, op, args.collect(), scope.clone())
                    .map_err(graph_err)?;
                g.place(h, cur.grid.placement(i, j));
                first.push((tile, sides, from_neighbour));
                last.push(h);
            }
        }
        for k in 2..=m {
            for (t, (tile, sides, from_neighbour)) in first.iter().enumerate() {
                let (i, j) = (t / tiles[1], t % tiles[1]);
                let op = Op::new(crate::kernels::LifeStep {
                    normalize: false,
                    frame: frame(*from_neighbour, m, k),
                });
                let mut args = vec![Arg::Task(last[t])];
                args.extend(ghost_args(sides, *tile, last[t]));
                let id = format!("life.{}.{i}_{j}", s + k - 1);
                let h = g
                    .spawn_named(id, op, args, scope.clone())
                    .map_err(graph_err)?;
                g.place(h, cur.grid.placement(i, j));
                last[t] = h;
            }
        }
        cur.tiles = last;
        s += m;
    }
    cur.mark_output(g, "grid", DType::U8).map_err(graph_err)
}

/// The frame of step `k` (1..=m) of a run of m steps on one exchange whose first step reads
/// strips of another tile on the sides n, s, w, e marked in `from_neighbour`
/// (`tiles::neighbour_sides`): the first grows m − 1 ghost rows or columns there, the middle
/// ones keep that frame and leave k − 1 of them stale, the last (m > 1) shrinks back to the
/// tile.
fn frame(from_neighbour: [bool; 4], m: u64, k: u64) -> Frame {
    let g = m as i32 - 1;
    let on = |v: i32| from_neighbour.map(|n| if n { v } else { 0 });
    match k {
        1 => Frame {
            grow: on(g),
            stale: [0; 4],
        },
        k if k == m => Frame {
            grow: on(-g),
            stale: [0; 4],
        },
        k => Frame {
            grow: [0; 4],
            stale: on(k as i32 - 1).map(|z| z as u32),
        },
    }
}

/// The `halo` parameter (default 1): how many steps run on one exchange of halo strips
/// (deep halos). The strips are as deep as the steps run on one exchange, at most `steps`:
/// that is at most the smallest tile side along an axis cut into several tiles, where the
/// strips come from.
fn halo_depth(p: &mut Params<'_>, grid: &TileGrid, steps: u64) -> Result<u64, JobError> {
    let depth = p.u64_or("halo", 1)?;
    let [rows, cols] = grid.tiles();
    let limit = [(rows, grid.rows.min_len()), (cols, grid.cols.min_len())]
        .into_iter()
        .filter(|&(n, _)| n > 1)
        .map(|(_, len)| len as u64)
        .min();
    if depth == 0 {
        return Err(p.error("halo", "must be at least 1 (1: an exchange every step)"));
    }
    match limit {
        Some(limit) if depth.min(steps) > limit => {
            let deep = if depth > steps {
                format!("{depth} (strips {steps} deep over {steps} steps)")
            } else {
                depth.to_string()
            };
            Err(p.error(
                "halo",
                format!(
                    "{deep} is deeper than the smallest tile side where tiles meet ({limit}): \
                     use fewer tiles or a smaller halo"
                ),
            ))
        }
        _ => Ok(depth),
    }
}
