//! Where a task may run: the `scope` of a job-file task.

use serde::{Deserialize, Serialize};

/// A device class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceClass {
    /// Host CPU threads.
    Cpu,
    /// A CUDA GPU.
    Gpu,
}

/// Placement constraint of a task. `Any` lets the planner choose.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// No constraint.
    #[default]
    Any,
    /// Exactly this rank.
    Rank(u32),
    /// One of these ranks.
    Ranks(Vec<u32>),
    /// Any rank, on this device class.
    Device(DeviceClass),
}

impl Scope {
    /// True when `rank` satisfies the rank part of this scope.
    pub fn allows_rank(&self, rank: u32) -> bool {
        match self {
            Scope::Any | Scope::Device(_) => true,
            Scope::Rank(r) => *r == rank,
            Scope::Ranks(rs) => rs.contains(&rank),
        }
    }

    /// The largest rank this scope names, if it names any.
    pub fn max_rank(&self) -> Option<u32> {
        match self {
            Scope::Rank(r) => Some(*r),
            Scope::Ranks(rs) => rs.iter().copied().max(),
            _ => None,
        }
    }
}
