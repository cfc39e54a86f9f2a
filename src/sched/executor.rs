//! The rank-local scheduler: runs this rank's share of the plan on a rayon pool.
//!
//! Protocol, for one run:
//!
//! 1. Every local task has a counter of input slots not yet filled (`pending`). A slot is
//!    filled when its local producer finishes or when the transport delivers it.
//! 2. Filling a slot decrements the counter of each local reader; a reader that reaches zero
//!    goes on the ready queue (highest bottom level first).
//! 3. Work is done by *drainers*: rayon jobs that pop one ready task, run it and fill its slot.
//!    Invariant: every push on the ready queue is matched by exactly one drainer iteration. A
//!    drainer that made k tasks ready keeps going itself (the successor stays on the thread
//!    that freed it, hot in cache) and spawns k-1 more drainers, which idle threads steal. A
//!    drainer left with nothing of its own returns even when tasks are queued: they have
//!    their drainers (waiting in rayon's queues) and its thread runs those next.
//! 4. A result needed elsewhere is handed to the transport as soon as it exists (`send_to`);
//!    a slot's value is dropped when its last local reader finishes (unless it is a pinned
//!    output on rank 0).
//! 5. The run is complete when every local task has run and every expected remote value has
//!    arrived; the first failure (kernel error or panic) ends the run at once with the task id.
//!
//! 6. Device dispatch: with a device attached (`with_device`), a task runs there when its
//!    scope says gpu, or, unscoped, when `DeviceContext::choose` expects it to finish sooner
//!    (see `device::cost`). The device context stages inputs, caches device copies and writes
//!    results back to the host, so slots always hold host values; a device that lacks the
//!    kernel or the memory makes the task run on the CPU instead. A slot's device copy is
//!    dropped when the slot is released.
//!
//! 7. Cross-rank stealing (`with_stealing`, protocol in `steal.rs`): an idle rank asks a
//!    loaded one for ready tasks; the owner takes them out of its ready queue, the thief runs
//!    them and sends each result back, and the owner completes the task (step 4) exactly as
//!    if it had run it. With stealing the run ends when every rank's share is done (the
//!    `OwnDone`/`Fin` exchange), not when this rank's is. Stolen tasks wait in a queue of
//!    their own; a drainer that finds the ready queue empty takes one from there (each
//!    stolen task came with a drainer, so the invariant of step 3 covers both queues). The
//!    asking is done by the steal thread (`prepare` creates it, `steal_turn` decides), which
//!    sleeps on `Stealing::bell` and is rung by a drainer that runs dry, a reply, or the end.
//!
//! 8. Workers drive the transport themselves when that saves a hand-off (`Transport::poll`):
//!    between tasks at most every `POLL_EVERY` while another worker of the rank sleeps (every
//!    `BUSY_POLL_EVERY` while none does, which answers the peers' steal requests without the
//!    progress thread), and, when a worker runs out of ready tasks, continuously for up to
//!    `IDLE_POLL` (one worker at a time); one that gives up and sleeps tells the transport
//!    (`Transport::unattended`), once it no longer counts as attending. A value it receives
//!    readies its reader on the same thread, so a rank that waits for its neighbour's boundary
//!    value does not go to sleep and need waking (25-30 µs on a VM) when it comes; that
//!    drainer runs the reader itself, so the delivery spawns one drainer fewer
//!    (`POLL_CREDIT`), which keeps the invariant of step 3. With stealing, once
//!    the rank's share is done (`ending`) the idle worker also polls for the peers'
//!    `OwnDone`/`Fin`, which end the run.
//!
//! Who touches what: `pending`, `readers_left` and the records are atomics written by whichever
//! thread fills a slot or finishes a task; a slot's value is behind its own mutex, held only to
//! store, clone or take the `Arc`. The scheduler never calls MPI: it sends through `Transport`
//! and receives through its `Inbox` implementation.

use super::latch::Latch;
use super::pause::{Entry, PauseGate};
use super::ready::ReadyQueue;
use super::record::{self, Record, TaskTiming};
use super::steal::{
    self, Candidate, Deferred, Msg, Proto, StealPolicy, Stealing, Stolen, StolenTiming, WireArg,
    WireTask, WireValue,
};
use crate::device::context::TaskArg;
use crate::device::{DeviceContext, DeviceError};
use crate::graph::{Value, ValueType};
use crate::kernels::{self, Input, KernelError};
use crate::plan::learn::{CostModel, Where};
use crate::plan::{LocalArg, LocalPlan, LocalTask, Source};
use crate::transport::{Inbox, Transport};
use rayon::ThreadPool;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

/// A task failed on this rank: the run ends with exit status 1.
#[derive(Clone, Debug, Error, PartialEq)]
#[error("task {task:?} failed on rank {rank}: {why}")]
pub struct TaskFailure {
    /// The task id.
    pub task: String,
    /// The rank it ran on.
    pub rank: u32,
    /// The kernel's error or panic message.
    pub why: String,
}

/// How busy a rank is, for the run loop's stall check (`Executor::activity`).
#[derive(Clone, Copy, Debug)]
pub struct Activity {
    /// Grows with every task finished and every value delivered on this rank.
    pub progress: u64,
    /// A task runs or a steal message is being handled now.
    pub busy: bool,
}

/// A paused rank's part of a checkpoint.
pub struct Snapshot {
    /// Graph indices of the tasks finished on this rank.
    pub finished: Vec<u32>,
    /// Every value the rank holds, by producing task's graph index.
    pub values: Vec<(u32, Arc<Value>)>,
}

/// What a completed run leaves behind on this rank.
pub struct Finished {
    /// Timing of every local task.
    pub timings: Vec<TaskTiming>,
    /// Pinned values (outputs on rank 0), by key (global task index).
    pub outputs: HashMap<u32, Arc<Value>>,
    /// Tasks of other ranks run here (stealing), by key.
    pub stolen: Vec<StolenTiming>,
    /// Own tasks run on other ranks.
    pub given_away: u64,
    /// Steal requests this rank sent.
    pub steal_requests: u64,
    /// Of those, the ones answered with tasks.
    pub steal_successes: u64,
}

struct Inner {
    /// Drainers spawned and not started yet, and the most of them ever found beyond the
    /// queued tasks when a task starts (tests: step 3's drainers must not pile up).
    #[cfg(test)]
    queued_drainers: AtomicUsize,
    #[cfg(test)]
    surplus_peak: AtomicUsize,
    plan: Arc<LocalPlan>,
    pool: Arc<ThreadPool>,
    transport: Arc<dyn Transport>,
    values: Vec<Mutex<Option<Arc<Value>>>>,
    pending: Vec<AtomicU32>,
    readers_left: Vec<AtomicU32>,
    remote_slot: FxHashMap<u32, u32>,
    ready: ReadyQueue,
    remaining: AtomicUsize,
    /// Remote values delivered so far (so the tasks done can be told from `remaining`).
    delivered: AtomicUsize,
    failed: AtomicBool,
    failure: Mutex<Option<TaskFailure>>,
    done: Latch,
    records: Vec<Record>,
    finished: Vec<AtomicBool>,
    gate: PauseGate,
    epoch: Instant,
    device: Option<Arc<DeviceContext>>,
    steal: Option<Stealing>,
    /// A worker is waiting for work by polling the transport (step 8); one at a time.
    polling: AtomicBool,
    /// Drainers running now (each on a worker thread, running tasks or polling).
    attending: AtomicUsize,
    /// `start` has queued the roots (the steal thread waits for it).
    started: AtomicBool,
    /// The steal thread exists (`prepare`).
    steal_thread: AtomicBool,
    /// With stealing: this rank's share is done and the run ends once the peers' `OwnDone`
    /// and `Fin` arrive, so an idle worker keeps polling for them (step 8).
    ending: AtomicBool,
    /// `share_done` has run (values may complete the share before `start`, which checks
    /// again): it runs once.
    share_finished: AtomicBool,
}

/// How a drainer's wait for work ended (`Inner::wait_for_work`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Idle {
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

/// Counts a drainer in `Inner::attending` for as long as it lives.
struct Attending<'a>(&'a AtomicUsize);

