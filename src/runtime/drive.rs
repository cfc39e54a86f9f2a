//! The main thread's loop while a run is under way, on every rank: it ends the run when every
//! rank is done, takes the checkpoints, and ends a stalled run instead of letting it sit.
//!
//! Every `wave` (at most a second; shorter with short checkpoint intervals or a short
//! `--peer-timeout`), and at once when this rank's share is done, each rank enters one
//! all-reduce of five sums:
//!
//! 1. ranks not done: none, and the run is over (every rank leaves in the same wave);
//! 2. progress: tasks finished, values delivered and messages queued and received, all ranks;
//! 3. ranks running a task or handling a steal message now;
//! 4. stall votes: ranks that saw sum 2 unchanged and sum 3 zero in every wave of the last
//!    `stall_after` (`--peer-timeout`): any vote ends the job, every rank naming what it waits
//!    for (`stalled`), exit status 1;
//! 5. rank 0's "a checkpoint is due" (`checkpoint::Checkpointing::take` follows, on every rank);
//! 6. tasks finished in this run, all ranks: rank 0's progress line (`trace::ProgressMeter`),
//!    given the count each wave and once more at the end.
//!
//! Every rank sees the same sums, so all take the same branch in the same wave; only the votes
//! depend on each rank's clock, and they are summed. A run with tasks left whose ranks all
//! idle, with nothing in flight that would change that, is a bug (a lost wake-up, a message
//! nobody receives): it must never be silent, and the failure detector does not see it, since
//! every rank is alive and answering heartbeats.

use super::abort_all;
use super::checkpoint::{CheckpointStats, Checkpointing};
use crate::sched::Executor;
use crate::trace::ProgressMeter;
use crate::transport::TransferStats;
use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::time::{Duration, Instant};

/// The longest wave: the stall check and rank 0's checkpoint clock need no finer grain.
const WAVE: Duration = Duration::from_secs(1);

/// Runs the loop until every rank's share is done (or this rank's failed, which the caller
/// then reports); returns what checkpointing cost. `meter`: rank 0's progress line.
pub(crate) fn drive(
    world: &SimpleCommunicator,
    exec: &Executor,
    stats: &TransferStats,
    mut checkpoints: Option<Checkpointing<'_>>,
    stall_after: Duration,
    mut meter: Option<ProgressMeter>,
) -> CheckpointStats {
    let rank = world.rank();
    let tasks_done = exec.done_counter();
    let mut wave = WAVE.min(stall_after / 4).max(Duration::from_millis(10));
    if let Some(c) = &checkpoints {
        wave = wave.min(c.interval());
    }
    let mut next_wave = Instant::now() + wave;
    let mut next_checkpoint = checkpoints.as_ref().map(|c| Instant::now() + c.interval());
    let mut last_progress = None;
    let mut moved = Instant::now();
    loop {
        let done = exec.wait(Some(next_wave.saturating_duration_since(Instant::now())));
        if done && exec.failed() {
            break; // the caller reports the failure and aborts every rank
        }
        let now = Instant::now();
        if !done && now < next_wave {
            continue;
        }
        next_wave = now + wave;
        let activity = exec.activity();
        let (queued, received) = stats.message_counts();
        let due = rank == 0 && next_checkpoint.is_some_and(|t| now >= t);
        let mine = [
            u64::from(!done),
            activity
                .progress
                .wrapping_add(queued)
                .wrapping_add(received),
            u64::from(activity.busy),
            u64::from(last_progress.is_some() && moved.elapsed() >= stall_after),
            u64::from(due),
            tasks_done(),
        ];
        let mut sums = [0u64; 6];
        world.all_reduce_into(&mine[..], &mut sums[..], SystemOperation::sum());
        if sums[0] == 0 {
            if let Some(m) = meter.as_mut() {
                m.finish(sums[5], Instant::now());
            }
            break;
        }
        if let Some(m) = meter.as_mut() {
            m.update(sums[5], now);
        }
        if sums[3] > 0 {
            stalled(
                world,
                exec,
                &format!(
                    "the run stalled: {} rank(s) have tasks left, none runs a task, and nothing \
                     moved for {:.0} s (--peer-timeout)",
                    sums[0],
                    stall_after.as_secs_f64()
                ),
            );
        }
        if sums[2] > 0 || last_progress != Some(sums[1]) {
            moved = Instant::now();
        }
        last_progress = Some(sums[1]);
        if sums[4] > 0 {
            if let Some(c) = checkpoints.as_mut() {
                c.take(world, exec, stats, stall_after);
                next_checkpoint = Some(Instant::now() + c.interval());
                // A checkpoint's pause is not a stall.
                moved = Instant::now();
            }
        }
    }
    checkpoints.map(|c| c.stats).unwrap_or_default()
}

/// Ends a stalled job: rank 0 says why in one line (`why`), every rank says what it waits for
/// (`Executor::waiting_for`), then every rank aborts with status 1. Called by every rank in
/// the same wave.
pub(crate) fn stalled(world: &SimpleCommunicator, exec: &Executor, why: &str) -> ! {
    if world.rank() == 0 {
        tracing::error!("{why}");
    }
    world.barrier();
    tracing::error!("stalled: {}", exec.waiting_for());
    world.barrier();
    abort_all(1)
}
