//! Cross-rank work stealing: the messages, the protocol state of one rank, and the victim's
//! policy. The executor (`executor.rs`) calls in here; messages travel as opaque control
//! messages of the `Transport`, so this module, like the rest of `sched`, never calls MPI.
//!
//! ## Protocol
//!
//! Each task has one *owner*, the rank the plan gave it to; only the owner ever queues it, and
//! the owner completes it (sends its result on, releases its inputs, counts it finished), so
//! value routing, the end-of-share count and checkpoints are exactly as without stealing.
//!
//! 1. **Request.** A rank whose work in hand (ready tasks, stolen tasks not started, and tasks
//!    running) is below its thread count, with no request outstanding, sends
//!    `Request { want, load }` (want: its threads without work in hand) to
//!    the peer it believes most loaded (the last load each peer reported; unknown counts as
//!    loaded; ties rotate). At most one request per rank is outstanding. After an empty reply
//!    it backs off (1 ms, doubling to 64 ms); a non-empty reply resets that.
//! 2. **Reply.** The victim takes tasks out of its ready queue under the queue's lock (so they
//!    cannot also start there) by `choose`: least urgent first, keeping enough for its idle
//!    threads, only those whose estimated transfer (inputs there, result back, by the link
//!    model, timed before the run: `runtime/links.rs`) is well below the time they would
//!    wait in the queue (the learned run times of the tasks ahead, over the threads), about
//!    2 ms of estimated work per wanted thread (one long task, or a batch of small ones),
//!    never more than half its queued work. It looks only at 64 of its least urgent tasks.
//!    It replies `Reply { load, tasks }` with each task's op and its input *values* (every
//!    input of a ready task is present). A victim that has failed, has a GPU, or whose share
//!    is done replies with no tasks; one paused for a checkpoint answers when the run resumes
//!    (a refusal would send the thief into its backoff just as work is there again). Only
//!    tasks with no pending input are ever in the ready queue, so only such tasks are stolen;
//!    tasks scoped to ranks or a GPU, and `load` tasks, stay.
//! 3. **Run.** The thief queues the stolen tasks beside its own; its drainers run them (its
//!    own first) on the CPU, under the pause gate, and send `Result { task, value }` back to
//!    the owner.
//! 4. **Complete.** The owner completes the task as if it had run it: it sends the result to
//!    every consumer rank of the plan, fills the slot (readying local readers), releases the
//!    inputs, marks it finished. One extra hop, but nothing else changes: routing stays
//!    static, and a checkpoint records the task where the plan put it (its value is in the
//!    owner's slots), so a resumed run plans exactly as before. A `Result` (like every steal
//!    message, and the rank's own `OwnDone`) that comes while the owner is paused for a
//!    checkpoint waits for the resume: the checkpoint has the task unfinished and its inputs
//!    held, and a resumed run runs it again.
//!
//! 5. **Dry.** A task is *movable* when the policy could ever hand it over, judged at the
//!    start against the nearest peer (`movable`: by cost, stealable, inputs and result within
//!    `MAX_MOVE_BYTES`, and its estimated run time well above its transfer, as in `choose`;
//!    a task the planner underestimates 4-fold or more near that line is missed). Once every movable
//!    task of a rank has started there or been handed over, the rank sends `NoMore` to every
//!    peer, which stop asking it, and tells its transport that no control message needs a
//!    prompt answer unless a lent task's result or a reply of its own is to come
//!    (`Transport::control_expected`), so the progress thread parks as long as without
//!    stealing, and the steal thread sleeps until the end once every peer is done or dry.
//!    In a balanced Life run the tiles are too big to move and the halo slices too short:
//!    each rank is dry once its first tiles (`rand_tile`: 1 MiB, no input, 2 ms) have
//!    started, and asks nobody after that.
//!
//! Exactly once: a task leaves the owner's ready queue once (by a local pop or by a steal,
//! both under the queue lock), a stolen task is queued once at one thief and run once there,
//! and its owner completes it once, when the single `Result` arrives.
//!
//! ## Termination
//!
//! A rank may steal after its own share is done, so "my share is done" no longer ends a rank:
//!
//! - when its share is done (every own task completed, stolen ones included, and every
//!   expected value received) a rank sends `OwnDone` to every peer and stops being a victim;
//!   a thief stops asking peers that said `OwnDone`;
//! - a rank whose share is done, that has `OwnDone` from every peer, no request outstanding
//!   and no stolen task in hand sends `Fin` to every peer: it will send nothing more but
//!   replies;
//! - a rank ends when it has sent `Fin` and received `Fin` from every peer. A peer's request
//!   always precedes its `Fin`, so every request is answered before its asker's `Fin`
//!   arrives; after a rank ends no message is addressed to it.
//!
//! A failure opens the end at once (the runtime then aborts every rank); the watchdog still
//! watches every rank, so a dead thief or victim ends the job, never hangs it.

