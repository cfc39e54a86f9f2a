//! The task graph and the `spawn` API that builds it.
//!
//! A graph is built in topological order by construction: `spawn` only accepts handles of
//! tasks that already exist, so every `Graph` is acyclic. Job files, whose tasks may be listed
//! in any order, are sorted (and checked for cycles) by `crate::job` before they are spawned.

use super::op::{ArgType, Op};
use super::output::Output;
use super::placement::Placement;
use super::scope::Scope;
use super::value::ValueType;
use thiserror::Error;

/// Refers to a task of one graph: what `spawn` returns and `fetch` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub(crate) u32);

impl Handle {
    /// The task's index in its graph (spawn order).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A positional argument of a task.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// The value of another task: an edge.
    Task(Handle),
    /// A number literal.
    Number(f64),
    /// A shape literal.
    Shape(Vec<usize>),
}

impl From<Handle> for Arg {
    fn from(h: Handle) -> Arg {
        Arg::Task(h)
    }
}

impl From<f64> for Arg {
    fn from(x: f64) -> Arg {
        Arg::Number(x)
    }
}

impl From<&[usize]> for Arg {
    fn from(s: &[usize]) -> Arg {
        Arg::Shape(s.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Arg {
    fn from(s: [usize; N]) -> Arg {
        Arg::Shape(s.to_vec())
    }
}

/// One node of the graph.
#[derive(Clone, Debug)]
pub struct Task {
    /// Unique id (job-file id, or `#<index>` for unnamed spawns).
    pub id: String,
    /// The kernel to run.
    pub op: Op,
    /// Positional arguments.
    pub args: Vec<Arg>,
    /// Placement constraint (hard).
    pub scope: Scope,
    /// Placement preference (soft), mapped to a rank by the planner.
    pub placement: Placement,
    /// The inferred type of the result.
    pub ty: ValueType,
}

impl Task {
    /// Handles of the tasks whose values this task reads, in argument order (may repeat).
    pub fn inputs(&self) -> impl Iterator<Item = Handle> + '_ {
        self.args.iter().filter_map(|a| match a {
            Arg::Task(h) => Some(*h),
            _ => None,
        })
    }
}

/// Why `spawn` refused a task.
#[derive(Debug, Error, PartialEq)]
pub enum GraphError {
    /// The id is already used in this graph.
    #[error("duplicate task id {0:?}")]
    DuplicateId(String),
    /// A handle from another graph, or out of range.
    #[error("argument {index} refers to a task that is not in this graph")]
    UnknownHandle {
        /// Position of the bad argument.
        index: usize,
    },
    /// The op does not accept these arguments.
    #[error("{0}")]
    Type(String),
    /// More tasks than a job may have: a handle names at most 2^32, and generators refuse
    /// more than [`MAX_TASKS`](crate::graph::MAX_TASKS) (2^31), or more than rank 0's memory
    /// holds (`Footprint`), before spawning.
    #[error(
        "too many tasks: a job may have at most 2^31, and no more than rank 0's memory holds \
         (about 1 KiB a task)"
    )]
    TooManyTasks,
    /// An output refers to nothing or is malformed.
    #[error("output {name:?}: {why}")]
    Output {
        /// The output's dataset name.
        name: String,
        /// What is wrong.
        why: String,
    },
}

