//! Planning, on rank 0: priorities, the partition of tasks over ranks, and each rank's share
//! of the plan in a compact binary encoding. Deterministic: the same graph and rank list
//! always give the same plan. No MPI here; `crate::runtime` moves the bytes.

mod cost;
mod fingerprint;
pub mod learn;
mod local;
mod partition;
mod placement;
mod priority;
pub mod rebalance;

pub use cost::{task_ns, transfer_ns};
pub use fingerprint::fingerprint;
pub use local::{LocalArg, LocalPlan, LocalTask, Resume, Slot, Source};
pub use partition::RankInfo;
pub use priority::{bottom_levels, placed_levels};

use crate::graph::Graph;
use thiserror::Error;

/// The plan cannot satisfy the job (exit status 2).
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{}", describe(.task, .why))]
pub struct PlanError {
    /// The task whose constraints cannot be met.
    pub task: String,
    /// Why.
    pub why: String,
}

/// `task "id": why`, or just `why` for an error of the whole job (no task to name).
fn describe(task: &str, why: &str) -> String {
    if task.is_empty() {
        why.to_string()
    } else {
        format!("task {task:?}: {why}")
    }
}

impl PlanError {
    pub(crate) fn task(id: &str, why: impl Into<String>) -> PlanError {
        PlanError {
            task: id.to_string(),
            why: why.into(),
        }
    }
}

/// Who runs what: the owner rank and priority of every task.
#[derive(Clone, Debug, PartialEq)]
pub struct Assignment {
    /// Rank of each task, by graph index.
    pub owner: Vec<u32>,
    /// Bottom level of each task, with transfers between the ranks chosen
    /// (`placed_levels`).
    pub priority: Vec<u64>,
}

/// Places every task of `g` on one of `ranks`.
pub fn assign(g: &Graph, ranks: &[RankInfo]) -> Result<Assignment, PlanError> {
    let (costs, priority) = bottom_levels(g);
    let mut order: Vec<u32> = (0..g.len() as u32).collect();
    // Decreasing bottom level is topological (levels strictly decrease along edges); ties
    // keep spawn order.
    order.sort_by_key(|&i| (std::cmp::Reverse(priority[i as usize]), i));
    let owner = partition::partition(g, ranks, &order, &costs)?;
    let priority = placed_levels(g, &costs, &owner);
    Ok(Assignment { owner, priority })
}

/// Plans `g` for `ranks` and returns each rank's share.
pub fn plan(g: &Graph, ranks: &[RankInfo]) -> Result<Vec<LocalPlan>, PlanError> {
    plan_resumed(g, ranks, None)
}

/// Plans `g` for `ranks`, leaving out the tasks `resume` says are finished: their values
/// still needed come from the checkpoint.
pub fn plan_resumed(
    g: &Graph,
    ranks: &[RankInfo],
    resume: Option<&Resume>,
) -> Result<Vec<LocalPlan>, PlanError> {
    let t = std::time::Instant::now();
    let a = assign(g, ranks)?;
    let t = crate::trace::record_phase("partition", t);
    let shares = local::build(
        g,
        &a.owner,
        &a.priority,
        g.outputs(),
        ranks.len() as u32,
        resume,
    )
    .map_err(|why| PlanError {
        task: String::new(),
        why,
    });
    crate::trace::record_phase("local", t);
    shares
}

/// Encodes a rank's share for the wire.
pub fn encode(p: &LocalPlan) -> Vec<u8> {
    postcard::to_allocvec(p).expect("a plan always encodes")
}

/// Decodes a rank's share.
pub fn decode(bytes: &[u8]) -> Result<LocalPlan, String> {
    postcard::from_bytes(bytes).map_err(|e| format!("corrupt plan message: {e}"))
}