impl<'a> Attending<'a> {
    fn new(n: &'a AtomicUsize) -> Attending<'a> {
        n.fetch_add(1, Ordering::AcqRel);
        Attending(n)
    }
}

impl Drop for Attending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A steal reply carries about this much estimated work per idle thread of the thief, ns.
const STEAL_BATCH_NS: f64 = 2e6;

/// A victim considers only this many of its least urgent ready tasks (so a request costs
/// little however long the queue).
const STEAL_TAIL: usize = 64;

/// A worker between tasks polls the transport at most this often while another worker of
/// its rank sleeps, and at most every `BUSY_POLL_EVERY` while none does (step 8).
const POLL_EVERY: std::time::Duration = std::time::Duration::from_micros(10);
/// `POLL_EVERY` while every worker of the rank is busy: often enough to answer the peers'
/// steal requests, rarely enough to cost nothing measurable.
const BUSY_POLL_EVERY: std::time::Duration = std::time::Duration::from_millis(1);

/// An idle worker drives the transport for at most this long before it sleeps (step 8),
/// spinning for the first `IDLE_SPIN` and yielding its core between polls after that.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(1);
const IDLE_SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The steal thread sleeps at most this long while it waits for a worker to run dry or for
/// a reply (both ring its bell; this only bounds a missed ring), and this long while the
/// rank is paused or failing.
const STEAL_FALLBACK: Duration = Duration::from_millis(20);

/// The steal thread's nap once no peer is worth asking; the end rings it sooner.
const STEAL_IDLE: Duration = Duration::from_secs(1);
const STEAL_RECHECK: Duration = Duration::from_millis(1);

/// The trace `tid` of tasks that ran on the device (worker threads are numbered from 0).
pub(crate) const DEVICE_THREAD: u32 = 1000;

/// Runs one rank's share of a plan.
pub struct Executor {
    inner: Arc<Inner>,
}

impl Executor {
    /// Prepares to run `plan` on `pool`, sending through `transport`.
    pub fn new(
        plan: Arc<LocalPlan>,
        pool: Arc<ThreadPool>,
        transport: Arc<dyn Transport>,
    ) -> Executor {
        let remote_slot = plan
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.source, Source::Remote(_)))
            .map(|(i, s)| (s.key, i as u32))
            .collect();
        let inner = Inner {
            values: (0..plan.slots.len()).map(|_| Mutex::new(None)).collect(),
            pending: plan.tasks.iter().map(|t| AtomicU32::new(t.deps)).collect(),
            readers_left: plan
                .slots
                .iter()
                .map(|s| AtomicU32::new(s.readers.len() as u32))
                .collect(),
            remote_slot,
            ready: ReadyQueue::default(),
            #[cfg(test)]
            queued_drainers: AtomicUsize::new(0),
            #[cfg(test)]
            surplus_peak: AtomicUsize::new(0),
            remaining: AtomicUsize::new(plan.tasks.len() + plan.remote_slots()),
            delivered: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            failure: Mutex::new(None),
            done: Latch::default(),
            records: (0..plan.tasks.len()).map(|_| Record::default()).collect(),
            finished: (0..plan.tasks.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
            gate: PauseGate::default(),
            epoch: Instant::now(),
            device: None,
            steal: None,
            polling: AtomicBool::new(false),
            attending: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            steal_thread: AtomicBool::new(false),
            ending: AtomicBool::new(false),
            share_finished: AtomicBool::new(false),
            plan,
            pool,
            transport,
        };
        Executor {
            inner: Arc::new(inner),
        }
    }

    /// Attaches the rank's device; tasks may then run there (step 6). Call before `inbox`,
    /// `canceller` or `start`.
    pub fn with_device(mut self, device: Arc<DeviceContext>) -> Executor {
        Arc::get_mut(&mut self.inner)
            .expect("with_device is called before the executor is shared")
            .device = Some(device);
        self
    }

    /// Turns cross-rank work stealing on (step 7), deciding with `model` by `policy`; a no-op
    /// for a single rank. Call before `inbox`, `canceller` or `start`.
    pub fn with_stealing(mut self, model: Arc<CostModel>, policy: StealPolicy) -> Executor {
        let inner = Arc::get_mut(&mut self.inner)
            .expect("with_stealing is called before the executor is shared");
        if inner.plan.ranks > 1 {
            let plan = &inner.plan;
            // Judged against the fastest peer: a task too short to move there moves nowhere.
            let nearest = (0..plan.ranks)
                .filter(|&p| p != plan.rank)
                .min_by(|&a, &b| model.transfer_ns(a, 0).total_cmp(&model.transfer_ns(b, 0)))
                .expect("more than one rank");
            let movable = (0..plan.tasks.len() as u32)
                .map(|t| steal::movable(policy, &candidate(plan, &model, nearest, t)))
                .collect();
            inner.steal = Some(Stealing::new(
                plan.rank,
                plan.ranks,
                inner.pool.current_num_threads(),
                movable,
                model,
                policy,
            ));
        }
        self
    }

    /// A handle that ends this run early from another thread (another rank failed).
    pub fn canceller(&self) -> Canceller {
        Canceller(Arc::clone(&self.inner))
    }

    /// The receiving side, for the transport.
    pub fn inbox(&self) -> Arc<dyn Inbox> {
        Arc::new(InboxHandle(Arc::clone(&self.inner)))
    }

    /// A reader of how many local tasks have finished so far, for progress reports. It costs
    /// the run nothing: it derives the count from the counters the scheduler keeps anyway
    /// (values still awaited, remote values delivered), so it may lag by a task or two.
    pub fn done_counter(&self) -> Box<dyn Fn() -> u64 + Send> {
        let inner = Arc::clone(&self.inner);
        let units = inner.plan.tasks.len() + inner.plan.remote_slots();
        Box::new(move || {
            let left = inner.remaining.load(Ordering::Relaxed);
            let delivered = inner.delivered.load(Ordering::Relaxed);
            (units.saturating_sub(left).saturating_sub(delivered)).min(inner.plan.tasks.len())
                as u64
        })
    }

    /// What the run loop's stall check reads (`runtime::drive`): a count that grows with
    /// every task finished and value delivered here, and whether a task or a steal message is
    /// being handled right now (a long task is not a stall).
    pub fn activity(&self) -> Activity {
        let inner = &self.inner;
        let units = inner.plan.tasks.len() + inner.plan.remote_slots();
        let stolen = inner
            .steal
            .as_ref()
            .map_or(0, |st| st.timings.lock().expect("timings lock").len());
        Activity {
            progress: (units - inner.remaining.load(Ordering::Acquire) + stolen) as u64,
            busy: inner.gate.running() > 0 || inner.gate.handling() > 0,
        }
    }

    /// For a stalled run: what this rank still waits for, in one line (the first few awaited
    /// values, each with the local task that reads it, and how many tasks are left, ready and
    /// running).
    pub fn waiting_for(&self) -> String {
        let inner = &self.inner;
        let plan = &inner.plan;
        let left: Vec<usize> = (0..plan.tasks.len())
            .filter(|&t| !inner.finished[t].load(Ordering::Acquire))
            .collect();
        let mut awaited = Vec::new();
        let mut seen = rustc_hash::FxHashSet::default();
        for &t in &left {
            for a in &plan.tasks[t].args {
                let LocalArg::Slot(s) = a else { continue };
                let slot = &plan.slots[*s as usize];
                let Source::Remote(src) = slot.source else {
                    continue;
                };
                if inner.values[*s as usize]
                    .lock()
                    .expect("slot lock")
                    .is_none()
                    && seen.insert(*s)
                {
                    awaited.push((slot.key, src, t));
                }
            }
        }
        let mut line = format!(
            "rank {}: {} of its {} tasks left ({} ready, {} running)",
            plan.rank,
            left.len(),
            plan.tasks.len(),
            inner.ready.len(),
            inner.gate.running()
        );
        if awaited.is_empty() {
            if inner.ending.load(Ordering::Acquire) {
                line.push_str("; its share is done and it waits for the other ranks to end stealing (OwnDone/Fin)");
            } else if !left.is_empty() {
                line.push_str("; it awaits no value");
            }
            return line;
        }
        const SHOWN: usize = 3;
        let names: Vec<String> = awaited
            .iter()
            .take(SHOWN)
            .map(|&(key, src, t)| {
                format!(
                    "the value of global task #{key} from rank {src} (read by task {:?})",
                    plan.tasks[t].id
                )
            })
            .collect();
        line.push_str(&format!(
            "; it waits for {} value{}: {}{}",
            awaited.len(),
            if awaited.len() == 1 { "" } else { "s" },
            names.join(", "),
            if awaited.len() > SHOWN {
                format!(" and {} more", awaited.len() - SHOWN)
            } else {
                String::new()
            }
        ));
        line
    }

