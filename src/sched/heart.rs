//! The heart of the rank-local scheduler: dependency counting, the drainers, completion and
//! release of one rank's share of the plan, and the carrying out of the stealing machine's
//! decisions. `Executor` (`executor.rs`) is its public face.
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
//!    arrived; the first failure (kernel error or panic, caught by `unwind::run_task` on
//!    every path that runs a kernel) ends the run at once with the task id.
//!
//! 6. Device dispatch: with a device attached (`Executor::with_device`), a task runs there
//!    when its scope says gpu, or, unscoped, when `DeviceContext::choose` expects it to finish
//!    sooner (see `device::cost`). The device context stages inputs, caches device copies and
//!    writes results back to the host, so slots always hold host values; a device that lacks
//!    the kernel or the memory makes the task run on the CPU instead. A slot's device copy is
//!    dropped when the slot is released.
//!
//! 7. Cross-rank stealing (`Executor::with_stealing`, protocol in `steal/mod.rs`): an idle
//!    rank asks a loaded one for ready tasks; the owner takes them out of its ready queue,
//!    the thief runs them and sends each result back, and the owner completes the task
//!    (step 4) exactly as if it had run it. With stealing the run ends when every rank's
//!    share is done (the `OwnDone`/`Fin` exchange), not when this rank's is. Stolen tasks
//!    wait in a queue of their own; a drainer that finds the ready queue empty takes one from
//!    there (each stolen task came with a drainer, so the invariant of step 3 covers both
//!    queues). The protocol's state and decisions are `steal::protocol::Proto`'s; this file
//!    feeds it events (`steal_event`) and carries out its actions (`carry_out`). The asking
//!    is done by the steal thread (`steal_thread.rs`; `Executor::prepare` creates it),
//!    which sleeps on `Stealing::bell` and is rung by a drainer that runs dry, a reply, or
//!    the end.
//!
//! 8. Workers drive the transport themselves when that saves a hand-off (`Transport::poll`,
//!    `poll.rs`): between tasks at most every `POLL_EVERY` while another worker of the rank
//!    sleeps (every `BUSY_POLL_EVERY` while none does, which answers the peers' steal
//!    requests without the progress thread), and, when a worker runs out of ready tasks,
//!    continuously for up to `IDLE_POLL` (one worker at a time); one that gives up and sleeps
//!    tells the transport (`Transport::unattended`), once it no longer counts as attending.
//!    A value it receives readies its reader on the same thread; that drainer runs the reader
//!    itself, so the delivery spawns one drainer fewer (`poll::take_credit`), which keeps the
//!    invariant of step 3. With stealing, once the rank's share is done (`ending`) the idle
//!    worker also polls for the peers' `OwnDone`/`Fin`, which end the run.
//!
//! Who touches what: `pending`, `readers_left` and the records are atomics written by whichever
//! thread fills a slot or finishes a task; a slot's value is behind its own mutex, held only to
//! store, clone or take the `Arc`; the stealing machine is behind `Stealing::proto`, and the
//! ready queue's lock is never taken while it is held. The scheduler never calls MPI: it
//! sends through `Transport` and receives through its `Inbox` implementation (`handle.rs`).

use super::latch::Latch;
use super::pause::{Entry, PauseGate};
use super::poll::{self, Idle, Workers};
use super::ready::ReadyQueue;
use super::record::Record;
use super::steal::protocol::{Action, Admit, Deferred, Event, Proto};
use super::steal::wire::{Msg, Stolen, WireValue};
use super::steal::{victim, Stealing, StolenTiming};
use super::unwind::{self, InTask};
use crate::device::context::TaskArg;
use crate::device::{DeviceContext, DeviceError};
use crate::graph::{Value, ValueType};
use crate::kernels::{self, Input, KernelError};
use crate::plan::learn::Where;
use crate::plan::{LocalArg, LocalPlan, LocalTask, Source};
use crate::transport::Transport;
use rayon::ThreadPool;
use rustc_hash::FxHashMap;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
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

/// The trace `tid` of tasks that ran on the device (worker threads are numbered from 0).
const DEVICE_THREAD: u32 = 1000;

