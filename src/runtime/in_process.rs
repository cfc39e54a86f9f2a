//! Runs a graph on several simulated ranks inside one process: the same planner and
//! scheduler as under MPI, with `transport::local` in place of MPI. Tests use it to exercise
//! multi-rank logic under plain `cargo test`; it is also a way to run a graph without mpirun.

use crate::device::DeviceContext;
use crate::graph::{Graph, Value};
use crate::plan::learn::CostModel;
use crate::plan::{self, PlanError, RankInfo};
use crate::sched::{Executor, Finished, StealPolicy, TaskFailure};
use crate::transport::local::LocalNetwork;
use std::collections::HashMap;
use std::sync::Arc;
use thiserror::Error;

/// Why an in-process run failed.
#[derive(Debug, Error)]
pub enum InProcessError {
    /// The plan cannot be made.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// A task failed.
    #[error(transparent)]
    Task(#[from] TaskFailure),
}

/// Runs `g` on `ranks` simulated ranks of `threads` worker threads each; returns the output
/// values (those of `g.outputs()`) by task index.
pub fn run_in_process(
    g: &Graph,
    ranks: u32,
    threads: usize,
) -> Result<HashMap<u32, Arc<Value>>, InProcessError> {
    run_in_process_with_devices(g, threads, vec![None; ranks as usize])
}

/// Like `run_in_process`, one simulated rank per entry of `devices`, each driving the device
/// given (a host-backed one in tests) or none.
pub fn run_in_process_with_devices(
    g: &Graph,
    threads: usize,
    devices: Vec<Option<Arc<DeviceContext>>>,
) -> Result<HashMap<u32, Arc<Value>>, InProcessError> {
    run(g, threads, devices, None, None).map(|r| r.outputs)
}

/// Like `run_in_process`, with values that wait for the destination to poll, as they wait in
/// MPI: its workers pick them up through `Transport::poll` between and after tasks, or its
/// delivery thread does after a pseudo-random delay below `max_delay_us` µs drawn from
/// `seed` (`LocalNetwork::polled`), whichever comes first.
pub fn run_in_process_polled(
    g: &Graph,
    ranks: u32,
    threads: usize,
    max_delay_us: u64,
    seed: u64,
) -> Result<HashMap<u32, Arc<Value>>, InProcessError> {
    run(
        g,
        threads,
        vec![None; ranks as usize],
        None,
        Some((max_delay_us, seed)),
    )
    .map(|r| r.outputs)
}

/// How an in-process run steals (protocol tests).
#[derive(Clone, Copy, Debug)]
pub struct StealOptions {
    /// How victims pick tasks.
    pub policy: StealPolicy,
    /// Each control message is delayed by a pseudo-random time below this, µs.
    pub max_delay_us: u64,
    /// Seed of the delays.
    pub seed: u64,
}

/// What an in-process run with stealing leaves.
pub struct InProcessRun {
    /// Output values by task index (as `run_in_process`).
    pub outputs: HashMap<u32, Arc<Value>>,
    /// Per rank, the graph index of every task it ran (its own and stolen ones).
    pub ran: Vec<Vec<u32>>,
    /// Tasks that ran on another rank than the plan's.
    pub stolen: u64,
    /// Per rank, the steal requests it sent.
    pub steal_requests: Vec<u64>,
}

/// Like `run_in_process`, with cross-rank work stealing as `steal` says.
pub fn run_in_process_stealing(
    g: &Graph,
    ranks: u32,
    threads: usize,
    steal: StealOptions,
) -> Result<InProcessRun, InProcessError> {
    run(g, threads, vec![None; ranks as usize], Some(steal), None)
}

fn run(
    g: &Graph,
    threads: usize,
    devices: Vec<Option<Arc<DeviceContext>>>,
    steal: Option<StealOptions>,
    polled: Option<(u64, u64)>,
) -> Result<InProcessRun, InProcessError> {
    let ranks = devices.len();
    let infos: Vec<RankInfo> = devices
        .iter()
        .map(|d| RankInfo {
            threads: threads as u32,
            gpus: u32::from(d.is_some()),
        })
        .collect();
    let plans = plan::plan(g, &infos)?;
    let net = match (steal, polled) {
        (_, Some((max, seed))) => LocalNetwork::polled(ranks, max, seed),
        (Some(s), None) => LocalNetwork::with_delays(ranks, s.max_delay_us, s.seed),
        (None, None) => LocalNetwork::new(ranks),
    };
    let plans: Vec<Arc<crate::plan::LocalPlan>> = plans.into_iter().map(Arc::new).collect();
    let execs: Vec<Executor> = plans
        .iter()
        .zip(devices)
        .map(|(p, device)| {
            let rank = p.rank;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let mut exec =
                Executor::new(Arc::clone(p), Arc::new(pool), Arc::new(net.endpoint(rank)));
            if let Some(d) = device {
                exec = exec.with_device(d);
            }
            if let Some(s) = steal {
                let model = Arc::new(CostModel::new(ranks as u32, None));
                exec = exec.with_stealing(model, s.policy);
            }
            net.attach(rank, exec.inbox());
            exec
        })
        .collect();
    let cancellers: Vec<_> = execs.iter().map(Executor::canceller).collect();
    let results: Vec<Result<_, TaskFailure>> = std::thread::scope(|s| {
        let handles: Vec<_> = execs
            .into_iter()
            .map(|e| {
                let cancellers = &cancellers;
                s.spawn(move || {
                    let r = e.run();
                    if let Err(f) = &r {
                        // As MPI_Abort would: a failure on one rank ends every rank.
                        for c in cancellers {
                            c.cancel(f.clone());
                        }
                    }
                    r
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("an executor thread panicked"))
            .collect()
    });
    net.close();
    let mut outputs = HashMap::new();
    let mut ran = Vec::with_capacity(ranks);
    let mut stolen = 0;
    let mut steal_requests = Vec::with_capacity(ranks);
    for (rank, r) in results.into_iter().enumerate() {
        let f: Finished = r?;
        steal_requests.push(f.steal_requests);
        let plan = &plans[rank];
        let mut mine: Vec<u32> = f
            .timings
            .iter()
            .map(|t| plan.slots[plan.tasks[t.task as usize].out as usize].key)
            .collect();
        mine.extend(f.stolen.iter().map(|t| t.key));
        stolen += f.stolen.len() as u64;
        ran.push(mine);
        if rank == 0 {
            outputs = f.outputs;
        }
    }
    Ok(InProcessRun {
        outputs,
        ran,
        stolen,
        steal_requests,
    })
}
