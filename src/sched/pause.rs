//! The pause gate: lets the main thread stop a rank's scheduler at a clean point (no task
//! running) for a checkpoint, then start it again, without losing a ready task.
//!
//! Protocol (the Dekker pattern; every access is `SeqCst`):
//!
//! 1. A drainer announces itself (`running += 1`) *before* it reads the `paused` hint; if the
//!    hint is set it withdraws (`running -= 1`) and, under the lock, parks: it adds one to
//!    `parked` (the ready task it would have popped stays on the queue) and returns.
//! 2. `pause` sets the hint under the lock; `wait_idle` then waits for `running == 0`. A
//!    drainer either announced itself before the hint was set (and is waited for) or reads
//!    the hint and withdraws — never runs a task unseen.
//! 3. `resume` clears the hint under the lock and hands back the number of parked drainers,
//!    which the caller respawns, so every queued task again has one drainer.
//!
//! A thread that handles a steal message (which may send: a reply, a value, `OwnDone`) passes
//! the same gate on a counter of its own (`try_handle`/`handled`, same Dekker pattern):
//! `wait_idle` waits for those inside, and one that finds the hint set does not handle the
//! message (the caller queues it for the resume). So once `wait_idle` returns, this rank
//! starts nothing and sends nothing until `resume`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub(crate) struct PauseGate {
    hint: AtomicBool,
    running: AtomicUsize,
    handling: AtomicUsize,
    parked: Mutex<(bool, usize)>,
}

/// What a drainer should do.
pub(crate) enum Entry {
    /// Run one task, then call `leave`.
    Proceed,
    /// The scheduler is paused: this drainer was parked; return.
    Parked,
}

impl PauseGate {
    /// Step 1: called by a drainer before it pops a task.
    pub(crate) fn enter(&self) -> Entry {
        loop {
            self.running.fetch_add(1, SeqCst);
            if !self.hint.load(SeqCst) {
                return Entry::Proceed;
            }
            self.running.fetch_sub(1, SeqCst);
            let mut p = self.parked.lock().expect("pause lock");
            if p.0 {
                p.1 += 1;
                return Entry::Parked;
            }
            // Resumed in between: try again.
        }
    }

    /// Called by a drainer when its task is done (or there was none to pop).
    /// Drainers inside the gate now (running a task or about to).
    pub(crate) fn running(&self) -> usize {
        self.running.load(SeqCst)
    }

    /// True while a pause is asked for (until `resume`).
    pub(crate) fn paused(&self) -> bool {
        self.hint.load(SeqCst)
    }

    /// Steal messages being handled now.
    pub(crate) fn handling(&self) -> usize {
        self.handling.load(SeqCst)
    }

    pub(crate) fn leave(&self) {
        self.running.fetch_sub(1, SeqCst);
    }

    /// A message handler's entry: true (call `handled` when done) unless a pause is asked for.
    pub(crate) fn try_handle(&self) -> bool {
        self.handling.fetch_add(1, SeqCst);
        if !self.hint.load(SeqCst) {
            return true;
        }
        self.handling.fetch_sub(1, SeqCst);
        false
    }

    /// A message handler admitted by `try_handle` is done.
    pub(crate) fn handled(&self) {
        self.handling.fetch_sub(1, SeqCst);
    }

    /// Step 2: stop drainers from starting tasks.
    pub(crate) fn pause(&self) {
        let mut p = self.parked.lock().expect("pause lock");
        p.0 = true;
        self.hint.store(true, SeqCst);
    }

    /// Step 2: waits until no task is running and no message is being handled.
    pub(crate) fn wait_idle(&self) {
        while self.running.load(SeqCst) != 0 || self.handling.load(SeqCst) != 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
    }

    /// Step 3: lets drainers run again; returns how many parked drainers to respawn.
    pub(crate) fn resume(&self) -> usize {
        let mut p = self.parked.lock().expect("pause lock");
        p.0 = false;
        self.hint.store(false, SeqCst);
        std::mem::take(&mut p.1)
    }
}
