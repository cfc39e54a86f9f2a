//! Static cost estimates in nanoseconds: how long a task runs and how long its value takes to
//! cross to another rank. The planner uses them for priorities and placement.
//!
//! A task's run time is its kernel's cost hint (`registry::Builtin::cost_ns`, beside each
//! kernel); the transfer figures are round numbers measured once on a 2-core x86 VM (see
//! BENCHMARKS.md); only their ratios matter to the planner.

use crate::graph::{Graph, Task, ValueType};
use crate::registry::CostArgs;

/// One-way latency of a message between ranks, ns.
pub(super) const LATENCY_NS: u64 = 5_000;
/// Transfer cost per byte, ns (about 5 GB/s).
pub(super) const NS_PER_BYTE: f64 = 0.2;

/// Estimated time to move `bytes` to another rank.
pub fn transfer_ns(bytes: usize) -> u64 {
    LATENCY_NS + (bytes as f64 * NS_PER_BYTE) as u64
}

/// Estimated run time of task `t` of `g` (its kernel's cost hint), at least 1 ns (so
/// priorities strictly decrease along every edge).
pub fn task_ns(g: &Graph, t: &Task) -> u64 {
    let input = |i: usize| -> Option<&ValueType> { t.inputs().nth(i).map(|h| &g.task(h).ty) };
    let ns = t.op.cost_ns(&CostArgs {
        out: &t.ty,
        inputs: &input,
    });
    (ns as u64).max(1)
}
