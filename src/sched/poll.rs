//! Workers driving the transport themselves (`heart.rs`, step 8): between tasks, and
//! when a worker runs out of ready tasks. A value a worker receives readies its reader on
//! that very thread, so a rank that waits for its neighbour's boundary value does not go to
//! sleep and need waking (25-30 µs on a VM) when it comes.
//!
//! Who touches what: `Workers::attending` counts the drainers running now (each holds an
//! `Attending` guard); `polling` is held by at most one idle worker at a time; the two
//! thread-locals are each worker's own (its poll credit, its last poll between tasks).

use crate::transport::Transport;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A worker between tasks polls the transport at most this often while another worker of
/// its rank sleeps, and at most every `BUSY_POLL_EVERY` while none does.
const POLL_EVERY: Duration = Duration::from_micros(10);
/// `POLL_EVERY` while every worker of the rank is busy: often enough to answer the peers'
/// steal requests, rarely enough to cost nothing measurable.
const BUSY_POLL_EVERY: Duration = Duration::from_millis(1);

/// An idle worker drives the transport for at most this long before it sleeps, spinning for
/// the first `IDLE_SPIN` and yielding its core between polls after that.
const IDLE_POLL: Duration = Duration::from_millis(1);
const IDLE_SPIN: Duration = Duration::from_micros(50);

thread_local! {
    /// This worker is polling for work and will run one task that a delivery readies.
    static POLL_CREDIT: Cell<bool> = const { Cell::new(false) };
    /// When this worker last polled the transport between tasks.
    static LAST_POLL: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How a drainer's wait for work ended (`Workers::wait_for_work`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Idle {
    /// A task was readied for this drainer: it goes on.
    Work,
    /// Queued work has drainers of its own: this one returns and the thread runs them.
    Others,
    /// This one returns and may sleep, and the transport's helper thread need not take over:
    /// another worker of the rank polls, or the rank is alone (nothing to receive).
    Quiet,
    /// Nothing to do: this drainer returns and the thread may sleep, so the transport's
    /// helper thread takes over (`Transport::unattended`).
    Sleep,
}

/// The rank's workers as the transport sees them: how many attend (run a drainer), and
/// whether one polls for work.
pub(super) struct Workers {
    threads: usize,
    /// A worker is waiting for work by polling the transport; one at a time.
    polling: AtomicBool,
    /// Drainers running now (each on a worker thread, running tasks or polling).
    attending: AtomicUsize,
}

/// Counts a drainer in `Workers::attending` for as long as it lives.
pub(super) struct Attending<'a>(&'a AtomicUsize);

impl Drop for Attending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Workers {
    /// The workers of a pool of `threads`.
    pub(super) fn new(threads: usize) -> Workers {
        Workers {
            threads,
            polling: AtomicBool::new(false),
            attending: AtomicUsize::new(0),
        }
    }

    /// A drainer starts: it attends until the guard drops.
    pub(super) fn attend(&self) -> Attending<'_> {
        self.attending.fetch_add(1, Ordering::AcqRel);
        Attending(&self.attending)
    }

    /// Every worker thread is in a drainer (running a task or polling), none asleep.
    pub(super) fn all_attending(&self) -> bool {
        self.attending.load(Ordering::Acquire) >= self.threads
    }

    /// Between tasks: while another worker of this rank sleeps, lets the transport pick up
    /// messages on this thread at most every `POLL_EVERY`, so a value that readies a task for
    /// the sleeper is there at once. With every worker busy (always, on a 1-thread rank) only
    /// every `BUSY_POLL_EVERY`: what arrives could not start sooner anyway (the worker polls
    /// as soon as it runs out of tasks), and turns every 10 µs cost 2-3 % of a 2-rank Life
    /// run (benches/HISTORY.md, "Scaling", second session); once a millisecond they answer a
    /// peer's steal request without waking the progress thread.
    pub(super) fn between_tasks(&self, transport: &dyn Transport) {
        let every = if self.all_attending() {
            BUSY_POLL_EVERY
        } else {
            POLL_EVERY
        };
        let now = Instant::now();
        let due = LAST_POLL.with(|last| match last.get() {
            Some(t) if now.duration_since(t) < every => false,
            _ => {
                last.set(Some(now));
                true
            }
        });
        if due {
            transport.poll(false);
        }
    }

    /// Idle: one worker at a time waits for work by driving the transport itself, for at
    /// most `IDLE_POLL`. `Work` when a value it received readied a task for this drainer (the
    /// one the delivery did not spawn a drainer for, `take_credit`). `Others` when work is
    /// queued (`has_work`): it has drainers of its own, which this thread runs next once this
    /// one returns. Running it here instead left those drainers queued in rayon until the
    /// run ended (42,000 of them on a rank of the 2-rank weak Life job: a heap job each, the
    /// heap growing all run long). `Quiet` while another worker polls. `Sleep` when `stop`
    /// (failed, paused, over) or the wait ran out, and once the transport has nothing
    /// outstanding unless `ending` (a rank whose share is done awaits the peers' `OwnDone`
    /// and `Fin`).
    pub(super) fn wait_for_work(
        &self,
        transport: &dyn Transport,
        has_work: impl Fn() -> bool,
        stop: impl Fn() -> bool,
        ending: impl Fn() -> bool,
    ) -> Idle {
        if has_work() {
            return Idle::Others;
        }
        if self.polling.swap(true, Ordering::AcqRel) {
            return Idle::Quiet;
        }
        let start = Instant::now();
        // A value this poll delivers readies its reader without spawning a drainer for it:
        // this drainer goes on to run it (the delivery takes the credit).
        POLL_CREDIT.with(|c| c.set(true));
        let idle = loop {
            if stop() {
                break Idle::Sleep;
            }
            let outstanding = transport.poll(true) || ending();
            if !POLL_CREDIT.with(|c| c.get()) {
                break Idle::Work;
            }
            // Work that came another way (the progress thread's delivery, a stolen task).
            if has_work() {
                break Idle::Others;
            }
            let waited = start.elapsed();
            if !outstanding || waited > IDLE_POLL {
                break Idle::Sleep;
            }
            if waited > IDLE_SPIN {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        };
        // Taken or not, the credit ends here (only this thread's own polls deliver on it).
        POLL_CREDIT.with(|c| c.set(false));
        self.polling.store(false, Ordering::Release);
        idle
    }
}

/// A delivery that readied tasks: true when this thread is a worker polling for work, which
/// then runs one of them itself (so the delivery spawns one drainer fewer). Takes the credit.
pub(super) fn take_credit() -> bool {
    POLL_CREDIT.with(|c| c.replace(false))
}
