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
use crate::graph::Graph;
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
