//! Built-in workload generators: `"workload": {"kind": ...}` to a task graph.
//!
//! Each generator is one file that reads its parameters through `Params` (so unknown or
//! missing keys are reported with their JSON path) and spawns tasks through the public graph
//! API, exactly as a user of the library would.

mod diamond;

use super::error::JobError;
use super::params::Params;
use crate::graph::Graph;
use serde_json::{Map, Value};
use std::path::Path;

/// The workload kinds this build knows.
pub const KINDS: &[&str] = &["diamond"];

/// Builds the graph of a workload from its JSON parameters.
pub fn generate(
    spec: &Map<String, Value>,
    _base: &Path,
    graph: &mut Graph,
) -> Result<(), JobError> {
    let mut p = Params::new(spec, "workload");
    let kind = p.str("kind")?;
    match kind {
        "diamond" => diamond::generate(&mut p, graph)?,
        other => {
            return Err(p.error(
                "kind",
                format!("unknown workload {other:?} (known: {})", KINDS.join(", ")),
            ))
        }
    }
    p.finish()
}
