//! A rank's share of the plan: its tasks, the values it holds (its own results and the remote
//! values its tasks read), whom to send each result to, and its outputs. Built on rank 0 for
//! every rank and sent to each; no rank ever holds the whole graph except rank 0 while
//! planning.

use crate::graph::{Arg, DeviceClass, Graph, Op, Output, Scope, Task, ValueType};
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

/// An argument as a rank-local task sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LocalArg {
    /// The value held in this slot.
    Slot(u32),
    /// A number literal.
    Number(f64),
    /// A shape literal.
    Shape(Vec<usize>),
}

impl LocalArg {
    /// The earlier argument of `args` that names the same slot as `args[i]`, if any: a task
    /// may name one value several times (a stencil tile that is its own neighbour), and
    /// each value counts, travels and is held once.
    pub fn earlier(args: &[LocalArg], i: usize) -> Option<usize> {
        match &args[i] {
            LocalArg::Slot(_) => args[..i].iter().position(|b| b == &args[i]),
            _ => None,
        }
    }
}

/// A task this rank runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalTask {
    /// The task id (for errors, traces and outputs).
    pub id: String,
    /// The kernel.
    pub op: Op,
    /// Arguments, with values referred to by slot.
    pub args: Vec<LocalArg>,
    /// Bottom level: higher runs first.
    pub priority: u64,
    /// The slot its result goes to.
    pub out: u32,
    /// Ranks that need the result, each sent it once.
    pub send_to: Vec<u32>,
    /// Distinct input slots it waits for.
    pub deps: u32,
    /// The device class its scope demands (`None`: the rank chooses).
    pub device: Option<DeviceClass>,
    /// The planner's estimate of its run time, ns (seeds the learning cost model).
    pub cost_ns: u64,
    /// Another rank may run it (`crate::sched::steal`): false when its scope names ranks or
    /// a GPU, or it reads a file (`load`), which may exist only where it was planned.
    pub stealable: bool,
}

/// Where a slot's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// Produced here by this local task.
    Local(u32),
    /// Received from this rank.
    Remote(u32),
    /// Read at start from this checkpoint file (`LocalPlan::checkpoint_files`): the task
    /// finished before the checkpoint a resumed run starts from.
    Checkpoint(u32),
}

/// What a resumed run starts from: the tasks a checkpoint says are finished, and which of
/// its files holds each value still needed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resume {
    /// Per graph task: finished before the checkpoint.
    pub finished: Vec<bool>,
    /// Value of a finished task (by graph index) -> index into `files`.
    pub holder: HashMap<u32, u32>,
    /// The checkpoint's per-rank files.
    pub files: Vec<String>,
}

impl Resume {
    /// Whether `g` can be planned from this checkpoint: every finished task whose value is
    /// still needed (an argument of an unfinished task, or an output) has it stored; else
    /// why not, as `build` would fail.
    pub fn check(&self, g: &Graph) -> Result<(), String> {
        let tasks = g.tasks();
        if self.finished.len() != tasks.len() {
            return Err("it was written for a graph of another size".into());
        }
        let lacks = |i: usize| -> Result<(), String> {
            if self.finished[i] && !self.holder.contains_key(&(i as u32)) {
                return Err(format!(
                    "the checkpoint lacks the value of finished task {:?}",
                    tasks[i].id
                ));
            }
            Ok(())
        };
        for (i, t) in tasks.iter().enumerate() {
            if self.finished[i] {
                continue;
            }
            for a in &t.args {
                if let Arg::Task(h) = a {
                    lacks(h.index())?;
                }
            }
        }
        for o in g.outputs() {
            for part in &o.parts {
                lacks(part.task as usize)?;
            }
        }
        Ok(())
    }
}

/// A value present on this rank at some point of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Slot {
    /// The producing task's global index: the message tag of a transfer.
    pub key: u32,
    /// Producer.
    pub source: Source,
    /// Its type, so a receiver allocates exactly.
    pub ty: ValueType,
    /// Local tasks that read it (distinct); the value is freed when the last is done.
    pub readers: Vec<u32>,
    /// Kept to the end of the run (an output on rank 0).
    pub pinned: bool,
}

/// Everything one rank needs to run its share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LocalPlan {
    /// This rank.
    pub rank: u32,
    /// Number of ranks.
    pub ranks: u32,
    /// The job's name.
    pub name: String,
    /// Tasks in the whole graph.
    pub total_tasks: u64,
    /// This rank's tasks.
    pub tasks: Vec<LocalTask>,
    /// Values this rank holds.
    pub slots: Vec<Slot>,
    /// Outputs (rank 0 only): datasets whose parts' tasks are `Slot::key`s of pinned slots.
    pub outputs: Vec<Output>,
    /// Checkpoint files that `Source::Checkpoint` slots read from (resumed runs only).
    pub checkpoint_files: Vec<String>,
}