/// A task graph under construction: spawn tasks, mark outputs, then hand it to a runtime.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    tasks: Vec<Task>,
    // Fx: ids are the job file's own strings, and a lookup by id is on every job's path.
    named: rustc_hash::FxHashMap<String, Handle>,
    outputs: Vec<Output>,
    /// True once `select_outputs` chose the outputs, even none: no default to the sinks.
    outputs_chosen: bool,
    /// The job's name, used in logs, the summary and output attributes.
    pub name: String,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph {
            name: "dirk".into(),
            ..Graph::default()
        }
    }

    /// Makes room for `additional` more tasks.
    pub fn reserve(&mut self, additional: usize) {
        self.tasks.reserve(additional);
        self.named.reserve(additional);
    }

    /// Adds an unnamed task (its id is `#<index>`) and returns its handle.
    pub fn spawn(
        &mut self,
        op: Op,
        args: impl IntoIterator<Item = Arg>,
    ) -> Result<Handle, GraphError> {
        let id = format!("#{}", self.tasks.len());
        self.insert(id, op, args.into_iter().collect(), Scope::Any)
    }

    /// Adds an unnamed task that runs the kernel named `kernel` in the process's kernel
    /// table (`crate::registry::global`: an application's own, `"myapp::heat5"`) with
    /// `params` (the kernel's params type, or any serde value of that form).
    pub fn spawn_kernel(
        &mut self,
        kernel: &str,
        args: impl IntoIterator<Item = Arg>,
        params: impl serde::Serialize,
    ) -> Result<Handle, GraphError> {
        let k = crate::registry::lookup(kernel)
            .ok_or_else(|| GraphError::Type(format!("unknown kernel {kernel:?}")))?;
        let json = serde_json::to_value(params).map_err(|e| GraphError::Type(e.to_string()))?;
        let op = k.call(&json).map_err(GraphError::Type)?;
        self.spawn(op, args)
    }

    /// Adds a task with an id and a placement scope.
    pub fn spawn_named(
        &mut self,
        id: impl Into<String>,
        op: Op,
        args: Vec<Arg>,
        scope: Scope,
    ) -> Result<Handle, GraphError> {
        let id = id.into();
        if self.named.contains_key(&id) {
            return Err(GraphError::DuplicateId(id));
        }
        let h = self.insert(id.clone(), op, args, scope)?;
        self.named.insert(id, h);
        Ok(h)
    }

    fn insert(
        &mut self,
        id: String,
        op: Op,
        args: Vec<Arg>,
        scope: Scope,
    ) -> Result<Handle, GraphError> {
        let n = self.tasks.len();
        let mut types = Vec::with_capacity(args.len());
        for (index, a) in args.iter().enumerate() {
            types.push(match a {
                Arg::Task(h) if h.index() < n => ArgType::Value(&self.tasks[h.index()].ty),
                Arg::Task(_) => return Err(GraphError::UnknownHandle { index }),
                Arg::Number(_) => ArgType::Number,
                Arg::Shape(s) => ArgType::Shape(s),
            });
        }
        let ty = op.infer(&types).map_err(GraphError::Type)?;
        if ty.checked_bytes().is_none() {
            return Err(GraphError::Type(format!(
                "the result, a {ty}, has more bytes than any memory can hold"
            )));
        }
        if let ValueType::Array { dtype, .. } = &ty {
            for (i, a) in args.iter().enumerate() {
                if let Arg::Number(x) = *a {
                    op.check_number(i, x, *dtype).map_err(GraphError::Type)?;
                }
            }
        }
        let index = u32::try_from(n).map_err(|_| GraphError::TooManyTasks)?;
        self.tasks.push(Task {
            id,
            op,
            args,
            scope,
            placement: Placement::Free,
            ty,
        });
        Ok(Handle(index))
    }

    /// Sets the placement preference of task `h` (see `Placement`); the scope still wins.
    pub fn place(&mut self, h: Handle, placement: Placement) {
        self.tasks[h.index()].placement = placement;
    }

    /// Marks a task's value as an output dataset called `name`.
    pub fn output(&mut self, name: impl Into<String>, h: Handle) -> Result<(), GraphError> {
        let name = name.into();
        let Some(t) = self.tasks.get(h.index()) else {
            return Err(GraphError::Output {
                name,
                why: "unknown task".into(),
            });
        };
        let out = Output::whole(name, h, t.ty.clone());
        self.outputs.push(out);
        Ok(())
    }

    /// Adds an output assembled from several tasks' arrays (tiles) placed at offsets.
    pub fn output_tiled(&mut self, out: Output) -> Result<(), GraphError> {
        out.check(&self.tasks).map_err(|why| GraphError::Output {
            name: out.name.clone(),
            why,
        })?;
        self.outputs.push(out);
        Ok(())
    }

    /// Replaces the outputs with `chosen`, which may be empty (then nothing is written).
    pub fn select_outputs(&mut self, chosen: Vec<Output>) -> Result<(), GraphError> {
        for out in &chosen {
            out.check(&self.tasks).map_err(|why| GraphError::Output {
                name: out.name.clone(),
                why,
            })?;
        }
        self.outputs = chosen;
        self.outputs_chosen = true;
        Ok(())
    }

    /// The outputs; when none were marked or selected, every sink (a task nobody reads)
    /// under its id.
    pub fn outputs(&self) -> Vec<Output> {
        if self.outputs_chosen || !self.outputs.is_empty() {
            return self.outputs.clone();
        }
        let mut read = vec![false; self.tasks.len()];
        for t in &self.tasks {
            for h in t.inputs() {
                read[h.index()] = true;
            }
        }
        (0..self.tasks.len())
            .filter(|&i| !read[i])
            .map(|i| {
                Output::whole(
                    self.tasks[i].id.clone(),
                    Handle(i as u32),
                    self.tasks[i].ty.clone(),
                )
            })
            .collect()
    }

    /// The tasks, in spawn (topological) order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// The task behind a handle.
    pub fn task(&self, h: Handle) -> &Task {
        &self.tasks[h.index()]
    }

    /// The handle of the task with this id, if it was spawned with `spawn_named`.
    pub fn find(&self, id: &str) -> Option<Handle> {
        self.named.get(id).copied()
    }

    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// True when no task was spawned.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}
