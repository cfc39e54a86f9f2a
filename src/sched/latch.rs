//! A one-shot latch: the main thread blocks until the run is complete or has failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Opens once; waiters block until then.
#[derive(Default)]
pub(crate) struct Latch {
    open: Mutex<bool>,
    cv: Condvar,
    /// `open`, readable without the lock (pollers look at it every turn).
    opened: AtomicBool,
}

impl Latch {
    /// Opens the latch and wakes every waiter.
    pub(crate) fn open(&self) {
        *self.open.lock().expect("latch lock") = true;
        self.opened.store(true, Ordering::Release);
        self.cv.notify_all();
    }

    /// True once opened.
    pub(crate) fn is_open(&self) -> bool {
        self.opened.load(Ordering::Acquire)
    }

    /// Blocks until the latch is open (true) or `timeout` passed (false).
    pub(crate) fn wait_timeout(&self, timeout: std::time::Duration) -> bool {
        let open = self.open.lock().expect("latch lock");
        let (open, _) = self
            .cv
            .wait_timeout_while(open, timeout, |o| !*o)
            .expect("latch lock");
        *open
    }

    /// Blocks until the latch is open.
    pub(crate) fn wait(&self) {
        let mut open = self.open.lock().expect("latch lock");
        while !*open {
            open = self.cv.wait(open).expect("latch lock");
        }
    }
}
