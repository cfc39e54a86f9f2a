//! A one-shot latch: the main thread blocks until the run is complete or has failed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Opens once; waiters block until then. The state is one atomic, readable without the lock
/// (pollers look at it every turn); the mutex only pairs with the condvar, and `open` sets
/// the flag under it so no waiter misses the wake-up.
#[derive(Default)]
pub(crate) struct Latch {
    opened: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Latch {
    /// Opens the latch and wakes every waiter.
    pub(crate) fn open(&self) {
        let _held = self.lock.lock().expect("latch lock");
        self.opened.store(true, Ordering::Release);
        self.cv.notify_all();
    }

    /// True once opened.
    pub(crate) fn is_open(&self) -> bool {
        self.opened.load(Ordering::Acquire)
    }

    /// Blocks until the latch is open (true) or `timeout` passed (false).
    pub(crate) fn wait_timeout(&self, timeout: std::time::Duration) -> bool {
        let held = self.lock.lock().expect("latch lock");
        let _held = self
            .cv
            .wait_timeout_while(held, timeout, |_| !self.is_open())
            .expect("latch lock");
        self.is_open()
    }

    /// Blocks until the latch is open.
    pub(crate) fn wait(&self) {
        let held = self.lock.lock().expect("latch lock");
        let _held = self
            .cv
            .wait_while(held, |_| !self.is_open())
            .expect("latch lock");
    }
}
