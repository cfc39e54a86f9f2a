//! Static cost estimates in nanoseconds: how long a task runs and how long its value takes to
//! cross to another rank. The planner uses them for priorities and placement.
//!
//! The figures are deliberately round numbers measured once on a 2-core x86 VM (see
//! BENCHMARKS.md); only their ratios matter to the planner.

use crate::graph::{Graph, Op, Task, ValueType};

/// One-way latency of a message between ranks, ns.
pub(super) const LATENCY_NS: u64 = 5_000;
/// Transfer cost per byte, ns (about 5 GB/s).
pub(super) const NS_PER_BYTE: f64 = 0.2;

/// Estimated time to move `bytes` to another rank.
pub fn transfer_ns(bytes: usize) -> u64 {
    LATENCY_NS + (bytes as f64 * NS_PER_BYTE) as u64
}

/// Extent of axis `a` of an array type (1 for a scalar).
fn dim(ty: &ValueType, a: usize) -> f64 {
    match ty {
        ValueType::Array { shape, .. } => shape.get(a).copied().unwrap_or(1) as f64,
        ValueType::Scalar => 1.0,
    }
}

/// Estimated run time of task `t` of `g`, at least 1 ns (so priorities strictly decrease along
/// every edge).
pub fn task_ns(g: &Graph, t: &Task) -> u64 {
    let out = t.ty.len() as f64;
    let input = |i: usize| -> Option<&ValueType> { t.inputs().nth(i).map(|h| &g.task(h).ty) };
    let ns = match &t.op {
        Op::Rand { .. } => 200.0 + 2.0 * out,
        Op::Fill { .. } => 100.0 + 0.5 * out,
        Op::Load { ty, .. } => 50_000.0 + ty.bytes() as f64,
        Op::Add | Op::Sub | Op::Mul | Op::Div => 100.0 + 1.0 * out,
        Op::Sum => 100.0 + 0.5 * input(0).map_or(0, ValueType::len) as f64,
        Op::Transpose => 100.0 + 2.0 * out,
        Op::Matmul => {
            let k = match input(0) {
                Some(ValueType::Array { shape, .. }) => shape[1],
                _ => 1,
            };
            1_000.0 + 2.0 * out * k as f64 / 20.0
        }
        Op::Busy { iterations } => 100.0 + *iterations as f64 + 0.5 * out,
        Op::RandTile { .. } => 200.0 + 2.0 * out,
        Op::RandSpd { .. } => 200.0 + 6.0 * out,
        Op::LoadTile { .. } => 50_000.0 + t.ty.bytes() as f64,
        Op::Slice { .. } => 100.0 + 0.5 * out,
        Op::LifeStep { .. } => 1_000.0 + 1.0 * out,
        Op::HeatStep { .. } => 1_000.0 + 1.5 * out,
        Op::Conv2d { kshape, .. } => 1_000.0 + out * (kshape[0] * kshape[1]) as f64,
        // Dense tile kernels: flops at about 20 per ns, like `matmul`.
        Op::Potrf => 1_000.0 + out * dim(&t.ty, 0) / 3.0 / 20.0,
        Op::Trsm => 1_000.0 + out * dim(&t.ty, 1) / 20.0,
        Op::Syrk | Op::GemmNt => 1_000.0 + 2.0 * out * input(1).map_or(1.0, |a| dim(a, 1)) / 20.0,
        Op::MatmulAcc => 1_000.0 + 2.0 * out * input(1).map_or(1.0, |a| dim(a, 1)) / 20.0,
        // Task Bench: FLOPs at about 8 per ns, copied bytes at about 5 per ns, busy_wait
        // iterations about 5 ns each.
        Op::TaskBench(tb) => {
            use crate::taskbench::KernelKind as K;
            let k = &tb.kernel;
            let work = match k.kind {
                K::Empty => 0.0,
                K::BusyWait => 5.0 * k.iterations as f64,
                K::MemoryBound => k.bytes(tb.scratch_bytes as i64) as f64 / 5.0,
                _ => k.flops(tb.graph, tb.timestep, tb.point) as f64 / 8.0,
            };
            100.0 + work + 0.1 * out
        }
        Op::Kernel(c) => c.cost_ns(&t.ty),
    };
    (ns as u64).max(1)
}
