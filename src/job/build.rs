//! Stage two of loading a job: a raw job to a validated graph.
//!
//! Checks ids (valid, unique), references, cycles, op names, parameters and (through the
//! graph's type inference) arity and shapes. Every error names the task and its JSON path.

use super::error::JobError;
use super::params::Params;
use super::raw::{RawArg, RawTask};
use crate::graph::{topo_order, Arg, Graph, Handle, Op, Output};
use crate::registry;
use crate::store;
use rustc_hash::FxHashMap as HashMap;
use std::path::Path;

/// True for a valid task id: letters, digits and `_ . : -`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

fn task_error(t: &RawTask, field: &str, msg: impl Into<String>) -> JobError {
    let at = if field.is_empty() {
        t.path()
    } else {
        format!("{}.{field}", t.path())
    };
    JobError::in_task(at, &t.id, msg)
}

/// Spawns the job's explicit tasks into `graph`, in an order that respects dependencies.
/// `base` is the job file's folder, against which relative `load` paths resolve.
pub(super) fn build_tasks(
    tasks: &[RawTask],
    base: &Path,
    graph: &mut Graph,
) -> Result<(), JobError> {
    let mut index: HashMap<&str, usize> =
        HashMap::with_capacity_and_hasher(tasks.len(), Default::default());
    for (i, t) in tasks.iter().enumerate() {
        if !valid_id(&t.id) {
            return Err(task_error(
                t,
                "id",
                "invalid task id: use letters, digits and _ . : -",
            ));
        }
        if let Some(&j) = index.get(t.id.as_str()) {
            return Err(task_error(
                t,
                "id",
                format!("duplicate task id (first used by tasks[{j}])"),
            ));
        }
        index.insert(&t.id, i);
    }
    // Each task's references, resolved once: `refs[starts[i]..starts[i + 1]]` are task i's,
    // in argument order.
    let mut refs: Vec<usize> = Vec::with_capacity(tasks.len());
    let mut starts: Vec<usize> = Vec::with_capacity(tasks.len() + 1);
    starts.push(0);
    for t in tasks {
        for (j, a) in t.args.iter().enumerate() {
            if let RawArg::Ref(r) = a {
                let Some(&k) = index.get(r.as_str()) else {
                    return Err(task_error(
                        t,
                        &format!("args[{j}]"),
                        format!("unknown task id {r:?}"),
                    ));
                };
                refs.push(k);
            }
        }
        starts.push(refs.len());
    }
    let deps = |i: usize| &refs[starts[i]..starts[i + 1]];
    let order = topo_order(tasks.len(), deps).map_err(|cycle| {
        let names: Vec<&str> = cycle.iter().map(|&i| tasks[i].id.as_str()).collect();
        // The first few members and how many: a cycle of 100,000 tasks is one short line.
        let members = match names.as_slice() {
            [first, .., last] if names.len() > 8 && first == last => format!(
                "{} -> … -> {last} ({} tasks)",
                names[..6].join(" -> "),
                names.len() - 1
            ),
            _ => names.join(" -> "),
        };
        task_error(
            &tasks[cycle[0]],
            "",
            format!("the graph has a cycle: {members} (a task graph must be acyclic)"),
        )
    })?;
    graph.reserve(tasks.len());
    // An op without params reads the same whatever task names it: read each op name once.
    let mut plain_ops: HashMap<&str, Op> = HashMap::default();
    let mut handles: Vec<Option<Handle>> = vec![None; tasks.len()];
    for i in order {
        let t = &tasks[i];
        let op = match plain_ops.get(t.op.as_str()) {
            Some(op) => op.clone(),
            None => {
                let op = parse_op(t, base)?;
                if t.params.is_empty() {
                    plain_ops.insert(&t.op, op.clone());
                }
                op
            }
        };
        let mut mine = deps(i).iter();
        let args = t
            .args
            .iter()
            .map(|a| match a {
                RawArg::Ref(_) => {
                    let k = *mine.next().expect("one resolved reference per Ref");
                    Arg::Task(handles[k].expect("spawned in order"))
                }
                RawArg::Number(x) => Arg::Number(*x),
                RawArg::Shape(s) => Arg::Shape(s.clone()),
            })
            .collect();
        let h = graph
            .spawn_named(t.id.clone(), op, args, t.scope.clone())
            .map_err(|e| task_error(t, "args", e.to_string()))?;
        if let crate::graph::ValueType::Array { shape, .. } = &graph.task(h).ty {
            if shape.len() > store::MAX_DIMS {
                return Err(task_error(
                    t,
                    "args",
                    format!(
                        "its value would have {} dimensions; HDF5 (outputs, checkpoints) holds \
                         at most {}",
                        shape.len(),
                        store::MAX_DIMS
                    ),
                ));
            }
        }
        handles[i] = Some(h);
    }
    Ok(())
}

