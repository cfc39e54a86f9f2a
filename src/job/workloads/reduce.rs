//! `reduce`: the sum of n f64 values, in `chunks` near-equal chunks. Output `/sum`.
//!
//! Each chunk is produced and summed where it lives (chunk c of C on rank c·R/C); the chunk
//! sums are then added left to right, so the order of additions is fixed whatever the rank
//! count: chunk sums as the `sum` op defines them, then ((s0 + s1) + s2) + …. The values come
//! from `seed` (uniform [0, 1)) or from a 1-D dataset (`init`).

use super::inputs::{graph_err, source};
use crate::graph::{Arg, DType, Graph, Op, Placement, Scope};
use crate::job::{JobError, Params};
use crate::tiles::Axis;
use std::path::Path;

/// Spawns the distributed sum.
pub(super) fn generate(p: &mut Params<'_>, base: &Path, g: &mut Graph) -> Result<(), JobError> {
    let n = p.positive("n")?;
    let chunks = p.positive("chunks")?;
    if chunks > n {
        return Err(p.error(
            "chunks",
            format!("{chunks} chunks of {n} values: at most n"),
        ));
    }
    super::check_task_count(p, "chunks", (chunks as u64).checked_mul(3), 2)?;
    let src = source(p, base, &[n])?;
    let axis = Axis::even(n, chunks);
    let mut acc = None;
    for c in 0..chunks {
        let group = Placement::Group {
            index: c as u32,
            count: chunks as u32,
        };
        let part = src
            .spawn_window(
                g,
                format!("reduce.x.{c}"),
                DType::F64,
                &[n],
                &[axis.start(c)],
                &[axis.len(c)],
                group,
            )
            .map_err(graph_err)?;
        let s = g
            .spawn_named(
                format!("reduce.sum.{c}"),
                Op::new(crate::kernels::Sum),
                vec![part.into()],
                Scope::Any,
            )
            .map_err(graph_err)?;
        g.place(s, group);
        acc = Some(match acc {
            None => s,
            Some(prev) => g
                .spawn_named(
                    format!("reduce.acc.{c}"),
                    Op::new(crate::kernels::Add),
                    vec![Arg::Task(prev), Arg::Task(s)],
                    Scope::Any,
                )
                .map_err(graph_err)?,
        });
    }
    g.output("sum", acc.expect("at least one chunk"))
        .map_err(graph_err)
}