use super::bell::Bell;
use crate::graph::{Array, Data, Op, Value};
use crate::kernels::Input;
use crate::plan::learn::CostModel;
use crate::plan::LocalArg;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shortest and longest wait after an empty reply.
const BACKOFF_MIN: Duration = Duration::from_millis(1);
const BACKOFF_MAX: Duration = Duration::from_millis(64);
/// A task is handed over only if its estimated transfer time times this is below its wait.
const WELL_BELOW: f64 = 4.0;

/// A task whose inputs and result together exceed this many bytes never moves. Moving one
/// costs its inputs and result in flight and encoded on both ranks, so each stolen 4 MiB Life
/// tile raised a rank's peak by 20-40 MiB; the tasks stealing helps (long kernels on small
/// data) are far below it.
pub const MAX_MOVE_BYTES: usize = 1 << 20;

/// A control message of the stealing protocol.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Msg<'a> {
    /// "Send me work for `want` idle threads"; `load` is the asker's queued work.
    Request { want: u32, load: u64 },
    /// The victim's answer; `load` is its ready queue's length after.
    Reply { load: u64, tasks: Vec<WireTask<'a>> },
    /// A stolen task's result, for its owner. `run_ns`: time it ran.
    Result {
        task: u32,
        run_ns: u64,
        value: WireValue<'a>,
    },
    /// "Nothing of mine can be handed over any more": the peer stops asking this rank.
    NoMore,
    /// "My share is done."
    OwnDone,
    /// "I will send nothing more but replies."
    Fin,
}

impl Msg<'_> {
    pub(crate) fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("steal messages encode")
    }

    pub(crate) fn decode(bytes: &[u8]) -> Msg<'static> {
        postcard::from_bytes(bytes).expect("steal messages decode")
    }
}

