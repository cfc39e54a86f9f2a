//! Cross-rank work stealing. The protocol (below) is a state machine (`protocol.rs`) that
//! the executor drives: it feeds it messages and events and carries out the actions it
//! returns (send, give tasks away, run stolen tasks, complete a thief's result, end), so
//! nothing here calls back into the executor. Beside it: the messages as they travel
//! (`wire.rs`), the victim's policy (`policy.rs`: `choose`, `movable`) and the victim's side
//! of a steal (`victim.rs`). Messages travel as opaque control messages of the `Transport`,
//! so this module, like the rest of `sched`, never calls MPI.
//!
//! Words: an *owner* (the plan's rank for a task) *gives* tasks to a *thief*, which *steals*
//! them; `given` counts and flags are the owner's, `stolen` ones the thief's.
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
use crate::plan::learn::CostModel;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex};

pub(crate) mod policy;
pub(crate) mod protocol;
pub(crate) mod victim;
pub(crate) mod wire;

pub use policy::{choose, Candidate, StealPolicy, MAX_MOVE_BYTES};

/// Timing of a task this rank stole and ran for its owner (for the trace).
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

/// Everything stealing adds to an executor: the protocol machine behind its lock, and what
/// the executor's workers touch without it (the stolen queue, per-task flags, the count of
/// movable tasks left, which every start of a movable task decrements).
pub(crate) struct Stealing {
    pub rank: u32,
    pub ranks: u32,
    pub threads: usize,
    pub policy: StealPolicy,
    pub model: Arc<CostModel>,
    /// The protocol machine; its lock orders the messages it decides (`protocol.rs`, rule 1).
    pub proto: Mutex<protocol::Proto>,
    /// Stolen tasks not started yet.
    pub queue: Mutex<VecDeque<wire::Stolen>>,
    /// Own tasks given to a thief (by local index): their timing is not ours to report.
    pub given: Vec<AtomicBool>,
    /// Tasks this rank stole and ran.
    pub timings: Mutex<Vec<StolenTiming>>,
    /// Wakes the steal thread: a worker ran dry, a reply came, or the run ended.
    pub bell: Bell,
    /// Own tasks the policy could ever hand over (by local index), see `policy::movable`.
    pub movable: Vec<bool>,
    /// Of those, the ones not yet started here or given: at zero the machine hears `Dry`.
    pub movable_left: AtomicUsize,
    /// The random policy's numbers.
    pub dice: Mutex<policy::Dice>,
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
        Stealing {
            rank,
            ranks,
            threads: threads.max(1),
            policy,
            model,
            proto: Mutex::new(protocol::Proto::new(rank, ranks)),
            queue: Mutex::new(VecDeque::new()),
            given: (0..tasks).map(|_| AtomicBool::new(false)).collect(),
            timings: Mutex::new(Vec::new()),
            bell: Bell::default(),
            movable,
            movable_left: AtomicUsize::new(movable_left),
            dice: Mutex::new(policy::Dice::new(policy, rank)),
        }
    }

    /// The peers, in rank order.
    pub(crate) fn peers(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.ranks).filter(move |&r| r != self.rank)
    }
}