    /// The instant task timings are measured from.
    pub fn epoch(&self) -> Instant {
        self.inner.epoch
    }

    /// Runs every local task; returns when all are done and all expected values arrived, or at
    /// the first failure.
    pub fn run(self) -> Result<Finished, TaskFailure> {
        self.start(Vec::new());
        self.wait(None);
        self.finish()
    }

    /// Starts running: fills the slots read from a checkpoint with `preloaded` (slot, value)
    /// pairs and queues every task whose inputs are all present.
    pub fn start(&self, preloaded: Vec<(u32, Value)>) {
        let inner = &self.inner;
        self.prepare();
        if inner.remaining.load(Ordering::Acquire) == 0 {
            inner.share_done();
        }
        let roots: Vec<(u64, u32)> = inner
            .plan
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.deps == 0)
            .map(|(i, t)| (t.priority, i as u32))
            .collect();
        let mut n = roots.len();
        inner.ready.push_all(roots);
        for (slot, value) in preloaded {
            n += inner.fill(slot, Arc::new(value));
        }
        inner.spawn_drainers(n);
        // The steal thread waits for this; it asks for work only once a worker runs dry.
        inner.started.store(true, Ordering::Release);
        if let Some(st) = &inner.steal {
            // A rank driving a GPU hands nothing over.
            if inner.device.is_some() {
                st.movable_left.store(0, Ordering::Release);
            }
            if st.movable_left.load(Ordering::Acquire) == 0 {
                inner.announce_no_more();
            } else {
                inner.refresh_control_expected(st, &st.proto.lock().expect("steal lock"));
            }
            st.bell.ring();
        }
    }

    /// Starts the helper thread of stealing (step 7), if on, so that creating it does not
    /// fall inside the timed run; `start` does it otherwise. The thread waits for `start`.
    pub fn prepare(&self) {
        let inner = &self.inner;
        if inner.steal.is_some() && !inner.steal_thread.swap(true, Ordering::AcqRel) {
            let i = Arc::clone(inner);
            std::thread::Builder::new()
                .name("dirk-steal".into())
                .spawn(move || i.steal_loop())
                .expect("spawn the steal thread");
        }
    }

    /// Waits until the run is complete or failed (true), or until `timeout` passes (false).
    pub fn wait(&self, timeout: Option<std::time::Duration>) -> bool {
        match timeout {
            None => {
                self.inner.done.wait();
                true
            }
            Some(t) => self.inner.done.wait_timeout(t),
        }
    }

    /// Stops starting tasks and waits until none is running and no steal message is being
    /// handled (for a checkpoint). Values arriving meanwhile are still stored; steal messages
    /// and this rank's `OwnDone` wait for `resume`, so a paused rank sends nothing.
    pub fn pause(&self) {
        self.inner.gate.pause();
        // No task runs from here until `resume`: the transport must take in whatever arrives.
        self.inner.transport.paused(true);
        if let Some(st) = &self.inner.steal {
            // `steal_turn` looks at the pause and sends its request under this lock: once
            // through it, no request leaves before `resume`.
            drop(st.proto.lock().expect("steal lock"));
        }
        self.inner.gate.wait_idle();
    }

    /// True once a task of this rank has failed (or the run was cancelled).
    pub fn failed(&self) -> bool {
        self.inner.failed.load(Ordering::Acquire)
    }

    /// Starts tasks again after `pause`.
    pub fn resume(&self) {
        self.inner.transport.paused(false);
        let n = self.inner.gate.resume();
        for _ in 0..n {
            let i = Arc::clone(&self.inner);
            self.inner.pool.spawn(move || i.drain());
        }
        if let Some(st) = &self.inner.steal {
            // In order; what comes meanwhile queues behind (`admit`) until the queue is empty.
            st.proto.lock().expect("steal lock").replaying = true;
            loop {
                let next = {
                    let mut p = st.proto.lock().expect("steal lock");
                    let next = p.deferred.pop_front();
                    if next.is_none() {
                        p.replaying = false;
                    }
                    next
                };
                match next {
                    Some(Deferred::Control(src, msg)) => self.inner.handle_control(src, &msg),
                    Some(Deferred::OwnDone) => self.inner.send_own_done(st),
                    None => break,
                }
            }
        }
    }

    /// While paused: the graph indices of the tasks finished here, and every value this rank
    /// holds (by producing task), which together with the other ranks' make a consistent cut.
    pub fn snapshot(&self) -> Snapshot {
        let inner = &self.inner;
        let finished = inner
            .plan
            .tasks
            .iter()
            .zip(&inner.finished)
            .filter(|(_, f)| f.load(Ordering::Acquire))
            .map(|(t, _)| inner.plan.slots[t.out as usize].key)
            .collect();
        let values = inner
            .plan
            .slots
            .iter()
            .zip(&inner.values)
            .filter_map(|(s, v)| v.lock().expect("slot lock").clone().map(|v| (s.key, v)))
            .collect();
        Snapshot { finished, values }
    }

    /// The result of a run that `wait` reported complete.
    pub fn finish(self) -> Result<Finished, TaskFailure> {
        let inner = &self.inner;
        if let Some(f) = inner.failure.lock().expect("failure lock").take() {
            return Err(f);
        }
        let outputs = inner
            .plan
            .slots
            .iter()
            .zip(&inner.values)
            .filter(|(s, _)| s.pinned)
            .map(|(s, v)| {
                let v = v.lock().expect("slot lock").clone();
                (
                    s.key,
                    v.expect("every pinned slot is filled by the end of the run"),
                )
            })
            .collect();
        let mut timings = record::collect(&inner.records);
        let (stolen, given_away, steal_requests, steal_successes) = match &inner.steal {
            Some(st) => {
                timings.retain(|t| !st.given_away[t.task as usize].load(Ordering::Acquire));
                (
                    std::mem::take(&mut *st.timings.lock().expect("timings lock")),
                    st.stolen_out.load(Ordering::Acquire),
                    st.requests.load(Ordering::Acquire),
                    st.successes.load(Ordering::Acquire),
                )
            }
            None => (Vec::new(), 0, 0, 0),
        };
        Ok(Finished {
            timings,
            outputs,
            stolen,
            given_away,
            steal_requests,
            steal_successes,
        })
    }
}

impl Inner {
    /// One drainer: pops and runs tasks while its own work makes more ready (step 3); with
    /// nothing left to run, it drives the transport until a remote value readies a task
    /// (step 8).
    fn drain(self: Arc<Self>) {
        // Scheduler code, even when a kernel blocked in a rayon join runs this drainer.
        let _scheduler = InTask::scope(false);
        let attending = Attending::new(&self.attending);
        let idle = self.drain_loop();
        // Counted out before the transport hears of it: a progress thread that woke while
        // this drainer still counted as attending took the next 20 ms park (the ranks of a
        // weak Life run then waited for each other's values that long, step after step).
        drop(attending);
        if idle == Idle::Sleep {
            self.transport.unattended();
        }
    }

