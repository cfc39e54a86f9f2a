//! The SPMD runtime: MPI start-up, and one run of a graph across all ranks.
//!
//! Data flow of a run (every rank calls `Runtime::launch`):
//!
//! 1. rank 0 broadcasts the settings, or a rejection if the job was bad (`bootstrap`);
//! 2. every rank builds its rayon pool; rank 0 gathers each rank's threads and GPUs;
//! 3. rank 0 plans and scatters each rank its share (or a rejection if the plan is impossible);
//! 4. each rank runs its share (`sched::Executor`) while its main thread runs the loop that
//!    ends the run, takes checkpoints, ends a stalled run and sums the tasks finished for rank
//!    0's progress line (`drive`; rank 0 prints it: `trace::ProgressMeter`), values moving
//!    through the MPI transport's engine (its progress thread, or workers that poll);
//! 5. rank 0 gathers per-rank figures (and trace events when asked: tasks and transfers)
//!    and holds the outputs.
//!
//! A task failure on any rank is logged there and ends every rank through `MPI_Abort`.
//!
//! At the end every message a rank sent has been received before `MPI_Finalize`, channel by
//! channel in a fixed order: steal control messages (the `Fin` exchange), values (the transport's
//! close, `transport::mpi`), the collectives of step 5 and the final barrier, and last the
//! heartbeats (`watchdog`: a goodbye from every rank to every rank, each received), when
//! `Runtime` is dropped; then `MPI_Finalize`, under a deadline (`finalize`). ARCHITECTURE.md, "Shutdown", says why each
//! rule is enough.

mod abort;
mod bootstrap;
pub mod checkpoint;
mod drive;
mod finalize;
mod in_process;
mod links;
pub mod pages;
pub mod ram;
mod watchdog;

pub use abort::{abort_all, install_panic_hook};
pub use bootstrap::Settings;
pub use in_process::{
    run_in_process, run_in_process_polled, run_in_process_stealing, run_in_process_with_devices,
    InProcessError, InProcessRun, StealOptions,
};

use crate::graph::{Graph, Handle, Output, Value};
use crate::plan::{PlanError, RankInfo, Resume};
use crate::sched::Executor;
use crate::trace::{ProgressMeter, RankSummary, Summary, TaskEvent, TraceEvents};
use crate::transport::{self, TransferStats};
use bootstrap::Distributed;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// Why a run did not happen or did not finish.
#[derive(Debug, Error)]
pub enum RunError {
    /// Rank 0 rejected the job before planning (it reported why itself).
    #[error("the job was rejected on rank 0")]
    Rejected,
    /// The plan cannot be made (on rank 0; other ranks get `Rejected`).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The ranks' kernel tables differ (rank 0 says how; the others get `Rejected`).
    #[error("{0}")]
    Kernels(String),
    /// A checkpoint value could not be read on some rank (it said why).
    #[error("the checkpoint could not be loaded")]
    Checkpoint,
    /// Threads could not be started.
    #[error("cannot start {threads} worker threads: {why}")]
    Pool {
        /// Requested threads.
        threads: usize,
        /// The cause.
        why: String,
    },
}

/// MPI, started once per process, and the failure detector that watches the other ranks.
pub struct Runtime {
    // Field order is drop order: the watchdog's goodbye handshake (every heartbeat sent is
    // received) ends before MPI is finalised.
    watchdog: Option<watchdog::Watchdog>,
    world: SimpleCommunicator,
    _universe: Universe,
    /// Set while `MPI_Finalize` runs (`_universe`'s drop), dropped after it.
    finalizing: Option<finalize::Guard>,
    /// The status the process ends with if `MPI_Finalize` hangs (`set_exit_status`).
    exit_status: std::sync::atomic::AtomicU8,
}

/// Default `--peer-timeout`: seconds of silence after which a rank counts as dead.
pub const DEFAULT_PEER_TIMEOUT: f64 = 60.0;

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.stop();
        }
        // The fields drop after this body, `_universe` (MPI_Finalize) before `finalizing`.
        self.finalizing = Some(finalize::Guard::start(
            self.exit_status.load(std::sync::atomic::Ordering::Relaxed),
            finalize::GRACE,
        ));
    }
}

