//! The rank-local scheduler: dependency counters, a priority ready queue, execution on a rayon
//! pool, and release of values after their last local reader. It talks to other ranks only
//! through `crate::transport`'s traits and never calls MPI. Across ranks, idle ranks steal
//! ready tasks from loaded ones (`steal/`); within a rank, rayon's own work stealing moves
//! drainers between idle threads.
//!
//! Files, each importing only those below it (no module imports one that imports it back):
//! `executor.rs` the public `Executor`; `handle.rs` the canceller and the inbox;
//! `steal_thread.rs` the thief's asking; `heart.rs` the protocol (steps 1-8 in its doc):
//! dependency counting, drainers, completion, release, and the carrying out of the stealing
//! machine's actions; beneath it `poll.rs` (workers
//! driving the transport), `unwind.rs` (the one timed `catch_unwind` around every kernel),
//! `steal/` (wire format, policy, protocol machine, victim side), `pause.rs` (the gate for
//! checkpoints), `ready.rs`, `record.rs`, `bell.rs`, `latch.rs`.

mod bell;
mod executor;
mod handle;
mod heart;
mod latch;
mod pause;
mod poll;
mod ready;
mod record;
pub mod steal;
mod steal_thread;
#[cfg(test)]
mod tests;
mod unwind;

pub use executor::{Activity, Executor, Finished, Snapshot};
pub use handle::Canceller;
pub use heart::TaskFailure;
pub use record::TaskTiming;
pub use steal::{StealPolicy, StolenTiming};
pub use unwind::in_task;