    /// Step 3's loop for one drainer; returns how it ended.
    fn drain_loop(self: &Arc<Self>) -> Idle {
        loop {
            if let Entry::Parked = self.gate.enter() {
                // Paused (a checkpoint): values still arrive, and this worker stops attending.
                return Idle::Sleep;
            }
            let Some(t) = self.ready.pop() else {
                let stolen = self
                    .steal
                    .as_ref()
                    .and_then(|st| st.queue.lock().expect("stolen queue lock").pop_front());
                if let Some(s) = stolen {
                    self.run_stolen(s);
                }
                self.gate.leave();
                if !self.has_work() {
                    // This thread ran dry: the steal thread, if it waits for that, asks.
                    if let Some(st) = &self.steal {
                        st.bell.ring_if_armed();
                    }
                }
                // After a stolen task too: a drainer that just returned would leave the
                // progress thread in its long attended park with no worker looking in (the
                // stolen task's owner then waited 10-15 ms for values already sent).
                match self.wait_for_work() {
                    Idle::Work => continue,
                    idle => return idle,
                }
            };
            #[cfg(test)]
            {
                let queued = self.queued_drainers.load(Ordering::Relaxed);
                let surplus = queued.saturating_sub(self.ready.len());
                self.surplus_peak.fetch_max(surplus, Ordering::Relaxed);
            }
            let newly = self.execute(t);
            self.gate.leave();
            self.poll_between_tasks();
            if newly == 0 {
                match self.wait_for_work() {
                    Idle::Work => continue,
                    idle => return idle,
                }
            }
            // This drainer runs one of them; one more drainer for each of the rest.
            self.spawn_drainers(newly - 1);
        }
    }

    /// Every worker thread is in a drainer (running a task or polling), none asleep.
    fn all_attending(&self) -> bool {
        self.attending.load(Ordering::Acquire) >= self.pool.current_num_threads()
    }

    /// A task or a stolen task is queued.
    fn has_work(&self) -> bool {
        self.ready.len() > 0
            || self
                .steal
                .as_ref()
                .is_some_and(|st| !st.queue.lock().expect("stolen queue lock").is_empty())
    }

