//! Moving values between ranks. The scheduler sees only the two small traits here; it never
//! calls MPI. Two backends fill them: `mpi` (the real one: point-to-point messages driven by a
//! progress thread) and `local` (ranks as threads of one process, for tests).
//!
//! A transfer is identified by its key: the producing task's global index, which every rank
//! that holds the value agrees on. Each value crosses to a given rank once.
//!
//! Besides values, the transports carry opaque control messages (bytes) for the scheduler's
//! cross-rank work stealing (`crate::sched::steal`); they are counted in `TransferStats` like
//! values, so "nothing in flight" covers them too.

pub mod local;
pub mod mpi;

use crate::graph::{Value, ValueType};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The sending side, called by worker threads. Never blocks on the network.
pub trait Transport: Send + Sync {
    /// Queues `value` (the result of task `key`) for delivery to rank `dest`.
    fn send(&self, dest: u32, key: u32, value: Arc<Value>);
    /// Queues a control message (the scheduler's own encoding, e.g. a steal request) for
    /// rank `dest`. Control messages between two ranks arrive in the order sent; they never
    /// mix with values (the MPI backend carries them on a communicator of their own).
    fn send_control(&self, dest: u32, msg: Vec<u8>);
    /// Says that control messages will come soon and should be picked up at once (the end of
    /// a run's stealing protocol); a transport that polls may poll faster from now on.
    fn expect_control_soon(&self) {}
    /// Says whether a control message may need a prompt answer (stealing: while this rank
    /// has tasks a peer could take, awaits the result of one it lent, or awaits a reply). A
    /// transport whose helper thread parks may park longer while not.
    fn control_expected(&self, _expected: bool) {}
    /// Says that a worker thread stopped attending (`Inbox::attentive` may now be false): a
    /// transport whose helper thread stays in the background while every worker attends
    /// should take over now.
    fn unattended(&self) {}
    /// Lends the calling thread (an idle worker, or one between tasks) to the network for a
    /// moment: posts what is queued and hands arrived values to the inbox on this thread, so
    /// no other thread has to be woken for them. When another thread is driving the network,
    /// returns at once, or with `wait` (an idle worker, which has nothing else to do) first
    /// waits for it to finish: sleeping on the lock hands the core to the thread holding it,
    /// where spinning could keep it off. Returns false when nothing is outstanding (no value
    /// expected, no send in flight), so polling again is pointless until the next `send`.
    fn poll(&self, _wait: bool) -> bool {
        false
    }
    /// Says that the scheduler is paused (a checkpoint, `true`) or runs again (`false`).
    /// While paused no task runs, so no value is produced that a receiver might wait for
    /// first: a transport that receives in some order of its own (the MPI backend pre-posts
    /// small values in key order) must take every message that arrives, in any order, or a
    /// checkpoint's quiesce step, which waits until everything sent has been received, would
    /// wait forever.
    fn paused(&self, _paused: bool) {}
}

/// The receiving side, implemented by the scheduler and called by the transport.
pub trait Inbox: Send + Sync {
    /// The type of the value with this key, which this rank expects to receive.
    fn expected(&self, key: u32) -> Option<ValueType>;
    /// Hands over a received value.
    fn deliver(&self, key: u32, value: Value);
    /// Hands over a control message from rank `source`.
    fn control(&self, source: u32, msg: Vec<u8>);
    /// True while every worker thread is running tasks or polling (`Transport::poll`), so
    /// values that arrive are picked up without a helper thread handing them over: a
    /// progress thread may then stay in the background.
    fn attentive(&self) -> bool {
        false
    }
}

/// Byte and message counters of one rank's transfers.
#[derive(Debug, Default)]
pub struct TransferStats {
    /// Payload bytes sent.
    pub bytes_sent: AtomicU64,
    /// Payload bytes received.
    pub bytes_received: AtomicU64,
    /// Messages sent.
    pub messages_sent: AtomicU64,
    /// Messages received and handed to the inbox.
    pub messages_received: AtomicU64,
    /// Values handed to `Transport::send` (posted or not yet).
    pub messages_queued: AtomicU64,
}

impl TransferStats {
    pub(crate) fn sent(&self, bytes: usize) {
        self.bytes_sent.fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_received
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages_received.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn queued(&self) {
        self.messages_queued.fetch_add(1, Ordering::Relaxed);
    }

    /// (messages queued for sending, messages received and handed over): summed over all
    /// ranks the two are equal when no message is in flight. A message counts as received
    /// only once the inbox has handled it, so what handling it sends is queued first; and
    /// `received` is read before `queued` here, so a message handled between the two loads
    /// counts as still in flight, never as received while what it caused is not yet counted
    /// as queued. One reading of all ranks is still not a consistent cut: a checkpoint takes
    /// two in a row that agree (`runtime::checkpoint`).
    pub fn message_counts(&self) -> (u64, u64) {
        let received = self.messages_received.load(Ordering::SeqCst);
        let queued = self.messages_queued.load(Ordering::SeqCst);
        (queued, received)
    }

    /// (bytes sent, bytes received).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_sent.load(Ordering::Relaxed),
            self.bytes_received.load(Ordering::Relaxed),
        )
    }
}
