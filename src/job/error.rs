//! The error every job-loading stage returns: what is wrong and where (JSON path or task id).

use thiserror::Error;

/// A bad job: reported once, before any task runs, with exit status 2.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{at}{}: {msg}", .task.as_ref().map(|t| format!(" (task {t:?})")).unwrap_or_default())]
pub struct JobError {
    /// Where: a file, or a JSON path such as `tasks[3].args[1]`.
    pub at: String,
    /// The id of the task concerned, when there is one.
    pub task: Option<String>,
    /// What is wrong, and where possible what to do.
    pub msg: String,
}

impl JobError {
    /// An error at `at`.
    pub fn new(at: impl Into<String>, msg: impl Into<String>) -> JobError {
        JobError {
            at: at.into(),
            task: None,
            msg: msg.into(),
        }
    }

    /// An error at JSON path `at`, inside the task with id `task`.
    pub fn in_task(at: impl Into<String>, task: &str, msg: impl Into<String>) -> JobError {
        JobError {
            at: at.into(),
            task: Some(task.to_string()),
            msg: msg.into(),
        }
    }
}

/// The first few of `names` joined by `sep`, and how many there are in all when that is more:
/// an error line stays short however large the job (a cycle of 100,000 tasks).
pub fn some_of(names: &[&str], sep: &str) -> String {
    const SHOWN: usize = 6;
    if names.len() <= SHOWN {
        return names.join(sep);
    }
    format!(
        "{}{sep}… ({} in all)",
        names[..SHOWN].join(sep),
        names.len()
    )
}
