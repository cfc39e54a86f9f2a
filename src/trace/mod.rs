//! What a run leaves behind for people: the `--summary` JSON and the `--trace` Chrome
//! trace-event file, written on rank 0 from what every rank reported, each through a temporary
//! file renamed into place; and the tools that read them back: `dirk plot` (a Gantt chart of a
//! trace, a drawing of a job's graph) and `dirk report` (a table of where the time went), plus
//! the progress line rank 0 prints during long runs.
//!
//! Files, one concept each: `chrome` writes a trace, `load` reads one (or a summary) back,
//! `gantt` draws it, `dag` draws a job's graph, `report` tabulates, `progress` formats the
//! progress line, `phases` records where rank 0's time went, `summary` is the summary
//! file's schema.

mod chrome;
mod dag;
mod gantt;
mod load;
mod phases;
mod progress;
mod report;
mod summary;

pub use chrome::{write_chrome_trace, MPI_TRACK};
pub use dag::{write_dag, DagError, DAG_MAX_TASKS};
pub use gantt::{render_gantt, GanttOptions, EXACT_LIMIT};
pub use load::{load_any, load_trace, LoadError, Loaded, Span, SpanKind, TraceData};
pub use phases::{record as record_phase, take as take_phases, Phase};
pub use progress::{ProgressMeter, LINE_EVERY, QUIET_FOR};
pub use report::{report_summary, report_trace};
pub use summary::{RankSummary, Summary};

use serde::{Deserialize, Serialize};

/// One task's execution, as recorded on its rank: plain numbers, no allocation, so collecting
/// and gathering a million of them is cheap. The task's id, op, edges and byte counts are
/// looked up in the graph by `key` when the trace is written (rank 0 holds the graph).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The rank that ran it.
    pub rank: u32,
    /// Worker thread index on that rank.
    pub thread: u32,
    /// The task's global index in the graph (also the message tag of its value's transfers).
    pub key: u32,
    /// Start, ns since the run's common start (a barrier on all ranks).
    pub start_ns: u64,
    /// End, ns since the same instant.
    pub end_ns: u64,
}

/// Which side of a point-to-point transfer an event records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// From posting `MPI_Isend` to its completion, on the sender.
    Send,
    /// From matching the message (`MPI_Improbe`) to the receive's completion, on the receiver.
    Recv,
}

/// One MPI transfer as seen by one side, recorded on the progress thread when tracing is on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferEvent {
    /// The rank that recorded it.
    pub rank: u32,
    /// The other side.
    pub peer: u32,
    /// Send or receive.
    pub dir: Direction,
    /// The value's key: the producing task's global index.
    pub key: u32,
    /// Payload bytes.
    pub bytes: u64,
    /// Start, ns since the run's common start.
    pub start_ns: u64,
    /// End, ns since the same instant.
    pub end_ns: u64,
}

/// Everything `--trace` writes, gathered on rank 0. Checkpoints will join as a third list of
/// spans on their own track (see `chrome::write_chrome_trace`, which names where).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceEvents {
    /// Every task, from every rank.
    pub tasks: Vec<TaskEvent>,
    /// Every transfer, both sides, from every rank.
    pub transfers: Vec<TransferEvent>,
}

pub use crate::store::write_json_atomic;

#[cfg(test)]
pub(crate) mod tests {
    use crate::graph::Graph;
    use std::path::Path;

    /// The graph of `jobs/diamond.json`, for the drawing and trace tests.
    pub(crate) fn diamond() -> Graph {
        let text = include_str!("../../jobs/diamond.json");
        crate::job::from_str(text, "diamond", Path::new("."))
            .expect("the diamond loads")
            .graph
    }
}
