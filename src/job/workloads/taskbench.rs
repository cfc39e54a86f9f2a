//! `taskbench`: the task graphs of Task Bench (StanfordLegion/task-bench), one dirk task per
//! (timestep, point), wired as `crate::taskbench::GraphSpec` says: the task at timestep t,
//! point p reads the outputs of its dependencies at timestep t − 1. Points are placed in
//! contiguous blocks over the ranks (point p of width W on rank p·R/W), as Task Bench's MPI
//! port places them. Output `/graph<i>` for each graph i: the last timestep's outputs, one
//! row per point (u8, [points at the last timestep, output bytes]).
//!
//! Parameters are Task Bench's flags without the dash: `steps`, `width`, `type`, `radix`,
//! `period`, `fraction`, `kernel`, `iter`, `output`, `scratch`, `sample`, `imbalance`,
//! `field`; `and` is a list of further graphs, each an object of the same keys.

use super::inputs::graph_err;
use crate::graph::{
    Arg, Footprint, Graph, GraphError, Handle, Op, Output, OutputPart, Placement, Scope,
};
use crate::graph::{DType, TaskBenchTask, ValueType};
use crate::job::{JobError, Params};
use crate::taskbench::{GraphSpec, KernelKind, Pattern, KERNEL_NAMES, PATTERN_NAMES};
use serde_json::Value;

/// Spawns the graphs from the workload's parameters.
pub(super) fn generate(p: &mut Params<'_>, g: &mut Graph) -> Result<(), JobError> {
    let mut specs = vec![read_spec(p, 0)?];
    if let Some(and) = p.raw("and") {
        let Some(list) = and.as_array() else {
            return Err(p.error("and", "expected a list of graph objects"));
        };
        for (i, item) in list.iter().enumerate() {
            let at = format!("{}[{i}]", p.at("and"));
            let Value::Object(map) = item else {
                return Err(JobError::new(at, "expected an object of graph parameters"));
            };
            let mut q = Params::new(map, at);
            specs.push(read_spec(&mut q, i as i64 + 1)?);
            q.finish()?;
        }
    }
    super::check_footprint(p, "steps", footprint(&specs))?;
    spawn_graphs(&specs, g).map_err(graph_err)
}

/// The size of all of `specs` together (`GraphSpec::footprint` of each, summed).
fn footprint(specs: &[GraphSpec]) -> Footprint {
    let sum = |f: fn(&Footprint) -> Option<u64>| {
        specs
            .iter()
            .try_fold(0u64, |acc, s| acc.checked_add(f(&s.footprint())?))
    };
    Footprint {
        tasks: sum(|f| f.tasks),
        edges: sum(|f| f.edges),
    }
}

fn int(p: &mut Params<'_>, key: &'static str, default: i64, min: i64) -> Result<i64, JobError> {
    let v = p.u64_or(key, default.max(0) as u64)?;
    let v = i64::try_from(v).map_err(|_| p.error(key, "too large"))?;
    if v < min {
        return Err(p.error(key, format!("must be at least {min}")));
    }
    Ok(v)
}