/// What a finished run leaves on a rank.
pub struct RunResult {
    /// Output values by graph task index (rank 0 only).
    values: HashMap<u32, Arc<Value>>,
    /// The outputs as planned (rank 0 only).
    pub outputs: Vec<Output>,
    /// Figures of the run (rank 0 only).
    pub summary: Option<Summary>,
    /// Every task's and transfer's event, when `Settings::trace` was set (rank 0 only).
    pub trace: TraceEvents,
    /// What this rank's cost model learned, for `--calibration` (rank 0 only).
    pub calibration: Option<crate::plan::learn::Calibration>,
}

impl RunResult {
    /// The value of an output task (by default the graph's sinks), on rank 0.
    pub fn fetch(&self, h: Handle) -> Option<&Value> {
        self.values.get(&(h.index() as u32)).map(|v| v.as_ref())
    }

    /// The value of an output task by graph index, on rank 0.
    pub fn value(&self, task: u32) -> Option<&Value> {
        self.values.get(&task).map(|v| v.as_ref())
    }
}

impl Runtime {
    /// Starts MPI with `MPI_THREAD_MULTIPLE` (a singleton when not launched by mpirun) and
    /// installs the panic hook that aborts every rank.
    pub fn init() -> Result<Runtime, String> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Multiple)
            .ok_or("MPI was already initialised in this process")?;
        install_panic_hook();
        if level != Threading::Multiple {
            let world = universe.world();
            if world.rank() == 0 {
                tracing::warn!("the MPI library gives thread level {level:?}, not Multiple; dirk needs MPI_THREAD_MULTIPLE");
            }
            return Err("the MPI library does not support MPI_THREAD_MULTIPLE".into());
        }
        let world = universe.world();
        let hosts = host_names(&world);
        let watchdog = watchdog::Watchdog::start(
            hosts,
            std::time::Duration::from_secs_f64(DEFAULT_PEER_TIMEOUT),
        );
        Ok(Runtime {
            watchdog: Some(watchdog),
            world,
            _universe: universe,
            finalizing: None,
            exit_status: std::sync::atomic::AtomicU8::new(0),
        })
    }

    /// The exit status this rank has decided on (0 unless told): the status it ends with
    /// should `MPI_Finalize` hang (`finalize`).
    pub fn set_exit_status(&self, status: u8) {
        self.exit_status
            .store(status, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the failure detector's timeout (`--peer-timeout`).
    pub fn set_peer_timeout(&self, seconds: f64) {
        if let Some(w) = &self.watchdog {
            w.set_timeout(std::time::Duration::from_secs_f64(seconds));
        }
    }

    /// This process's rank.
    pub fn rank(&self) -> u32 {
        self.world.rank() as u32
    }

    /// Number of ranks.
    pub fn size(&self) -> u32 {
        self.world.size() as u32
    }

    /// The world communicator.
    pub fn world(&self) -> &SimpleCommunicator {
        &self.world
    }

    /// This rank's index among the ranks of its node: the launcher's variable when set, else
    /// its rank in a shared-memory split of the world (collective: every rank calls it).
    pub fn local_rank(&self) -> u32 {
        let split = self.world.split_shared(0).rank() as u32;
        crate::device::detect::local_rank_from(|k| std::env::var(k).ok()).unwrap_or(split)
    }

    /// Waits for every rank.
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// SPMD convenience: every rank calls this; rank 0's graph and settings are the ones used.
    pub fn run(&self, graph: &Graph, settings: &Settings) -> Result<RunResult, RunError> {
        let job = (self.rank() == 0).then_some(Some(Job {
            graph,
            settings,
            resume: None,
        }));
        self.launch(job)
    }

    /// Runs a job on every rank. Rank 0 passes `Some(Some(job))`, or `Some(None)` to reject a
    /// job it found bad (every rank then returns `Rejected`); the other ranks pass `None`.
    pub fn launch(&self, job: Option<Option<Job<'_>>>) -> Result<RunResult, RunError> {
        let t_start = Instant::now();
        let settings = bootstrap::share_settings(
            &self.world,
            job.as_ref().map(|j| j.as_ref().map(|j| j.settings)),
        )
        .ok_or(RunError::Rejected)?;
        bootstrap::agree_on_kernels(&self.world)
            .map_err(|e| e.map_or(RunError::Rejected, RunError::Kernels))?;
        if let Some(t) = settings.peer_timeout {
            self.set_peer_timeout(t);
        }
        let threads = settings.threads.unwrap_or_else(default_threads);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("dirk-worker-{i}"))
            .build()
            .map_err(|e| RunError::Pool {
                threads,
                why: e.to_string(),
            })?;
        let pool = Arc::new(pool);
        let (device, probe) = if settings.gpus {
            crate::device::select(true, self.local_rank())
        } else {
            crate::device::select(false, 0)
        };
        tracing::debug!("GPU: {}", probe.note);
        let me = RankInfo {
            threads: threads as u32,
            gpus: u32::from(device.is_some()),
        };
        let ranks = bootstrap::gather_ranks(&self.world, me);
        if settings.gpus
            && ranks
                .as_ref()
                .is_some_and(|r| r.iter().all(|r| r.gpus == 0))
        {
            tracing::info!(
                "gpus auto: no GPU found ({}); every task runs on CPU",
                probe.note
            );
        }
        crate::trace::record_phase("settings", t_start);
        let job = job.flatten();
        let prior_finished: Vec<u32> = job
            .as_ref()
            .and_then(|j| j.resume)
            .map(|r| {
                (0..r.finished.len() as u32)
                    .filter(|&i| r.finished[i as usize])
                    .collect()
            })
            .unwrap_or_default();
        let to_plan = job
            .as_ref()
            .zip(ranks.as_deref())
            .map(|(j, r)| (j.graph, r, j.resume));
        let plan = match bootstrap::distribute(&self.world, to_plan) {
            Distributed::Plan(p) => Arc::new(p),
            Distributed::Rejected(Some(e)) => return Err(RunError::Plan(e)),
            Distributed::Rejected(None) => return Err(RunError::Rejected),
        };
        let t_phase = Instant::now();
        // On rank 0 (no resume) this is mostly the wait for the other ranks' decoding.
        let (preloaded, resume_load_seconds) = self.load_checkpoint_slots(&plan)?;
        let t_phase = crate::trace::record_phase("decode", t_phase);
        let plan_seconds = t_start.elapsed().as_secs_f64();

        // Step 4: run this rank's share.
        let data_comm = self.world.duplicate();
        let stats = Arc::new(TransferStats::default());
        let sender = Arc::new(transport::mpi::sender(Arc::clone(&stats), self.rank()));
        let mut exec = Executor::new(
            Arc::clone(&plan),
            Arc::clone(&pool),
            Arc::clone(&sender) as _,
        );
        let model = Arc::new(crate::plan::learn::CostModel::new(
            plan.ranks,
            settings.calibration.as_ref(),
        ));
        if settings.steal && plan.ranks > 1 {
            links::measure(&self.world, &model);
            exec = exec.with_stealing(Arc::clone(&model), crate::sched::StealPolicy::Cost);
        }
        if let Some(d) = device {
            exec = exec.with_device(d);
        }
        let control_comm = self.world.duplicate();
        let meter = (self.rank() == 0).then(|| {
            ProgressMeter::new(plan.total_tasks, Instant::now())
                .with_prior(prior_finished.len() as u64)
        });
        let progress = transport::mpi::start(
            &sender,
            &data_comm,
            &control_comm,
            exec.inbox(),
            plan.remote_values()
                .map(|(key, source, ty)| transport::mpi::Expected {
                    key,
                    source,
                    ty: ty.clone(),
                })
                .collect(),
            settings.trace.then(|| exec.epoch()),
        );
        exec.prepare();
        self.world.barrier();
        let t_run = crate::trace::record_phase("setup", t_phase);
        let epoch_offset = t_run.saturating_duration_since(exec.epoch()).as_nanos() as u64;
        exec.start(preloaded);
        let ck_stats = drive::drive(
            &self.world,
            &exec,
            &stats,
            settings
                .checkpoint
                .as_ref()
                .map(|ck| checkpoint::Checkpointing::new(ck, &prior_finished)),
            std::time::Duration::from_secs_f64(
                settings.peer_timeout.unwrap_or(DEFAULT_PEER_TIMEOUT),
            ),
            meter,
        );
        let finished = match exec.finish() {
            Ok(f) => f,
            Err(failure) => {
                tracing::error!("{failure}");
                abort_all(1);
            }
        };
        let run_ns = t_run.elapsed().as_nanos() as u64;
        let mut transfers = progress.finish();
        let t_phase = crate::trace::record_phase("run", t_run);

        // Step 5: figures (and events) to rank 0.
        let busy: u64 = finished
            .timings
            .iter()
            .map(|t| t.end_ns - t.start_ns)
            .chain(finished.stolen.iter().map(|t| t.end_ns - t.start_ns))
            .sum();
        let (sent, received) = stats.bytes();
        let mine = [
            (finished.timings.len() + finished.stolen.len()) as u64,
            busy,
            sent,
            received,
            threads as u64,
            run_ns,
            finished.stolen.len() as u64,
            finished.given_away,
            finished.steal_requests,
            finished.steal_successes,
        ];
        let root = self.world.process_at_rank(0);
        let events_mine = if settings.trace {
            for t in &mut transfers {
                t.start_ns = t.start_ns.saturating_sub(epoch_offset);
                t.end_ns = t.end_ns.saturating_sub(epoch_offset);
            }
            let mut tasks = task_events(&plan, &finished.timings, epoch_offset);
            tasks.extend(finished.stolen.iter().map(|t| TaskEvent {
                rank: plan.rank,
                thread: t.thread,
                key: t.key,
                start_ns: t.start_ns.saturating_sub(epoch_offset),
                end_ns: t.end_ns.saturating_sub(epoch_offset),
            }));
            TraceEvents { tasks, transfers }
        } else {
            TraceEvents::default()
        };
        if self.rank() != 0 {
            root.gather_into(&mine[..]);
            if settings.trace {
                gather_all(&self.world, events_mine);
            }
            return Ok(RunResult {
                values: HashMap::new(),
                outputs: Vec::new(),
                summary: None,
                trace: TraceEvents::default(),
                calibration: None,
            });
        }
        let mut all = vec![0u64; FIGURES * self.size() as usize];
        root.gather_into_root(&mine[..], &mut all[..]);
        let trace = if settings.trace {
            let mut all = TraceEvents::default();
            for part in gather_all(&self.world, events_mine) {
                all.tasks.extend(part.tasks);
                all.transfers.extend(part.transfers);
            }
            all
        } else {
            TraceEvents::default()
        };
        let per_rank: Vec<RankSummary> = all
            .chunks(FIGURES)
            .enumerate()
            .map(|(r, c)| RankSummary {
                rank: r as u32,
                tasks: c[0],
                busy_seconds: c[1] as f64 * 1e-9,
                bytes_sent: c[2],
                bytes_received: c[3],
                threads: c[4] as u32,
                stolen: c[6],
                given_away: c[7],
                steal_requests: c[8],
                steal_successes: c[9],
            })
            .collect();
        let run_seconds = all.chunks(FIGURES).map(|c| c[5]).max().unwrap_or(0) as f64 * 1e-9;
        let tasks_stolen = per_rank.iter().map(|r| r.stolen).sum();
        crate::trace::record_phase("gather", t_phase);
        let summary = Summary {
            name: plan.name.clone(),
            dirk_version: env!("CARGO_PKG_VERSION").into(),
            ranks: self.size(),
            threads_per_rank: threads as u32,
            tasks: plan.total_tasks,
            wall_seconds: t_start.elapsed().as_secs_f64(),
            plan_seconds,
            run_seconds,
            checkpoints: ck_stats.taken,
            checkpoint_seconds: ck_stats.seconds,
            resume_load_seconds,
            steal: settings.steal && self.size() > 1,
            tasks_stolen,
            per_rank,
            phases: crate::trace::take_phases(),
        };
        Ok(RunResult {
            values: finished.outputs,
            outputs: plan.outputs.clone(),
            summary: Some(summary),
            trace,
            calibration: Some(model.calibration()),
        })
    }
}

