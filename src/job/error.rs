//! The error every job-loading stage returns: what is wrong and where (JSON path or task id).

use thiserror::Error;

/// A bad job: reported once, before any task runs, with exit status 2.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{at}: {msg}")]
pub struct JobError {
    /// Where: a file, a JSON path such as `tasks[3].args[1]`, or a task id.
    pub at: String,
    /// What is wrong, and where possible what to do.
    pub msg: String,
}

impl JobError {
    /// An error at `at`.
    pub fn new(at: impl Into<String>, msg: impl Into<String>) -> JobError {
        JobError {
            at: at.into(),
            msg: msg.into(),
        }
    }
}
