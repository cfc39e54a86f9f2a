//! The rank-local scheduler: dependency counters, a priority ready queue, execution on a rayon
//! pool, and release of values after their last local reader. It talks to other ranks only
//! through `crate::transport`'s traits and never calls MPI.

mod executor;
mod latch;
mod pause;
mod ready;
mod record;

pub use executor::{in_task, Canceller, Executor, Finished, Snapshot, TaskFailure};
pub use record::TaskTiming;
