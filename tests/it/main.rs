//! dirk's integration tests: one binary, one module per area.
//!
//! - `props`: property tests of the graph, planner and scheduler (in-process ranks);
//! - `reference`: independent sequential references the other modules compare with;
//! - `mpi_runs`: the real binary under mpirun at 1–4 ranks, against independent references;
//! - `checkpoint`: kill-and-resume, failed checkpoint writes, corrupt and foreign checkpoints;
//! - `failures`: the failure detector (a frozen rank, long tasks that are not dead);
//! - `multihost`: three network namespaces over TCP: identical results (diamond, random, Life),
//!   SIGSTOP, link down and partition each end the job in time, a lost host's checkpoint resumes;
//! - `device`: the scheduler's GPU path on the host-backed device, results equal to the CPU's
//!   and to the references (ops, Life, heat, conv2d, a Cholesky residual); GPU detection and
//!   fallback;
//! - `slurm`: the batch scripts submitted with sbatch to a throwaway one-node Slurm;
//! - `observe`: traces, `dirk plot` (Gantt, DAG), `dirk report`, progress lines, bad files;
//! - `workloads`: Life, heat, conv2d, GEMM, Cholesky, reduce at 1-4 ranks against references;
//! - `taskbench`: Task Bench's patterns, counts and summary lines (`dirk taskbench`), bad flags;
//! - `taskbench_fidelity`: dirk's Task Bench graphs and summaries against values printed by
//!   Task Bench's own core (all twelve patterns, every kernel dirk runs);
//! - `steal`: cross-rank work stealing under mpirun: tasks stolen from a skewed job, each run
//!   once, results equal to the chains computed in the test (stealing on and off, 2 and 4
//!   ranks); with checkpoints and resume; calibration files;
//! - `resume_trials`: Life killed with SIGKILL at random moments (2-4 ranks, checkpoints every
//!   0.5-0.75 s, stealing on and off) resumes to the reference without redoing checkpointed work;
//!   a run whose ranks all idle with tasks left ends with exit 1 naming what it waits for;
//! - `hostile`: issue 21's hostile input (sizes, clobbering, odd arguments, FIFOs, unreadable
//!   inputs, duplicate keys, long lines, absurd times); `fuzz`: generated malformed job files;
//! - `apps`: a Rust application with its own kernels (`examples/heat_app.rs`) under mpirun;
//! - `plugins`: C kernel plugins (`include/dirk_plugin.h`) at 1-3 ranks, failures, bad plugins;
//! - `bad_input`: every rejection exits 2 with a message naming the task or JSON path, and no
//!   rank hangs; a failing task ends every rank with exit 1.

mod common;
mod reference;

mod apps;
mod bad_input;
mod checkpoint;
mod device;
mod failures;
mod fuzz;
mod hostile;
mod mpi_runs;
mod multihost;
mod observe;
mod plugins;
mod props;
mod resume_trials;
mod slurm;
mod steal;
mod taskbench;
mod taskbench_fidelity;
mod workloads;
