//! The MPI backend: all point-to-point traffic of a rank lives in one engine behind a mutex;
//! whichever thread holds it drives the network for one turn.
//!
//! Who drives it (MPI runs with MPI_THREAD_MULTIPLE; the mutex makes the turns one at a time):
//!
//! - a worker that calls `send` posts the value at once when the engine is free (no hand-off:
//!   on a busy core the thread that would post it may wait a whole time slice, 100s of µs);
//! - an idle worker waiting for a value, and a worker between tasks while another worker of
//!   its rank sleeps, call `poll` (see `sched/heart.rs`, step 8), which runs a turn when the
//!   engine is free;
//! - the progress thread runs turns for whatever the workers leave: transfers that must move
//!   while every worker runs a long task, values arriving while workers sleep, and the close.
//!
//! The files: `sender.rs` (the scheduler's side: queue, post at once, poll), `engine.rs` (a
//! turn: posting, pre-posting in key order, matching, completing), `progress.rs` (the
//! progress thread, when it parks, and the close), `tracer.rs` (transfer records for
//! `--trace`), `ffi.rs` (every MPI call, and so every `unsafe`: requests held together with
//! the buffers they borrow).
//!
//! Keys are task indices, so tags stay below 2^31-1, Open MPI's and MPICH's `MPI_TAG_UB`
//! (`max_tag`: the runtime refuses a graph whose keys would not fit).

mod engine;
mod ffi;
mod progress;
mod sender;
mod tracer;

pub use ffi::max_tag;
pub use progress::{start, Progress};
pub use sender::{sender, MpiSender};

use super::TransferStats;
use crate::graph::ValueType;
use engine::{Engine, Outgoing};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::Instant;

/// Messages of at least this many bytes go by rendezvous, not eagerly (Open MPI's
/// shared-memory and TCP eager limits are 4 and 64 KiB; MPICH over UCX switches by its own
/// measure): the receiver's buffer must be posted before the data moves, and the data moves
/// only while both sides drive MPI. While one is in flight the progress thread keeps looking
/// in (`progress.rs`), and receives of smaller values are pre-posted (`PREPOST`) while larger
/// ones are matched as they come.
const RENDEZVOUS_BYTES: usize = 64 << 10;

/// Sends posted to MPI at once; the rest wait in the engine's backlog (`MPI_Testsome` walks
/// its whole list each turn, so an unbounded list makes many small sends quadratic).
const MAX_IN_FLIGHT: usize = 128;

/// Receives kept posted ahead of their values' arrival (`Engine::prepost`), for values under
/// `RENDEZVOUS_BYTES`: at most 2 MiB of buffers waiting, and a short list to test.
const PREPOST: usize = 32;

/// A value this rank expects to receive.
pub struct Expected {
    /// The producing task's global index: the message's tag.
    pub key: u32,
    /// The rank that sends it.
    pub source: u32,
    /// Its type, so the receive buffer is exactly its size.
    pub ty: ValueType,
}

/// State shared by the senders (worker threads), the pollers and the progress thread.
struct Shared {
    queue: Mutex<Vec<Outgoing>>,
    /// Control messages waiting to be posted: (destination, bytes).
    control: Mutex<Vec<(u32, Vec<u8>)>>,
    /// Something was queued since a turn last took the queues (set after the push), so a
    /// turn with nothing to post takes neither lock.
    queued: AtomicBool,
    closing: AtomicBool,
    /// A control message may need a prompt answer (`Transport::control_expected`: stealing
    /// is on and this rank has tasks to give, a lent task's result or a reply to come): the
    /// idle progress thread looks in more often.
    control_expected: AtomicBool,
    /// Control messages are due now (the run is ending): poll as for awaited values.
    control_soon: AtomicBool,
    /// The scheduler is paused (`Transport::paused`): every arrived value is matched at once,
    /// whatever its place in the pre-post order (`Engine::match_values`).
    paused: AtomicBool,
    progress: Mutex<Option<Thread>>,
    stats: Arc<TransferStats>,
    /// When a worker last lent itself to the network (`Transport::poll`), in µs since
    /// `epoch`: with stealing on, the progress thread looks in for the peers' requests
    /// often only while the workers do not (they run long tasks).
    last_poll_us: AtomicU64,
    epoch: Instant,
    /// The traffic state, from `start` until `Progress::finish`.
    engine: Mutex<Option<Engine>>,
}

impl Shared {
    fn new(stats: Arc<TransferStats>) -> Shared {
        Shared {
            queue: Mutex::new(Vec::new()),
            control: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            queued: AtomicBool::new(false),
            control_expected: AtomicBool::new(false),
            control_soon: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            progress: Mutex::new(None),
            stats,
            last_poll_us: AtomicU64::new(0),
            epoch: Instant::now(),
            engine: Mutex::new(None),
        }
    }

    /// Wakes the progress thread (cheap unless it is parked).
    fn wake(&self) {
        if let Some(t) = self.progress.lock().expect("progress lock").as_ref() {
            t.unpark();
        }
    }
}
