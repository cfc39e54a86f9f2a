//! Parameters the tiled workloads share: where the initial data comes from (`seed` or
//! `init`), tile counts, and turning graph errors into job errors.

use crate::graph::{DeviceClass, GraphError, Scope, ValueType};
use crate::job::{resolve_input, JobError, Params};
use crate::store;
use crate::tiles::Source;
use serde_json::Value;
use std::path::Path;

/// The `device` parameter: where the workload's compute tasks (stencil steps, Cholesky tile
/// kernels) must run: `"gpu"` or `"cpu"` (a device scope on each), or absent (no scope: the
/// rank decides, moving bit-identical kernels to its GPU when the cost model prefers it).
pub(super) fn device_scope(p: &mut Params<'_>) -> Result<Scope, JobError> {
    match p.str_opt("device")? {
        None => Ok(Scope::Any),
        Some("gpu") => Ok(Scope::Device(DeviceClass::Gpu)),
        Some("cpu") => Ok(Scope::Device(DeviceClass::Cpu)),
        Some(other) => Err(p.error("device", format!("unknown device {other:?} (cpu or gpu)"))),
    }
}

/// A graph error raised while generating a workload (a bug or an impossible size).
pub(super) fn graph_err(e: GraphError) -> JobError {
    JobError::new("workload", e.to_string())
}

/// The `init` object, if given: the resolved file path and the `dataset` it names (if any).
pub(super) fn init_file(
    p: &mut Params<'_>,
    base: &Path,
    dataset_allowed: bool,
) -> Result<Option<(String, Option<String>)>, JobError> {
    let at = p.at("init");
    let Some(v) = p.raw("init") else {
        return Ok(None);
    };
    let Value::Object(map) = v else {
        return Err(JobError::new(
            at,
            format!("expected an object {{\"file\": ..., \"dataset\": ...}}, got {v}"),
        ));
    };
    let mut q = Params::new(map, at);
    let file = q.str("file")?;
    let dataset = if dataset_allowed {
        Some(q.str("dataset")?.to_string())
    } else {
        None
    };
    q.finish()?;
    let path = resolve_input(file, base);
    if !path.exists() {
        return Err(JobError::new(
            "workload.init.file",
            format!("no such file: {}", path.display()),
        ));
    }
    Ok(Some((path.display().to_string(), dataset)))
}

/// Checks that `dataset` of `path` exists and has `shape`; `at` names the JSON path.
pub(super) fn check_dataset(
    path: &str,
    dataset: &str,
    shape: &[usize],
    at: &str,
) -> Result<(), JobError> {
    let ty = store::probe_dataset(Path::new(path), dataset)
        .map_err(|e| JobError::new(at, e.to_string()))?;
    match ty {
        ValueType::Array { shape: s, .. } if s == shape => Ok(()),
        other => Err(JobError::new(
            at,
            format!("{path}: dataset {dataset} is a {other}, the workload needs shape {shape:?}"),
        )),
    }
}

/// The initial data of a workload over an array of `shape`: `seed` (default 0) or
/// `init: {file, dataset}`, not both.
pub(super) fn source(p: &mut Params<'_>, base: &Path, shape: &[usize]) -> Result<Source, JobError> {
    let seed = p.raw("seed").is_some();
    let seed_value = p.u64_or("seed", 0)?;
    match init_file(p, base, true)? {
        None => Ok(Source::Seed(seed_value)),
        Some(_) if seed => Err(p.error("init", "give either seed or init, not both")),
        Some((path, dataset)) => {
            let dataset = dataset.expect("asked for");
            check_dataset(&path, &dataset, shape, "workload.init.dataset")?;
            Ok(Source::File { path, dataset })
        }
    }
}

/// `key`: a number of tiles per axis, each between 1 and the axis length.
pub(super) fn tile_counts(
    p: &mut Params<'_>,
    key: &'static str,
    shape: [usize; 2],
) -> Result<[usize; 2], JobError> {
    let t = p.dims(key, 2)?;
    if t[0] > shape[0] || t[1] > shape[1] {
        return Err(p.error(
            key,
            format!("{t:?} tiles do not fit a {shape:?} array (at most one tile per element)"),
        ));
    }
    Ok([t[0], t[1]])
}
