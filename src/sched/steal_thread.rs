//! The steal thread: the thief side's asking (the heart's step 7). One per stealing rank,
//! created by `Executor::prepare` before the timed run; it asks a peer for work when the
//! rank's queued and running tasks fall below its thread count, through the protocol
//! machine (`Proto::nap_before_asking`, `Proto::ask`), and sleeps on `Stealing::bell`
//! between decisions: through a backoff, until a worker runs dry while the rank is busy,
//! and until the reply while a request is out; so a rank that never gets work (Life's tiles
//! are too big to move) is not woken every millisecond on its workers' cores.

use super::heart::Inner;
use super::steal::protocol::{NAP_FALLBACK, NAP_RECHECK};
use super::steal::Stealing;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The thread's body, until the run ends.
pub(super) fn run(inner: Arc<Inner>) {
    let st = inner.steal.as_ref().expect("stealing is on");
    while !inner.done.is_open() {
        let nap = turn(&inner, st);
        st.bell.wait(nap);
    }
}

/// One decision: asks a peer for work if this rank may and should; returns how long to
/// sleep at most (a worker running dry, a reply or the end rings the bell sooner).
fn turn(inner: &Arc<Inner>, st: &Stealing) -> Duration {
    // Before `start` the queue is empty but the rank is not idle: asking then made every
    // rank of a 2-rank Life run hand a first tile to its peer, which ran it only after its
    // own, and both waited 20-40 ms for the other's. `start` rings.
    if !inner.started.load(Ordering::Acquire) {
        return NAP_FALLBACK;
    }
    if inner.failed.load(Ordering::Acquire) || inner.gate.paused() {
        return NAP_RECHECK;
    }
    let nap = st
        .proto
        .lock()
        .expect("steal lock")
        .nap_before_asking(Instant::now());
    if let Some(nap) = nap {
        return nap;
    }
    // Arm, then look: a worker that runs dry from here on rings.
    st.bell.arm();
    // Tasks queued and tasks running: a rank that has as many as threads is busy.
    let queued = inner.ready.len()
        + st.queue.lock().expect("stolen queue lock").len()
        + inner.gate.running();
    if queued >= st.threads {
        return NAP_FALLBACK;
    }
    st.bell.disarm();
    let mut p = st.proto.lock().expect("steal lock");
    // Looked at again under the lock `Executor::pause` passes through: a paused rank sends
    // no request.
    if inner.gate.paused() {
        return NAP_RECHECK;
    }
    // No request when every peer is done or has nothing to hand over: the end rings.
    let actions = p.ask(queued, st.threads);
    inner.carry_out(st, p, actions);
    NAP_FALLBACK
}
