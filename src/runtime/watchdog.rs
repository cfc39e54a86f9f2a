//! The failure detector: ranks watch each other so that a rank that stops answering —
//! killed, frozen (SIGSTOP), cut off from the network, or partitioned from only some peers —
//! ends the whole job within `--peer-timeout` seconds instead of hanging it until the
//! allocation's time limit.
//!
//! Each rank runs two threads from MPI start-up to the end, never a worker thread (so a task
//! computing for ten minutes does not look dead):
//! - the heartbeat thread (`dirk-heartbeat`), on its own duplicated communicator: every
//!   `timeout / 5` (at most 1 s) it sends a one-byte heartbeat to every peer, and it drains the
//!   heartbeats it received, noting when it last heard from each peer;
//! - the watchdog thread (`dirk-watchdog`), which makes no MPI call but the abort: a peer
//!   unheard for longer than the timeout is declared dead. Kept apart so that an MPI call
//!   that blocks (as one can on a TCP link to a partitioned peer, until TCP gives up on it)
//!   cannot delay the verdict; a heartbeat thread stuck that long stops hearing anyone and
//!   ends the job too, as its peers, no longer hearing it, would.
//!
//! A dead peer: the rank logs which rank and host went silent and aborts the job
//! (`MPI_Abort`); a timer makes the process exit by itself 2 s later if the abort cannot reach
//! the launcher (a cut-off node).
//!
//! **The end** (`Watchdog::stop`, on every rank after the run's last collective, before
//! `MPI_Finalize`), in this order, so that every heartbeat sent is also received:
//!
//! 1. the heartbeat thread sends `BYE` to every peer: the last message this rank sends on the
//!    heartbeat communicator;
//! 2. it keeps receiving (heartbeats and goodbyes) until it has every peer's `BYE`: messages
//!    from one sender on one communicator are matched in the order sent (MPI standard §3.5,
//!    non-overtaking), so after a peer's `BYE` nothing more of that peer's can come; and until
//!    each of its own sends has completed (its receiver has matched it, or at least buffered
//!    it); then it frees its communicator;
//! 3. only then the watchdog thread stops: a peer that dies before its goodbye still ends the
//!    job within the timeout instead of leaving this rank waiting for it.
//!
//! Before this handshake a rank sent its goodbye and left: heartbeats a peer sent in the
//! meantime, and the peers' goodbyes, reached `MPI_Finalize` unmatched (MPICH over UCX prints
//! `UCX WARN unexpected tag-receive descriptor ... was not matched` for each).

use mpi::request::StaticScope;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const ALIVE: i32 = 1;
const BYE: i32 = 2;
static PAYLOAD: [u8; 1] = [0];

/// What the heartbeat thread learns and the watchdog thread judges.
struct Heard {
    start: Instant,
    /// Per rank: milliseconds after `start` when it was last heard (this rank: never read).
    last_ms: Vec<AtomicU64>,
    /// Per rank: said goodbye (or is this rank): no longer watched.
    gone: Vec<AtomicBool>,
}

