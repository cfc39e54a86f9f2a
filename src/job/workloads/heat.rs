//! `heat`: explicit steps of the 2-D heat equation on a tiled f64 grid. Output `/u`.
//!
//! Interior cells get u + alpha·(N+S+E+W−4u); the outer ring of the grid keeps its initial
//! values. Each step, each tile reads its four neighbours' one-cell strips. Parameters:
//! `grid`, `tiles`, `steps`, `alpha` (default 0.1, at most 0.25: the explicit scheme's
//! stability limit), `seed` or `init`, `device` (`"gpu"` or `"cpu"`: a device scope on
//! every step task).

use super::inputs::{device_scope, graph_err, source, tile_counts};
use crate::graph::{Arg, DType, Graph, Op};
use crate::job::{JobError, Params};
use crate::tiles::{halo_args, Boundary, TileGrid, TiledArray};
use std::path::Path;

/// Spawns the heat workload.
pub(super) fn generate(p: &mut Params<'_>, base: &Path, g: &mut Graph) -> Result<(), JobError> {
    let grid = p.dims("grid", 2)?;
    let shape = [grid[0], grid[1]];
    let tiles = tile_counts(p, "tiles", shape)?;
    let steps = p.u64("steps")?;
    let (count, key) = super::stepped_count(tiles, steps, 4);
    super::check_task_count(p, key, count, 5)?;
    let alpha = p.f64_or("alpha", 0.1)?;
    let scope = device_scope(p)?;
    if !(0.0..=0.25).contains(&alpha) {
        return Err(p.error(
            "alpha",
            format!("{alpha} is outside [0, 0.25], where the explicit scheme is stable"),
        ));
    }
    let src = source(p, base, &grid)?;
    let mut cur =
        TiledArray::from_source(g, TileGrid::even(shape, tiles), &src, DType::F64, "heat.0.")
            .map_err(graph_err)?;
    for s in 1..=steps {
        let mut next = Vec::with_capacity(cur.tiles.len());
        for i in 0..tiles[0] {
            for j in 0..tiles[1] {
                let id = format!("heat.{s}.{i}_{j}");
                let mut args = vec![Arg::Task(cur.tile(i, j))];
                // Cells beside the edge of the grid are on the fixed ring: the value outside
                // is never read.
                args.extend(
                    halo_args(
                        g,
                        &cur,
                        i,
                        j,
                        [1, 1],
                        false,
                        Boundary::Constant(0.0),
                        &format!("{id}."),
                    )
                    .map_err(graph_err)?,
                );
                let op = Op::new(crate::kernels::HeatStep {
                    alpha,
                    global: grid.clone(),
                    offset: cur.grid.offset(i, j).to_vec(),
                });
                let h = g
                    .spawn_named(id, op, args, scope.clone())
                    .map_err(graph_err)?;
                g.place(h, cur.grid.placement(i, j));
                next.push(h);
            }
        }
        cur.tiles = next;
    }
    cur.mark_output(g, "u", DType::F64).map_err(graph_err)
}
