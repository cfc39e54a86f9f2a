//! `cholesky`: the tiled right-looking Cholesky factorisation A = L·Lᵀ. Output `/L` (lower,
//! zeros above the diagonal).
//!
//! Square tiles of edge `tile`, block-cyclic over the ranks. For k = 0, 1, …:
//! L[k][k] = potrf(A[k][k]); L[i][k] = trsm(L[k][k], A[i][k]) for i > k; then the trailing
//! update A[j][j] = syrk(A[j][j], L[j][k]) and A[i][j] = gemm_nt(A[i][j], L[i][k], L[j][k])
//! for i > j > k. Only the lower tiles of A are read. A seed-generated A is
//! (R + Rᵀ)/2 + n·I with R uniform in [0, 1): symmetric and diagonally dominant, so SPD;
//! `init: {file, dataset}` reads A (n×n) from HDF5. `device` (`"gpu"` or `"cpu"`) puts a
//! device scope on the potrf, trsm, syrk and gemm_nt tasks.

use super::inputs::{device_scope, graph_err, source};
use crate::graph::{Arg, DType, Graph, Handle, Op, Placement, Scope, TileLayout};
use crate::job::{JobError, Params};
use crate::tiles::{Source, TileGrid, TiledArray};
use std::path::Path;

/// Spawns the tiled Cholesky factorisation.
pub(super) fn generate(p: &mut Params<'_>, base: &Path, g: &mut Graph) -> Result<(), JobError> {
    let n = p.positive("n")?;
    let tile = p.positive("tile")?;
    // t tiles a side: at most t^3 gemm updates, plus under 5 t^2 tiles, potrf, trsm, syrk
    // and zero tasks.
    let t = n.div_ceil(tile) as u64;
    let count = t
        .checked_mul(t)
        .and_then(|t2| t2.checked_mul(t)?.checked_add(t2.checked_mul(5)?));
    super::check_task_count(p, "tile", count, 3)?;
    let src = source(p, base, &[n, n])?;
    let grid = TileGrid::fixed([n, n], tile, TileLayout::Cyclic);
    let t = grid.tiles()[0];
    let scope = device_scope(p)?;
    let spawn = |g: &mut Graph, id: String, op: Op, args: Vec<Arg>, i: usize, j: usize| {
        let kernel = matches!(op.name(), "potrf" | "trsm" | "syrk" | "gemm_nt");
        let h = g.spawn_named(
            id,
            op,
            args,
            if kernel { scope.clone() } else { Scope::Any },
        )?;
        g.place(h, grid.placement(i, j));
        Ok::<Handle, crate::graph::GraphError>(h)
    };
    // a[i][j] (i ≥ j): the current value of the tile, updated in place as the algorithm runs.
    let mut a: Vec<Vec<Handle>> = Vec::with_capacity(t);
    for i in 0..t {
        let mut row = Vec::with_capacity(i + 1);
        for j in 0..=i {
            let (offset, extent) = (grid.offset(i, j), grid.extent(i, j));
            let id = format!("chol.A.{i}_{j}");
            let h = match &src {
                Source::Seed(seed) => spawn(
                    g,
                    id,
                    Op::new(crate::kernels::RandSpd {
                        seed: *seed,
                        n,
                        offset: offset.to_vec(),
                    }),
                    vec![Arg::Shape(extent.to_vec())],
                    i,
                    j,
                ),
                file => file.spawn_window(
                    g,
                    id,
                    DType::F64,
                    &[n, n],
                    &offset,
                    &extent,
                    grid.placement(i, j),
                ),
            }
            .map_err(graph_err)?;
            row.push(h);
        }
        a.push(row);
    }
    for k in 0..t {
        let lkk = spawn(
            g,
            format!("chol.potrf.{k}"),
            Op::new(crate::kernels::Potrf),
            vec![a[k][k].into()],
            k,
            k,
        )
        .map_err(graph_err)?;
        a[k][k] = lkk;
        for (i, row) in a.iter_mut().enumerate().skip(k + 1) {
            row[k] = spawn(
                g,
                format!("chol.trsm.{i}_{k}"),
                Op::new(crate::kernels::Trsm),
                vec![lkk.into(), row[k].into()],
                i,
                k,
            )
            .map_err(graph_err)?;
        }
        for j in k + 1..t {
            a[j][j] = spawn(
                g,
                format!("chol.syrk.{j}.{k}"),
                Op::new(crate::kernels::Syrk),
                vec![a[j][j].into(), a[j][k].into()],
                j,
                j,
            )
            .map_err(graph_err)?;
            for i in j + 1..t {
                a[i][j] = spawn(
                    g,
                    format!("chol.gemm.{i}_{j}.{k}"),
                    Op::new(crate::kernels::GemmNt),
                    vec![a[i][j].into(), a[i][k].into(), a[j][k].into()],
                    i,
                    j,
                )
                .map_err(graph_err)?;
            }
        }
    }
    // The strictly upper tiles of L are zeros, made on rank 0 where the output is written.
    let mut tiles = Vec::with_capacity(t * t);
    for (i, row) in a.iter().enumerate() {
        tiles.extend_from_slice(row);
        for j in i + 1..t {
            let zero = g
                .spawn_named(
                    format!("chol.zero.{i}_{j}"),
                    Op::new(crate::kernels::Fill { dtype: DType::F64 }),
                    vec![Arg::Shape(grid.extent(i, j).to_vec()), Arg::Number(0.0)],
                    Scope::Any,
                )
                .map_err(graph_err)?;
            g.place(zero, Placement::Group { index: 0, count: 1 });
            tiles.push(zero);
        }
    }
    TiledArray { grid, tiles }
        .mark_output(g, "L", DType::F64)
        .map_err(graph_err)
}
