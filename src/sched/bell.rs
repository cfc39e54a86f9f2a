//! A doorbell for a thread that sleeps until something happens: the steal thread waits on
//! one until a worker runs out of work, a steal reply comes, or the run ends.
//!
//! Ringing is cheap when nobody listens: the sleeper *arms* the bell before it looks at the
//! state it waits on, and a worker rings only an armed bell (one atomic load otherwise), so
//! a worker that runs dry thousands of times a second costs nothing while the thread sleeps
//! for another reason (a backoff). Arm, then look: a change between the look and the wait
//! still rings, so no wake-up is lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

#[derive(Default)]
pub(crate) struct Bell {
    armed: AtomicBool,
    rung: Mutex<bool>,
    cv: Condvar,
}

impl Bell {
    /// The sleeper is about to look at what it waits on: ring if that changes from now on.
    pub(crate) fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// The sleeper looked and will not wait after all.
    pub(crate) fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Rings if armed (an event the sleeper waits for, e.g. a worker ran dry).
    pub(crate) fn ring_if_armed(&self) {
        if self.armed.load(Ordering::SeqCst) && self.armed.swap(false, Ordering::SeqCst) {
            self.ring();
        }
    }

    /// Rings whether armed or not (an event the sleeper must always see: the end of the
    /// run, a reply).
    pub(crate) fn ring(&self) {
        self.armed.store(false, Ordering::SeqCst);
        *self.rung.lock().expect("bell lock") = true;
        self.cv.notify_one();
    }

    /// Sleeps until rung (true) or `timeout` passed (false); a ring while awake is kept for
    /// the next wait.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let rung = self.rung.lock().expect("bell lock");
        let (mut rung, _) = self
            .cv
            .wait_timeout_while(rung, timeout, |r| !*r)
            .expect("bell lock");
        std::mem::replace(&mut *rung, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn an_unarmed_bell_is_not_rung_by_events_but_always_by_ring() {
        let b = Bell::default();
        b.ring_if_armed();
        assert!(!b.wait(Duration::from_millis(1)));
        b.arm();
        b.ring_if_armed();
        assert!(b.wait(Duration::from_millis(1)));
        // Disarmed by the ring: a second event does not ring again.
        b.ring_if_armed();
        assert!(!b.wait(Duration::from_millis(1)));
        b.ring();
        assert!(b.wait(Duration::from_millis(1)));
    }

    #[test]
    fn a_ring_from_another_thread_wakes_the_sleeper_long_before_its_timeout() {
        let b = Arc::new(Bell::default());
        b.arm();
        let t = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                b.ring_if_armed();
            })
        };
        let start = Instant::now();
        assert!(b.wait(Duration::from_secs(30)));
        assert!(start.elapsed() < Duration::from_secs(10));
        t.join().unwrap();
    }
}
