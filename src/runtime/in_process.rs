//! Runs a graph on several simulated ranks inside one process: the same planner and
//! scheduler as under MPI, with `transport::local` in place of MPI. Tests use it to exercise
//! multi-rank logic under plain `cargo test`; it is also a way to run a graph without mpirun.

use crate::graph::{Graph, Value};
use crate::plan::{self, PlanError, RankInfo};
use crate::sched::{Executor, TaskFailure};
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
    let infos = vec![
        RankInfo {
            threads: threads as u32,
            gpus: 0,
        };
        ranks as usize
    ];
    let plans = plan::plan(g, &infos)?;
    let net = LocalNetwork::new(ranks as usize);
    let execs: Vec<Executor> = plans
        .into_iter()
        .map(|p| {
            let rank = p.rank;
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool");
            let exec = Executor::new(Arc::new(p), Arc::new(pool), Arc::new(net.endpoint(rank)));
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
    let mut outputs = HashMap::new();
    for (rank, r) in results.into_iter().enumerate() {
        let f = r?;
        if rank == 0 {
            outputs = f.outputs;
        }
    }
    Ok(outputs)
}
