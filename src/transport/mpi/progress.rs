//! The progress thread: it runs the engine's turns that no worker runs, parks when idle, and
//! performs the close.
//!
//! **Parking.** Alone (one rank) it only wakes for the close. While every worker is attentive
//! (`Inbox::attentive`: running tasks or polling) and no rendezvous message is in flight, it
//! only looks in every `ATTENDED_PARK` (while a control message may need a prompt answer,
//! `Transport::control_expected`: every `STEALING_PARK_POLLED` while workers poll between
//! tasks, which answers the peers' requests, and every `STEALING_PARK` while they run long
//! tasks), so it never takes a core a worker needs; a worker about to sleep wakes it
//! (`Transport::unattended`). Otherwise it spins briefly, then yields (for as long as a
//! rendezvous message is coming in: `progress_loop` says why), then parks (waking a
//! parked thread costs ~30 µs on this VM; a send the sending thread cannot post itself, or a
//! rendezvous one, wakes it at once), and after a turn that delivered values it first yields
//! the core once, since the worker that a delivery readies may be waiting for this very core.
//!
//! **The close** (`Progress::finish`, once the executor's run has ended) leaves no message of
//! the transport's unreceived at `MPI_Finalize` (ARCHITECTURE.md, "Shutdown", gives the
//! whole run's order). The thread exits only when asked to close and:
//!
//! 1. control: nothing is queued, every control send has completed and every control message
//!    matched has been received and handed over. The steal protocol's `Fin` exchange
//!    (`sched/steal/mod.rs`) ended the run, so no peer sends anything more;
//! 2. values: every queued value is posted and every send has completed, and every value
//!    this rank expects (the plan's remote values, each sent to it once) has arrived: no
//!    receive is left posted and no value is left unmatched.

