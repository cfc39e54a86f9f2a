//! The engine: the state of all point-to-point traffic of one rank, and one turn of driving
//! it. It lives in `Shared::engine`; whichever thread holds the lock runs a turn (the
//! progress thread, or a worker through `Transport::poll` / `Transport::send`).
//!
//! A turn (MPI standard §3.7 nonblocking communication, §3.8 matched probe):
//!
//! 1. posts `MPI_Isend` for each queued value, straight from the array's own buffer (no copy;
//!    the `Arc` keeps it alive until the request completes);
//! 2. keeps the receives of the next `PREPOST` small values posted ahead of their arrival
//!    (`MPI_Irecv` by source and key, into a buffer of exactly the expected type), in key
//!    order, so MPI delivers a value straight into its buffer while the rank computes and
//!    taking it costs one test; and matches the messages no posted receive covers with
//!    `MPI_Improbe` (any source, any tag; the tag is the value's key), allocates the buffer
//!    and posts `MPI_Imrecv` into it (no copy on this side either). Why key order cannot
//!    deadlock, and when the probe is skipped: `Engine::prepost`;
//! 3. tests its pending requests, hands completed receives to the scheduler's inbox (on the
//!    thread that runs the turn) and drops completed sends;
//! 4. receives control messages and hands them over in the order they were matched.
//!
//! `Engine::turn` runs them in the order 1, 4, 2, 3: a delivery, which may ready a task on
//! the thread running the turn, is the last thing a turn does. A turn with nothing queued
//! takes no queue lock (`Shared::queued`).

use super::ffi::{improbe, Comm, InOrder, RecvBuf, Requests};
use super::tracer::Tracer;
use super::{Expected, Shared, MAX_IN_FLIGHT, PREPOST, RENDEZVOUS_BYTES};
use crate::graph::Value;
use crate::trace::{Direction, TransferEvent};
use crate::transport::Inbox;
use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A value queued for sending.
pub(super) struct Outgoing {
    pub(super) dest: u32,
    pub(super) key: u32,
    pub(super) value: Arc<Value>,
}

/// A value send in flight (the value itself is the request's buffer).
struct SendInfo {
    dest: u32,
    key: u32,
    start_ns: u64,
}

/// A value receive in flight.
struct RecvInfo {
    key: u32,
    source: u32,
    /// When it was matched (`None`: pre-posted; the trace then times it from completion,
    /// since MPI does not say when the message came).
    start_ns: Option<u64>,
}

/// The state of all point-to-point traffic of one rank: what is queued, posted and expected.
pub(super) struct Engine {
    comm: Comm,
    control: Comm,
    inbox: Arc<dyn Inbox>,
    tracer: Tracer,
    /// Values not yet posted (more than `MAX_IN_FLIGHT` in flight).
    backlog: VecDeque<Outgoing>,
    sends: Requests<SendInfo, Arc<Value>>,
    recvs: Requests<RecvInfo, RecvBuf>,
    control_sends: Requests<(), Vec<u8>>,
    /// Control messages being received, in the order they were matched (and are handed
    /// over), with their sources.
    control_in: InOrder<u32>,
    /// Expected values under `RENDEZVOUS_BYTES` whose receives are not posted yet, in key
    /// order (see `prepost`).
    upcoming: VecDeque<Expected>,
    /// Keys of `upcoming` that `MPI_Improbe` matched before their turn came: skipped there.
    probed: FxHashSet<u32>,
    /// Pre-posted receives not yet complete (at most `PREPOST`).
    preposted: usize,
    /// Expected values of `RENDEZVOUS_BYTES` or more not yet matched: only `MPI_Improbe`
    /// finds them.
    probe_left: usize,
    /// Values expected in the whole run, and received so far (`recvs` holds those matched or
    /// pre-posted and not yet received).
    expected: usize,
    received: usize,
}

/// What one turn of the engine did.
#[derive(Clone, Copy, Default)]
pub(super) struct Turn {
    /// Something was posted, matched or completed.
    pub(super) active: bool,
    /// A value was handed to the inbox.
    pub(super) delivered: bool,
}