/// One rank's scheduler state, shared by its workers, its steal thread, the transport (as
/// the inbox) and the run loop (through `Executor`).
pub(super) struct Inner {
    /// Drainers spawned and not started yet, and the most of them ever found beyond the
    /// queued tasks when a task starts (tests: step 3's drainers must not pile up).
    #[cfg(test)]
    pub(super) queued_drainers: AtomicUsize,
    #[cfg(test)]
    pub(super) surplus_peak: AtomicUsize,
    pub(super) plan: Arc<LocalPlan>,
    pub(super) pool: Arc<ThreadPool>,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) values: Vec<Mutex<Option<Arc<Value>>>>,
    pending: Vec<AtomicU32>,
    readers_left: Vec<AtomicU32>,
    remote_slot: FxHashMap<u32, u32>,
    pub(super) ready: ReadyQueue,
    /// Local tasks not completed plus remote values not delivered (step 5).
    pub(super) remaining: AtomicUsize,
    /// Remote values delivered so far (so the tasks done can be told from `remaining`).
    pub(super) delivered: AtomicUsize,
    pub(super) failed: AtomicBool,
    pub(super) failure: Mutex<Option<TaskFailure>>,
    pub(super) done: Latch,
    pub(super) records: Vec<Record>,
    pub(super) finished: Vec<AtomicBool>,
    pub(super) gate: PauseGate,
    pub(super) epoch: Instant,
    pub(super) device: Option<Arc<DeviceContext>>,
    pub(super) steal: Option<Stealing>,
    workers: Workers,
    /// `start` has queued the roots (the steal thread waits for it).
    pub(super) started: AtomicBool,
    /// The steal thread exists (`Executor::prepare`).
    pub(super) steal_thread: AtomicBool,
    /// With stealing: this rank's share is done and the run ends once the peers' `OwnDone`
    /// and `Fin` arrive, so an idle worker keeps polling for them (step 8).
    pub(super) ending: AtomicBool,
    /// `share_done` has run (values may complete the share before `start`, which checks
    /// again): it runs once.
    share_finished: AtomicBool,
}

