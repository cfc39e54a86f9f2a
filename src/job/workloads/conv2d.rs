//! `conv2d`: 2-D correlation of a tiled f64 image with a small kernel, zero outside the
//! image. Output `/out`. Each tile reads kh/2 rows and kw/2 columns of its eight
//! neighbours (corners included). `device` (`"gpu"` or `"cpu"`) puts a device scope on every
//! convolution task.

use super::inputs::{device_scope, graph_err, source, tile_counts};
use crate::graph::{Arg, DType, Graph, Op};
use crate::job::{JobError, Params};
use crate::tiles::{halo_args, Boundary, TileGrid, TiledArray};
use serde_json::Value;
use std::path::Path;

/// Reads `kernel`: a non-empty 2-D list of numbers with odd sides.
fn kernel(p: &mut Params<'_>) -> Result<([usize; 2], Vec<f64>), JobError> {
    let at = p.at("kernel");
    let bad = |why: &str| JobError::new(at.clone(), why.to_string());
    let Some(Value::Array(rows)) = p.raw("kernel") else {
        return Err(bad(
            "missing or not a list (a 2-D list of numbers with odd sides)",
        ));
    };
    let kw = rows.first().and_then(Value::as_array).map_or(0, Vec::len);
    let mut values = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        let Some(row) = row.as_array().filter(|x| x.len() == kw) else {
            return Err(JobError::new(
                format!("{at}[{r}]"),
                format!("every row must be a list of {kw} numbers"),
            ));
        };
        for (c, x) in row.iter().enumerate() {
            values.push(x.as_f64().ok_or_else(|| {
                JobError::new(
                    format!("{at}[{r}][{c}]"),
                    format!("expected a number, got {x}"),
                )
            })?);
        }
    }
    let kh = rows.len();
    if kh % 2 == 0 || kw % 2 == 0 {
        return Err(bad(&format!(
            "the kernel is {kh}×{kw}; both sides must be odd"
        )));
    }
    Ok(([kh, kw], values))
}

/// Spawns the convolution workload.
pub(super) fn generate(p: &mut Params<'_>, base: &Path, g: &mut Graph) -> Result<(), JobError> {
    let image = p.dims("image", 2)?;
    let shape = [image[0], image[1]];
    let (kshape, values) = kernel(p)?;
    let tiles = tile_counts(p, "tiles", shape)?;
    let (count, key) = super::stepped_count(tiles, 1, 8);
    super::check_task_count(p, key, count, 9)?;
    let scope = device_scope(p)?;
    let grid = TileGrid::even(shape, tiles);
    let halo = [kshape[0] / 2, kshape[1] / 2];
    if grid.rows.min_len() < halo[0] || grid.cols.min_len() < halo[1] {
        return Err(p.error(
            "tiles",
            format!(
                "tiles of {}×{} are smaller than the kernel's halo {}×{}: use fewer tiles",
                grid.rows.min_len(),
                grid.cols.min_len(),
                halo[0],
                halo[1]
            ),
        ));
    }
    let src = source(p, base, &image)?;
    let input =
        TiledArray::from_source(g, grid, &src, DType::F64, "conv2d.in.").map_err(graph_err)?;
    let mut out = Vec::with_capacity(input.tiles.len());
    for i in 0..tiles[0] {
        for j in 0..tiles[1] {
            let id = format!("conv2d.out.{i}_{j}");
            let mut args = vec![Arg::Task(input.tile(i, j))];
            args.extend(
                halo_args(
                    g,
                    &input,
                    i,
                    j,
                    halo,
                    true,
                    Boundary::Constant(0.0),
                    &format!("{id}."),
                )
                .map_err(graph_err)?,
            );
            let op = Op::new(crate::kernels::Conv2d {
                kshape,
                kernel: values.clone(),
            });
            let h = g
                .spawn_named(id, op, args, scope.clone())
                .map_err(graph_err)?;
            g.place(h, input.grid.placement(i, j));
            out.push(h);
        }
    }
    let result = TiledArray {
        grid: input.grid.clone(),
        tiles: out,
    };
    result.mark_output(g, "out", DType::F64).map_err(graph_err)
}