impl Engine {
    /// The engine of a rank that sends values on `comm` and control messages on `control`,
    /// and receives the `expected` values, delivering them to `inbox`.
    pub(super) fn new(
        comm: Comm,
        control: Comm,
        inbox: Arc<dyn Inbox>,
        mut expected: Vec<Expected>,
        tracer: Tracer,
    ) -> Engine {
        let total = expected.len();
        expected.sort_unstable_by_key(|x| x.key);
        let (upcoming, large): (Vec<Expected>, Vec<Expected>) = expected
            .into_iter()
            .partition(|x| x.ty.bytes() < RENDEZVOUS_BYTES);
        Engine {
            comm,
            control,
            inbox,
            tracer,
            backlog: VecDeque::new(),
            sends: Requests::new(),
            recvs: Requests::new(),
            control_sends: Requests::new(),
            control_in: InOrder::new(),
            upcoming: upcoming.into(),
            probed: FxHashSet::default(),
            preposted: 0,
            probe_left: large.len(),
            expected: total,
            received: 0,
        }
    }

    /// The transfers recorded (none unless tracing).
    pub(super) fn into_events(self) -> Vec<TransferEvent> {
        self.tracer.into_events()
    }

    /// Something is still to come or to complete: an expected value, a posted request or a
    /// queued value.
    pub(super) fn outstanding(&self) -> bool {
        self.received < self.expected
            || !self.sends.is_empty()
            || !self.backlog.is_empty()
            || !self.control_sends.is_empty()
            || !self.control_in.is_empty()
    }

    /// A value is still to be matched or received (the idle progress thread polls often).
    pub(super) fn waiting(&self) -> bool {
        self.received < self.expected
    }

    /// A rendezvous message is on its way in or out: over TCP its data moves only inside MPI
    /// calls, so someone must keep calling even while every worker runs a long task.
    pub(super) fn moving_rendezvous(&self) -> bool {
        self.sends
            .iter()
            .any(|(_, v)| v.bytes() >= RENDEZVOUS_BYTES)
            || self.receiving_rendezvous()
            || self.moving_rendezvous_control()
    }

    /// A rendezvous message has been matched here and its data is coming in. Some libraries
    /// move it a piece per call on this side: MPICH over UCX pulls 512 KiB per progress call
    /// (a 64 MiB value took 128 `MPI_Testsome` calls however fast they came), where Open
    /// MPI's shared-memory single copy moves it in one.
    pub(super) fn receiving_rendezvous(&self) -> bool {
        self.recvs
            .iter()
            .any(|(_, b)| b.ty().bytes() >= RENDEZVOUS_BYTES)
            || self.control_in.lens().any(|n| n >= RENDEZVOUS_BYTES)
    }

    /// A rendezvous control message (a stolen task's inputs or result) is on its way in or
    /// out. It moves only inside MPI calls on both sides, and the peer's thread may be
    /// waiting for it, so the idle progress thread looks in every 50 µs, as for an awaited
    /// value. (Left to the 10-20 ms parks, a stolen 1 MiB Life tile's result took 38 ms to
    /// come back, and both ranks of a 2-rank Life run waited for it.)
    pub(super) fn moving_rendezvous_control(&self) -> bool {
        self.control_sends
            .iter()
            .any(|(_, b)| b.len() >= RENDEZVOUS_BYTES)
            || self.control_in.lens().any(|n| n >= RENDEZVOUS_BYTES)
    }

    /// Posts one value's `MPI_Isend`; the request keeps the value alive until it completes.
    fn isend(&mut self, shared: &Shared, o: Outgoing) {
        let start_ns = self.tracer.now();
        shared.stats.sent(o.value.bytes());
        let info = SendInfo {
            dest: o.dest,
            key: o.key,
            start_ns,
        };
        self.sends.isend(self.comm, o.dest, o.key, info, o.value);
    }