/// Figures each rank reports at the end: tasks run, busy ns, bytes sent, bytes received,
/// threads, run ns, tasks run for others, own tasks run elsewhere, steal requests sent,
/// steal requests answered with tasks.
const FIGURES: usize = 10;

/// This rank's task events for the trace: timing and thread from the run, the key from the
/// plan; everything else is looked up in the graph on rank 0 when the trace is written.
fn task_events(
    plan: &crate::plan::LocalPlan,
    timings: &[crate::sched::TaskTiming],
    epoch_offset: u64,
) -> Vec<TaskEvent> {
    timings
        .iter()
        .map(|t| TaskEvent {
            rank: plan.rank,
            thread: t.thread,
            key: plan.slots[plan.tasks[t.task as usize].out as usize].key,
            start_ns: t.start_ns.saturating_sub(epoch_offset),
            end_ns: t.end_ns.saturating_sub(epoch_offset),
        })
        .collect()
}

impl Runtime {
    /// Reads this rank's checkpoint slots; if any rank cannot, every rank returns an error.
    /// Also returns the slowest rank's load time, seconds.
    fn load_checkpoint_slots(
        &self,
        plan: &crate::plan::LocalPlan,
    ) -> Result<(Vec<(u32, Value)>, f64), RunError> {
        let t = Instant::now();
        let mut loaded = Vec::new();
        let mut ok = true;
        for (slot, s, file) in plan.checkpoint_slots() {
            match crate::store::checkpoint::read_checkpoint_value(
                std::path::Path::new(file),
                s.key,
                &s.ty,
            ) {
                Ok(v) => loaded.push((slot, v)),
                Err(e) => {
                    tracing::error!("cannot resume: {e}");
                    ok = false;
                    break;
                }
            }
        }
        let mut all_ok = 0i32;
        self.world.all_reduce_into(
            &i32::from(ok),
            &mut all_ok,
            mpi::collective::SystemOperation::min(),
        );
        let mut slowest = 0f64;
        self.world.all_reduce_into(
            &t.elapsed().as_secs_f64(),
            &mut slowest,
            mpi::collective::SystemOperation::max(),
        );
        if all_ok == 1 {
            Ok((loaded, slowest))
        } else if ok {
            Err(RunError::Rejected)
        } else {
            Err(RunError::Checkpoint)
        }
    }
}