use super::engine::Engine;
use super::ffi::Comm;
use super::tracer::Tracer;
use super::{Expected, MpiSender, Shared};
use crate::trace::TransferEvent;
use crate::transport::Inbox;
use mpi::ffi::MPI_Comm;
use mpi::raw::AsRaw;
use mpi::topology::Communicator;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long the idle progress thread sleeps while every worker is attentive (running tasks
/// or polling; they also poll between tasks now and then): it is then needed only for
/// transfers that move while every worker runs a long task. A worker that stops attending
/// wakes it at once, and a rendezvous message, or a control message expected, keeps it
/// closer (below). Waking every 1 ms instead preempted each rank's only worker 1,000 times a
/// second and cost 4-5 % of a 1-rank Life run; every 20 ms, a 2-rank Life run's tiles during
/// which it ran a turn took about 100 µs longer each (benches/HISTORY.md, "Scaling").
const ATTENDED_PARK: Duration = Duration::from_millis(100);

/// `ATTENDED_PARK` while control messages are expected (`Transport::control_expected`) and
/// no worker has polled for 2 ms (they run long tasks): steal requests must be answered
/// within about this long (20 ms took `benches/steal.py` skew-2 from 1.6× to 1.04×).
const STEALING_PARK: Duration = Duration::from_millis(1);

/// `ATTENDED_PARK` while control messages are expected and a worker polled within 2 ms: the
/// workers answer most requests themselves, and 1 ms wake-ups only preempted them. Not
/// 20 ms: a victim whose workers just began long tasks would then sit on requests and on
/// stolen tasks' results that long; 5 ms cost Life 2 % more (benches/HISTORY.md, "Scaling").
const STEALING_PARK_POLLED: Duration = Duration::from_millis(10);

/// How long a lone rank's progress thread sleeps: nothing moves, only the close (which wakes
/// it) is awaited.
const ALONE_PARK: Duration = Duration::from_millis(500);

/// The progress thread, until `finish`.
pub struct Progress {
    shared: Arc<Shared>,
    handle: JoinHandle<()>,
}

/// Starts the progress thread of `sender` on `comm`, delivering to `inbox` until every
/// `expected` value has arrived; control messages travel on `control` (a communicator used for
/// nothing else). Both must outlive the returned `Progress`. With `trace_epoch`, transfers
/// are recorded in ns since that instant.
pub fn start<C: AsRaw<Raw = MPI_Comm> + Communicator>(
    sender: &MpiSender,
    comm: &C,
    control: &C,
    inbox: Arc<dyn Inbox>,
    expected: Vec<Expected>,
    trace_epoch: Option<Instant>,
) -> Progress {
    let shared = Arc::clone(&sender.shared);
    let ranks = comm.size() as u32;
    let tracer = Tracer::new(trace_epoch, comm.rank() as u32);
    let inbox_p = Arc::clone(&inbox);
    *shared.engine.lock().expect("engine lock") = Some(Engine::new(
        Comm::of(comm),
        Comm::of(control),
        inbox,
        expected,
        tracer,
    ));
    let s = Arc::clone(&shared);
    let handle = thread::Builder::new()
        .name("dirk-progress".into())
        .spawn(move || progress_loop(&s, inbox_p.as_ref(), ranks))
        .expect("spawn the progress thread");
    *shared.progress.lock().expect("progress lock") = Some(handle.thread().clone());
    Progress { shared, handle }
}

impl Progress {
    /// Waits until every queued send has completed and every expected value has arrived;
    /// returns the transfers recorded (none unless tracing).
    pub fn finish(self) -> Vec<TransferEvent> {
        self.shared.closing.store(true, Ordering::Release);
        self.shared.wake();
        if self.handle.join().is_err() {
            panic!("the MPI progress thread panicked");
        }
        let engine = self.shared.engine.lock().expect("engine lock").take();
        engine.map_or_else(Vec::new, Engine::into_events)
    }
}

fn progress_loop(shared: &Shared, inbox: &dyn Inbox, ranks: u32) {
    let mut idle_since: Option<Instant> = None;
    loop {
        let closing = shared.closing.load(Ordering::Acquire);
        // What the backoff needs (asked only after an idle turn), and whether the close may
        // end the loop (asked only when closing): both walk lists or take the queue locks.
        let (turn, drained, waiting, moving_rendezvous, pulling) = {
            let mut engine = shared.engine.lock().expect("engine lock");
            let e = engine.as_mut().expect("the engine lives until finish");
            let turn = e.turn(shared);
            let drained = closing && e.drained(shared);
            // After a busy turn the loop goes round again at once and reads neither.
            let (waiting, moving, pulling) = if turn.active {
                (true, true, true)
            } else {
                (
                    e.waiting() || e.moving_rendezvous_control(),
                    e.moving_rendezvous(),
                    e.receiving_rendezvous(),
                )
            };
            (turn, drained, waiting, moving, pulling)
        };
        // A delivery usually wakes a worker; when ranks share cores (more threads than
        // cores) it may be waiting for this very core, so offer it before spinning on.
        if turn.delivered {
            thread::yield_now();
        }
        if drained {
            return;
        }
        // Back off when idle.
        if turn.active {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        let idle = since.elapsed();
        // Every worker is running tasks or polling (`Inbox::attentive`): they pick up
        // arrivals themselves as soon as they run out of tasks (what arrives could not start
        // sooner), so this thread only looks in now and then, and never spins or yields on a
        // core a worker needs.
        let covered = inbox.attentive();
        // Alone, nothing moves: only the close is awaited, and it wakes this thread.
        if ranks == 1 && !closing {
            thread::park_timeout(ALONE_PARK);
            continue;
        }
        if !covered && idle < Duration::from_micros(20) {
            std::hint::spin_loop();
        } else if !covered && (idle < Duration::from_micros(200) || pulling) {
            // A rendezvous message is coming in and no worker of this rank attends: nobody
            // else drives MPI here, and where the library moves it a piece per call
            // (`Engine::receiving_rendezvous`) a park between pieces idles the link (MPICH:
            // 128 parks of 50 µs, and their wake-ups, for a 64 MiB value).
            thread::yield_now();
        } else {
            let urgent = waiting || closing || shared.control_soon.load(Ordering::Relaxed);
            let expected = shared.control_expected.load(Ordering::Relaxed);
            thread::park_timeout(if covered && !moving_rendezvous {
                attended_park(shared, expected)
            } else if urgent {
                Duration::from_micros(50)
            } else if expected {
                Duration::from_micros(500)
            } else {
                Duration::from_millis(2)
            });
        }
    }
}

/// How long the idle progress thread parks while every worker attends. While control
/// messages are expected (`control_expected`), a peer's steal request (or a stolen task's
/// result, which lets the peer steal more) waits for whoever polls next: workers between
/// tasks poll about every millisecond, but not during a long task.
fn attended_park(shared: &Shared, control_expected: bool) -> Duration {
    if !control_expected {
        return ATTENDED_PARK;
    }
    let now = shared.epoch.elapsed().as_micros() as u64;
    let last = shared.last_poll_us.load(Ordering::Relaxed);
    if now.saturating_sub(last) <= 2 * STEALING_PARK.as_micros() as u64 {
        STEALING_PARK_POLLED
    } else {
        STEALING_PARK
    }
}