    /// Step 1: posts queued sends, at most MAX_IN_FLIGHT at a time but for the one
    /// exception below; and 1b: queued control messages.
    pub(super) fn post(&mut self, shared: &Shared) -> bool {
        let mut active = false;
        let queued = shared.queued.swap(false, Ordering::AcqRel);
        if queued {
            let mut queue = shared.queue.lock().expect("send queue lock");
            if self.backlog.is_empty() {
                self.backlog = std::mem::take(&mut *queue).into();
            } else {
                self.backlog.extend(queue.drain(..));
            }
        }
        while self.sends.len() < MAX_IN_FLIGHT {
            let Some(o) = self.backlog.pop_front() else {
                break;
            };
            active = true;
            self.isend(shared, o);
        }
        // Over the cap, one more send goes when the backlog holds a key smaller than every key
        // in flight. A receiver pre-posts its small values in key order (step 2a) and probes
        // for nothing else once its large values are in, so above the eager limit (a
        // rendezvous) a send completes only after its key's receive is posted. If the sends
        // in flight were all beyond their receivers' windows, and the keys those windows wait
        // for sat behind the cap, no send would ever complete. The smallest key outstanding
        // anywhere is smaller than every key in flight, so it always passes this test (see
        // `prepost` for why it is then inside its receiver's window).
        if self.sends.len() >= MAX_IN_FLIGHT {
            let smallest_in_flight = self.sends.iter().map(|(s, _)| s.key).min();
            let smallest_queued = (0..self.backlog.len()).min_by_key(|&i| self.backlog[i].key);
            if let (Some(i), Some(limit)) = (smallest_queued, smallest_in_flight) {
                if self.backlog[i].key < limit {
                    let o = self.backlog.remove(i).expect("index from the backlog");
                    active = true;
                    self.isend(shared, o);
                }
            }
        }
        // 1b. Control messages (few and small; sent as bytes, tag 0).
        let queued_control = if queued {
            std::mem::take(&mut *shared.control.lock().expect("control queue lock"))
        } else {
            Vec::new()
        };
        for (dest, buf) in queued_control {
            active = true;
            shared.stats.sent(buf.len());
            self.control_sends.isend(self.control, dest, 0, (), buf);
        }
        active
    }

    /// Step 4: receives control messages and hands them over, in the order they were
    /// matched. The receive does not block: a large one (a stolen task's inputs or result)
    /// moves only as fast as its sender calls MPI, and a blocking `MPI_Mrecv` held the engine,
    /// and so every delivery of the rank, that long (13 ms in a 2-rank Life run).
    fn receive_control(&mut self, shared: &Shared) -> bool {
        let mut active = false;
        while let Some(m) = improbe(self.control) {
            active = true;
            let source = m.source();
            self.control_in.imrecv(m, source);
        }
        while let Some((source, buf)) = self.control_in.pop_done() {
            active = true;
            let bytes = buf.len();
            self.inbox.control(source, buf);
            shared.stats.received(bytes);
        }
        active
    }

    /// Step 2a: keeps the receives of the next `PREPOST` expected small values posted, in key
    /// order. A value then lands in its buffer while the rank computes, and taking it is one
    /// test; a message whose receive is not posted yet waits in MPI's unexpected queue.
    ///
    /// Key order cannot deadlock: a key is its producer's global index, and spawn order is
    /// topological, so a value only ever depends on values with smaller keys. The smallest
    /// key still in flight anywhere therefore depends on nothing undelivered, its producer
    /// runs and sends it, and it is the smallest outstanding key of its receiver too, so
    /// inside that receiver's window. A key that `MPI_Improbe` (step 2b) took before its
    /// turn is skipped.
    fn prepost(&mut self) -> bool {
        let mut active = false;
        while self.preposted < PREPOST {
            let Some(x) = self.upcoming.pop_front() else {
                break;
            };
            if self.probed.remove(&x.key) {
                continue;
            }
            active = true;
            self.preposted += 1;
            let info = RecvInfo {
                key: x.key,
                source: x.source,
                start_ns: None,
            };
            self.recvs
                .irecv(self.comm, x.source, x.key, info, RecvBuf::new(x.ty));
        }
        active
    }