/// What rank 0 hands to `Runtime::launch`.
pub struct Job<'a> {
    /// The graph to run.
    pub graph: &'a Graph,
    /// The run settings.
    pub settings: &'a Settings,
    /// Where a resumed run starts from.
    pub resume: Option<&'a Resume>,
}

/// Gathers one serialisable item from every rank on rank 0, in rank order (MPI_Gatherv of
/// their postcard encodings; rank 0's own item is kept as it is, with a one-byte placeholder
/// on the wire); returns an empty list elsewhere.
fn gather_all<T: serde::Serialize + serde::de::DeserializeOwned>(
    world: &SimpleCommunicator,
    mine: T,
) -> Vec<T> {
    let root = world.process_at_rank(0);
    let bytes = if world.rank() == 0 {
        vec![0u8]
    } else {
        postcard::to_allocvec(&mine).expect("gathered items encode")
    };
    let len = bytes.len() as i32;
    if world.rank() != 0 {
        root.gather_into(&len);
        root.gather_varcount_into(&bytes[..]);
        return Vec::new();
    }
    let mut lens = vec![0i32; world.size() as usize];
    root.gather_into_root(&len, &mut lens[..]);
    let displs: Vec<i32> = lens
        .iter()
        .scan(0, |a, &l| {
            let d = *a;
            *a += l;
            Some(d)
        })
        .collect();
    let mut buf = vec![0u8; lens.iter().sum::<i32>() as usize];
    {
        let mut part = mpi::datatype::PartitionMut::new(&mut buf[..], &lens[..], &displs[..]);
        root.gather_varcount_into_root(&bytes[..], &mut part);
    }
    std::iter::once(mine)
        .chain(displs.iter().zip(&lens).skip(1).map(|(d, l)| {
            postcard::from_bytes(&buf[*d as usize..(*d + *l) as usize])
                .expect("gathered items decode")
        }))
        .collect()
}