impl LocalPlan {
    /// The slots read from a checkpoint at start, with the file each comes from.
    pub fn checkpoint_slots(&self) -> impl Iterator<Item = (u32, &Slot, &str)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s.source {
                Source::Checkpoint(f) => {
                    Some((i as u32, s, self.checkpoint_files[f as usize].as_str()))
                }
                _ => None,
            })
    }

    /// Bytes of the values local task `t` reads, each slot once however often the task names
    /// it (a stencil tile that is its own neighbour).
    pub fn input_bytes(&self, t: u32) -> usize {
        let args = &self.tasks[t as usize].args;
        args.iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                LocalArg::Slot(s) if LocalArg::earlier(args, i).is_none() => {
                    Some(self.slots[*s as usize].ty.bytes())
                }
                _ => None,
            })
            .sum()
    }

    /// Number of values this rank receives.
    pub fn remote_slots(&self) -> usize {
        self.remote_values().count()
    }

    /// The values this rank receives: (key, sending rank, type), in slot order.
    pub fn remote_values(&self) -> impl Iterator<Item = (u32, u32, &ValueType)> + '_ {
        self.slots.iter().filter_map(|s| match s.source {
            Source::Remote(r) => Some((s.key, r, &s.ty)),
            _ => None,
        })
    }
}

/// The state of one split of the graph into shares, while it is being built.
struct Split<'g> {
    tasks: &'g [Task],
    owner: &'g [u32],
    resume: Option<&'g Resume>,
    plans: Vec<LocalPlan>,
    /// Global task -> its local task index on its owner.
    local_task: Vec<u32>,
    /// Global task -> its slot on its owner.
    local_slot: Vec<u32>,
    /// (rank, global task) -> the slot of a copy on that rank (received or from a checkpoint).
    copies: HashMap<(u32, u32), u32>,
}

impl Split<'_> {
    fn finished(&self, i: usize) -> bool {
        self.resume.is_some_and(|r| r.finished[i])
    }

    fn push_slot(&mut self, r: u32, key: u32, source: Source) -> u32 {
        let p = &mut self.plans[r as usize];
        p.slots.push(Slot {
            key,
            source,
            ty: self.tasks[key as usize].ty.clone(),
            readers: Vec::new(),
            pinned: false,
        });
        (p.slots.len() - 1) as u32
    }

    /// The slot on rank `r` that holds the value of task `i`: its own slot when `r` made it,
    /// else one copy per rank, read from the checkpoint (a finished task) or received from
    /// the producer (which then sends it to `r`, once).
    fn slot_on(&mut self, r: u32, i: u32) -> Result<u32, String> {
        let iu = i as usize;
        if !self.finished(iu) && self.owner[iu] == r {
            return Ok(self.local_slot[iu]);
        }
        if let Some(&s) = self.copies.get(&(r, i)) {
            return Ok(s);
        }
        let source = match self.resume.filter(|_| self.finished(iu)) {
            Some(res) => Source::Checkpoint(*res.holder.get(&i).ok_or_else(|| {
                format!(
                    "the checkpoint lacks the value of finished task {:?}",
                    self.tasks[iu].id
                )
            })?),
            None => {
                let src = self.owner[iu];
                let producer = &mut self.plans[src as usize].tasks[self.local_task[iu] as usize];
                producer.send_to.push(r);
                Source::Remote(src)
            }
        };
        let s = self.push_slot(r, i, source);
        self.copies.insert((r, i), s);
        Ok(s)
    }
}

