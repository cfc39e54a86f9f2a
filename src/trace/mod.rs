//! What a run leaves behind for people: the `--summary` JSON and the `--trace` Chrome
//! trace-event file. Both are written on rank 0 from what every rank reported, each through a
//! temporary file renamed into place.

mod chrome;
mod summary;

pub use chrome::write_chrome_trace;
pub use summary::{RankSummary, Summary};

use serde::{Deserialize, Serialize};

/// One task's execution, as recorded on its rank.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    /// The rank that ran it.
    pub rank: u32,
    /// Worker thread index on that rank.
    pub thread: u32,
    /// Task id.
    pub id: String,
    /// Op name.
    pub op: String,
    /// Start, ns since the run's common start (a barrier on all ranks).
    pub start_ns: u64,
    /// End, ns since the same instant.
    pub end_ns: u64,
}

/// Writes `value` as pretty JSON to `path`, whole or not at all.
pub fn write_json_atomic<T: Serialize>(path: &std::path::Path, value: &T) -> std::io::Result<()> {
    let atomic = crate::store::AtomicPath::new(path);
    let file = std::fs::File::create(atomic.tmp())?;
    let mut w = std::io::BufWriter::new(file);
    serde_json::to_writer_pretty(&mut w, value)?;
    std::io::Write::flush(&mut w)?;
    drop(w);
    atomic.commit()
}