/// Every rank's host name, on every rank (for messages about a silent rank).
fn host_names(world: &SimpleCommunicator) -> Vec<String> {
    const LEN: usize = 64;
    let name = mpi::environment::processor_name().unwrap_or_else(|_| "?".into());
    let mut mine = [0u8; LEN];
    for (d, s) in mine.iter_mut().zip(name.bytes().take(LEN - 1)) {
        *d = s;
    }
    let mut all = vec![0u8; LEN * world.size() as usize];
    world.all_gather_into(&mine[..], &mut all[..]);
    all.chunks(LEN)
        .map(|c| String::from_utf8_lossy(c.split(|&b| b == 0).next().unwrap_or(&[])).into_owned())
        .collect()
}

/// The cores this process may use (its CPU affinity mask, or cgroup quota).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One line per rank (host, threads, GPUs), gathered on rank 0 for `dirk info`.
pub fn describe_ranks(rt: &Runtime) -> Vec<String> {
    let host = mpi::environment::processor_name().unwrap_or_else(|_| "?".into());
    let local = rt.local_rank();
    let gpu = crate::device::probe(local);
    let line = format!(
        "rank {} (local {local}): host {host}, {} threads, GPUs visible: {}, {}",
        rt.rank(),
        default_threads(),
        gpu.visible,
        gpu.note
    );
    gather_all(&rt.world, line)
}