    /// Step 8, between tasks: while another worker of this rank sleeps, lets the transport
    /// pick up messages on this thread at most every `POLL_EVERY`, so a value that readies a
    /// task for the sleeper is there at once. With every worker busy (always, on a 1-thread
    /// rank) only every `BUSY_POLL_EVERY`: what arrives could not start sooner anyway (the
    /// worker polls as soon as it runs out of tasks), and turns every 10 µs cost 2-3 % of a
    /// 2-rank Life run (benches/HISTORY.md, "Scaling", second session); once a millisecond
    /// they answer a peer's steal request without waking the progress thread.
    fn poll_between_tasks(&self) {
        if self.plan.ranks < 2 {
            return;
        }
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
            self.transport.poll(false);
        }
    }

    /// Step 8, idle: one worker at a time waits for work by driving the transport itself
    /// (a value it receives readies its reader on this very thread, with no wake-up), for at
    /// most `IDLE_POLL`. `Work` when a value it received readied a task for this drainer (the
    /// one `deliver` did not spawn a drainer for). `Others` when work is queued: it has
    /// drainers of its own (step 3), which this thread runs next once this one returns.
    /// Running it here instead left those drainers queued in rayon until the run ended (42,000
    /// of them on a rank of the 2-rank weak Life job: a heap job each, the heap growing all
    /// run long). `Quiet` while another worker polls, and on a single rank, which has nothing
    /// to wait for (waking the helper thread each time a drainer ended cost a 1-rank Life run
    /// 7 %). `Sleep` otherwise (also once the transport has nothing outstanding).
    fn wait_for_work(&self) -> Idle {
        if self.plan.ranks < 2 {
            return Idle::Quiet;
        }
        if self.has_work() {
            return Idle::Others;
        }
        if self.polling.swap(true, Ordering::AcqRel) {
            return Idle::Quiet;
        }
        let start = Instant::now();
        // A value this poll delivers readies its reader without spawning a drainer for it:
        // this drainer goes on to run it (`deliver` takes the credit).
        POLL_CREDIT.with(|c| c.set(true));
        let idle = loop {
            if self.failed.load(Ordering::Relaxed) || self.gate.paused() || self.done.is_open() {
                break Idle::Sleep;
            }
            // After this rank's share, the peers' `OwnDone` and `Fin` are what is awaited.
            let outstanding = self.transport.poll(true) || self.ending.load(Ordering::Acquire);
            if !POLL_CREDIT.with(|c| c.get()) {
                break Idle::Work;
            }
            // Work that came another way (the progress thread's delivery, a stolen task).
            if self.has_work() {
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

    /// The value in input slot `s` of a ready task (filled before its reader became ready).
    fn input(&self, s: u32) -> Arc<Value> {
        self.values[s as usize]
            .lock()
            .expect("slot lock")
            .clone()
            .expect("an input slot is filled before its reader is ready")
    }

    /// Runs local task `t`; returns how many tasks it made ready.
    fn execute(&self, t: u32) -> usize {
        if self.failed.load(Ordering::Relaxed) {
            return 0;
        }
        if let Some(st) = &self.steal {
            if st.movable[t as usize] {
                self.movable_gone(st, 1);
            }
        }
        let task = &self.plan.tasks[t as usize];
        // Each input slot once, however often the task names it (a stencil tile that is its
        // own neighbour); inline up to 4, and up to a stencil's 9 arguments: no allocation
        // per task.
        let held: SmallVec<[(u32, Arc<Value>); 4]> = task
            .args
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                LocalArg::Slot(s) if LocalArg::earlier(&task.args, i).is_none() => {
                    Some((*s, self.input(*s)))
                }
                _ => None,
            })
            .collect();
        let value = |s: u32| &held.iter().find(|(h, _)| *h == s).expect("held").1;
        let inputs: SmallVec<[Input<'_>; 9]> = task
            .args
            .iter()
            .map(|a| match a {
                LocalArg::Slot(s) => Input::Value(value(*s)),
                LocalArg::Number(x) => Input::Number(*x),
                LocalArg::Shape(s) => Input::Shape(s),
            })
            .collect();
        let slot_out = &self.plan.slots[task.out as usize];
        let out_bytes = slot_out.ty.bytes();
        let targs: Vec<TaskArg<'_>> = match &self.device {
            None => Vec::new(),
            Some(_) => task
                .args
                .iter()
                .map(|a| match a {
                    LocalArg::Slot(s) => TaskArg::Slot(*s, value(*s)),
                    LocalArg::Number(x) => TaskArg::Number(*x),
                    LocalArg::Shape(s) => TaskArg::Shape(s),
                })
                .collect(),
        };
        let device = self
            .device
            .as_ref()
            .filter(|d| d.choose(task.device, &task.op, &targs, out_bytes));
        let mut on_device = false;
        let start = self.epoch.elapsed().as_nanos() as u64;
        let in_task = InTask::scope(true);
        let result = catch_unwind(AssertUnwindSafe(|| match device {
            Some(d) => {
                let keep = !slot_out.readers.is_empty();
                match d.run(&task.op, &targs, task.out, out_bytes, keep) {
                    Ok(v) => {
                        on_device = true;
                        Ok(v)
                    }
                    Err(DeviceError::Unsupported(_) | DeviceError::OutOfMemory { .. }) => {
                        d.count_fallback();
                        kernels::run(&task.op, &inputs)
                    }
                    Err(e) => Err(KernelError(e.to_string())),
                }
            }
            None => kernels::run(&task.op, &inputs),
        }));
        drop(in_task);
        let end = self.epoch.elapsed().as_nanos() as u64;
        let thread = if on_device {
            DEVICE_THREAD
        } else {
            if let Some(d) = &self.device {
                d.observe_cpu(&task.op, &targs, out_bytes, end - start);
            }
            rayon::current_thread_index().unwrap_or(0) as u32
        };
        self.records[t as usize].set(start, end, thread);
        drop(targs);
        drop(inputs);
        let value = match result {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return self.fail(t, e.0),
            Err(panic) => return self.fail(t, panic_message(&panic)),
        };
        if let Some(why) = self.wrong_type(task, &value) {
            return self.fail(t, why);
        }
        if let Some(st) = &self.steal {
            if !on_device && crate::plan::learn::sample(end - start) {
                let in_bytes = self.plan.input_bytes(t);
                st.model
                    .observe_task(task.op.name(), in_bytes, Where::Cpu, end - start);
            }
        }
        drop(held);
        self.complete(t, Arc::new(value))
    }

    /// Why `value` cannot fill slot `out`, if it cannot: a kernel's result must have its
    /// slot's static type, by which receivers size their buffers (`transport::mpi`), so a
    /// wrong one is a kernel bug that fails the task rather than a message of another size.
    fn wrong_type(&self, task: &LocalTask, value: &Value) -> Option<String> {
        let ty = &self.plan.slots[task.out as usize].ty;
        (!value.is_of(ty)).then(|| {
            format!(
                "kernel {} returned a {}, the graph expects a {ty}",
                task.op.name(),
                value.value_type()
            )
        })
    }

    /// Completes local task `t` with its result, run here or by a thief (step 4); returns
    /// how many tasks it made ready.
    fn complete(&self, t: u32, value: Arc<Value>) -> usize {
        let task = &self.plan.tasks[t as usize];
        let slot_out = &self.plan.slots[task.out as usize];
        for &dest in &task.send_to {
            self.transport.send(dest, slot_out.key, Arc::clone(&value));
        }
        // Release inputs whose last local reader this was (step 4). A task reading one slot
        // twice is one reader of it.
        for (i, a) in task.args.iter().enumerate() {
            if let LocalArg::Slot(s) = a {
                if LocalArg::earlier(&task.args, i).is_none() {
                    self.release(*s);
                }
            }
        }
        let newly = self.fill(task.out, value);
        self.finished[t as usize].store(true, Ordering::Release);
        self.finish_one();
        newly
    }

    /// Called once per reader task when it is done with slot `s`; the last one drops the value
    /// (unless the slot is pinned).
    fn release(&self, s: u32) {
        if self.readers_left[s as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(d) = &self.device {
                d.forget(s);
            }
            if !self.plan.slots[s as usize].pinned {
                self.values[s as usize].lock().expect("slot lock").take();
            }
        }
    }

    /// Stores a slot's value and readies its readers (steps 1-2); returns how many it readied.
    fn fill(&self, s: u32, value: Arc<Value>) -> usize {
        let slot = &self.plan.slots[s as usize];
        if !slot.readers.is_empty() || slot.pinned {
            *self.values[s as usize].lock().expect("slot lock") = Some(value);
        }
        let mut readied: SmallVec<[(u64, u32); 8]> = SmallVec::new();
        for &r in &slot.readers {
            if self.pending[r as usize].fetch_sub(1, Ordering::AcqRel) == 1 {
                readied.push((self.plan.tasks[r as usize].priority, r));
            }
        }
        let n = readied.len();
        if n > 0 {
            self.ready.push_all(readied);
        }
        n
    }

    fn finish_one(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.share_done();
        }
    }

    /// `n` movable tasks (`steal::movable`) started here or were handed over; when none is
    /// left, the peers stop asking.
    fn movable_gone(&self, st: &Stealing, n: usize) {
        if st.movable_left.fetch_sub(n, Ordering::AcqRel) == n {
            self.announce_no_more();
        }
    }

    /// Nothing of this rank's can be handed over any more: tells the peers (`NoMore`), so they
    /// stop asking, and, unless a lent task's result is still to come, tells the transport
    /// that no control message needs a prompt answer (its helper may park long; asking costs
    /// each rank of a balanced job wake-ups and round trips that cannot get work).
    fn announce_no_more(&self) {
        let Some(st) = &self.steal else { return };
        let msg = Msg::NoMore.encode();
        for r in (0..st.ranks).filter(|&r| r != st.rank) {
            self.transport.send_control(r, msg.clone());
        }
        self.refresh_control_expected(st, &st.proto.lock().expect("steal lock"));
    }

    /// Tells the transport whether a control message may need a prompt answer: while this
    /// rank has tasks a peer could take, awaits a lent task's result, or awaits a reply.
    /// Called with the steal lock held (`p`), so two threads cannot leave a stale answer.
    fn refresh_control_expected(&self, st: &Stealing, p: &Proto) {
        self.transport.control_expected(
            st.movable_left.load(Ordering::Acquire) > 0
                || st.lent.load(Ordering::Acquire) > 0
                || p.outstanding.is_some(),
        );
    }

    /// Every own task is complete and every expected value here: without stealing the run is
    /// over; with it, tell the peers and end once they are all done (see `steal.rs`). Once per
    /// run; while paused for a checkpoint, the telling waits for `resume`.
    fn share_done(&self) {
        if self.share_finished.swap(true, Ordering::AcqRel) {
            return;
        }
        match &self.steal {
            None => self.open_done(),
            Some(st) => {
                self.ending.store(true, Ordering::Release);
                if self.admit(st, || Deferred::OwnDone) {
                    self.send_own_done(st);
                    self.gate.handled();
                }
            }
        }
    }

    /// `share_done` with stealing: sends `OwnDone` to every peer.
    fn send_own_done(&self, st: &Stealing) {
        let mut p = st.proto.lock().expect("steal lock");
        p.own_done = true;
        let msg = Msg::OwnDone.encode();
        for r in (0..st.ranks).filter(|&r| r != st.rank) {
            self.transport.send_control(r, msg.clone());
        }
        drop(p);
        self.check_end();
    }

    /// Whether steal work that may send (handling a message, `OwnDone`) may go ahead now:
    /// true, and the caller calls `gate.handled()` when done, unless the rank is paused for a
    /// checkpoint or earlier work still waits for `resume`; then `later()` is queued for
    /// `resume` and false returned. With the pause gate's `wait_idle`, a paused rank hands out
    /// and sends nothing (so a checkpoint's quiesce step ends, and its snapshot is not raced).
    fn admit(&self, st: &Stealing, later: impl FnOnce() -> Deferred) -> bool {
        let entered = self.gate.try_handle();
        let mut p = st.proto.lock().expect("steal lock");
        let waiting = p.replaying || !p.deferred.is_empty();
        if entered && !waiting {
            return true;
        }
        if entered {
            self.gate.handled();
        }
        if waiting || self.gate.paused() {
            // Looked at under the lock that `resume` takes after it clears the pause: what is
            // queued here is replayed.
            p.deferred.push_back(later());
            return false;
        }
        // Resumed between the two looks, with nothing waiting: look again.
        drop(p);
        self.admit(st, later)
    }

    /// Sends `Fin` when this rank has nothing more to do or ask, and ends the run once every
    /// peer has sent its `Fin` too.
    fn check_end(&self) {
        let Some(st) = &self.steal else { return };
        let mut p = st.proto.lock().expect("steal lock");
        if p.own_done && p.peer_done.iter().all(|&d| d) {
            // Only `Fin`s (and answers to late requests) are left: pick them up at once.
            self.transport.expect_control_soon();
        }
        if p.ready_to_fin() {
            let msg = Msg::Fin.encode();
            for r in (0..st.ranks).filter(|&r| r != st.rank) {
                self.transport.send_control(r, msg.clone());
            }
        }
        let ended = p.ended();
        drop(p);
        if ended {
            self.open_done();
        }
    }

    fn spawn_drainers(self: &Arc<Self>, n: usize) {
        #[cfg(test)]
        self.queued_drainers.fetch_add(n, Ordering::Relaxed);
        for _ in 0..n {
            let i = Arc::clone(self);
            self.pool.spawn(move || {
                #[cfg(test)]
                i.queued_drainers.fetch_sub(1, Ordering::Relaxed);
                i.drain()
            });
        }
    }

    /// The thief side: runs a stolen task and sends its result to its owner (step 7).
    fn run_stolen(&self, s: Stolen) {
        let st = self
            .steal
            .as_ref()
            .expect("stolen tasks only with stealing on");
        if !self.failed.load(Ordering::Relaxed) {
            let inputs: Vec<Input<'_>> = (0..s.args.len()).map(|i| s.input(i)).collect();
            let start = self.epoch.elapsed().as_nanos() as u64;
            let in_task = InTask::scope(true);
            let result = catch_unwind(AssertUnwindSafe(|| kernels::run(&s.op, &inputs)));
            drop(in_task);
            let end = self.epoch.elapsed().as_nanos() as u64;
            drop(inputs);
            let value = match result {
                Ok(Ok(v)) => Some(v),
                Ok(Err(e)) => {
                    self.fail_named(s.id.clone(), e.0);
                    None
                }
                Err(panic) => {
                    self.fail_named(s.id.clone(), panic_message(&panic));
                    None
                }
            };
            if let Some(v) = value {
                st.model
                    .observe_task(s.op.name(), s.in_bytes, Where::Cpu, end - start);
                st.timings.lock().expect("timings lock").push(StolenTiming {
                    key: s.key,
                    start_ns: start,
                    end_ns: end,
                    thread: rayon::current_thread_index().unwrap_or(0) as u32,
                });
                let msg = Msg::Result {
                    task: s.task,
                    run_ns: end - start,
                    value: WireValue::of(&v),
                }
                .encode();
                self.transport.send_control(s.from, msg);
            }
        }
        st.proto.lock().expect("steal lock").in_hand -= 1;
        self.check_end();
    }

    /// The victim side: answers `thief`'s request for `want` tasks.
    fn answer(&self, thief: u32, want: u32) {
        let reply = self.give(thief, want as usize);
        self.transport.send_control(thief, reply);
    }

    /// The victim side: picks tasks for `thief` (at most `want`) out of the ready queue.
    fn give(&self, thief: u32, want: usize) -> Vec<u8> {
        let st = self.steal.as_ref().expect("stealing is on");
        let refuse = self.failed.load(Ordering::Acquire)
            || self.gate.paused()
            || self.device.is_some()
            || self.remaining.load(Ordering::Acquire) == 0;
        let taken = if refuse {
            Vec::new()
        } else {
            let running = self.gate.running();
            self.ready.take(STEAL_TAIL, |ahead, queue| match st.policy {
                StealPolicy::Cost => {
                    let cands: Vec<Candidate> = queue
                        .iter()
                        .map(|&(_, t)| self.candidate(thief, t))
                        .collect();
                    steal::choose(
                        &cands,
                        ahead,
                        st.threads,
                        running,
                        want * STEAL_TAIL,
                        want as f64 * STEAL_BATCH_NS,
                        2.0 * st.model.transfer_ns(thief, 0),
                    )
                }
                StealPolicy::Random(_) => {
                    let mut p = st.proto.lock().expect("steal lock");
                    let mut out = Vec::new();
                    for (i, &(_, t)) in queue.iter().enumerate() {
                        if out.len() < want
                            && self.plan.tasks[t as usize].stealable
                            && p.next_random() % 2 == 0
                        {
                            out.push(i);
                        }
                    }
                    out
                }
            })
        };
        let held: Vec<(u32, Vec<Option<Arc<Value>>>)> = taken
            .iter()
            .map(|&(_, t)| {
                st.given_away[t as usize].store(true, Ordering::Release);
                let vals = self.plan.tasks[t as usize]
                    .args
                    .iter()
                    .map(|a| match a {
                        LocalArg::Slot(s) => Some(self.input(*s)),
                        _ => None,
                    })
                    .collect();
                (t, vals)
            })
            .collect();
        let tasks: Vec<WireTask> = held
            .iter()
            .map(|(t, vals)| {
                let task = &self.plan.tasks[*t as usize];
                WireTask {
                    task: *t,
                    key: self.plan.slots[task.out as usize].key,
                    id: task.id.clone(),
                    op: task.op.clone(),
                    args: WireArg::of_task(&task.args, vals),
                }
            })
            .collect();
        st.stolen_out
            .fetch_add(tasks.len() as u64, Ordering::Relaxed);
        if !tasks.is_empty() {
            st.lent.fetch_add(tasks.len(), Ordering::AcqRel);
        }
        // Only the movable ones were counted: `choose` judges by the learned costs and this
        // thief's link, so it may hand over a task judged unmovable at the start.
        let gone = taken
            .iter()
            .filter(|&&(_, t)| st.movable[t as usize])
            .count();
        if gone > 0 {
            self.movable_gone(st, gone);
        }
        Msg::Reply {
            load: self.ready.len() as u64,
            tasks,
        }
        .encode()
    }

    /// What the victim's policy knows of queued task `t` when `thief` asks.
    fn candidate(&self, thief: u32, t: u32) -> Candidate {
        let st = self.steal.as_ref().expect("stealing is on");
        candidate(&self.plan, &st.model, thief, t)
    }

    /// A control message from `src` (step 7). While paused for a checkpoint it waits for
    /// `resume` (`admit`): a request then gets tasks rather than a refusal that would send
    /// the thief into its backoff just as the run resumes.
    fn on_control(self: &Arc<Self>, src: u32, bytes: &[u8]) {
        let Some(st) = &self.steal else {
            panic!("a steal message from rank {src} but stealing is off here")
        };
        if self.admit(st, || Deferred::Control(src, bytes.to_vec())) {
            self.handle_control(src, bytes);
            self.gate.handled();
        }
    }

    /// Handles a control message from `src` that `admit` let through (or `resume` replays).
    fn handle_control(self: &Arc<Self>, src: u32, bytes: &[u8]) {
        let st = self.steal.as_ref().expect("stealing is on");
        match Msg::decode(bytes) {
            Msg::Request { want, load } => {
                st.proto.lock().expect("steal lock").loads[src as usize] = Some(load);
                self.answer(src, want);
            }
            Msg::Reply { load, tasks } => {
                let n = tasks.len();
                let stolen: Vec<Stolen> = tasks
                    .into_iter()
                    .map(|w| Stolen::from_wire(src, w))
                    .collect();
                {
                    let mut p = st.proto.lock().expect("steal lock");
                    p.loads[src as usize] = Some(load);
                    p.in_hand += n;
                    p.replied(n);
                    self.refresh_control_expected(st, &p);
                }
                if n > 0 {
                    st.successes.fetch_add(1, Ordering::Relaxed);
                    st.queue.lock().expect("stolen queue lock").extend(stolen);
                    self.spawn_drainers(n);
                }
                // Rung once the stolen tasks are queued (so it counts them): after a full
                // reply the thread may ask again at once; after an empty one it sleeps
                // through its backoff.
                st.bell.ring();
                self.check_end();
            }
            Msg::Result {
                task,
                run_ns,
                value,
            } => {
                let value = value.into_value();
                let t = &self.plan.tasks[task as usize];
                if let Some(why) = self.wrong_type(t, &value) {
                    self.fail_named(t.id.clone(), why);
                    return;
                }
                let in_bytes = self.plan.input_bytes(task);
                st.model
                    .observe_task(t.op.name(), in_bytes, Where::Cpu, run_ns);
                // `complete` releases the inputs the thief was sent: the owner kept them until
                // now, so a checkpoint taken meanwhile still has them.
                let newly = self.complete(task, Arc::new(value));
                self.spawn_drainers(newly);
                if st.lent.fetch_sub(1, Ordering::AcqRel) == 1 {
                    self.refresh_control_expected(st, &st.proto.lock().expect("steal lock"));
                }
            }
            Msg::NoMore => {
                st.proto.lock().expect("steal lock").peer_dry[src as usize] = true;
            }
            Msg::OwnDone => {
                st.proto.lock().expect("steal lock").peer_done[src as usize] = true;
                self.check_end();
            }
            Msg::Fin => {
                st.proto.lock().expect("steal lock").fins += 1;
                self.check_end();
            }
        }
    }

    /// The thief side, on a thread of its own: asks for work when this rank's queued and
    /// running tasks fall below its thread count (step 7). It sleeps on `Stealing::bell`
    /// between decisions: through a backoff, until a worker runs dry while the rank is busy,
    /// and until the reply while a request is out; so a rank that never gets work (Life's
    /// tiles are too big to move) is not woken every millisecond on its workers' cores.
    fn steal_loop(self: Arc<Self>) {
        let st = self.steal.as_ref().expect("stealing is on");
        while !self.done.is_open() {
            let nap = self.steal_turn(st);
            st.bell.wait(nap);
        }
    }

    /// One decision of the steal thread: asks a peer for work if this rank may and should;
    /// returns how long to sleep at most (a worker running dry, a reply or the end rings
    /// the bell sooner).
    fn steal_turn(&self, st: &Stealing) -> Duration {
        // Before `start` the queue is empty but the rank is not idle: asking then made every
        // rank of a 2-rank Life run hand a first tile to its peer, which ran it only after its
        // own, and both waited 20-40 ms for the other's. `start` rings.
        if !self.started.load(Ordering::Acquire) {
            return STEAL_FALLBACK;
        }
        if self.failed.load(Ordering::Acquire) || self.gate.paused() {
            return STEAL_RECHECK;
        }
        {
            let p = st.proto.lock().expect("steal lock");
            if p.outstanding.is_some() {
                return STEAL_FALLBACK;
            }
            if !p.any_victim(st.rank) {
                // Every peer is done or has nothing to hand over (`NoMore`), for good: sleep
                // until the end rings (a balanced Life run's steal thread then no longer
                // wakes each time a worker runs dry).
                return STEAL_IDLE;
            }
            let now = Instant::now();
            if now < p.next_try {
                return p.next_try - now;
            }
        }
        // Arm, then look: a worker that runs dry from here on rings.
        st.bell.arm();
        // Tasks queued and tasks running: a rank that has as many as threads is busy.
        let queued = self.ready.len()
            + st.queue.lock().expect("stolen queue lock").len()
            + self.gate.running();
        if queued >= st.threads {
            return STEAL_FALLBACK;
        }
        st.bell.disarm();
        let mut p = st.proto.lock().expect("steal lock");
        // Looked at again under the lock `Executor::pause` passes through: a paused rank
        // sends no request.
        if self.gate.paused() {
            return STEAL_RECHECK;
        }
        let Some(victim) = p.pick_victim(st.rank) else {
            // Every peer is done or has nothing to hand over (`NoMore`): nothing to ask
            // for; the end rings.
            return STEAL_FALLBACK;
        };
        p.outstanding = Some(victim);
        self.refresh_control_expected(st, &p);
        let want = (st.threads - queued) as u32;
        st.requests.fetch_add(1, Ordering::Relaxed);
        self.transport.send_control(
            victim,
            Msg::Request {
                want,
                load: queued as u64,
            }
            .encode(),
        );
        drop(p);
        STEAL_FALLBACK
    }

    /// Ends the run (complete or failed): opens `done` and wakes the steal thread.
    fn open_done(&self) {
        self.done.open();
        if let Some(st) = &self.steal {
            st.bell.ring();
        }
    }

    fn fail(&self, t: u32, why: String) -> usize {
        self.fail_named(self.plan.tasks[t as usize].id.clone(), why);
        0
    }

    /// Records the first failure (task `task` on this rank) and ends the run.
    fn fail_named(&self, task: String, why: String) {
        let mut f = self.failure.lock().expect("failure lock");
        if f.is_none() {
            *f = Some(TaskFailure {
                task,
                rank: self.plan.rank,
                why,
            });
        }
        self.failed.store(true, Ordering::Release);
        drop(f);
        self.open_done();
    }
}

