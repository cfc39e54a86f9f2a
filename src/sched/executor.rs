//! `Executor`, the public face of the rank-local scheduler: how the runtime builds one for a
//! rank's share of the plan (`new`, `with_device`, `with_stealing`), runs it (`start`,
//! `wait`, `finish`), pauses it for a checkpoint (`pause`, `snapshot`, `resume`) and watches
//! it (`activity`, `waiting_for`, `done_counter`). The protocol it runs is the heart's
//! (`heart.rs`).

use super::handle::{Canceller, InboxHandle};
use super::heart::{Inner, TaskFailure};
use super::record::{self, TaskTiming};
use super::steal::protocol::{Counts, Event};
use super::steal::{policy, StealPolicy, Stealing, StolenTiming};
use super::steal_thread;
use crate::device::DeviceContext;
use crate::graph::Value;
use crate::plan::learn::CostModel;
use crate::plan::{LocalArg, LocalPlan, Source};
use crate::transport::{Inbox, Transport};
use rayon::ThreadPool;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

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
    /// Tasks of other ranks this rank stole and ran.
    pub stolen: Vec<StolenTiming>,
    /// Own tasks given to other ranks, which ran them.
    pub given_away: u64,
    /// Steal requests this rank sent.
    pub steal_requests: u64,
    /// Of those, the ones answered with tasks.
    pub steal_successes: u64,
}

/// Runs one rank's share of a plan.
pub struct Executor {
    pub(super) inner: Arc<Inner>,
}

impl Executor {
    /// Prepares to run `plan` on `pool`, sending through `transport`.
    pub fn new(
        plan: Arc<LocalPlan>,
        pool: Arc<ThreadPool>,
        transport: Arc<dyn Transport>,
    ) -> Executor {
        let inner = Inner::new(plan, pool, transport);
        Executor {
            inner: Arc::new(inner),
        }
    }

    /// Attaches the rank's device; tasks may then run there (`heart.rs`, step 6). Call
    /// before `inbox`, `canceller` or `start`.
    pub fn with_device(mut self, device: Arc<DeviceContext>) -> Executor {
        Arc::get_mut(&mut self.inner)
            .expect("with_device is called before the executor is shared")
            .device = Some(device);
        self
    }

    /// Turns cross-rank work stealing on (`heart.rs`, step 7), deciding with `model` by
    /// `policy`; a no-op for a single rank. Call before `inbox`, `canceller` or `start`.
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
                .map(|t| policy::movable(policy, &policy::candidate(plan, &model, nearest, t)))
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
        Canceller::new(Arc::clone(&self.inner))
    }

    /// The receiving side, for the transport.
    pub fn inbox(&self) -> Arc<dyn Inbox> {
        Arc::new(InboxHandle::new(Arc::clone(&self.inner)))
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
            let ev = if st.movable_left.load(Ordering::Acquire) == 0 {
                Event::Dry
            } else {
                Event::Started
            };
            inner.steal_event(st, ev);
            st.bell.ring();
        }
    }

    /// Starts the steal thread (`steal_thread.rs`), if stealing is on, so that creating it
    /// does not fall inside the timed run; `start` does it otherwise. The thread waits for
    /// `start`.
    pub fn prepare(&self) {
        let inner = &self.inner;
        if inner.steal.is_some() && !inner.steal_thread.swap(true, Ordering::AcqRel) {
            let i = Arc::clone(inner);
            std::thread::Builder::new()
                .name("dirk-steal".into())
                .spawn(move || steal_thread::run(i))
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
            // The steal thread looks at the pause and sends its request under this lock: once
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
            self.inner.replay(st);
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
        let (stolen, counts) = match &inner.steal {
            Some(st) => {
                timings.retain(|t| !st.given[t.task as usize].load(Ordering::Acquire));
                (
                    std::mem::take(&mut *st.timings.lock().expect("timings lock")),
                    st.proto.lock().expect("steal lock").counts,
                )
            }
            None => (Vec::new(), Counts::default()),
        };
        Ok(Finished {
            timings,
            outputs,
            stolen,
            given_away: counts.given,
            steal_requests: counts.requests,
            steal_successes: counts.successes,
        })
    }
}
