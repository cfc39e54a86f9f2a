//! `gemm`: C = A·B with square tiles of edge `tile`, block-cyclic over the ranks. Output `/C`.
//!
//! A (m×k) comes from `seed`, B (k×n) from `seed + 1`, or both from `init: {file}` holding
//! `/A` and `/B`. Tile C[i][j] = A[i][0]·B[0][j], then += A[i][p]·B[p][j] for p = 1, 2, …
//! in that order, so the sum order is fixed whatever the rank count.

use super::inputs::{check_dataset, graph_err, init_file};
use crate::graph::{Arg, DType, Graph, Op, Scope, TileLayout};
use crate::job::{JobError, Params};
use crate::tiles::{Source, TileGrid, TiledArray};
use std::path::Path;

/// Spawns the tiled GEMM.
pub(super) fn generate(p: &mut Params<'_>, base: &Path, g: &mut Graph) -> Result<(), JobError> {
    let m = p.positive("m")?;
    let k = p.positive("k")?;
    let n = p.positive("n")?;
    let tile = p.positive("tile")?;
    // A and B tiles, then one multiply(-accumulate) per C tile and k tile.
    let [tm, tk, tn] = [m, k, n].map(|x| x.div_ceil(tile) as u64);
    let count = tm
        .checked_mul(tk)
        .zip(tk.checked_mul(tn))
        .and_then(|(a, b)| a.checked_add(b))
        .zip(tm.checked_mul(tn).and_then(|c| c.checked_mul(tk)))
        .and_then(|(ab, c)| ab.checked_add(c));
    // One dimension far past the others is the one to lower; else the tiles are too small.
    let key = match [("m", tm), ("k", tk), ("n", tn)]
        .iter()
        .max_by_key(|(_, t)| *t)
    {
        Some(&(key, t)) if [tm, tk, tn].iter().filter(|&&x| x == t).count() == 1 => key,
        _ => "tile",
    };
    super::check_task_count(p, key, count, 3)?;
    let seeded = p.raw("seed").is_some();
    let seed = p.u64_or("seed", 0)?;
    let (src_a, src_b) = match init_file(p, base, false)? {
        None => (Source::Seed(seed), Source::Seed(seed.wrapping_add(1))),
        Some(_) if seeded => return Err(p.error("init", "give either seed or init, not both")),
        Some((path, _)) => {
            check_dataset(&path, "A", &[m, k], "workload.init.file")?;
            check_dataset(&path, "B", &[k, n], "workload.init.file")?;
            let file = |d: &str| Source::File {
                path: path.clone(),
                dataset: d.to_string(),
            };
            (file("A"), file("B"))
        }
    };
    let cyclic = TileLayout::Cyclic;
    let a = TiledArray::from_source(
        g,
        TileGrid::fixed([m, k], tile, cyclic),
        &src_a,
        DType::F64,
        "gemm.A.",
    )
    .map_err(graph_err)?;
    let b = TiledArray::from_source(
        g,
        TileGrid::fixed([k, n], tile, cyclic),
        &src_b,
        DType::F64,
        "gemm.B.",
    )
    .map_err(graph_err)?;
    let cgrid = TileGrid::fixed([m, n], tile, cyclic);
    let [ti, tj] = cgrid.tiles();
    let tp = a.grid.tiles()[1];
    let mut tiles = Vec::with_capacity(ti * tj);
    for i in 0..ti {
        for j in 0..tj {
            let mut c = g
                .spawn_named(
                    format!("gemm.C.{i}_{j}.0"),
                    Op::new(crate::kernels::Matmul),
                    vec![Arg::Task(a.tile(i, 0)), Arg::Task(b.tile(0, j))],
                    Scope::Any,
                )
                .map_err(graph_err)?;
            g.place(c, cgrid.placement(i, j));
            for q in 1..tp {
                c = g
                    .spawn_named(
                        format!("gemm.C.{i}_{j}.{q}"),
                        Op::new(crate::kernels::MatmulAcc),
                        vec![
                            Arg::Task(c),
                            Arg::Task(a.tile(i, q)),
                            Arg::Task(b.tile(q, j)),
                        ],
                        Scope::Any,
                    )
                    .map_err(graph_err)?;
                g.place(c, cgrid.placement(i, j));
            }
            tiles.push(c);
        }
    }
    let c = TiledArray { grid: cgrid, tiles };
    c.mark_output(g, "C", DType::F64).map_err(graph_err)
}
