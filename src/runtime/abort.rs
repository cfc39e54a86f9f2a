//! Ending the whole job when one rank cannot go on.
//!
//! Open MPI leaves the other ranks waiting forever in a collective or in `MPI_Finalize` when a
//! rank panics or returns early. So a panic anywhere, and every fatal error after MPI started,
//! ends in `MPI_Abort` on `MPI_COMM_WORLD`, which kills every rank within about a second.

use mpi::topology::{Communicator, SimpleCommunicator};
use std::sync::Once;

static HOOK: Once = Once::new();

/// Installs a panic hook that prints the panic (as the default hook does) and aborts the MPI
/// job with status 1.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // A panic inside a task is caught by the scheduler and reported as a task failure
            // naming the task; anything else is a bug: print it and end the job.
            if crate::sched::in_task() {
                return;
            }
            default(info);
            if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
                SimpleCommunicator::world().abort(1);
            }
        }));
    });
}

/// Aborts every rank with `code` (after the caller logged why).
pub fn abort_all(code: i32) -> ! {
    SimpleCommunicator::world().abort(code)
}
