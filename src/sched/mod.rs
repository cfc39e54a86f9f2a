//! The rank-local scheduler: dependency counters, a priority ready queue, execution on a rayon
//! pool, and release of values after their last local reader. It talks to other ranks only
//! through `crate::transport`'s traits and never calls MPI. Across ranks, idle ranks steal
//! ready tasks from loaded ones (`steal.rs`); within a rank, rayon's own work stealing moves
//! drainers between idle threads.

mod bell;
mod executor;
mod latch;
mod pause;
mod ready;
mod record;
pub mod steal;

pub use executor::{in_task, Activity, Canceller, Executor, Finished, Snapshot, TaskFailure};
pub use record::TaskTiming;
pub use steal::{StealPolicy, StolenTiming};
