//! The `--summary` file: what ran where, how long, and how many bytes moved.

use serde::{Deserialize, Serialize};

/// One rank's line of the summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankSummary {
    /// The rank.
    pub rank: u32,
    /// Worker threads it ran.
    pub threads: u32,
    /// Tasks it ran.
    pub tasks: u64,
    /// Sum of its tasks' run times, seconds.
    pub busy_seconds: f64,
    /// Payload bytes it sent to other ranks.
    pub bytes_sent: u64,
    /// Payload bytes it received.
    pub bytes_received: u64,
    /// Of `tasks`, those it ran for another rank (work stealing).
    #[serde(default)]
    pub stolen: u64,
    /// Its own tasks that another rank ran.
    #[serde(default)]
    pub given_away: u64,
    /// Steal requests it sent (idle, it asked a peer for work).
    #[serde(default)]
    pub steal_requests: u64,
    /// Of those, the ones answered with tasks (the others were refused).
    #[serde(default)]
    pub steal_successes: u64,
}

/// The whole summary, as written by rank 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The job's name.
    pub name: String,
    /// dirk's version.
    pub dirk_version: String,
    /// Number of ranks.
    pub ranks: u32,
    /// Worker threads per rank (of rank 0; see `per_rank` for each).
    pub threads_per_rank: u32,
    /// Tasks in the graph.
    pub tasks: u64,
    /// From the start of planning to the end of the run (outputs not included), seconds.
    pub wall_seconds: f64,
    /// Planning and plan distribution, seconds.
    pub plan_seconds: f64,
    /// Task execution, from the common start to the last rank's end, seconds.
    pub run_seconds: f64,
    /// Checkpoints committed during the run.
    #[serde(default)]
    pub checkpoints: u64,
    /// Seconds rank 0 spent taking them (the run was paused meanwhile).
    #[serde(default)]
    pub checkpoint_seconds: f64,
    /// A resumed run: seconds the slowest rank took to read its values from the checkpoint.
    #[serde(default)]
    pub resume_load_seconds: f64,
    /// Cross-rank work stealing was on.
    #[serde(default)]
    pub steal: bool,
    /// Tasks that ran on another rank than the plan's (the sum of `per_rank[].stolen`).
    #[serde(default)]
    pub tasks_stolen: u64,
    /// Per-rank figures.
    pub per_rank: Vec<RankSummary>,
    /// Rank 0's wall time by phase (`read`, `parse`, `validate`, `prepare`, `settings`,
    /// `plan`, `encode`, `scatter`, `setup`, `run`, `gather`, `write`), in order.
    #[serde(default)]
    pub phases: Vec<super::Phase>,
}