    /// Step 2b: matches incoming values that no posted receive covers and posts their
    /// receives. Needed only while a large value is still to come: small ones arrive in their
    /// pre-posted receives (step 2a), so once every large value is matched no probe is made
    /// (it was a tenth of a worker's time in Task Bench's finest runs). A small value probed
    /// before its receive was posted is taken here and skipped there.
    ///
    /// While the scheduler is paused (`Shared::paused`, a checkpoint) it probes for every
    /// value: the key-order argument of step 2a needs producers that run, and a paused rank
    /// runs none. A small value beyond its receiver's window, sent just before the pause,
    /// would otherwise sit unmatched in MPI's unexpected queue until the smaller keys came,
    /// which only a resumed producer makes, while the checkpoint's quiesce step waited for
    /// that very message before resuming anything: the stall of a resumed Life run (issue
    /// 21, `../shared/repro/resume-hang`).
    fn match_values(&mut self, shared: &Shared) -> bool {
        let mut active = false;
        while self.probe_left > 0 || shared.paused.load(Ordering::Acquire) {
            let Some(m) = improbe(self.comm) else {
                break;
            };
            active = true;
            let start_ns = self.tracer.now();
            let (key, source) = (m.tag(), m.source());
            let ty = self.inbox.expected(key).unwrap_or_else(|| {
                panic!("received a value nobody expects (key {key} from rank {source})")
            });
            if ty.bytes() < RENDEZVOUS_BYTES {
                self.probed.insert(key);
            } else {
                self.probe_left -= 1;
            }
            let info = RecvInfo {
                key,
                source,
                start_ns: Some(start_ns),
            };
            self.recvs.imrecv(m, info, RecvBuf::new(ty));
        }
        active
    }

    /// Step 3: completes requests (one MPI_Testsome per list, so a long list costs one call)
    /// and hands received values to the inbox.
    fn complete(&mut self, shared: &Shared) -> Turn {
        let mut turn = Turn::default();
        let Engine {
            recvs,
            tracer,
            inbox,
            preposted,
            received,
            ..
        } = self;
        turn.delivered = recvs.complete_recvs(|r, value| {
            *received += 1;
            let start_ns = match r.start_ns {
                Some(t) => t,
                None => {
                    // A pre-posted receive: its slot in the window (step 2a) is free again.
                    *preposted -= 1;
                    tracer.now()
                }
            };
            let bytes = value.bytes();
            tracer.record(r.source, Direction::Recv, r.key, bytes, start_ns);
            inbox.deliver(r.key, value);
            // Counted once delivered, so a checkpoint that sees every message received also
            // sees every value in its slot.
            shared.stats.received(bytes);
        });
        turn.active = turn.delivered;
        // A value just readied a task on the thread running this turn: let it go and complete
        // sends next turn (unless many are in flight, so posting never waits on this).
        if turn.delivered && self.sends.len() < MAX_IN_FLIGHT / 2 {
            return turn;
        }
        let tracer = &mut self.tracer;
        turn.active |= self.sends.complete_sends(|s, value| {
            tracer.record(s.dest, Direction::Send, s.key, value.bytes(), s.start_ns);
        });
        turn.active |= self.control_sends.complete_sends(|(), _| {});
        turn
    }

    /// One turn: steps 1, 4, 2a, 2b and 3, in that order. Completing and delivering values
    /// comes last (receives are re-posted before it), so a turn that readies a task on this
    /// thread returns to it at once. The probe of step 4 also drives MPI's progress engine
    /// before step 3 tests the receives: Open MPI's `MPI_Testsome` that finds nothing
    /// complete runs progress and returns without looking again, so a value that landed
    /// during the turn would otherwise be seen one turn later (moving the probe after the
    /// test made the 2-rank weak Life run slower, benches/HISTORY.md, "Scaling", seventh
    /// session).
    pub(super) fn turn(&mut self, shared: &Shared) -> Turn {
        let posted = self.post(shared);
        let control = self.receive_control(shared);
        let preposted = self.prepost();
        let matched = self.match_values(shared);
        let mut turn = self.complete(shared);
        turn.active |= posted || control || preposted || matched;
        turn
    }

    /// Every send has completed, nothing is queued, and every expected value has arrived.
    pub(super) fn drained(&self, shared: &Shared) -> bool {
        self.sends.is_empty()
            && self.control_sends.is_empty()
            && self.control_in.is_empty()
            && self.backlog.is_empty()
            && self.received == self.expected
            && shared.queue.lock().expect("send queue lock").is_empty()
            && shared
                .control
                .lock()
                .expect("control queue lock")
                .is_empty()
    }
}