/// A task as it travels to a thief.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct WireTask<'a> {
    /// The owner's local task index.
    pub task: u32,
    /// Its global index (the key of its result).
    pub key: u32,
    pub id: String,
    pub op: Op,
    pub args: Vec<WireArg<'a>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireArg<'a> {
    Value(WireValue<'a>),
    Number(f64),
    Shape(Vec<usize>),
    /// The value of argument k, an earlier one, again: a slot read twice (a stencil tile
    /// that is its own neighbour) travels once.
    Again(u32),
}

impl<'a> WireArg<'a> {
    /// A task's arguments as they travel: `vals[i]` holds the value of each slot argument.
    /// A slot read again travels as `Again`.
    pub(crate) fn of_task(args: &[LocalArg], vals: &'a [Option<Arc<Value>>]) -> Vec<WireArg<'a>> {
        args.iter()
            .zip(vals)
            .enumerate()
            .map(|(i, (a, v))| match (a, v) {
                (LocalArg::Slot(_), Some(v)) => match LocalArg::earlier(args, i) {
                    Some(k) => WireArg::Again(k as u32),
                    None => WireArg::Value(WireValue::of(v)),
                },
                (LocalArg::Number(x), _) => WireArg::Number(*x),
                (LocalArg::Shape(s), _) => WireArg::Shape(s.clone()),
                (LocalArg::Slot(_), None) => unreachable!("slot args hold values"),
            })
            .collect()
    }
}

/// A value on the wire, borrowed when sent and owned when received.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireValue<'a> {
    Scalar(f64),
    F64(Vec<usize>, Cow<'a, [f64]>),
    F32(Vec<usize>, Cow<'a, [f32]>),
    I64(Vec<usize>, Cow<'a, [i64]>),
    U8(Vec<usize>, Cow<'a, [u8]>),
}

impl<'a> WireValue<'a> {
    pub(crate) fn of(v: &'a Value) -> WireValue<'a> {
        match v {
            Value::Scalar(x) => WireValue::Scalar(*x),
            Value::Array(a) => {
                let s = a.shape().to_vec();
                match a.data() {
                    Data::F64(d) => WireValue::F64(s, Cow::Borrowed(d)),
                    Data::F32(d) => WireValue::F32(s, Cow::Borrowed(d)),
                    Data::I64(d) => WireValue::I64(s, Cow::Borrowed(d)),
                    Data::U8(d) => WireValue::U8(s, Cow::Borrowed(d)),
                }
            }
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            WireValue::Scalar(x) => Value::Scalar(x),
            WireValue::F64(s, d) => Value::Array(Array::new(s, Data::F64(d.into_owned()))),
            WireValue::F32(s, d) => Value::Array(Array::new(s, Data::F32(d.into_owned()))),
            WireValue::I64(s, d) => Value::Array(Array::new(s, Data::I64(d.into_owned()))),
            WireValue::U8(s, d) => Value::Array(Array::new(s, Data::U8(d.into_owned()))),
        }
    }
}

/// An argument of a stolen task, owned by the thief.
pub(crate) enum StolenArg {
    Value(Value),
    Number(f64),
    Shape(Vec<usize>),
    /// The value of argument k (earlier) again.
    Again(u32),
}

/// A task a thief holds for its owner.
pub(crate) struct Stolen {
    pub from: u32,
    pub task: u32,
    pub key: u32,
    pub id: String,
    pub op: Op,
    pub args: Vec<StolenArg>,
    pub in_bytes: usize,
}

impl Stolen {
    pub(crate) fn from_wire(from: u32, w: WireTask<'_>) -> Stolen {
        let mut in_bytes = 0;
        let args = w
            .args
            .into_iter()
            .map(|a| match a {
                WireArg::Value(v) => {
                    let v = v.into_value();
                    in_bytes += v.bytes();
                    StolenArg::Value(v)
                }
                WireArg::Number(x) => StolenArg::Number(x),
                WireArg::Shape(s) => StolenArg::Shape(s),
                WireArg::Again(k) => StolenArg::Again(k),
            })
            .collect();
        Stolen {
            from,
            task: w.task,
            key: w.key,
            id: w.id,
            op: w.op,
            args,
            in_bytes,
        }
    }

    /// The kernel's argument `i`: an `Again` reads the argument it names.
    pub(crate) fn input(&self, i: usize) -> Input<'_> {
        match &self.args[i] {
            StolenArg::Value(v) => Input::Value(v),
            StolenArg::Number(x) => Input::Number(*x),
            StolenArg::Shape(v) => Input::Shape(v),
            StolenArg::Again(k) => {
                let k = *k as usize;
                assert!(k < i, "an Again argument names an earlier one");
                self.input(k)
            }
        }
    }
}

/// Timing of a task this rank ran for another (for the trace).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StolenTiming {
    /// The task's global index.
    pub key: u32,
    /// Start, ns since the executor's epoch.
    pub start_ns: u64,
    /// End, ns since the executor's epoch.
    pub end_ns: u64,
    /// Worker thread.
    pub thread: u32,
}

/// How a victim picks the tasks it hands over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StealPolicy {
    /// By the learned costs (`choose`): the default.
    Cost,
    /// Any stealable task, chosen at random from this seed, ignoring costs (protocol tests).
    Random(u64),
}

/// Work put off while a checkpoint pauses the rank (`Proto::deferred`).
pub(crate) enum Deferred {
    /// A control message from a peer: (source, bytes).
    Control(u32, Vec<u8>),
    /// This rank's share got done: tell the peers (`OwnDone`).
    OwnDone,
}

/// The protocol state of one rank, behind one lock.
pub(crate) struct Proto {
    /// Peers that said `OwnDone`.
    pub peer_done: Vec<bool>,
    /// Peers that said `NoMore`: nothing of theirs can move any more (this rank counts as
    /// one, like in `peer_done`).
    pub peer_dry: Vec<bool>,
    /// Last load each peer reported.
    pub loads: Vec<Option<u64>>,
    /// The peer asked, while a request is outstanding.
    pub outstanding: Option<u32>,
    /// Stolen tasks in hand (queued or running here, result not yet sent).
    pub in_hand: usize,
    pub own_done: bool,
    pub fin_sent: bool,
    pub fins: u32,
    pub next_try: Instant,
    pub backoff: Duration,
    pub rotate: u32,
    /// What came during a checkpoint's pause, in order, handled when the run resumes (a
    /// paused rank hands out and sends nothing): messages, and this rank's `OwnDone`.
    pub deferred: VecDeque<Deferred>,
    /// `resume` is handling `deferred`: what comes meanwhile queues behind it, so the
    /// messages of a peer are still handled in the order sent.
    pub replaying: bool,
    /// Random policy state.
    pub rng: u64,
}

/// Everything stealing adds to an executor.
pub(crate) struct Stealing {
    pub rank: u32,
    pub ranks: u32,
    pub threads: usize,
    pub policy: StealPolicy,
    pub model: Arc<CostModel>,
    pub proto: Mutex<Proto>,
    /// Stolen tasks not started yet.
    pub queue: Mutex<VecDeque<Stolen>>,
    /// Own tasks another rank ran (by local index): their timing is not ours to report.
    pub given_away: Vec<AtomicBool>,
    /// Tasks this rank ran for others.
    pub timings: Mutex<Vec<StolenTiming>>,
    /// Count of own tasks run elsewhere.
    pub stolen_out: AtomicU64,
    /// Requests sent.
    pub requests: AtomicU64,
    /// Requests answered with tasks.
    pub successes: AtomicU64,
    /// Wakes the steal thread: a worker ran dry, a reply came, or the run ended.
    pub bell: Bell,
    /// Own tasks the policy could ever hand over (by local index), see [`movable`].
    pub movable: Vec<bool>,
    /// Of those, the ones not yet started here or handed over: at zero this rank tells its
    /// peers `NoMore`.
    pub movable_left: AtomicUsize,
    /// Own tasks handed over whose result has not come back.
    pub lent: AtomicUsize,
}

/// Whether `policy` could ever hand over a task, judged from what the victim knows of it at
/// the start (`c`, against its nearest peer): by cost, one that `choose` could pick when it
/// waits long enough (stealable, within [`MAX_MOVE_BYTES`], run time well above its
/// transfer); at random, any stealable one. Life's corner slices (1 µs, 2 KiB) and tiles
/// (over 1 MiB) are not; a 2 ms `rand_tile` with 1 MiB out is.
pub(crate) fn movable(policy: StealPolicy, c: &Candidate) -> bool {
    match policy {
        StealPolicy::Cost => worth_moving(c),
        StealPolicy::Random(_) => c.stealable,
    }
}

/// The part of `choose`'s rule that does not depend on the queue: stealable, not too big,
/// and its transfer well below its own run time.
fn worth_moving(c: &Candidate) -> bool {
    c.stealable && c.bytes <= MAX_MOVE_BYTES && WELL_BELOW * c.move_ns < c.run_ns
}

impl Stealing {
    pub(crate) fn new(
        rank: u32,
        ranks: u32,
        threads: usize,
        movable: Vec<bool>,
        model: Arc<CostModel>,
        policy: StealPolicy,
    ) -> Stealing {
        let tasks = movable.len();
        let movable_left = movable.iter().filter(|&&m| m).count();
        let mut peer_done = vec![false; ranks as usize];
        peer_done[rank as usize] = true;
        Stealing {
            rank,
            ranks,
            threads: threads.max(1),
            policy,
            model,
            proto: Mutex::new(Proto {
                peer_dry: peer_done.clone(),
                peer_done,
                loads: vec![None; ranks as usize],
                outstanding: None,
                in_hand: 0,
                own_done: false,
                fin_sent: false,
                fins: 0,
                next_try: Instant::now(),
                backoff: BACKOFF_MIN,
                rotate: rank,
                deferred: VecDeque::new(),
                replaying: false,
                rng: match policy {
                    StealPolicy::Random(s) => s ^ u64::from(rank).wrapping_mul(0x9e37_79b9),
                    StealPolicy::Cost => 0,
                },
            }),
            queue: Mutex::new(VecDeque::new()),
            given_away: (0..tasks).map(|_| AtomicBool::new(false)).collect(),
            timings: Mutex::new(Vec::new()),
            stolen_out: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            bell: Bell::default(),
            movable,
            movable_left: AtomicUsize::new(movable_left),
            lent: AtomicUsize::new(0),
        }
    }
}

impl Proto {
    /// Some peer is still worth asking (not done, not dry). Once none is, none will be.
    pub(crate) fn any_victim(&self, me: u32) -> bool {
        (0..self.peer_done.len()).any(|p| p != me as usize && self.worth_asking(p))
    }

    /// Peer `p` has neither said `OwnDone` nor `NoMore`.
    fn worth_asking(&self, p: usize) -> bool {
        !self.peer_done[p] && !self.peer_dry[p]
    }

    /// The peer to ask now, if any: the most loaded by last report (unknown: most), ties
    /// rotating; never one done or dry.
    pub(crate) fn pick_victim(&mut self, me: u32) -> Option<u32> {
        let n = self.peer_done.len() as u32;
        let mut best: Option<(u64, u32)> = None;
        for k in 1..=n {
            let p = (self.rotate + k) % n;
            if p == me || !self.worth_asking(p as usize) {
                continue;
            }
            let load = self.loads[p as usize].unwrap_or(u64::MAX);
            if best.is_none_or(|(l, _)| load > l) {
                best = Some((load, p));
            }
        }
        let (_, p) = best?;
        self.rotate = p;
        Some(p)
    }

    /// After a reply: wait before asking again when it was empty.
    pub(crate) fn replied(&mut self, got: usize) {
        self.outstanding = None;
        if got == 0 {
            self.next_try = Instant::now() + self.backoff;
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        } else {
            self.backoff = BACKOFF_MIN;
            self.next_try = Instant::now();
        }
    }

    /// True when this rank should send `Fin` now (and records that it did).
    pub(crate) fn ready_to_fin(&mut self) -> bool {
        if !self.fin_sent
            && self.own_done
            && self.peer_done.iter().all(|&d| d)
            && self.outstanding.is_none()
            && self.in_hand == 0
        {
            self.fin_sent = true;
            return true;
        }
        false
    }

    /// True once the rank may end.
    pub(crate) fn ended(&self) -> bool {
        self.fin_sent && self.fins as usize + 1 == self.peer_done.len()
    }

    pub(crate) fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// One queued task as the victim's policy sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// Estimated run time, ns.
    pub run_ns: f64,
    /// Estimated time to move its inputs to the thief and its result back, ns.
    pub move_ns: f64,
    /// Bytes of its inputs and result together: what moving it puts in flight.
    pub bytes: usize,
    /// May leave this rank at all (its scope and op allow it).
    pub stealable: bool,
}

/// The victim's choice. `queue` is the tail of the ready queue in pop order (most urgent
/// first), with `ahead` more urgent tasks before it (estimated like the tail's mean);
/// `running` tasks occupy some of the `threads`. Returns positions in `queue` to hand over,
/// least urgent first: at most `want` tasks, and once their estimated run time reaches
/// `budget_ns`, no more (a batch of small tasks pays one round trip; long tasks go one at a
/// time); never more than half the queued work, unless a single task; nothing when all it
/// could give is not well above one round trip of the link (`trip_ns`). A task is given when
/// it is stealable, enough tasks stay to feed the idle threads, and its transfer estimate is
/// well below both its wait here (the run time of the tasks ahead of it, plus half a task for
/// each running one, over the threads) and its own run time. The second rule keeps
/// data-heavy tasks home: a stencil tile whose transfer costs nearly what computing it does
/// gains the thief little, and its neighbour's work arrives soon anyway (Life 8192² with
/// 4 MiB tiles ran 2× slower and peaked at 3× the memory when its tiles were stolen). Nor does
/// a task whose data exceeds [`MAX_MOVE_BYTES`], whatever the estimates say.
pub fn choose(
    queue: &[Candidate],
    ahead: usize,
    threads: usize,
    running: usize,
    want: usize,
    budget_ns: f64,
    trip_ns: f64,
) -> Vec<usize> {
    let threads = threads.max(1);
    let running = running.min(threads);
    let mean = queue.iter().map(|c| c.run_ns).sum::<f64>() / queue.len().max(1) as f64;
    let mut wait = Vec::with_capacity(queue.len());
    let mut before = (running as f64 / 2.0 + ahead as f64) * mean;
    for c in queue {
        wait.push(before / threads as f64);
        before += c.run_ns;
    }
    let keep = threads - running;
    let half = before / 2.0;
    let mut given = 0.0;
    let mut out = Vec::new();
    let mut left = ahead + queue.len();
    for i in (0..queue.len()).rev() {
        if out.len() >= want || left <= keep || given >= budget_ns {
            break;
        }
        let c = &queue[i];
        if !out.is_empty() && given + c.run_ns > half {
            break;
        }
        if worth_moving(c) && WELL_BELOW * c.move_ns < wait[i] {
            out.push(i);
            given += c.run_ns;
            left -= 1;
        }
    }
    // A reply is a round trip: worth it only for well more work than the trip takes.
    if given < WELL_BELOW * trip_ns {
        out.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(run_ns: f64, move_ns: f64) -> Candidate {
        Candidate {
            run_ns,
            move_ns,
            bytes: 0,
            stealable: true,
        }
    }

    #[test]
    fn a_slot_read_twice_travels_once() {
        let tile = Arc::new(Value::Array(Array::new(
            vec![64, 64],
            Data::U8(vec![7; 4096]),
        )));
        let strip = Arc::new(Value::Array(Array::new(vec![1, 64], Data::U8(vec![1; 64]))));
        let args = [
            LocalArg::Slot(3),
            LocalArg::Slot(4),
            LocalArg::Number(2.5),
            LocalArg::Slot(3),
            LocalArg::Slot(4),
        ];
        let vals = [
            Some(tile.clone()),
            Some(strip.clone()),
            None,
            Some(tile.clone()),
            Some(strip),
        ];
        let task = WireTask {
            task: 1,
            key: 9,
            id: "life.1.0_0".into(),
            op: Op::new(crate::kernels::LifeStep {
                normalize: false,
                frame: crate::graph::stencil::Frame::PLAIN,
            }),
            args: WireArg::of_task(&args, &vals),
        };
        assert!(matches!(task.args[3], WireArg::Again(0)));
        assert!(matches!(task.args[4], WireArg::Again(1)));
        let bytes = postcard::to_allocvec(&task).unwrap();
        assert!(
            bytes.len() < 4096 + 200,
            "the tile once: {} bytes",
            bytes.len()
        );
        let got = Stolen::from_wire(0, postcard::from_bytes(&bytes).unwrap());
        assert_eq!(got.in_bytes, 4096 + 64);
        let value = |i: usize| match got.input(i) {
            Input::Value(v) => v.clone(),
            _ => panic!("args[{i}] should be a value"),
        };
        assert_eq!(value(3), *tile);
        assert_eq!(value(0), *tile);
        assert!(matches!(got.input(2), Input::Number(x) if x == 2.5));
        assert_eq!(value(4), value(1));
    }

    #[test]
    fn gives_the_least_urgent_and_keeps_one_per_thread() {
        let q = vec![c(1e6, 1e4); 10];
        assert_eq!(choose(&q, 0, 2, 0, 3, f64::INFINITY, 0.0), vec![9, 8, 7]);
        assert_eq!(
            choose(&q, 0, 2, 0, 100, f64::INFINITY, 0.0).len(),
            5,
            "half the work"
        );
        assert!(choose(&q[..2], 0, 2, 0, 5, f64::INFINITY, 0.0).is_empty());
        // With both threads busy, even the only queued task waits half a task: it may go.
        assert_eq!(choose(&q[..1], 0, 2, 2, 5, f64::INFINITY, 0.0), vec![0]);
        // A tail of 2 behind 8 more: both may go.
        assert_eq!(choose(&q[..2], 8, 2, 0, 5, f64::INFINITY, 0.0), vec![1, 0]);
        assert!(
            choose(&q[..1], 0, 2, 1, 5, f64::INFINITY, 0.0).is_empty(),
            "one thread is about to take it"
        );
    }

    #[test]
    fn keeps_tasks_whose_transfer_is_not_well_below_their_run_time() {
        // Long waits, but moving costs half a task's run time: nothing goes.
        let q = vec![c(2e6, 1e6); 20];
        assert!(choose(&q, 40, 1, 0, 5, f64::INFINITY, 0.0).is_empty());
        // The same queue with cheap transfers gives tasks away.
        let q = vec![c(2e6, 1e4); 20];
        assert!(!choose(&q, 40, 1, 0, 5, f64::INFINITY, 0.0).is_empty());
    }

    #[test]
    fn keeps_tasks_whose_transfer_is_not_well_below_their_wait() {
        // 4 idle threads, 8 queued tasks of 1 ms: position i waits i/4 ms. Moving costs
        // 0.24 ms (4x = 0.96 ms, under the run time): the tail goes until 4 stay home.
        let q = vec![c(1e6, 2.4e5); 8];
        assert_eq!(
            choose(&q, 0, 4, 0, 100, f64::INFINITY, 0.0),
            vec![7, 6, 5, 4]
        );
        // All 4 threads busy, 3 queued: position i waits (2 + i)/4 ms; only position 2 waits
        // more than 0.96 ms.
        assert_eq!(choose(&q[..3], 0, 4, 4, 100, f64::INFINITY, 0.0), vec![2]);
        // Dearer transfers (4x = 1.2 ms, over the 1 ms run time) keep everything home.
        let q = vec![c(1e6, 3e5); 8];
        assert!(choose(&q, 0, 4, 0, 100, f64::INFINITY, 0.0).is_empty());
        // Short tasks with dear transfers never go.
        let q = vec![c(1e3, 1e6); 50];
        assert!(choose(&q, 0, 1, 1, 100, f64::INFINITY, 0.0).is_empty());
    }

    #[test]
    fn batches_small_tasks_up_to_the_budget_and_half_the_work() {
        // 1000 tasks of 10 µs: a 1 ms budget takes 100 of them in one reply.
        let q = vec![c(1e4, 1e2); 1000];
        assert_eq!(choose(&q, 0, 1, 1, 10_000, 1e6, 0.0).len(), 100);
        // 4 tasks of 10 ms: one long task per reply, whatever the budget.
        let q = vec![c(1e7, 1e3); 4];
        assert_eq!(choose(&q, 0, 1, 1, 10, 1e6, 0.0), vec![3]);
        // 64 tasks of 100 ns do not pay for a 10 µs round trip.
        let q = vec![c(100.0, 10.0); 10_000];
        assert!(choose(&q[..64], 9_936, 1, 1, 64, 1e6, 1e4).is_empty());
        assert_eq!(choose(&q[..64], 9_936, 1, 1, 64, 1e6, 0.0).len(), 64);
        // Never more than half the queued work (plus the running task's half).
        let q = vec![c(1e6, 1e2); 10];
        assert_eq!(choose(&q, 0, 1, 0, 100, f64::INFINITY, 0.0).len(), 5);
    }

    #[test]
    fn skips_unstealable_tasks() {
        let mut q = vec![c(1e6, 1e3); 6];
        q[5].stealable = false;
        q[4].stealable = false;
        assert_eq!(choose(&q, 0, 1, 0, 2, f64::INFINITY, 0.0), vec![3, 2]);
    }

    #[test]
    fn values_round_trip_the_wire() {
        let vals = [
            Value::Scalar(2.5),
            Value::Array(Array::new(
                vec![2, 2],
                Data::F64(vec![1.0, -0.0, 3.5, f64::NAN]),
            )),
            Value::Array(Array::new(vec![3], Data::U8(vec![0, 1, 255]))),
            Value::Array(Array::new(vec![1, 2], Data::I64(vec![-7, 9]))),
            Value::Array(Array::new(vec![2], Data::F32(vec![1.5, -2.0]))),
        ];
        for v in &vals {
            let m = Msg::Result {
                task: 3,
                run_ns: 2,
                value: WireValue::of(v),
            };
            let back = Msg::decode(&m.encode());
            let Msg::Result { value, task: 3, .. } = back else {
                panic!("wrong message")
            };
            let back = value.into_value();
            assert_eq!(format!("{back:?}"), format!("{v:?}"));
        }
    }

    #[test]
    fn victim_choice_prefers_the_most_loaded_and_skips_done_peers() {
        let s = Stealing::new(
            0,
            4,
            1,
            Vec::new(),
            Arc::new(CostModel::new(4, None)),
            StealPolicy::Cost,
        );
        let mut p = s.proto.lock().unwrap();
        p.loads = vec![None, Some(3), Some(9), Some(1)];
        assert_eq!(p.pick_victim(0), Some(2));
        p.peer_done[2] = true;
        assert_eq!(p.pick_victim(0), Some(1));
        // A dry peer (`NoMore`) is skipped like a done one.
        p.peer_dry[1] = true;
        assert_eq!(p.pick_victim(0), Some(3));
        assert!(p.any_victim(0));
        p.peer_done[3] = true;
        assert!(!p.any_victim(0), "done or dry, nobody is worth asking");
        assert_eq!(p.pick_victim(0), None);
        p.peer_done[1] = true;
        // Done: Fin only without a request outstanding.
        p.own_done = true;
        p.outstanding = Some(1);
        assert!(!p.ready_to_fin());
        p.outstanding = None;
        assert!(p.ready_to_fin());
        assert!(!p.ready_to_fin(), "Fin is sent once");
        assert!(!p.ended());
        p.fins = 3;
        assert!(p.ended());
    }
}
