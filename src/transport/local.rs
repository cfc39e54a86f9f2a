//! An in-process transport: every "rank" is a scheduler in the same process, and a send hands
//! the value straight to the destination's inbox. Lets the multi-rank logic of the scheduler
//! and planner run under plain `cargo test`, as the MPI backend runs it under mpirun.

use super::{Inbox, TransferStats, Transport};
use crate::graph::Value;
use std::sync::{Arc, OnceLock};

/// The inboxes of all ranks of one in-process run.
#[derive(Default)]
pub struct LocalNetwork {
    inboxes: Vec<OnceLock<Arc<dyn Inbox>>>,
    stats: Vec<TransferStats>,
}

impl LocalNetwork {
    /// A network of `ranks` ranks whose inboxes are attached later.
    pub fn new(ranks: usize) -> Arc<LocalNetwork> {
        Arc::new(LocalNetwork {
            inboxes: (0..ranks).map(|_| OnceLock::new()).collect(),
            stats: (0..ranks).map(|_| TransferStats::default()).collect(),
        })
    }

    /// Attaches rank `rank`'s inbox; values sent to it before this would be lost, so attach
    /// every inbox before any rank starts running.
    pub fn attach(&self, rank: u32, inbox: Arc<dyn Inbox>) {
        if self.inboxes[rank as usize].set(inbox).is_err() {
            panic!("inbox of rank {rank} attached twice");
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
        let inbox = self.net.inboxes[dest as usize]
            .get()
            .expect("every inbox is attached before the run starts");
        inbox.deliver(key, (*value).clone());
        self.net.stats[dest as usize].received(bytes);
    }
}
