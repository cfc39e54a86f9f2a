//! The scheduler's side of the MPI backend: `Transport` for worker threads. A send is queued
//! and posted at once from the sending thread when nobody else drives the network; `poll`
//! lends the calling worker to the network for one turn.

use super::engine::Outgoing;
use super::{Shared, RENDEZVOUS_BYTES};
use crate::graph::Value;
use crate::transport::{TransferStats, Transport};
use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};

/// The sending side handed to the scheduler.
pub struct MpiSender {
    pub(super) shared: Arc<Shared>,
    /// The failure-injection tests' lost message (`DIRK_TEST_FAULT=drop-value:R:K`: rank R
    /// never sends the value with key K, so the run stalls); `None` in normal runs. Read once
    /// here, so a send pays one branch on it.
    dropped_key: Option<u32>,
}

/// Makes the sender of rank `rank`; start the progress thread with `start` once the inbox
/// exists.
pub fn sender(stats: Arc<TransferStats>, rank: u32) -> MpiSender {
    MpiSender {
        shared: Arc::new(Shared::new(stats)),
        dropped_key: injected_drop(rank),
    }
}

impl Transport for MpiSender {
    fn send(&self, dest: u32, key: u32, value: Arc<Value>) {
        if self.dropped_key == Some(key) {
            return;
        }
        self.shared.stats.queued();
        let rendezvous = value.bytes() >= RENDEZVOUS_BYTES;
        self.shared
            .queue
            .lock()
            .expect("send queue lock")
            .push(Outgoing { dest, key, value });
        self.shared.queued.store(true, Ordering::Release);
        self.post_now(rendezvous);
    }

    fn send_control(&self, dest: u32, msg: Vec<u8>) {
        self.shared.stats.queued();
        let rendezvous = msg.len() >= RENDEZVOUS_BYTES;
        self.shared
            .control
            .lock()
            .expect("control queue lock")
            .push((dest, msg));
        self.shared.queued.store(true, Ordering::Release);
        self.post_now(rendezvous);
    }

    fn expect_control_soon(&self) {
        self.shared.control_soon.store(true, Ordering::Relaxed);
        self.shared.wake();
    }

    fn control_expected(&self, expected: bool) {
        self.shared
            .control_expected
            .store(expected, Ordering::Relaxed);
    }

    fn unattended(&self) {
        // Cheap unless the progress thread is parked: then it is what must take over.
        self.shared.wake();
    }

    fn paused(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Release);
        // The workers stop polling: the progress thread takes in what is in flight now.
        self.shared.wake();
    }

    fn poll(&self, wait: bool) -> bool {
        // Read only by the progress thread's park while control messages are expected: no
        // clock read per poll otherwise (an idle worker polls back to back).
        if self.shared.control_expected.load(Ordering::Relaxed) {
            let now = self.shared.epoch.elapsed().as_micros() as u64;
            self.shared.last_poll_us.store(now, Ordering::Relaxed);
        }
        let mut engine = match self.shared.engine.try_lock() {
            Ok(engine) => engine,
            Err(TryLockError::WouldBlock) if wait => {
                self.shared.engine.lock().expect("engine lock")
            }
            // Another thread is driving the network right now.
            Err(TryLockError::WouldBlock) => return true,
            Err(TryLockError::Poisoned(e)) => panic!("engine lock poisoned: {e}"),
        };
        match engine.as_mut() {
            Some(e) => {
                e.turn(&self.shared);
                e.outstanding()
            }
            None => false,
        }
    }
}

impl MpiSender {
    /// Posts what was just queued from this thread when nobody else is driving the network
    /// (no hand-off to the progress thread, which may be waiting for this very core, or parked
    /// for milliseconds: the end of a stealing run is two rounds of control messages, and
    /// left to the progress thread they added 3 ms to a 2-rank Life run); else leaves it to
    /// whoever holds the engine. The progress thread is woken when this thread could not
    /// post (whoever holds the engine may be handing it over), and for a `rendezvous`
    /// message, which moves only while MPI is driven here too: its long attended park was
    /// chosen before the message existed, and woken it parks briefly until the message has
    /// moved (`progress.rs`).
    fn post_now(&self, rendezvous: bool) {
        let posted = match self.shared.engine.try_lock() {
            Ok(mut engine) => engine.as_mut().map(|e| e.post(&self.shared)).is_some(),
            Err(_) => false,
        };
        if !posted || rendezvous {
            self.shared.wake();
        }
    }
}

/// A hook for the failure-injection tests: `DIRK_TEST_FAULT=drop-value:R:K` makes rank R drop
/// the value with key K instead of sending it (the run then stalls, and must say so). Unset in
/// normal runs.
fn injected_drop(rank: u32) -> Option<u32> {
    let spec = std::env::var("DIRK_TEST_FAULT").ok()?;
    parse_drop(&spec, rank)
}

fn parse_drop(spec: &str, rank: u32) -> Option<u32> {
    let mut it = spec.split(':');
    if it.next()? != "drop-value" || it.next()?.parse::<u32>().ok()? != rank {
        return None;
    }
    it.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::parse_drop;

    #[test]
    fn the_drop_hook_names_one_rank_and_key() {
        assert_eq!(parse_drop("drop-value:1:7", 1), Some(7));
        assert_eq!(parse_drop("drop-value:1:7", 0), None);
        assert_eq!(parse_drop("drop-value:x:7", 1), None);
        assert_eq!(parse_drop("kill:1:7", 1), None);
        assert_eq!(parse_drop("drop-value:1", 1), None);
    }
}
