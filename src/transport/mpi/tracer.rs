//! Transfer records for `--trace`. With a trace epoch (every rank knows it from the settings)
//! each send is recorded from posting to completion and each receive from matching to
//! completion (a pre-posted one as a zero-length event when its completion is seen: MPI does
//! not say when the message came), as `TransferEvent`s that `Progress::finish` returns.
//! Without one, no clock is read and nothing is recorded.

use crate::trace::{Direction, TransferEvent};
use std::time::Instant;

/// Records transfers when tracing is on.
pub(super) struct Tracer {
    epoch: Option<Instant>,
    rank: u32,
    events: Vec<TransferEvent>,
}

impl Tracer {
    /// Records rank `rank`'s transfers in ns since `epoch`, or nothing without one.
    pub(super) fn new(epoch: Option<Instant>, rank: u32) -> Tracer {
        Tracer {
            epoch,
            rank,
            events: Vec::new(),
        }
    }

    /// Now, in ns since the epoch; 0 (and no clock read) when not tracing.
    pub(super) fn now(&self) -> u64 {
        self.epoch.map_or(0, |e| e.elapsed().as_nanos() as u64)
    }

    /// Records a transfer with `peer` that began at `start_ns` and ends now.
    pub(super) fn record(
        &mut self,
        peer: u32,
        dir: Direction,
        key: u32,
        bytes: usize,
        start_ns: u64,
    ) {
        if self.epoch.is_some() {
            let end_ns = self.now();
            self.events.push(TransferEvent {
                rank: self.rank,
                peer,
                dir,
                key,
                bytes: bytes as u64,
                start_ns,
                end_ns,
            });
        }
    }

    /// The transfers recorded.
    pub(super) fn into_events(self) -> Vec<TransferEvent> {
        self.events
    }
}
