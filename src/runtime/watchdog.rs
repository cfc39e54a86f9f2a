//! The failure detector: ranks watch each other so that a rank that stops answering —
//! killed, frozen (SIGSTOP), cut off from the network, or partitioned from only some peers —
//! ends the whole job within `--peer-timeout` seconds instead of hanging it until the
//! allocation's time limit.
//!
//! Each rank runs one watchdog thread from MPI start-up to the end, on its own duplicated
//! communicator, never on a worker thread (so a task computing for ten minutes does not look
//! dead). Every `timeout / 5` (at most 1 s) it sends a one-byte heartbeat to every peer and
//! drains the heartbeats it received. A peer silent for longer than the timeout is declared
//! dead: the rank logs which rank and host went silent and aborts the job (`MPI_Abort`); a
//! timer makes the process exit by itself 2 s later if the abort cannot reach the launcher
//! (a cut-off node). At the end, every rank says goodbye so that peers stop watching it.

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

/// The running watchdog thread of this rank.
pub(super) struct Watchdog {
    stop: Arc<AtomicBool>,
    timeout_ms: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching every other rank. Collective: every rank calls it at the same point,
    /// with no other collective on `MPI_COMM_WORLD` in flight, since the watchdog thread
    /// duplicates the world communicator for its own use before this returns.
    /// `hosts[r]` names rank r's host in messages.
    pub(super) fn start(hosts: Vec<String>, timeout: Duration) -> Watchdog {
        let stop = Arc::new(AtomicBool::new(false));
        let timeout_ms = Arc::new(AtomicU64::new(timeout.as_millis() as u64));
        let (s, t) = (Arc::clone(&stop), Arc::clone(&timeout_ms));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("dirk-watchdog".into())
            .spawn(move || {
                // A communicator handle cannot move between threads, so the thread makes its
                // own; the caller waits for it before any other collective.
                let comm = SimpleCommunicator::world().duplicate();
                let _ = ready_tx.send(());
                watch(comm, hosts, &s, &t)
            })
            .expect("spawn the watchdog thread");
        ready_rx
            .recv()
            .expect("the watchdog thread starts its communicator");
        Watchdog {
            stop,
            timeout_ms,
            handle: Some(handle),
        }
    }

    /// Changes the timeout (the job file may set it after start-up).
    pub(super) fn set_timeout(&self, timeout: Duration) {
        self.timeout_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// Says goodbye to every peer and stops. Call on every rank after the last collective.
    pub(super) fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn watch(comm: SimpleCommunicator, hosts: Vec<String>, stop: &AtomicBool, timeout_ms: &AtomicU64) {
    let me = comm.rank();
    let n = comm.size();
    let start = Instant::now();
    let mut last: Vec<Instant> = vec![start; n as usize];
    let mut gone: Vec<bool> = (0..n).map(|r| r == me).collect();
    let mut sends: Vec<mpi::request::Request<'static, [u8], StaticScope>> = Vec::new();
    let mut next_beat = start;
    loop {
        let timeout = Duration::from_millis(timeout_ms.load(Ordering::Relaxed).max(100));
        let period = (timeout / 5).min(Duration::from_secs(1));
        let stopping = stop.load(Ordering::Acquire);
        let now = Instant::now();
        if now >= next_beat || stopping {
            let tag = if stopping { BYE } else { ALIVE };
            for r in (0..n).filter(|&r| r != me) {
                sends.push(comm.process_at_rank(r).immediate_send_with_tag(
                    StaticScope,
                    &PAYLOAD[..],
                    tag,
                ));
            }
            next_beat = now + period;
        }
        // Complete finished heartbeat sends (a frozen peer never takes them: keep the list
        // bounded by cancelling nothing and simply testing again later).
        sends = sends.into_iter().filter_map(|r| r.test().err()).collect();
        while let Some(status) = comm.any_process().immediate_probe() {
            let src = status.source_rank();
            let (_, st): (u8, _) = comm.process_at_rank(src).receive_with_tag(status.tag());
            last[src as usize] = Instant::now();
            if st.tag() == BYE {
                gone[src as usize] = true;
            }
        }
        if stopping {
            // Wait (briefly) for the goodbyes to leave, then stop.
            let until = Instant::now() + Duration::from_secs(2);
            while !sends.is_empty() && Instant::now() < until {
                sends = sends.into_iter().filter_map(|r| r.test().err()).collect();
                std::thread::sleep(Duration::from_millis(1));
            }
            // Requests still pending go to MPI_Finalize, which completes or discards them.
            std::mem::forget(sends);
            return;
        }
        let now = Instant::now();
        for r in 0..n as usize {
            if !gone[r] && now.duration_since(last[r]) > timeout {
                tracing::error!(
                    "rank {r} on host {} has not answered for {:.1} s (--peer-timeout {:.1}): it died, froze or was cut off; ending the job",
                    hosts.get(r).map_or("?", String::as_str),
                    now.duration_since(last[r]).as_secs_f64(),
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
