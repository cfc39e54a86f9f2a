//! Where rank 0's time went before, during and after a run, phase by phase (reading the job
//! file, parsing, validating, planning, scattering the plan, running, writing the outputs):
//! the `phases` list of the `--summary` file. Phases are recorded as they end, from whichever
//! module does the work, into one list for the process; the summary takes them in order.

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Instant;

/// One phase's wall time on rank 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// `parse`, `validate`, `plan`, ...
    pub name: String,
    /// Wall time, seconds.
    pub seconds: f64,
}

static PHASES: Mutex<Vec<Phase>> = Mutex::new(Vec::new());

/// Records that phase `name` took the time since `since` (added to an earlier record of the
/// same name, so a phase done in several pieces is one entry); returns now, the next
/// phase's start.
pub fn record(name: &str, since: Instant) -> Instant {
    let now = Instant::now();
    let seconds = now.saturating_duration_since(since).as_secs_f64();
    let mut list = PHASES.lock().unwrap_or_else(|e| e.into_inner());
    match list.iter_mut().find(|p| p.name == name) {
        Some(p) => p.seconds += seconds,
        None => list.push(Phase {
            name: name.to_string(),
            seconds,
        }),
    }
    now
}

/// The phases recorded so far, in the order each was first recorded; the list starts empty
/// again (a process that runs several jobs reports each its own).
pub fn take() -> Vec<Phase> {
    std::mem::take(&mut *PHASES.lock().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_recorded_twice_is_one_entry_in_first_order() {
        let t = Instant::now();
        let t = record("test-a", t);
        let t = record("test-b", t);
        record("test-a", t);
        let names: Vec<String> = take()
            .into_iter()
            .map(|p| p.name)
            .filter(|n| n.starts_with("test-"))
            .collect();
        assert_eq!(names, ["test-a", "test-b"]);
    }
}
