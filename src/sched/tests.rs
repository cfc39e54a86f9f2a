//! The executor's tests across its parts: runs of in-process ranks (drainers, progress
//! counts, checkpoints of a stealing run) and the stealing executor's behaviour around the
//! steal thread and the pause. The protocol machine's own tests are in `steal/protocol.rs`.

use super::executor::{Executor, Snapshot};
use super::heart::{Inner, TaskFailure};
use super::steal::wire::Msg;
use super::StealPolicy;
use crate::graph::Value;
use crate::plan::learn::CostModel;
use crate::plan::{self, LocalArg, LocalPlan, RankInfo};
use crate::transport::local::LocalNetwork;
use crate::transport::Transport;
use rayon::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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
            .deferred_len(),
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