/// Splits the graph into one `LocalPlan` per rank. With `resume`, finished tasks are left
/// out and the values they made that are still needed come from the checkpoint; fails with
/// the id of a finished task whose needed value the checkpoint lacks.
pub(super) fn build(
    g: &Graph,
    owner: &[u32],
    priority: &[u64],
    outputs: Vec<Output>,
    ranks: u32,
    resume: Option<&Resume>,
) -> Result<Vec<LocalPlan>, String> {
    let tasks = g.tasks();
    let mut split = Split {
        tasks,
        owner,
        resume,
        plans: (0..ranks)
            .map(|rank| LocalPlan {
                rank,
                ranks,
                name: g.name.clone(),
                total_tasks: tasks.len() as u64,
                tasks: Vec::new(),
                slots: Vec::new(),
                outputs: Vec::new(),
                checkpoint_files: resume.map(|r| r.files.clone()).unwrap_or_default(),
            })
            .collect(),
        local_task: vec![u32::MAX; tasks.len()],
        local_slot: vec![u32::MAX; tasks.len()],
        copies: HashMap::default(),
    };
    // Room for every rank's own tasks and their result slots up front: growing vectors of a
    // million tasks copies them over and over.
    let mut share = vec![0usize; ranks as usize];
    for (gi, &r) in owner.iter().enumerate() {
        if !split.finished(gi) {
            share[r as usize] += 1;
        }
    }
    for (p, &n) in split.plans.iter_mut().zip(&share) {
        p.tasks.reserve_exact(n);
        p.slots.reserve(n);
    }
    let mut inputs: Vec<u32> = Vec::new();
    // Spawn order is topological: every producer is placed before its consumers.
    for (gi, t) in tasks.iter().enumerate() {
        if split.finished(gi) {
            continue;
        }
        let r = owner[gi];
        let lt = split.plans[r as usize].tasks.len() as u32;
        let mut args = Vec::with_capacity(t.args.len());
        inputs.clear();
        for a in &t.args {
            args.push(match a {
                Arg::Task(h) => {
                    let slot = split.slot_on(r, h.index() as u32)?;
                    if !inputs.contains(&slot) {
                        inputs.push(slot);
                    }
                    LocalArg::Slot(slot)
                }
                Arg::Number(x) => LocalArg::Number(*x),
                Arg::Shape(s) => LocalArg::Shape(s.clone()),
            });
        }
        for &s in &inputs {
            split.plans[r as usize].slots[s as usize].readers.push(lt);
        }
        let out = split.push_slot(r, gi as u32, Source::Local(lt));
        split.plans[r as usize].tasks.push(LocalTask {
            id: t.id.clone(),
            op: t.op.clone(),
            args,
            priority: priority[gi],
            out,
            send_to: Vec::new(),
            deps: inputs.len() as u32,
            device: match t.scope {
                Scope::Device(d) => Some(d),
                _ => None,
            },
            cost_ns: super::cost::task_ns(g, t),
            stealable: matches!(t.scope, Scope::Any | Scope::Device(DeviceClass::Cpu))
                && t.op.input_file().is_none(),
        });
        split.local_task[gi] = lt;
        split.local_slot[gi] = out;
    }
    // Outputs are gathered on rank 0.
    for o in &outputs {
        for part in &o.parts {
            let slot = split.slot_on(0, part.task)?;
            split.plans[0].slots[slot as usize].pinned = true;
        }
    }
    split.plans[0].outputs = outputs;
    Ok(split.plans)
}

#[cfg(test)]
mod tests {
    use crate::graph::{Arg, DType, Graph, Op};
    use crate::plan::{plan, RankInfo};

    /// A checkpoint that lacks a still-needed value is found out before planning (so resume
    /// can fall back to an older one), with the error planning would give.
    #[test]
    fn a_checkpoint_lacking_a_needed_value_is_unusable() {
        let mut g = Graph::new();
        let x = g
            .spawn(
                Op::new(crate::kernels::Rand {
                    seed: 1,
                    dtype: DType::F64,
                }),
                [Arg::Shape(vec![4])],
            )
            .unwrap();
        let y = g.spawn(Op::new(crate::kernels::Sum), [x.into()]).unwrap();
        let _z = g
            .spawn(Op::new(crate::kernels::Mul), [y.into(), Arg::Number(2.0)])
            .unwrap();
        let r = |finished: Vec<bool>, held: &[u32]| super::Resume {
            finished,
            holder: held.iter().map(|&k| (k, 0)).collect(),
            files: vec!["f".into()],
        };
        let info = RankInfo {
            threads: 1,
            gpus: 0,
        };
        // x finished, its value stored: fine.
        assert_eq!(r(vec![true, false, false], &[0]).check(&g), Ok(()));
        // x and y finished, only y's stored: x's value is needed by nobody.
        assert_eq!(r(vec![true, true, false], &[1]).check(&g), Ok(()));
        // x finished without its value: unusable, as planning says.
        let bad = r(vec![true, false, false], &[]);
        let why = bad.check(&g).unwrap_err();
        assert!(why.contains("lacks the value"), "{why}");
        assert!(crate::plan::plan_resumed(&g, &[info], Some(&bad)).is_err());
        // The output (the sink) finished without its value.
        assert!(r(vec![true, true, true], &[0, 1]).check(&g).is_err());
    }

    #[test]
    fn a_value_named_twice_counts_once_in_the_input_bytes() {
        let mut g = Graph::new();
        let rand = |g: &mut Graph, shape: &[usize]| {
            g.spawn(
                Op::new(crate::kernels::Rand {
                    seed: 1,
                    dtype: DType::F64,
                }),
                [Arg::Shape(shape.to_vec())],
            )
            .unwrap()
        };
        let x = rand(&mut g, &[10, 10]);
        let y = rand(&mut g, &[10, 1]);
        let twice = g
            .spawn(Op::new(crate::kernels::Add), [x.into(), x.into()])
            .unwrap();
        let both = g
            .spawn(Op::new(crate::kernels::Matmul), [x.into(), y.into()])
            .unwrap();
        let p = &plan(
            &g,
            &[RankInfo {
                threads: 1,
                gpus: 0,
            }],
        )
        .unwrap()[0];
        let local = |h: crate::graph::Handle| {
            p.tasks
                .iter()
                .position(|t| t.id == g.tasks()[h.index()].id)
                .unwrap() as u32
        };
        assert_eq!(p.input_bytes(local(twice)), 800);
        assert_eq!(p.tasks[local(twice) as usize].deps, 1);
        assert_eq!(p.input_bytes(local(both)), 880);
        assert_eq!(p.input_bytes(local(x)), 0);
    }
}
