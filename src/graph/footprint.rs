//! What a graph will cost rank 0 before it exists: a generator works out its task and edge
//! counts from its parameters and asks [`Footprint::problem`] whether rank 0 can hold them,
//! so `steps: 1e12` is refused in microseconds instead of exhausting memory while spawning.
//!
//! The figures are measured by hand, not derived (peak RSS, 2026-12-07; no benchmark in the
//! repository repeats it): rank 0 peaked at about 860 bytes a task while
//! planning a run of a 1,000,010-task `chains` job (one edge a task; 430 bytes a task to
//! validate it), so a task is counted as 1 KiB and each edge beyond as 64 bytes.

/// The most tasks a job may have: 2^31. A task handle is 32 bits (a graph holds at most 2^32
/// tasks), and rank 0 holds the whole graph.
pub const MAX_TASKS: u64 = 1 << 31;

/// Bytes rank 0 needs per task to hold and plan the graph (measured: about 860).
pub const BYTES_PER_TASK: u64 = 1024;

/// Bytes rank 0 needs per edge (an argument naming another task's value), on top.
pub const BYTES_PER_EDGE: u64 = 64;

/// A graph's size, known from a generator's parameters before it spawns anything. `None`
/// means the count does not fit in 64 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// An upper bound on the tasks.
    pub tasks: Option<u64>,
    /// An upper bound on the edges (arguments that name a task).
    pub edges: Option<u64>,
}

impl Footprint {
    /// `tasks` tasks with at most `edges_per_task` edges each.
    pub fn uniform(tasks: Option<u64>, edges_per_task: u64) -> Footprint {
        Footprint {
            tasks,
            edges: tasks.and_then(|t| t.checked_mul(edges_per_task)),
        }
    }

    /// Bytes rank 0 needs for the graph, `None` past 2^64.
    pub fn bytes(&self) -> Option<u64> {
        let t = self.tasks?.checked_mul(BYTES_PER_TASK)?;
        let e = self.edges?.checked_mul(BYTES_PER_EDGE)?;
        t.checked_add(e)
    }

    /// Why rank 0 cannot hold this graph, if it cannot: more than [`MAX_TASKS`] tasks, or more
    /// bytes than `memory` (the node's physical memory; `None` where unknown). The message
    /// says how much it would need, for the caller to prefix with the parameter to change.
    pub fn problem(&self, memory: Option<u64>) -> Option<String> {
        let count = |c: Option<u64>| c.map_or_else(|| "over 2^64".to_string(), |c| c.to_string());
        match self.tasks {
            Some(t) if t <= MAX_TASKS => {}
            t => {
                return Some(format!(
                "the workload would have {} tasks, more than the {MAX_TASKS} (2^31) a job may have",
                count(t)
            ))
            }
        }
        let need = self.bytes();
        match (need, memory) {
            (Some(b), Some(m)) if b > m => Some(format!(
                "the workload would have {} tasks and up to {} edges: rank 0 would need about {} \
                 to hold and plan the graph (about {BYTES_PER_TASK} bytes a task), more than this \
                 node's memory of {}",
                count(self.tasks),
                count(self.edges),
                human_bytes(b),
                human_bytes(m)
            )),
            (None, _) => Some(format!(
                "the workload would have {} tasks and more than 2^64 bytes of graph on rank 0",
                count(self.tasks)
            )),
            _ => None,
        }
    }
}

/// `b` bytes as GiB (or MiB below one GiB), for messages.
pub fn human_bytes(b: u64) -> String {
    let gib = b as f64 / f64::from(1u32 << 30);
    if gib >= 1.0 {
        format!("{gib:.1} GiB")
    } else {
        format!("{:.1} MiB", b as f64 / f64::from(1u32 << 20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_tasks_then_bytes() {
        let gib = 1u64 << 30;
        assert_eq!(Footprint::uniform(Some(10), 2).problem(Some(gib)), None);
        let too_many = Footprint::uniform(Some(MAX_TASKS + 1), 1).problem(None);
        assert!(too_many.unwrap().contains("2^31"));
        let big = Footprint::uniform(Some(2 << 20), 3).problem(Some(gib));
        let msg = big.expect("2M tasks need 2 GiB");
        assert!(
            msg.contains("GiB") && msg.contains("2097152 tasks"),
            "{msg}"
        );
        assert!(Footprint::uniform(None, 1).problem(None).is_some());
        assert!(Footprint::uniform(Some(MAX_TASKS), u64::MAX)
            .problem(None)
            .is_some());
    }
}