/// Ends a run early: `run` returns the given failure as soon as running tasks finish.
#[derive(Clone)]
pub struct Canceller(Arc<Inner>);

impl Canceller {
    /// Stops the run, reporting `why` (unless it already failed).
    pub fn cancel(&self, why: TaskFailure) {
        let mut f = self.0.failure.lock().expect("failure lock");
        if f.is_none() {
            *f = Some(why);
        }
        self.0.failed.store(true, Ordering::Release);
        drop(f);
        self.0.open_done();
    }
}

/// The scheduler's receiving side, as the transport sees it.
struct InboxHandle(Arc<Inner>);

impl Inbox for InboxHandle {
    fn expected(&self, key: u32) -> Option<ValueType> {
        let inner = &self.0;
        inner
            .remote_slot
            .get(&key)
            .map(|&s| inner.plan.slots[s as usize].ty.clone())
    }

    fn deliver(&self, key: u32, value: Value) {
        let inner = &self.0;
        let s = *inner
            .remote_slot
            .get(&key)
            .expect("the transport delivers only expected keys");
        let n = inner.fill(s, Arc::new(value));
        // A worker polling for work here (step 8) runs one of them itself: spawn one fewer.
        let own = usize::from(n > 0 && POLL_CREDIT.with(|c| c.replace(false)));
        inner.spawn_drainers(n - own);
        inner.delivered.fetch_add(1, Ordering::Relaxed);
        inner.finish_one();
    }