/// Reads `op` and its `params` into an `Op` through the kernel table, rejecting unknown ops
/// and parameters.
fn parse_op(t: &RawTask, base: &Path) -> Result<Op, JobError> {
    let table = registry::global();
    let Some(kernel) = registry::lookup(&t.op) else {
        return Err(task_error(
            t,
            "op",
            format!(
                "unknown op {:?} (known: {})",
                t.op,
                table.names().join(", ")
            ),
        ));
    };
    if kernel.is_builtin() {
        let mut p = Params::new(&t.params, format!("{}.params", t.path())).for_task(&t.id);
        let op = kernel.parse_params(&mut p, base)?;
        p.finish()?;
        Ok(op)
    } else {
        kernel
            .call(&serde_json::Value::Object(t.params.clone()))
            .map_err(|e| task_error(t, "params", e))
    }
}

/// Resolves an input path named by a job: relative paths are taken against the job file's
/// folder, or against the working directory when the file is only found there.
pub fn resolve_input(file: &str, base: &Path) -> std::path::PathBuf {
    let p = Path::new(file);
    if p.is_absolute() {
        return p.to_path_buf();
    }
    let beside_job = base.join(p);
    if beside_job.exists() || !p.exists() {
        beside_job
    } else {
        p.to_path_buf()
    }
}

/// Applies the job's `outputs`: each name is one of the default outputs (a workload's
/// datasets, or the sinks) or any task id (its value written whole); the list replaces the
/// defaults, and an empty list writes no dataset.
pub(super) fn mark_outputs(
    graph: &mut Graph,
    outputs: &[(String, String)],
) -> Result<(), JobError> {
    let defaults = graph.outputs();
    let mut chosen: Vec<Output> = Vec::with_capacity(outputs.len());
    for (i, (name, at)) in outputs.iter().enumerate() {
        if let Some(j) = outputs[..i].iter().position(|(n, _)| n == name) {
            return Err(JobError::new(
                at.as_str(),
                format!("{name:?} is listed twice (also outputs[{j}])"),
            ));
        }
        let out = match defaults.iter().find(|o| &o.name == name) {
            Some(o) => o.clone(),
            None => {
                let h = graph.find(name).ok_or_else(|| {
                    let names: Vec<&str> = defaults.iter().map(|o| o.name.as_str()).collect();
                    JobError::new(
                        at.as_str(),
                        format!(
                            "unknown output {name:?}: not a task id, nor one of the default outputs ({})",
                            super::error::some_of(&names, ", ")
                        ),
                    )
                })?;
                Output::whole(name.clone(), h, graph.task(h).ty.clone())
            }
        };
        if let Some(why) = store::dataset_name_problem(name) {
            return Err(JobError::new(at.as_str(), why));
        }
        chosen.push(out);
    }
    graph
        .select_outputs(chosen)
        .map_err(|e| JobError::new("outputs", e.to_string()))
}

/// Checks that HDF5 can hold the default outputs (the sinks) under their task ids.
pub(super) fn check_sink_outputs(graph: &Graph, tasks: &[RawTask]) -> Result<(), JobError> {
    for out in graph.outputs() {
        if let Some(why) = store::dataset_name_problem(&out.name) {
            let msg = format!(
                "{why}; this task is an output (a sink): name it otherwise or list the outputs"
            );
            return Err(match tasks.iter().find(|t| t.id == out.name) {
                Some(t) => task_error(t, "id", msg),
                None => JobError::new("outputs", msg),
            });
        }
    }
    Ok(())
}
