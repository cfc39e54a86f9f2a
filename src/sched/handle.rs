//! Handles on a running executor that others hold: the canceller (the run loop, when another
//! rank failed) and the inbox (the transport's receiving side). Each holds the heart's state
//! and only forwards to it.

use super::heart::{Inner, TaskFailure};
use crate::graph::{Value, ValueType};
use crate::transport::Inbox;
use std::sync::Arc;

/// Ends a run early: `run` returns the given failure as soon as running tasks finish.
#[derive(Clone)]
pub struct Canceller(Arc<Inner>);

impl Canceller {
    pub(super) fn new(inner: Arc<Inner>) -> Canceller {
        Canceller(inner)
    }

    /// Stops the run, reporting `why` (unless it already failed).
    pub fn cancel(&self, why: TaskFailure) {
        self.0.cancel(why);
    }
}

/// The scheduler's receiving side, as the transport sees it.
pub(super) struct InboxHandle(Arc<Inner>);

impl InboxHandle {
    pub(super) fn new(inner: Arc<Inner>) -> InboxHandle {
        InboxHandle(inner)
    }
}

impl Inbox for InboxHandle {
    fn expected(&self, key: u32) -> Option<ValueType> {
        self.0.expected(key)
    }

    fn deliver(&self, key: u32, value: Value) {
        self.0.deliver(key, value);
    }

    fn control(&self, source: u32, msg: Vec<u8>) {
        self.0.on_control(source, &msg);
    }

    fn attentive(&self) -> bool {
        self.0.all_attending()
    }
}
