//! Built-in workload generators: `"workload": {"kind": ...}` to a task graph.
//!
//! Each generator is one file that reads its parameters through `Params` (so unknown or
//! missing keys are reported with their JSON path) and spawns tasks through the public graph
//! API, exactly as a user of the library would.

mod chains;
mod cholesky;
mod conv2d;
mod diamond;
mod gemm;
mod heat;
mod inputs;
mod life;
mod reduce;
mod taskbench;

pub use taskbench::spawn_graphs as spawn_taskbench;

use super::error::JobError;
use super::params::Params;
use crate::graph::{Footprint, Graph};
use serde_json::{Map, Value};
use std::path::Path;

/// The workload kinds this build knows.
pub const KINDS: &[&str] = &[
    "diamond",
    "life",
    "heat",
    "conv2d",
    "gemm",
    "cholesky",
    "reduce",
    "taskbench",
    "chains",
];

pub use crate::graph::MAX_TASKS;

/// Refuses a workload before it spawns a task when rank 0 could not hold its graph: more
/// than [`MAX_TASKS`] tasks, or more memory than this node has (`graph::Footprint`). `size`
/// is computed from the parameters (`None` counts where they overflow); `key` names the
/// parameter to lower.
fn check_footprint(p: &Params<'_>, key: &str, size: Footprint) -> Result<(), JobError> {
    match size.problem(crate::runtime::ram::physical_memory()) {
        None => Ok(()),
        Some(why) => Err(p.error(key, why)),
    }
}

/// [`check_footprint`] for `count` tasks of at most `edges_per_task` edges each.
fn check_task_count(
    p: &Params<'_>,
    key: &str,
    count: Option<u64>,
    edges_per_task: u64,
) -> Result<(), JobError> {
    check_footprint(p, key, Footprint::uniform(count, edges_per_task))
}

/// An upper bound on the tasks of a stepped tiled workload (`life`, `heat`): one source task
/// per tile, then per step and tile one step task and `strips` halo strips; and the parameter
/// that makes it too large (`tiles` when one step already does).
fn stepped_count(tiles: [usize; 2], steps: u64, strips: u64) -> (Option<u64>, &'static str) {
    let t = (tiles[0] as u64).checked_mul(tiles[1] as u64);
    let per_step = t.and_then(|t| t.checked_mul(1 + strips));
    let total = per_step
        .and_then(|s| s.checked_mul(steps))
        .and_then(|s| s.checked_add(t?));
    // `steps` is the one to lower unless one step alone is already too much.
    let one_step = Footprint::uniform(per_step, 9);
    let key = if one_step
        .problem(crate::runtime::ram::physical_memory())
        .is_none()
    {
        "steps"
    } else {
        "tiles"
    };
    (total, key)
}

/// Builds the graph of a workload from its JSON parameters.
pub fn generate(spec: &Map<String, Value>, base: &Path, graph: &mut Graph) -> Result<(), JobError> {
    let mut p = Params::new(spec, "workload");
    let kind = p.str("kind")?;
    match kind {
        "diamond" => diamond::generate(&mut p, graph)?,
        "life" => life::generate(&mut p, base, graph)?,
        "heat" => heat::generate(&mut p, base, graph)?,
        "conv2d" => conv2d::generate(&mut p, base, graph)?,
        "gemm" => gemm::generate(&mut p, base, graph)?,
        "cholesky" => cholesky::generate(&mut p, base, graph)?,
        "reduce" => reduce::generate(&mut p, base, graph)?,
        "taskbench" => taskbench::generate(&mut p, graph)?,
        "chains" => chains::generate(&mut p, graph)?,
        other => {
            return Err(p.error(
                "kind",
                format!("unknown workload {other:?} (known: {})", KINDS.join(", ")),
            ))
        }
    }
    p.finish()
}
