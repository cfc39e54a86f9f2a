//! dirk's integration tests: one binary, one module per area.
//!
//! - `props`: property tests of the graph, planner and scheduler (in-process ranks);
//! - `mpi_runs`: the real binary under mpirun at 1–4 ranks, against independent references;
//! - `checkpoint`: kill-and-resume, failed checkpoint writes, corrupt and foreign checkpoints;
//! - `failures`: the failure detector (a frozen rank, long tasks that are not dead);
//! - `bad_input`: every rejection exits 2 with a message naming the task or JSON path, and no
//!   rank hangs; a failing task ends every rank with exit 1.

mod common;
mod reference;

mod bad_input;
mod checkpoint;
mod failures;
mod mpi_runs;
mod props;