impl Inner {
    /// The state before the run of `plan` on `pool`, sending through `transport`.
    pub(super) fn new(
        plan: Arc<LocalPlan>,
        pool: Arc<ThreadPool>,
        transport: Arc<dyn Transport>,
    ) -> Inner {
        let remote_slot = plan
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.source, Source::Remote(_)))
            .map(|(i, s)| (s.key, i as u32))
            .collect();
        Inner {
            #[cfg(test)]
            queued_drainers: AtomicUsize::new(0),
            #[cfg(test)]
            surplus_peak: AtomicUsize::new(0),
            values: (0..plan.slots.len()).map(|_| Mutex::new(None)).collect(),
            pending: plan.tasks.iter().map(|t| AtomicU32::new(t.deps)).collect(),
            readers_left: plan
                .slots
                .iter()
                .map(|s| AtomicU32::new(s.readers.len() as u32))
                .collect(),
            remote_slot,
            ready: ReadyQueue::default(),
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
            workers: Workers::new(pool.current_num_threads()),
            started: AtomicBool::new(false),
            steal_thread: AtomicBool::new(false),
            ending: AtomicBool::new(false),
            share_finished: AtomicBool::new(false),
            plan,
            pool,
            transport,
        }
    }

    /// One drainer: pops and runs tasks while its own work makes more ready (step 3); with
    /// nothing left to run, it drives the transport until a remote value readies a task
    /// (step 8).
    pub(super) fn drain(self: Arc<Self>) {
        // Scheduler code, even when a kernel blocked in a rayon join runs this drainer.
        let _scheduler = InTask::scope(false);
        let attending = self.workers.attend();
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
                if let Some(st) = &self.steal {
                    let stolen = st.queue.lock().expect("stolen queue lock").pop_front();
                    if let Some(s) = stolen {
                        self.run_stolen(st, s);
                    }
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
            if self.plan.ranks > 1 {
                self.workers.between_tasks(&*self.transport);
            }
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
    pub(super) fn all_attending(&self) -> bool {
        self.workers.all_attending()
    }

    /// A task or a stolen task is queued.
    fn has_work(&self) -> bool {
        self.ready.len() > 0
            || self
                .steal
                .as_ref()
                .is_some_and(|st| !st.queue.lock().expect("stolen queue lock").is_empty())
    }

    /// Step 8, idle (`Workers::wait_for_work`). A single rank has nothing to wait for:
    /// `Quiet` (waking the helper thread each time a drainer ended cost a 1-rank Life run 7 %).
    fn wait_for_work(&self) -> Idle {
        if self.plan.ranks < 2 {
            return Idle::Quiet;
        }
        self.workers.wait_for_work(
            &*self.transport,
            || self.has_work(),
            || self.failed.load(Ordering::Relaxed) || self.gate.paused() || self.done.is_open(),
            || self.ending.load(Ordering::Acquire),
        )
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
    fn execute(self: &Arc<Self>, t: u32) -> usize {
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
        let ran = unwind::run_task(self.epoch, || match device {
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
        });
        let (start, end) = (ran.start_ns, ran.end_ns);
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
        let value = match ran.result {
            Ok(v) => v,
            Err(why) => return self.fail(t, why),
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
    fn complete(self: &Arc<Self>, t: u32, value: Arc<Value>) -> usize {
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
    pub(super) fn fill(&self, s: u32, value: Arc<Value>) -> usize {
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

    /// The static type of the remote value `key`, if this rank expects it.
    pub(super) fn expected(&self, key: u32) -> Option<ValueType> {
        self.remote_slot
            .get(&key)
            .map(|&s| self.plan.slots[s as usize].ty.clone())
    }

    /// The transport delivers remote value `key` (steps 1-2 and 8).
    pub(super) fn deliver(self: &Arc<Self>, key: u32, value: Value) {
        let s = *self
            .remote_slot
            .get(&key)
            .expect("the transport delivers only expected keys");
        let n = self.fill(s, Arc::new(value));
        // A worker polling for work here (step 8) runs one of them itself: spawn one fewer.
        let own = usize::from(n > 0 && poll::take_credit());
        self.spawn_drainers(n - own);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.finish_one();
    }

    fn finish_one(self: &Arc<Self>) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.share_done();
        }
    }

    /// Every own task is complete and every expected value here: without stealing the run is
    /// over; with it, the machine tells the peers and ends once they are all done. Once per
    /// run; while paused for a checkpoint, the telling waits for the resume.
    pub(super) fn share_done(self: &Arc<Self>) {
        if self.share_finished.swap(true, Ordering::AcqRel) {
            return;
        }
        match &self.steal {
            None => self.open_done(),
            Some(st) => {
                self.ending.store(true, Ordering::Release);
                if self.admit(st, || Deferred::OwnDone) {
                    self.steal_event(st, Event::ShareDone);
                    self.gate.handled();
                }
            }
        }
    }

    pub(super) fn spawn_drainers(self: &Arc<Self>, n: usize) {
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
        self.cancel(TaskFailure {
            task,
            rank: self.plan.rank,
            why,
        });
    }

    /// Ends the run with `why`, unless it already failed (then the first failure stands).
    pub(super) fn cancel(&self, why: TaskFailure) {
        let mut f = self.failure.lock().expect("failure lock");
        if f.is_none() {
            *f = Some(why);
        }
        self.failed.store(true, Ordering::Release);
        drop(f);
        self.open_done();
    }
}

/// Stealing (step 7): feeding the protocol machine and carrying out its actions.
impl Inner {
    /// Feeds `ev` to the protocol machine and carries out what it decides.
    pub(super) fn steal_event(self: &Arc<Self>, st: &Stealing, ev: Event) {
        let mut p = st.proto.lock().expect("steal lock");
        let actions = p.on(ev, Instant::now());
        self.carry_out(st, p, actions);
    }

    /// Carries out the machine's `actions`: messages under its lock `p`, in order, then the
    /// work after it (`steal/protocol.rs`, rules 1 and 2).
    pub(super) fn carry_out(
        self: &Arc<Self>,
        st: &Stealing,
        p: MutexGuard<'_, Proto>,
        actions: Vec<Action>,
    ) {
        let (now, later): (Vec<Action>, Vec<Action>) =
            actions.into_iter().partition(Action::under_lock);
        for a in now {
            match a {
                Action::Send(to, msg) => self.transport.send_control(to, msg.encode()),
                Action::Broadcast(msg) => {
                    let bytes = msg.encode();
                    for r in st.peers() {
                        self.transport.send_control(r, bytes.clone());
                    }
                }
                Action::ControlExpected(e) => self.transport.control_expected(e),
                Action::ExpectControlSoon => self.transport.expect_control_soon(),
                _ => unreachable!("only messages go under the lock"),
            }
        }
        drop(p);
        for a in later {
            match a {
                Action::Give { thief, want } => self.give(st, thief, want),
                Action::Run { owner, tasks } => {
                    let n = tasks.len();
                    st.queue
                        .lock()
                        .expect("stolen queue lock")
                        .extend(tasks.into_iter().map(|w| Stolen::from_wire(owner, w)));
                    self.spawn_drainers(n);
                }
                Action::Complete {
                    task,
                    run_ns,
                    value,
                } => self.complete_given(st, task, run_ns, value),
                Action::Ring => st.bell.ring(),
                Action::End => self.open_done(),
                _ => unreachable!("messages went under the lock"),
            }
        }
    }

    /// Whether steal work that may send (handling a message, `OwnDone`) may go ahead now:
    /// true, and the caller calls `gate.handled()` when done, unless the rank is paused for a
    /// checkpoint or earlier work still waits for the resume; then `later()` is queued for it
    /// and false returned. With the pause gate's `wait_idle`, a paused rank hands out and
    /// sends nothing (so a checkpoint's quiesce step ends, and its snapshot is not raced).
    fn admit(&self, st: &Stealing, later: impl Fn() -> Deferred) -> bool {
        loop {
            let entered = self.gate.try_handle();
            let mut p = st.proto.lock().expect("steal lock");
            let verdict = p.admit(entered, self.gate.paused(), &later);
            if entered && verdict != Admit::Now {
                self.gate.handled();
            }
            match verdict {
                Admit::Now => return true,
                Admit::Later => return false,
                Admit::Again => {}
            }
        }
    }

    /// A control message from `src` (step 7). While paused for a checkpoint it waits for
    /// the resume (`admit`): a request then gets tasks rather than a refusal that would send
    /// the thief into its backoff just as the run resumes.
    pub(super) fn on_control(self: &Arc<Self>, src: u32, bytes: &[u8]) {
        let Some(st) = &self.steal else {
            panic!("a steal message from rank {src} but stealing is off here")
        };
        if self.admit(st, || Deferred::Control(src, bytes.to_vec())) {
            self.steal_event(st, Event::Message(src, Msg::decode(bytes)));
            self.gate.handled();
        }
    }

    /// After a pause: handles what came meanwhile, in order; what comes during the replay
    /// queues behind it (`admit`).
    pub(super) fn replay(self: &Arc<Self>, st: &Stealing) {
        st.proto.lock().expect("steal lock").start_replay();
        loop {
            let next = st.proto.lock().expect("steal lock").next_deferred();
            match next {
                Some(Deferred::Control(src, bytes)) => {
                    self.steal_event(st, Event::Message(src, Msg::decode(&bytes)))
                }
                Some(Deferred::OwnDone) => self.steal_event(st, Event::ShareDone),
                None => break,
            }
        }
    }

    /// The victim side: answers `thief`'s request for `want` tasks.
    fn give(self: &Arc<Self>, st: &Stealing, thief: u32, want: u32) {
        let refuse = self.failed.load(Ordering::Acquire)
            || self.gate.paused()
            || self.device.is_some()
            || self.remaining.load(Ordering::Acquire) == 0;
        let given = victim::give(
            st,
            &self.plan,
            &self.ready,
            thief,
            want as usize,
            self.gate.running(),
            refuse,
            |s| self.input(s),
        );
        if given.tasks > 0 {
            self.steal_event(st, Event::Given(given.tasks));
        }
        if given.movable > 0 {
            self.movable_gone(st, given.movable);
        }
        self.transport.send_control(thief, given.reply);
    }

    /// The owner side: completes own task `task` with the result a thief sent.
    fn complete_given(self: &Arc<Self>, st: &Stealing, task: u32, run_ns: u64, value: WireValue) {
        let value = value.into_value();
        let t = &self.plan.tasks[task as usize];
        if let Some(why) = self.wrong_type(t, &value) {
            self.fail_named(t.id.clone(), why);
            return;
        }
        let in_bytes = self.plan.input_bytes(task);
        st.model
            .observe_task(t.op.name(), in_bytes, Where::Cpu, run_ns);
        let newly = self.complete(task, Arc::new(value));
        self.spawn_drainers(newly);
    }

    /// The thief side: runs a stolen task and sends its result to its owner.
    fn run_stolen(self: &Arc<Self>, st: &Stealing, s: Stolen) {
        if !self.failed.load(Ordering::Relaxed) {
            let inputs: Vec<Input<'_>> = (0..s.args.len()).map(|i| s.input(i)).collect();
            let ran = unwind::run_task(self.epoch, || kernels::run(&s.op, &inputs));
            drop(inputs);
            match ran.result {
                Err(why) => self.fail_named(s.id.clone(), why),
                Ok(v) => {
                    let run_ns = ran.end_ns - ran.start_ns;
                    st.model
                        .observe_task(s.op.name(), s.in_bytes, Where::Cpu, run_ns);
                    st.timings.lock().expect("timings lock").push(StolenTiming {
                        key: s.key,
                        start_ns: ran.start_ns,
                        end_ns: ran.end_ns,
                        thread: rayon::current_thread_index().unwrap_or(0) as u32,
                    });
                    let msg = Msg::Result {
                        task: s.task,
                        run_ns,
                        value: WireValue::of(&v),
                    }
                    .encode();
                    self.transport.send_control(s.from, msg);
                }
            }
        }
        self.steal_event(st, Event::StolenDone);
    }

    /// `n` movable tasks (`steal::policy::movable`) started here or were given; when none
    /// is left, the machine hears `Dry` (the peers stop asking).
    pub(super) fn movable_gone(self: &Arc<Self>, st: &Stealing, n: usize) {
        if st.movable_left.fetch_sub(n, Ordering::AcqRel) == n {
            self.steal_event(st, Event::Dry);
        }
    }
}
