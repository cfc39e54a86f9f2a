//! The partitioner: which rank runs each task.
//!
//! List scheduling by earliest estimated finish time (HEFT): tasks are taken in decreasing
//! bottom level (a topological order), and each goes to the allowed rank where it would finish
//! first, counting the time to bring its inputs from other ranks and the rank's busy thread
//! slots. Since moving a value costs time, a chain stays on one rank unless another rank is
//! idle enough to win despite the transfer; independent work spreads over the ranks. Ties go
//! to the rank holding more of the task's input bytes, then to the lower rank, so the plan is
//! a deterministic function of the graph and the rank list.
//!
//! A task with a placement hint (`graph::Placement`, such as a tile coordinate) goes to the
//! rank the hint maps to, when its scope allows that rank; otherwise the hint is ignored.

use super::cost;
use super::placement::preferred_rank;
use super::PlanError;
use crate::graph::{DeviceClass, Graph, Scope};

/// What the planner knows of each rank.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RankInfo {
    /// Worker threads of this rank.
    pub threads: u32,
    /// GPUs this rank drives.
    pub gpus: u32,
}

/// Assigns every task of `g` to a rank. `order` is a topological order, `costs` the
/// per-task estimates.
pub(super) fn partition(
    g: &Graph,
    ranks: &[RankInfo],
    order: &[u32],
    costs: &[u64],
) -> Result<Vec<u32>, PlanError> {
    let n = ranks.len() as u32;
    let tasks = g.tasks();
    let any_gpu = ranks.iter().any(|r| r.gpus > 0);
    // Thread slots of every rank: the time each becomes free.
    let mut slots: Vec<Vec<u64>> = ranks
        .iter()
        .map(|r| vec![0u64; r.threads.max(1) as usize])
        .collect();
    let mut owner = vec![u32::MAX; tasks.len()];
    let mut finish = vec![0u64; tasks.len()];
    let mut candidates: Vec<u32> = Vec::with_capacity(n as usize);
    for &ti in order {
        let t = &tasks[ti as usize];
        candidates.clear();
        match &t.scope {
            Scope::Any | Scope::Device(DeviceClass::Cpu) => candidates.extend(0..n),
            Scope::Device(DeviceClass::Gpu) => {
                if !any_gpu {
                    return Err(PlanError::task(
                        &t.id,
                        "scope {\"device\": \"gpu\"} but no rank has a GPU (run on a GPU node, or drop the scope)",
                    ));
                }
                if !crate::device::has_kernel(&t.op) {
                    return Err(PlanError::task(
                        &t.id,
                        format!(
                            "scope {{\"device\": \"gpu\"}} but op `{}` has no GPU kernel (drop the scope)",
                            t.op
                        ),
                    ));
                }
                candidates.extend((0..n).filter(|&r| ranks[r as usize].gpus > 0));
            }
            Scope::Rank(_) | Scope::Ranks(_) => {
                candidates.extend((0..n).filter(|&r| t.scope.allows_rank(r)));
                if candidates.is_empty() {
                    return Err(PlanError::task(
                        &t.id,
                        format!(
                            "scope names rank {} but the job runs on {n} rank{} (ranks 0..{})",
                            t.scope.max_rank().unwrap_or(0),
                            if n == 1 { "" } else { "s" },
                            n - 1
                        ),
                    ));
                }
            }
        }
        if let Some(r) = preferred_rank(&t.placement, n) {
            if candidates.contains(&r) {
                candidates.clear();
                candidates.push(r);
            }
        }
        let mut best: Option<(u64, std::cmp::Reverse<usize>, u32, usize)> = None;
        for &r in &candidates {
            let mut ready = 0u64;
            let mut local_bytes = 0usize;
            for h in t.inputs() {
                let i = h.index();
                let bytes = tasks[i].ty.bytes();
                if owner[i] == r {
                    ready = ready.max(finish[i]);
                    local_bytes += bytes;
                } else {
                    ready = ready.max(finish[i] + cost::transfer_ns(bytes));
                }
            }
            let (slot, &free) = slots[r as usize]
                .iter()
                .enumerate()
                .min_by_key(|&(_, &f)| f)
                .expect("at least one slot");
            let end = ready.max(free) + costs[ti as usize];
            let key = (end, std::cmp::Reverse(local_bytes), r, slot);
            if best.is_none_or(|b| (key.0, key.1, key.2) < (b.0, b.1, b.2)) {
                best = Some(key);
            }
        }
        let (end, _, r, slot) = best.expect("at least one candidate");
        owner[ti as usize] = r;
        finish[ti as usize] = end;
        slots[r as usize][slot] = end;
    }
    Ok(owner)
}
