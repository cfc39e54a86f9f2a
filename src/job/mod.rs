//! Job files: JSON text to a raw job (shape only), then to a validated graph; and the built-in
//! workload generators. Every error is a `JobError` naming a JSON path or task id.

mod build;
mod direct;
mod error;
mod json;
mod options;
mod params;
mod raw;
pub mod workloads;

pub use build::{resolve_input, valid_id};
pub use error::{some_of, JobError};
pub use options::{check_seconds, check_threads, JobOptions, MAX_SECONDS, MAX_THREADS_PER_CORE};
pub use params::Params;

use crate::graph::Graph;
use std::path::Path;

/// A validated job: the graph to run and the job's defaults for run flags.
#[derive(Debug)]
pub struct Job {
    /// The task graph (its `name` is the job's name).
    pub graph: Graph,
    /// `options` from the job file.
    pub options: JobOptions,
    /// The kernel plugins the job loaded (resolved paths): inputs a result must not replace.
    pub plugins: Vec<std::path::PathBuf>,
}

/// Reads, parses and validates a job file.
pub fn load(path: &Path) -> Result<Job, JobError> {
    let t = std::time::Instant::now();
    let origin = path.display().to_string();
    // A FIFO or a device would block or never end: look before opening.
    crate::store::require_regular(path)
        .map_err(|e| JobError::new(origin.as_str(), format!("cannot read the job file: {e}")))?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| JobError::new(origin.as_str(), format!("cannot read the job file: {e}")))?;
    let base = path.parent().unwrap_or(Path::new("."));
    crate::trace::record_phase("read", t);
    from_str(&text, &origin, base)
}

/// Parses and validates job-file text; `base` is where relative input paths resolve.
pub fn from_str(text: &str, origin: &str, base: &Path) -> Result<Job, JobError> {
    let t = std::time::Instant::now();
    let raw = raw::parse(text, origin)?;
    let t = crate::trace::record_phase("parse", t);
    let mut plugins = Vec::new();
    for p in &raw.plugins {
        let path = resolve_input(&p.path, base);
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        // A FIFO or a device would block the checksum's read: look before opening.
        if path.exists() {
            crate::store::require_regular(&path).map_err(|e| {
                JobError::new(
                    format!("{}.path", p.at),
                    format!("cannot read plugin {}: {e}", path.display()),
                )
            })?;
        }
        crate::registry::load_plugin(&path, &p.sha256)
            .map_err(|e| JobError::new(format!("{}.path", p.at), e))?;
        plugins.push(path);
    }
    let options = options::parse_options(&raw.options)?;
    let mut graph = Graph::new();
    match &raw.body {
        raw::RawBody::Tasks(tasks) => {
            if tasks.is_empty() {
                return Err(JobError::new("tasks", "the job has no tasks"));
            }
            build::build_tasks(tasks, base, &mut graph)?;
            if raw.outputs.is_none() {
                build::check_sink_outputs(&graph, tasks)?;
            }
        }
        raw::RawBody::Workload(spec) => workloads::generate(spec, base, &mut graph)?,
    }
    if let Some(outputs) = &raw.outputs {
        build::mark_outputs(&mut graph, outputs)?;
    }
    graph.name = raw.name.clone().unwrap_or_else(|| {
        Path::new(origin)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "job".into())
    });
    drop(raw);
    crate::trace::record_phase("validate", t);
    Ok(Job {
        graph,
        options,
        plugins,
    })
}