impl Heard {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// The running heartbeat and watchdog threads of this rank.
pub(super) struct Watchdog {
    /// Tells the heartbeat thread to say goodbye (step 1 of the end).
    bye: Arc<AtomicBool>,
    /// Tells the watchdog thread to stop (step 3).
    stop: Arc<AtomicBool>,
    timeout_ms: Arc<AtomicU64>,
    beat: Option<JoinHandle<()>>,
    watch: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching every other rank. Collective: every rank calls it at the same point,
    /// with no other collective on `MPI_COMM_WORLD` in flight, since the heartbeat thread
    /// duplicates the world communicator for its own use before this returns.
    /// `hosts[r]` names rank r's host in messages.
    pub(super) fn start(hosts: Vec<String>, timeout: Duration) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let bye = Arc::new(AtomicBool::new(false));
        let timeout_ms = Arc::new(AtomicU64::new(timeout.as_millis() as u64));
        let n = hosts.len();
        let heard = Arc::new(Heard {
            start: Instant::now(),
            last_ms: (0..n).map(|_| AtomicU64::new(0)).collect(),
            gone: (0..n).map(|_| AtomicBool::new(false)).collect(),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let beat = {
            let (s, t, h) = (
                Arc::clone(&bye),
                Arc::clone(&timeout_ms),
                Arc::clone(&heard),
            );
            std::thread::Builder::new()
                .name("dirk-heartbeat".into())
                .spawn(move || {
                    // A communicator handle cannot move between threads, so the thread makes
                    // its own; the caller waits for it before any other collective.
                    let comm = SimpleCommunicator::world().duplicate();
                    let _ = ready_tx.send(comm.rank());
                    heartbeats(comm, &h, &s, &t)
                })
                .expect("spawn the heartbeat thread")
        };
        let me = ready_rx
            .recv()
            .expect("the heartbeat thread starts its communicator");
        heard.gone[me as usize].store(true, Ordering::Relaxed);
        let watch = {
            let (s, t) = (Arc::clone(&stop), Arc::clone(&timeout_ms));
            std::thread::Builder::new()
                .name("dirk-watchdog".into())
                .spawn(move || watch(&heard, &hosts, &s, &t))
                .expect("spawn the watchdog thread")
        };
        Watchdog {
            bye,
            stop,
            timeout_ms,
            beat: Some(beat),
            watch: Some(watch),
        }
    }

    /// Changes the timeout (the job file may set it after start-up).
    pub(super) fn set_timeout(&self, timeout: Duration) {
        self.timeout_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// Says goodbye to every peer, receives every peer's goodbye, and stops (the module
    /// doc's end, steps 1-3). Call on every rank after the last collective: it returns once
    /// every peer has called it too.
    pub(super) fn stop(mut self) {
        self.bye.store(true, Ordering::Release);
        if let Some(h) = self.beat.take() {
            let _ = h.join();
        }
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.watch.take() {
            let _ = h.join();
        }
    }
}

fn period(timeout_ms: &AtomicU64) -> (Duration, Duration) {
    let timeout = Duration::from_millis(timeout_ms.load(Ordering::Relaxed).max(100));
    (timeout, (timeout / 5).min(Duration::from_secs(1)))
}

/// The heartbeat thread: sends heartbeats, notes what it hears; at the end says goodbye and
/// receives every peer's (the module doc's end, steps 1 and 2).
fn heartbeats(comm: SimpleCommunicator, heard: &Heard, bye: &AtomicBool, timeout_ms: &AtomicU64) {
    let me = comm.rank();
    let n = comm.size();
    let mut sends: Vec<mpi::request::Request<'static, [u8], StaticScope>> = Vec::new();
    let mut next_beat = Instant::now();
    let mut said_bye = false;
    loop {
        let (_, period) = period(timeout_ms);
        let stopping = bye.load(Ordering::Acquire);
        let now = Instant::now();
        if !said_bye && (now >= next_beat || stopping) {
            let tag = if stopping { BYE } else { ALIVE };
            for r in (0..n).filter(|&r| r != me) {
                sends.push(comm.process_at_rank(r).immediate_send_with_tag(
                    StaticScope,
                    &PAYLOAD[..],
                    tag,
                ));
            }
            said_bye = stopping;
            next_beat = now + period;
        }
        // Complete finished heartbeat sends. A frozen peer takes none: they stay here, tested
        // again each round, and its silence ends the job (the watchdog thread).
        sends = sends.into_iter().filter_map(|r| r.test().err()).collect();
        while let Some(status) = comm.any_process().immediate_probe() {
            let src = status.source_rank();
            let (_, st): (u8, _) = comm.process_at_rank(src).receive_with_tag(status.tag());
            heard.last_ms[src as usize].store(heard.now_ms(), Ordering::Relaxed);
            if st.tag() == BYE {
                heard.gone[src as usize].store(true, Ordering::Relaxed);
            }
        }
        if said_bye {
            // Every peer's goodbye is in (nothing more of theirs can come) and every send of
            // this rank has been taken: the communicator is quiet and may be freed.
            if sends.is_empty() && heard.gone.iter().all(|g| g.load(Ordering::Relaxed)) {
                return;
            }
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        std::thread::sleep(Duration::from_millis(20).min(period));
    }
}

/// The watchdog thread: ends the job when a peer has been silent for longer than the timeout.
fn watch(heard: &Heard, hosts: &[String], stop: &AtomicBool, timeout_ms: &AtomicU64) {
    loop {
        let (timeout, period) = period(timeout_ms);
        if stop.load(Ordering::Acquire) {
            return;
        }
        let now = heard.now_ms();
        for (r, last) in heard.last_ms.iter().enumerate() {
            let silent = Duration::from_millis(now.saturating_sub(last.load(Ordering::Relaxed)));
            if !heard.gone[r].load(Ordering::Relaxed) && silent > timeout {
                tracing::error!(
                    "rank {r} on host {} has not answered for {:.1} s (--peer-timeout {:.1}): it died, froze or was cut off; ending the job",
                    hosts.get(r).map_or("?", String::as_str),
                    silent.as_secs_f64(),
                    timeout.as_secs_f64()
                );
                // If the abort cannot reach the launcher (this node is cut off), leave anyway.
                std::thread::spawn(|| {
                    std::thread::sleep(Duration::from_secs(2));
                    std::process::exit(1);
                });
                super::abort_all(1);
            }
        }
        std::thread::sleep(Duration::from_millis(20).min(period));
    }
}
