//! `MPI_Finalize` with a deadline.
//!
//! By the time a rank calls `MPI_Finalize` its run has ended: rank 0 has written the results,
//! every message has been received (module `runtime`, "At the end"), and the exit status is
//! decided. A finalize that does not return is then a fault of the MPI library, not of the
//! run: MPICH 4.0 over UCX 1.13's TCP transport (Debian 12; any cluster whose ranks talk
//! over TCP) hangs now and then in it, one rank already in the process manager's barrier
//! while the others wait in `ucp_worker_progress` for it to close their endpoints
//! (openucx/ucx#8738; seen by hand in 4 of 10 launches on network-namespace "hosts" under
//! load). A batch job would hold its allocation until the wall-clock limit.
//!
//! So a guard thread watches the finalize: if it has not returned within [`GRACE`], the rank
//! says so in one line and ends with the run's own exit status (`_exit`, since the MPI
//! library's exit handlers may wait for the same thing). Every rank has its own guard, so a
//! job whose finalize hangs ends within `GRACE` with the status the run decided.

use std::sync::mpsc;
use std::time::Duration;

/// How long `MPI_Finalize` may take before the rank leaves without it. A finalize that works
/// takes milliseconds; 15 s leaves room for a machine loaded many times over.
pub(super) const GRACE: Duration = Duration::from_secs(15);

/// Watches one `MPI_Finalize`: drop it once the finalize has returned.
pub(super) struct Guard {
    done: Option<mpsc::Sender<()>>,
}

impl Guard {
    /// Starts the guard of a rank whose run ends with `status`.
    pub(super) fn start(status: u8, grace: Duration) -> Guard {
        let (done, waiting) = mpsc::channel::<()>();
        let started = std::thread::Builder::new()
            .name("dirk-finalize".into())
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = waiting.recv_timeout(grace) {
                    tracing::warn!(
                        "MPI_Finalize has not returned after {} s; the run had ended, so this \
                         rank exits now with status {status} (MPICH over UCX's TCP transport \
                         is known to hang here: openucx/ucx#8738)",
                        grace.as_secs_f64()
                    );
                    // SAFETY: `_exit` ends the process at once; nothing runs after it, and
                    // nothing the process still owes anyone is lost (the results are written,
                    // the run's messages all received).
                    unsafe { libc::_exit(i32::from(status)) };
                }
            });
        Guard {
            // Without a thread there is no guard: finalize as MPI does.
            done: started.ok().map(|_| done),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Closing the channel tells the thread the finalize returned.
        self.done.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_guard_dropped_in_time_lets_the_process_live() {
        let g = Guard::start(3, Duration::from_millis(200));
        drop(g);
        std::thread::sleep(Duration::from_millis(400));
        // Still here: the thread saw the channel close, not the deadline.
    }
}
