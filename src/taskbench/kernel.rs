//! Task Bench's kernels as parameters: which kernel, how many iterations, and what a task of
//! it counts as FLOPs and bytes (`count_flops_per_task`, `count_bytes_per_task` of Task
//! Bench's `core.cc`). The code that runs them is `crate::kernels::taskbench`.

use super::hash::random_uniform;
use serde::{Deserialize, Serialize};

/// The kernels dirk runs. Task Bench also names `compute_dgemm` and `memory_daxpy` (which
/// need BLAS) and `io_bound` (an `assert(false)` there), and older revisions
/// `compute_and_mem`; dirk rejects those.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KernelKind {
    /// Does nothing.
    Empty,
    /// `acc = acc * 139 % 2147483647`, `iterations` times.
    BusyWait,
    /// Copies `scratch / samples` bytes per iteration inside the task's scratch buffer.
    MemoryBound,
    /// 64 independent `a = a·a + a` per iteration (Task Bench's 16 AVX2 FMA lanes).
    ComputeBound,
    /// 32 independent `c += a·b` per iteration.
    ComputeBound2,
    /// `compute_bound` with the iteration count drawn per task (`select_imbalance_iterations`):
    /// round((1 + (u − ½)·imbalance) · iterations), u = Task Bench's `random_uniform` of the C
    /// longs (graph, timestep, point).
    LoadImbalance,
}

/// Kernel names as Task Bench spells them, in its help order (sorted).
pub const KERNEL_NAMES: &[(&str, KernelKind)] = &[
    ("busy_wait", KernelKind::BusyWait),
    ("compute_bound", KernelKind::ComputeBound),
    ("compute_bound2", KernelKind::ComputeBound2),
    ("empty", KernelKind::Empty),
    ("load_imbalance", KernelKind::LoadImbalance),
    ("memory_bound", KernelKind::MemoryBound),
];

/// Task Bench kernels dirk knows the names of but does not run.
pub const UNSUPPORTED_KERNELS: &[&str] = &[
    "compute_and_mem",
    "compute_dgemm",
    "io_bound",
    "memory_daxpy",
];

impl KernelKind {
    /// Task Bench's name of the kernel.
    pub fn name(self) -> &'static str {
        KERNEL_NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .expect("every kernel has a name")
    }

    /// The kernel called `name`.
    pub fn parse(name: &str) -> Option<KernelKind> {
        KERNEL_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }
}

/// One graph's kernel: Task Bench's `kernel_t`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KernelSpec {
    /// Which kernel.
    pub kind: KernelKind,
    /// `-iter`.
    pub iterations: i64,
    /// `-sample` (memory_bound: the scratch buffer is cut into this many samples).
    pub samples: i32,
    /// `-imbalance` (load_imbalance), in [0, 2].
    pub imbalance: f64,
}

impl Default for KernelSpec {
    fn default() -> Self {
        KernelSpec {
            kind: KernelKind::Empty,
            iterations: 0,
            samples: 16,
            imbalance: 0.0,
        }
    }
}

impl KernelSpec {
    /// Iterations the task at (timestep, point) of graph `graph_index` runs
    /// (`select_imbalance_iterations` for load_imbalance).
    pub fn iterations_at(&self, graph_index: i64, timestep: i64, point: i64) -> i64 {
        match self.kind {
            KernelKind::LoadImbalance => {
                let u = random_uniform(&[graph_index, timestep, point]);
                ((1.0 + (u - 0.5) * self.imbalance) * self.iterations as f64).round() as i64
            }
            _ => self.iterations,
        }
    }

    /// FLOPs Task Bench counts for one task.
    pub fn flops(&self, graph_index: i64, timestep: i64, point: i64) -> i64 {
        match self.kind {
            KernelKind::Empty | KernelKind::BusyWait | KernelKind::MemoryBound => 0,
            KernelKind::ComputeBound => 2 * 64 * self.iterations + 64,
            KernelKind::ComputeBound2 => 2 * 32 * self.iterations,
            KernelKind::LoadImbalance => {
                2 * 64 * self.iterations_at(graph_index, timestep, point) + 64
            }
        }
    }

    /// Bytes Task Bench counts for one task with `scratch` scratch bytes.
    pub fn bytes(&self, scratch: i64) -> i64 {
        match self.kind {
            KernelKind::MemoryBound => scratch * self.iterations / i64::from(self.samples),
            _ => 0,
        }
    }
}
