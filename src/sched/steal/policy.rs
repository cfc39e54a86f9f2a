//! The victim's policy: which queued tasks are worth handing to a thief (`choose`), which
//! could ever be (`movable`), and what the policy knows of a task (`Candidate`, from the
//! learned cost model and the link to the thief). Pure functions of their arguments: the
//! protocol (`protocol.rs`) and the victim's side (`victim.rs`) call them.

use crate::plan::learn::{CostModel, Where};
use crate::plan::LocalPlan;

/// A task is handed over only if its estimated transfer time times this is below its wait.
const WELL_BELOW: f64 = 4.0;

/// A task whose inputs and result together exceed this many bytes never moves. Moving one
/// costs its inputs and result in flight and encoded on both ranks, so each stolen 4 MiB Life
/// tile raised a rank's peak by 20-40 MiB; the tasks stealing helps (long kernels on small
/// data) are far below it.
pub const MAX_MOVE_BYTES: usize = 1 << 20;

/// How a victim picks the tasks it hands over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StealPolicy {
    /// By the learned costs (`choose`): the default.
    Cost,
    /// Any stealable task, chosen at random from this seed, ignoring costs (protocol tests).
    Random(u64),
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

/// What a victim's policy knows of its task `t` (by `model`) when `thief` asks for work.
pub(crate) fn candidate(plan: &LocalPlan, model: &CostModel, thief: u32, t: u32) -> Candidate {
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

/// The random policy's numbers (SplitMix64), seeded per rank so ranks differ.
pub(crate) struct Dice(u64);

impl Dice {
    pub(crate) fn new(policy: StealPolicy, rank: u32) -> Dice {
        Dice(match policy {
            StealPolicy::Random(s) => s ^ u64::from(rank).wrapping_mul(0x9e37_79b9),
            StealPolicy::Cost => 0,
        })
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
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
}
