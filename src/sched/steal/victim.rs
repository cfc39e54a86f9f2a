//! The victim's side of a steal: taking tasks out of the ready queue for a thief and packing
//! them with their input values into a `Reply`. The protocol machine decides that a request
//! is answered (`Action::Give`); the executor calls `give` with what it alone knows (whether
//! it must refuse, its running tasks, its slots' values) and reports the outcome back to the
//! machine (`Event::Given`, and `Event::Dry` once nothing movable is left).

use super::policy::{self, Candidate, StealPolicy};
use super::wire::{Msg, WireArg, WireTask};
use super::Stealing;
use crate::graph::Value;
use crate::plan::{LocalArg, LocalPlan};
use crate::sched::ready::ReadyQueue;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A reply carries about this much estimated work per idle thread of the thief, ns.
const BATCH_NS: f64 = 2e6;

/// A victim considers only this many of its least urgent ready tasks (so a request costs
/// little however long the queue).
const TAIL: usize = 64;

/// What `give` handed over.
pub(crate) struct Given {
    /// The encoded `Reply`, for the thief.
    pub reply: Vec<u8>,
    /// Tasks in it.
    pub tasks: usize,
    /// Of those, the ones counted as movable (`Stealing::movable_left` goes down by these).
    pub movable: usize,
}

/// Answers `thief`'s request for `want` tasks: unless `refuse`, takes them out of `ready`
/// under its lock (so none can also start here) by the rank's policy, marks them given, and
/// encodes them with their inputs (`input` reads a slot; every input of a ready task is
/// present). `running`: tasks running here now.
#[allow(clippy::too_many_arguments)]
pub(crate) fn give(
    st: &Stealing,
    plan: &LocalPlan,
    ready: &ReadyQueue,
    thief: u32,
    want: usize,
    running: usize,
    refuse: bool,
    input: impl Fn(u32) -> Arc<Value>,
) -> Given {
    let taken = if refuse {
        Vec::new()
    } else {
        ready.take(TAIL, |ahead, queue| match st.policy {
            StealPolicy::Cost => {
                let cands: Vec<Candidate> = queue
                    .iter()
                    .map(|&(_, t)| policy::candidate(plan, &st.model, thief, t))
                    .collect();
                policy::choose(
                    &cands,
                    ahead,
                    st.threads,
                    running,
                    want * TAIL,
                    want as f64 * BATCH_NS,
                    2.0 * st.model.transfer_ns(thief, 0),
                )
            }
            StealPolicy::Random(_) => {
                let mut dice = st.dice.lock().expect("dice lock");
                let mut out = Vec::new();
                for (i, &(_, t)) in queue.iter().enumerate() {
                    if out.len() < want && plan.tasks[t as usize].stealable && dice.next() % 2 == 0
                    {
                        out.push(i);
                    }
                }
                out
            }
        })
    };
    let held: Vec<(u32, Vec<Option<Arc<Value>>>)> = taken
        .iter()
        .map(|&(_, t)| {
            st.given[t as usize].store(true, Ordering::Release);
            let vals = plan.tasks[t as usize]
                .args
                .iter()
                .map(|a| match a {
                    LocalArg::Slot(s) => Some(input(*s)),
                    _ => None,
                })
                .collect();
            (t, vals)
        })
        .collect();
    let tasks: Vec<WireTask> = held
        .iter()
        .map(|(t, vals)| {
            let task = &plan.tasks[*t as usize];
            WireTask {
                task: *t,
                key: plan.slots[task.out as usize].key,
                id: task.id.clone(),
                op: task.op.clone(),
                args: WireArg::of_task(&task.args, vals),
            }
        })
        .collect();
    // Only the movable ones were counted: `choose` judges by the learned costs and this
    // thief's link, so it may hand over a task judged unmovable at the start.
    let movable = taken
        .iter()
        .filter(|&&(_, t)| st.movable[t as usize])
        .count();
    let n = tasks.len();
    Given {
        reply: Msg::Reply {
            load: ready.len() as u64,
            tasks,
        }
        .encode(),
        tasks: n,
        movable,
    }
}
