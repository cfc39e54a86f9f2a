//! A rank's share of the plan: its tasks, the values it holds (its own results and the remote
//! values its tasks read), whom to send each result to, and its outputs. Built on rank 0 for
//! every rank and sent to each; no rank ever holds the whole graph except rank 0 while
//! planning.

use crate::graph::{Arg, Graph, Op, Output, ValueType};
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
}

/// Where a slot's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// Produced here by this local task.
    Local(u32),
    /// Received from this rank.
    Remote(u32),
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
}

impl LocalPlan {
    /// Number of values this rank receives.
    pub fn remote_slots(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.source, Source::Remote(_)))
            .count()
    }
}

/// Splits the graph into one `LocalPlan` per rank.
pub(super) fn build(
    g: &Graph,
    owner: &[u32],
    priority: &[u64],
    outputs: Vec<Output>,
    ranks: u32,
) -> Vec<LocalPlan> {
    let tasks = g.tasks();
    let mut plans: Vec<LocalPlan> = (0..ranks)
        .map(|rank| LocalPlan {
            rank,
            ranks,
            name: g.name.clone(),
            total_tasks: tasks.len() as u64,
            tasks: Vec::new(),
            slots: Vec::new(),
            outputs: Vec::new(),
        })
        .collect();
    // Global task -> (its local task index on its owner, its slot there).
    let mut local_task = vec![u32::MAX; tasks.len()];
    let mut local_slot = vec![u32::MAX; tasks.len()];
    // (rank, global task) -> slot of a remote copy on that rank.
    let mut remote: HashMap<(u32, u32), u32> = HashMap::default();

    fn remote_slot(
        plans: &mut [LocalPlan],
        remote: &mut HashMap<(u32, u32), u32>,
        local_task: &[u32],
        owner: &[u32],
        ty: &ValueType,
        r: u32,
        i: u32,
    ) -> u32 {
        *remote.entry((r, i)).or_insert_with(|| {
            let src = owner[i as usize];
            let producer = &mut plans[src as usize].tasks[local_task[i as usize] as usize];
            if !producer.send_to.contains(&r) {
                producer.send_to.push(r);
            }
            let p = &mut plans[r as usize];
            p.slots.push(Slot {
                key: i,
                source: Source::Remote(src),
                ty: ty.clone(),
                readers: Vec::new(),
                pinned: false,
            });
            (p.slots.len() - 1) as u32
        })
    }

    // Spawn order is topological: every producer is placed before its consumers.
    for (gi, t) in tasks.iter().enumerate() {
        let r = owner[gi];
        let lt = plans[r as usize].tasks.len() as u32;
        let mut args = Vec::with_capacity(t.args.len());
        let mut inputs: Vec<u32> = Vec::new();
        for a in &t.args {
            args.push(match a {
                Arg::Task(h) => {
                    let i = h.index() as u32;
                    let slot = if owner[i as usize] == r {
                        local_slot[i as usize]
                    } else {
                        remote_slot(
                            &mut plans,
                            &mut remote,
                            &local_task,
                            owner,
                            &tasks[i as usize].ty,
                            r,
                            i,
                        )
                    };
                    if !inputs.contains(&slot) {
                        inputs.push(slot);
                    }
                    LocalArg::Slot(slot)
                }
                Arg::Number(x) => LocalArg::Number(*x),
                Arg::Shape(s) => LocalArg::Shape(s.clone()),
            });
        }
        let p = &mut plans[r as usize];
        for &s in &inputs {
            p.slots[s as usize].readers.push(lt);
        }
        p.slots.push(Slot {
            key: gi as u32,
            source: Source::Local(lt),
            ty: t.ty.clone(),
            readers: Vec::new(),
            pinned: false,
        });
        let out = (p.slots.len() - 1) as u32;
        p.tasks.push(LocalTask {
            id: t.id.clone(),
            op: t.op.clone(),
            args,
            priority: priority[gi],
            out,
            send_to: Vec::new(),
            deps: inputs.len() as u32,
        });
        local_task[gi] = lt;
        local_slot[gi] = out;
    }
    // Outputs are gathered on rank 0.
    for o in &outputs {
        for part in &o.parts {
            let i = part.task;
            let slot = if owner[i as usize] == 0 {
                local_slot[i as usize]
            } else {
                remote_slot(
                    &mut plans,
                    &mut remote,
                    &local_task,
                    owner,
                    &tasks[i as usize].ty,
                    0,
                    i,
                )
            };
            plans[0].slots[slot as usize].pinned = true;
        }
    }
    plans[0].outputs = outputs;
    plans
}
