//! An in-process transport: every "rank" is a scheduler in the same process, and a send hands
//! the value straight to the destination's inbox. Lets the multi-rank logic of the scheduler
//! and planner run under plain `cargo test`, as the MPI backend runs it under mpirun.
//!
//! Control messages go through one delivery thread per destination (so a handler never runs
//! on the sender's stack, and the order between two ranks is kept, as MPI keeps it). For
//! protocol tests the network can delay each control message by a random time
//! (`with_delays`); `close` ends the delivery threads.
//!
//! With `polled` values wait in the destination's mailbox instead of being delivered on the
//! sender's stack, as they wait in MPI until someone calls it: the destination's workers
//! pick them up through `Transport::poll`, or its delivery thread does after a random delay
//! (the MPI progress thread's part), whichever comes first.

use super::{Inbox, TransferStats, Transport};
use crate::graph::Value;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

type ControlQueue = Mutex<Option<Sender<(u32, Vec<u8>)>>>;

/// The control "source" that tells a delivery thread to empty its rank's mailbox.
const NUDGE: u32 = u32::MAX;

/// The inboxes of all ranks of one in-process run.
#[derive(Default)]
pub struct LocalNetwork {
    inboxes: Vec<OnceLock<Arc<dyn Inbox>>>,
    control: Vec<ControlQueue>,
    stats: Vec<TransferStats>,
    /// Upper bound of the random delay of a control message, µs (0: none), and the seed.
    delay: (u64, u64),
    /// Values wait in mailboxes until polled or nudged (see the module doc).
    polled: bool,
    mailboxes: Vec<Mutex<Vec<(u32, Value)>>>,
}

impl LocalNetwork {
    /// A network of `ranks` ranks whose inboxes are attached later.
    pub fn new(ranks: usize) -> Arc<LocalNetwork> {
        Self::with_delays(ranks, 0, 0)
    }

    /// Like `new`, delaying every control message by a pseudo-random time below
    /// `max_delay_us` µs, drawn from `seed`.
    pub fn with_delays(ranks: usize, max_delay_us: u64, seed: u64) -> Arc<LocalNetwork> {
        Arc::new(LocalNetwork {
            inboxes: (0..ranks).map(|_| OnceLock::new()).collect(),
            control: (0..ranks).map(|_| Mutex::new(None)).collect(),
            stats: (0..ranks).map(|_| TransferStats::default()).collect(),
            delay: (max_delay_us, seed),
            polled: false,
            mailboxes: (0..ranks).map(|_| Mutex::new(Vec::new())).collect(),
        })
    }

    /// Like `with_delays`, and values wait in the destination's mailbox until one of its
    /// workers polls or its delivery thread comes round (after a random delay below
    /// `max_delay_us` µs, at least 1 µs).
    pub fn polled(ranks: usize, max_delay_us: u64, seed: u64) -> Arc<LocalNetwork> {
        let mut net = Self::with_delays(ranks, max_delay_us.max(1), seed);
        Arc::get_mut(&mut net).expect("not shared yet").polled = true;
        net
    }

    /// Hands every value waiting for `rank` to its inbox, on this thread.
    fn empty_mailbox(&self, rank: u32) {
        let values = std::mem::take(&mut *self.mailboxes[rank as usize].lock().expect("mailbox"));
        let inbox = self.inboxes[rank as usize]
            .get()
            .expect("every inbox is attached before the run starts");
        for (key, value) in values {
            let bytes = value.bytes();
            inbox.deliver(key, value);
            self.stats[rank as usize].received(bytes);
        }
    }

    /// Attaches rank `rank`'s inbox; values sent to it before this would be lost, so attach
    /// every inbox before any rank starts running.
    pub fn attach(self: &Arc<Self>, rank: u32, inbox: Arc<dyn Inbox>) {
        if self.inboxes[rank as usize].set(Arc::clone(&inbox)).is_err() {
            panic!("inbox of rank {rank} attached twice");
        }
        let (tx, rx) = channel::<(u32, Vec<u8>)>();
        *self.control[rank as usize].lock().expect("control lock") = Some(tx);
        let net = Arc::downgrade(self);
        let (max, seed) = self.delay;
        std::thread::Builder::new()
            .name(format!("dirk-local-control-{rank}"))
            .spawn(move || {
                let mut state = seed ^ (u64::from(rank) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                while let Ok((src, msg)) = rx.recv() {
                    if max > 0 {
                        state = splitmix(state);
                        std::thread::sleep(Duration::from_micros(state % max));
                    }
                    if src == NUDGE {
                        if let Some(n) = net.upgrade() {
                            n.empty_mailbox(rank);
                        }
                        continue;
                    }
                    let bytes = msg.len();
                    inbox.control(src, msg);
                    if let Some(n) = net.upgrade() {
                        n.stats[rank as usize].received(bytes);
                    }
                }
            })
            .expect("spawn a control delivery thread");
    }

    /// Ends the control delivery threads (after the run).
    pub fn close(&self) {
        for c in &self.control {
            c.lock().expect("control lock").take();
        }
    }

    /// The sender of rank `rank`.
    pub fn endpoint(self: &Arc<Self>, rank: u32) -> LocalEndpoint {
        LocalEndpoint {
            net: Arc::clone(self),
            rank,
        }
    }

    /// Rank `rank`'s counters.
    pub fn stats(&self, rank: u32) -> &TransferStats {
        &self.stats[rank as usize]
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One rank's sending side of a `LocalNetwork`.
pub struct LocalEndpoint {
    net: Arc<LocalNetwork>,
    rank: u32,
}

impl Transport for LocalEndpoint {
    fn send(&self, dest: u32, key: u32, value: Arc<Value>) {
        let bytes = value.bytes();
        self.net.stats[self.rank as usize].queued();
        self.net.stats[self.rank as usize].sent(bytes);
        if self.net.polled {
            self.net.mailboxes[dest as usize]
                .lock()
                .expect("mailbox")
                .push((key, (*value).clone()));
            self.nudge(dest);
            return;
        }
        let inbox = self.net.inboxes[dest as usize]
            .get()
            .expect("every inbox is attached before the run starts");
        inbox.deliver(key, (*value).clone());
        self.net.stats[dest as usize].received(bytes);
    }

    fn poll(&self, _wait: bool) -> bool {
        if !self.net.polled {
            return false;
        }
        self.net.empty_mailbox(self.rank);
        // Like the MPI engine while values are expected: more may come.
        true
    }

    fn send_control(&self, dest: u32, msg: Vec<u8>) {
        let stats = &self.net.stats[self.rank as usize];
        stats.queued();
        stats.sent(msg.len());
        if let Some(tx) = self.net.control[dest as usize]
            .lock()
            .expect("control lock")
            .as_ref()
        {
            // A closed network (the run is over) drops the message, as no rank waits for it.
            let _ = tx.send((self.rank, msg));
        }
    }
}

impl LocalEndpoint {
    /// Asks `dest`'s delivery thread to empty its mailbox (after its random delay).
    fn nudge(&self, dest: u32) {
        if let Some(tx) = self.net.control[dest as usize]
            .lock()
            .expect("control lock")
            .as_ref()
        {
            let _ = tx.send((NUDGE, Vec::new()));
        }
    }
}