    fn control(&self, source: u32, msg: Vec<u8>) {
        self.0.on_control(source, &msg);
    }

    fn attentive(&self) -> bool {
        self.0.all_attending()
    }
}

thread_local! {
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// This worker is polling for work and will run one task that a delivery readies (step 8).
    static POLL_CREDIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// When this worker last polled the transport between tasks (step 8).
    static LAST_POLL: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// True while this thread runs a kernel: a panic here becomes a `TaskFailure`, so a panic hook
/// should stay quiet and let the scheduler report it.
pub fn in_task() -> bool {
    IN_TASK.with(|f| f.get())
}

/// Sets `in_task` for a scope and restores the value before on drop. Scopes nest: a kernel
/// blocked in a rayon join may run a queued drainer (scheduler code, `false`), and that
/// drainer a task of its own (`true`); each end must hand back the state of the scope around
/// it, or a later panic in the outer kernel would abort the job instead of naming its task.
struct InTask(bool);

impl InTask {
    fn scope(value: bool) -> Self {
        InTask(IN_TASK.with(|f| f.replace(value)))
    }
}

impl Drop for InTask {
    fn drop(&mut self) {
        IN_TASK.with(|f| f.set(self.0));
    }
}

/// What a victim's policy knows of its task `t` (by `model`) when `thief` asks for work.
fn candidate(plan: &LocalPlan, model: &CostModel, thief: u32, t: u32) -> Candidate {
    let task = &plan.tasks[t as usize];
    let in_bytes = plan.input_bytes(t);
    let out_bytes = plan.slots[task.out as usize].ty.bytes();
    Candidate {
        run_ns: model.task_ns(task.op.name(), in_bytes, Where::Cpu, task.cost_ns),
        move_ns: model.transfer_ns(thief, in_bytes) + model.transfer_ns(thief, out_bytes),
        bytes: in_bytes + out_bytes,
        stealable: task.stealable,
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{self, RankInfo};
    use crate::transport::local::LocalNetwork;

    /// Counts the control messages an executor sends; values and polls do nothing.
    #[derive(Default)]
    struct CountingTransport(AtomicUsize);

    impl Transport for CountingTransport {
        fn send(&self, _dest: u32, _key: u32, _value: Arc<Value>) {}
        fn send_control(&self, _dest: u32, _msg: Vec<u8>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The plans of the fan-out job for `ranks` ranks of one thread each.
    fn fanout_plans(ranks: usize) -> Vec<LocalPlan> {
        let text = include_str!("../../jobs/fanout.json");
        let g = crate::job::from_str(text, "fanout", std::path::Path::new("."))
            .expect("the fan-out job loads")
            .graph;
        let info = RankInfo {
            threads: 1,
            gpus: 0,
        };
        plan::plan(&g, &vec![info; ranks]).expect("plans")
    }

    fn one_thread_pool() -> Arc<ThreadPool> {
        Arc::new(
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap(),
        )
    }

    /// One executor of one thread per plan, connected by `net`.
    fn local_executors(plans: Vec<LocalPlan>, net: &Arc<LocalNetwork>) -> Vec<Executor> {
        plans
            .into_iter()
            .map(|p| {
                let rank = p.rank;
                let e = Executor::new(Arc::new(p), one_thread_pool(), Arc::new(net.endpoint(rank)));
                net.attach(rank, e.inbox());
                e
            })
            .collect()
    }

    /// The steal thread, made by `prepare` before the run starts, asks nobody until `start`
    /// has queued the roots: before, its queue is empty but the rank is not idle. (It once
    /// asked at once, and every rank of a 2-rank Life run gave its peer a first tile.)
    #[test]
    fn the_steal_thread_waits_for_start() {
        let (e, transport) = counted_stealing_executor();
        e.prepare();
        std::thread::sleep(Duration::from_millis(50));
        let sent = transport.0.load(Ordering::SeqCst);
        e.canceller().cancel(TaskFailure {
            task: "test".into(),
            rank: 0,
            why: "done".into(),
        });
        assert_eq!(sent, 0, "a steal request before start");
    }

    /// `InTask` scopes nest: a kernel blocked in a rayon join may run a drainer, and the
    /// drainer a task; each hands back the state around it.
    #[test]
    fn in_task_scopes_nest_and_restore() {
        assert!(!in_task());
        let kernel = InTask::scope(true);
        {
            // A drainer run by the kernel's blocked rayon join, and a task it runs.
            let _drainer = InTask::scope(false);
            assert!(!in_task());
            {
                let _nested = InTask::scope(true);
                assert!(in_task());
            }
            assert!(!in_task(), "the drainer is scheduler code again");
        }
        assert!(in_task(), "the outer kernel still counts as a task");
        drop(kernel);
        assert!(!in_task());
    }

    /// A stealing executor of rank 0 of the 2-rank fan-out job whose sends are counted.
    fn counted_stealing_executor() -> (Executor, Arc<CountingTransport>) {
        let plan = fanout_plans(2).swap_remove(0);
        let transport = Arc::new(CountingTransport::default());
        let e = Executor::new(
            Arc::new(plan),
            one_thread_pool(),
            Arc::clone(&transport) as _,
        )
        .with_stealing(Arc::new(CostModel::new(2, None)), StealPolicy::Random(1));
        (e, transport)
    }

    /// The share can be done twice over (values that arrive before `start` complete it,
    /// and `start` checks again): `OwnDone` still goes out once.
    #[test]
    fn share_done_tells_the_peers_once() {
        let (e, transport) = counted_stealing_executor();
        e.inner.share_done();
        e.inner.share_done();
        assert_eq!(
            transport.0.load(Ordering::SeqCst),
            1,
            "one OwnDone to one peer"
        );
    }

    /// A rank paused for a checkpoint sends nothing, so the quiesce step can end and the
    /// snapshot is not raced: a steal request that comes then, and the rank's own `OwnDone`,
    /// wait for `resume`, which handles them in order.
    #[test]
    fn a_paused_rank_sends_nothing_until_resume() {
        let (e, transport) = counted_stealing_executor();
        e.pause();
        e.inner
            .on_control(1, &Msg::Request { want: 1, load: 0 }.encode());
        e.inner.share_done();
        assert_eq!(transport.0.load(Ordering::SeqCst), 0, "sent while paused");
        assert_eq!(
            e.inner
                .steal
                .as_ref()
                .unwrap()
                .proto
                .lock()
                .unwrap()
                .deferred
                .len(),
            2
        );
        e.resume();
        assert_eq!(
            transport.0.load(Ordering::SeqCst),
            2,
            "the reply and OwnDone after resume"
        );
    }

    /// Checkpoints taken every few milliseconds of a stealing run (two in-process ranks,
    /// steal messages and values delayed at random, values waiting for the receiver to
    /// poll): pause, quiesce by two agreeing waves of the message totals, snapshot, resume.
    /// Every snapshot is a consistent cut (a finished task whose value an unfinished one
    /// needs has it held somewhere), and the run still ends with every task done once.
    #[test]
    fn checkpoints_of_a_stealing_run_are_consistent_cuts() {
        let plans = fanout_plans(2);
        let tasks: usize = plans.iter().map(|p| p.tasks.len()).sum();
        let net = LocalNetwork::polled(2, 300, 11);
        let execs: Vec<Executor> = plans
            .into_iter()
            .map(|p| {
                let rank = p.rank;
                let e = Executor::new(Arc::new(p), one_thread_pool(), Arc::new(net.endpoint(rank)))
                    .with_stealing(
                        Arc::new(CostModel::new(2, None)),
                        StealPolicy::Random(u64::from(rank) + 1),
                    );
                net.attach(rank, e.inbox());
                e
            })
            .collect();
        for e in &execs {
            e.start(Vec::new());
        }
        let mut cuts = 0;
        while !execs.iter().all(|e| e.wait(Some(Duration::from_millis(3)))) {
            for e in &execs {
                e.pause();
            }
            let mut last = None;
            loop {
                let wave = (0..2)
                    .map(|r| net.stats(r).message_counts())
                    .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
                if wave.0 == wave.1 && last == Some(wave) {
                    break;
                }
                last = Some(wave);
                std::thread::sleep(Duration::from_micros(300));
            }
            let snaps: Vec<Snapshot> = execs.iter().map(Executor::snapshot).collect();
            let finished: std::collections::HashSet<u32> = snaps
                .iter()
                .flat_map(|s| s.finished.iter().copied())
                .collect();
            let held: std::collections::HashSet<u32> = snaps
                .iter()
                .flat_map(|s| s.values.iter().map(|(k, _)| *k))
                .collect();
            for e in &execs {
                let plan = &e.inner.plan;
                for t in &plan.tasks {
                    if finished.contains(&plan.slots[t.out as usize].key) {
                        continue;
                    }
                    for a in &t.args {
                        if let LocalArg::Slot(s) = a {
                            let k = plan.slots[*s as usize].key;
                            assert!(
                                !finished.contains(&k) || held.contains(&k),
                                "cut {cuts}: {} needs the value of finished task {k}, held nowhere",
                                t.id
                            );
                        }
                    }
                }
            }
            for e in &execs {
                e.resume();
            }
            cuts += 1;
        }
        let mut ran = 0;
        for e in execs {
            let f = e.finish().expect("the run succeeds");
            // Own tasks run here, and the peer's run here.
            ran += f.timings.len() + f.stolen.len();
        }
        net.close();
        assert_eq!(ran, tasks);
        assert!(cuts > 0, "no checkpoint taken");
    }

    /// A drainer left with nothing of its own returns when tasks are queued, so the drainers
    /// spawned for them run (step 3). When it ran them itself, theirs waited in rayon's queue
    /// to the end of the run: 42,000 on a rank of the 2-rank weak Life job. Here (two
    /// in-process ranks of one thread, the fan-out job: roots that each ready 24 busy tasks)
    /// the drainers queued never outnumber the queued tasks by more than a few, where running
    /// the tasks itself left about 190 over.
    #[test]
    fn drainers_do_not_pile_up() {
        let plans = fanout_plans(2);
        let tasks: Vec<usize> = plans.iter().map(|p| p.tasks.len()).collect();
        let net = LocalNetwork::new(2);
        let execs = local_executors(plans, &net);
        let inners: Vec<Arc<Inner>> = execs.iter().map(|e| Arc::clone(&e.inner)).collect();
        let runs: Vec<_> = execs
            .into_iter()
            .map(|e| std::thread::spawn(move || e.run().map(|_| ())))
            .collect();
        for h in runs {
            h.join().unwrap().unwrap();
        }
        for (i, t) in inners.iter().zip(&tasks) {
            let surplus = i.surplus_peak.load(Ordering::Relaxed);
            assert!(
                surplus <= 4,
                "{surplus} drainers queued beyond the queued tasks on a rank of {t} tasks"
            );
        }
    }

    /// The progress count derived from the scheduler's counters starts at 0 and ends at each
    /// rank's task count, remote deliveries included (two in-process ranks).
    #[test]
    fn done_counter_counts_local_tasks_only() {
        let plans = fanout_plans(2);
        assert!(
            plans.iter().all(|p| p.remote_slots() > 0),
            "values cross ranks"
        );
        let net = LocalNetwork::new(2);
        let execs = local_executors(plans, &net);
        let counters: Vec<_> = execs.iter().map(Executor::done_counter).collect();
        let sizes: Vec<u64> = execs
            .iter()
            .map(|e| e.inner.plan.tasks.len() as u64)
            .collect();
        assert!(counters.iter().all(|c| c() == 0));
        let runs: Vec<_> = execs
            .into_iter()
            .map(|e| std::thread::spawn(move || e.run().map(|f| f.timings.len())))
            .collect();
        for (r, h) in runs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap().unwrap() as u64, sizes[r]);
        }
        let done: Vec<u64> = counters.iter().map(|c| c()).collect();
        assert_eq!(done, sizes);
        assert_eq!(done.iter().sum::<u64>(), 392);
    }
}
