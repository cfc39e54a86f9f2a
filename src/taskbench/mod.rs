//! Task Bench compatibility (StanfordLegion/task-bench): its task graphs, kernels, command
//! line and summary lines, so that Task Bench's own scripts (METG and friends) can score dirk.
//!
//! - `pattern.rs`: the dependence patterns: which points exist at each timestep and what
//!   each depends on (a transcription of Task Bench's `TaskGraph`);
//! - `kernel.rs`: kernel parameters and the FLOPs and bytes Task Bench counts for them;
//! - `hash.rs`: Task Bench's deterministic random numbers (SipHash-2-4);
//! - `flags.rs`: its command line (`-steps -width -type -kernel -iter -output … -and`);
//! - `report.rs`: the lines it prints before and after a run.
//!
//! The graph itself is spawned by the `taskbench` workload (`job/workloads/taskbench.rs`),
//! its tasks run `kernels/taskbench.rs`, and `dirk taskbench` (in `main.rs`) wires them to
//! a run. Nothing here does I/O or MPI.

mod flags;
mod hash;
mod kernel;
mod pattern;
mod report;

pub use flags::{help, parse, App, Parsed};
pub use hash::{random_bits, random_uniform, siphash24};
pub use kernel::{KernelKind, KernelSpec, KERNEL_NAMES, UNSUPPORTED_KERNELS};
pub use pattern::{GraphSpec, Pattern, PATTERN_NAMES};
pub use report::{c_exp, display, report_timing};
