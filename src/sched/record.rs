//! Per-task timing records: when each local task started and ended, and on which thread.
//! Written once per task by the thread that ran it, read after the run; they feed the summary
//! (busy time) and the trace.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// One task's timing slots (nanoseconds since the run's epoch).
#[derive(Default)]
pub(crate) struct Record {
    start: AtomicU64,
    end: AtomicU64,
    thread: AtomicU32,
}

impl Record {
    pub(crate) fn set(&self, start: u64, end: u64, thread: u32) {
        self.start.store(start, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        self.thread.store(thread, Ordering::Relaxed);
    }
}

/// A finished task's timing, as reported after the run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TaskTiming {
    /// Local task index.
    pub task: u32,
    /// Start, ns since the run's epoch.
    pub start_ns: u64,
    /// End, ns since the run's epoch.
    pub end_ns: u64,
    /// Worker thread index.
    pub thread: u32,
}

pub(crate) fn collect(records: &[Record]) -> Vec<TaskTiming> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| TaskTiming {
            task: i as u32,
            start_ns: r.start.load(Ordering::Relaxed),
            end_ns: r.end.load(Ordering::Relaxed),
            thread: r.thread.load(Ordering::Relaxed),
        })
        .collect()
}
