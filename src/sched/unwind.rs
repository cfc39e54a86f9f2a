//! Running a kernel at the task boundary: the one timed `catch_unwind` that every path which
//! runs a kernel goes through (a local task on the CPU, on the device and its CPU fallback,
//! a stolen task). A panic there becomes the task's failure message, so it ends the run with
//! the task's id instead of tearing down the worker; `in_task` tells the process's panic hook
//! (`runtime::abort`) to stay quiet meanwhile and let the scheduler report it.

use crate::kernels::KernelError;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

thread_local! {
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread runs a kernel: a panic here becomes a `TaskFailure`, so a panic hook
/// should stay quiet and let the scheduler report it.
pub fn in_task() -> bool {
    IN_TASK.with(|f| f.get())
}

/// Sets `in_task` for a scope and restores the value before on drop. Scopes nest: a kernel
/// blocked in a rayon join may run a queued drainer (scheduler code, `false`), and that
/// drainer a task of its own (`true`); each end must hand back the state of the scope around
/// it, or a later panic in the outer kernel would abort the job instead of naming its task.
pub(super) struct InTask(bool);

impl InTask {
    pub(super) fn scope(value: bool) -> Self {
        InTask(IN_TASK.with(|f| f.replace(value)))
    }
}

impl Drop for InTask {
    fn drop(&mut self) {
        IN_TASK.with(|f| f.set(self.0));
    }
}

/// A kernel's run: when it started and ended (ns since the executor's epoch) and its result,
/// or why it failed (its error, or its panic as "panicked: message").
pub(super) struct Ran<T> {
    pub start_ns: u64,
    pub end_ns: u64,
    pub result: Result<T, String>,
}

/// Runs `kernel` as a task (`in_task` true), timed from `epoch`, catching a panic.
pub(super) fn run_task<T>(
    epoch: Instant,
    kernel: impl FnOnce() -> Result<T, KernelError>,
) -> Ran<T> {
    let start_ns = epoch.elapsed().as_nanos() as u64;
    let scope = InTask::scope(true);
    let caught = catch_unwind(AssertUnwindSafe(kernel));
    drop(scope);
    let end_ns = epoch.elapsed().as_nanos() as u64;
    let result = match caught {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.0),
        Err(panic) => Err(panic_message(&panic)),
    };
    Ran {
        start_ns,
        end_ns,
        result,
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `InTask` scopes nest: a kernel blocked in a rayon join may run a drainer, and the
    /// drainer a task; each hands back the state around it.
    #[test]
    fn in_task_scopes_nest_and_restore() {
        assert!(!in_task());
        let kernel = InTask::scope(true);
        {
            // A drainer run by the kernel's blocked rayon join, and a task it runs.
            let _drainer = InTask::scope(false);
            assert!(!in_task());
            {
                let _nested = InTask::scope(true);
                assert!(in_task());
            }
            assert!(!in_task(), "the drainer is scheduler code again");
        }
        assert!(in_task(), "the outer kernel still counts as a task");
        drop(kernel);
        assert!(!in_task());
    }

    /// A kernel's error and its panic (a `&str` or a `String` payload) become its failure
    /// message; it runs as a task and the scope ends with it, panic or not.
    #[test]
    fn errors_and_panics_become_messages() {
        let epoch = Instant::now();
        let ok = run_task(epoch, || {
            assert!(in_task());
            Ok(7)
        });
        assert_eq!(ok.result, Ok(7));
        assert!(ok.start_ns <= ok.end_ns);
        let err = run_task::<()>(epoch, || Err(KernelError("bad shape".into())));
        assert_eq!(err.result, Err("bad shape".into()));
        let s = run_task::<()>(epoch, || panic!("static"));
        let n = 3;
        let f = run_task::<()>(epoch, || panic!("formatted {n}"));
        assert_eq!(s.result, Err("panicked: static".into()));
        assert_eq!(f.result, Err("panicked: formatted 3".into()));
        assert!(!in_task());
    }
}