/// One graph's parameters (defaults as in Task Bench), checked as Task Bench checks them.
fn read_spec(p: &mut Params<'_>, index: i64) -> Result<GraphSpec, JobError> {
    let mut s = GraphSpec::new(index);
    s.timesteps = int(p, "steps", s.timesteps, 1)?;
    s.max_width = int(p, "width", s.max_width, 1)?;
    if let Some(name) = p.str_opt("type")? {
        s.dependence = Pattern::parse(name).ok_or_else(|| {
            let known: Vec<&str> = PATTERN_NAMES.iter().map(|(n, _)| *n).collect();
            p.error(
                "type",
                format!("unknown pattern {name:?} (known: {})", known.join(", ")),
            )
        })?;
    }
    s.radix = int(p, "radix", s.radix, 0)?;
    if p.raw("period").is_some() {
        s.period = int(p, "period", 0, 0)?;
    }
    s.fraction_connected = p.f64_or("fraction", s.fraction_connected)?;
    if !(0.0..=1.0).contains(&s.fraction_connected) {
        return Err(p.error("fraction", "must be between 0 and 1"));
    }
    if let Some(name) = p.str_opt("kernel")? {
        s.kernel.kind = KernelKind::parse(name).ok_or_else(|| {
            let known: Vec<&str> = KERNEL_NAMES.iter().map(|(n, _)| *n).collect();
            p.error(
                "kernel",
                format!("unknown kernel {name:?} (known: {})", known.join(", ")),
            )
        })?;
    }
    s.kernel.iterations = int(p, "iter", 0, 0)?;
    s.output_bytes = int(p, "output", s.output_bytes, 16)?;
    s.scratch_bytes = int(p, "scratch", 0, 0)?;
    let samples = int(p, "sample", i64::from(s.kernel.samples), 0)?;
    s.kernel.samples = i32::try_from(samples).map_err(|_| p.error("sample", "too large"))?;
    s.kernel.imbalance = p.f64_or("imbalance", 0.0)?;
    if !(0.0..=2.0).contains(&s.kernel.imbalance) {
        return Err(p.error("imbalance", "must be between 0 and 2"));
    }
    s.nb_fields = int(p, "field", 0, 0)?;
    s.resolve_defaults();
    // From the parameters first: `check` visits every point.
    if let Some((key, why)) = s.size_problem(crate::runtime::ram::physical_memory()) {
        return Err(p.error(key, why));
    }
    s.check().map_err(|e| p.error("type", e))?;
    Ok(s)
}

/// Spawns every graph of a Task Bench app into `g` (task ids `tb.g<i>.t<t>.p<p>`) and marks
/// the outputs `/graph<i>`.
/// Refuses, before spawning anything, graphs rank 0 cannot hold (`graph::Footprint`: `dirk
/// taskbench -steps 1e12` must not build until memory runs out).
pub fn spawn_graphs(specs: &[GraphSpec], g: &mut Graph) -> Result<(), GraphError> {
    if footprint(specs)
        .problem(crate::runtime::ram::physical_memory())
        .is_some()
    {
        return Err(GraphError::TooManyTasks);
    }
    for s in specs {
        spawn_graph(s, g)?;
    }
    Ok(())
}

fn spawn_graph(s: &GraphSpec, g: &mut Graph) -> Result<(), GraphError> {
    let width = usize::try_from(s.max_width).expect("checked width");
    let bytes = usize::try_from(s.output_bytes).expect("checked output bytes");
    let mut prev: Vec<Option<Handle>> = vec![None; width];
    let mut cur: Vec<Option<Handle>> = vec![None; width];
    for t in 0..s.timesteps {
        let offset = s.offset_at_timestep(t);
        cur.iter_mut().for_each(|c| *c = None);
        for p in offset..offset + s.width_at_timestep(t) {
            let inputs = s.inputs(t, p);
            let args: Vec<Arg> = inputs
                .iter()
                .map(|&d| Arg::Task(prev[d as usize].expect("a dependency exists")))
                .collect();
            let op = Op::new(TaskBenchTask {
                graph: s.graph_index,
                timestep: t,
                point: p,
                kernel: s.kernel,
                output_bytes: bytes,
                scratch_bytes: s.scratch_bytes as usize,
                inputs,
            });
            let id = format!("tb.g{}.t{t}.p{p}", s.graph_index);
            let h = g.spawn_named(id, op, args, Scope::Any)?;
            g.place(
                h,
                Placement::Group {
                    index: p as u32,
                    count: width as u32,
                },
            );
            cur[p as usize] = Some(h);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let last = s.timesteps - 1;
    let (offset, n) = (s.offset_at_timestep(last), s.width_at_timestep(last));
    let parts = (offset..offset + n)
        .map(|p| OutputPart {
            task: prev[p as usize].expect("last timestep").index() as u32,
            offset: vec![(p - offset) as usize, 0],
        })
        .collect();
    g.output_tiled(Output {
        name: format!("graph{}", s.graph_index),
        ty: ValueType::Array {
            dtype: DType::U8,
            shape: vec![n as usize, bytes],
        },
        parts,
    })
}
