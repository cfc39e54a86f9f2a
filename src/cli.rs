//! The `dirk` command line: flags, MPI start-up, wiring, and exit codes, as a library
//! function (`main_with`), so an application that registers its own kernels gets the whole
//! command line in its own binary. Everything else lives in the rest of the library.
//!
//! Exit status: 0 success; 2 bad input (job file, flags, an impossible scope, a missing or
//! unreadable input, a result path that would clobber a file, a graph rank 0 cannot hold),
//! reported once by rank 0 before any task runs, in one line of at most 1000 characters; 1 a
//! failure while running, which ends every rank.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use dirk::job::{self, Job, JobOptions};
use dirk::plan::Resume;
use dirk::registry::{self, Registry};
use dirk::runtime::checkpoint::CheckpointSettings;
use dirk::runtime::{self, RunError, Runtime, Settings};
use dirk::store::checkpoint;
use dirk::store::{self, OutputMeta};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tracing::{error, info, warn};

/// The job that `dirk run` runs when given none: the diamond of Dagger.jl's first example.
const BUILTIN_DIAMOND: &str = include_str!("../jobs/diamond.json");

#[derive(Parser)]
#[command(
    name = "dirk",
    version,
    about = "Run task graphs across an HPC cluster: one SPMD executable over MPI, threads and HDF5",
    long_about = "Run task graphs across an HPC cluster.\n\n\
        Start one dirk per rank, the way you start any MPI program:\n  \
        mpirun -n 4 dirk run job.json --output out.h5\n  \
        srun dirk run job.json --output out.h5\n\n\
        Rank 0 reads the job file, plans which rank runs each task and sends each rank its \
        share; every rank runs its tasks on its threads; values move between ranks by MPI.",
    after_help = "Exit status: 0 success; 2 bad input (reported before any task runs); 1 a failure while running.\n\
        Docs: README.md (quick start), ARCHITECTURE.md (how it works)."
)]
struct Cli {
    /// More log output (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// Errors only.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    quiet: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a job on every rank (start under mpirun or srun; alone it runs as one rank).
    #[command(after_help = "Examples:\n  \
        dirk run                                   the built-in diamond example, one rank\n  \
        mpirun -n 4 dirk run jobs/diamond.json --output d.h5 --summary s.json\n  \
        h5dump -H d.h5                             what the output holds\n\n\
        Limits: a workload of at most 2^31 tasks and no more than rank 0's memory holds (about\n\
        1 KiB a task); no task value larger than the node's memory; --threads at most 64 per core;\n\
        --peer-timeout and --checkpoint-interval at most 1e9 seconds. No result file may be another\n\
        result's, the job file, an input, or an existing folder, FIFO or device.")]
    Run(RunArgs),
    /// Parse and check a job file without running it (no MPI launch needed).
    Validate {
        /// The job file (JSON, format 1).
        job: PathBuf,
    },
    /// Show the MPI library, ranks, threads, GPUs and the HDF5 version.
    Info,
    /// Draw a Gantt chart of a trace (SVG), or with --dag a job's task graph (SVG or dot).
    #[command(after_help = "Examples:\n  \
        dirk plot trace.json -o gantt.svg          ranks × threads against time, coloured by op\n  \
        dirk plot --dag jobs/diamond.json -o dag.svg\n  \
        dirk plot --dag jobs/diamond.json -o dag.dot   Graphviz text (dot -Tpng dag.dot)")]
    Plot(PlotArgs),
    /// Print where the time went (per op, per rank, bytes, critical path) from a trace or summary.
    Report {
        /// A --trace or --summary file of a run.
        file: PathBuf,
    },
    /// Run Task Bench's task graphs with Task Bench's own flags and print its summary lines
    /// (`dirk taskbench -h` lists the flags).
    #[command(disable_help_flag = true)]
    Taskbench {
        /// Task Bench's flags (-steps -width -type -kernel -iter -output … -and …), and dirk's
        /// --threads N, --trace FILE, --summary FILE.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            num_args = 0..,
            value_name = "FLAGS"
        )]
        flags: Vec<String>,
    },
}

#[derive(Args)]
struct PlotArgs {
    /// The trace (or, with --dag, the job file).
    input: PathBuf,
    /// Where to write the picture.
    #[arg(short, long, value_name = "OUT.svg")]
    output: PathBuf,
    /// Draw the job's task graph instead of a trace (small graphs only).
    #[arg(long)]
    dag: bool,
    /// Width of the Gantt chart in pixels.
    #[arg(long, default_value_t = 1400, value_parser = clap::value_parser!(u32).range(300..=20000))]
    width: u32,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Gpus {
    /// Use a GPU where one is found.
    Auto,
    /// Never use a GPU.
    None,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OnOff {
    On,
    Off,
}

#[derive(Args)]
struct RunArgs {
    /// The job file (JSON, format 1). Without one, runs the built-in diamond example.
    job: Option<PathBuf>,
    /// Write the outputs here (HDF5): one dataset per output at /<id>.
    #[arg(short, long, value_name = "OUT.h5")]
    output: Option<PathBuf>,
    /// Worker threads per rank, at most 64 per core [default: the cores this rank may use].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Use GPUs: auto (where found) or none.
    #[arg(long, value_enum, value_name = "auto|none")]
    gpus: Option<Gpus>,
    /// Write checkpoints under this folder.
    #[arg(long, value_name = "DIR")]
    checkpoint_dir: Option<PathBuf>,
    /// Seconds between checkpoints, at most 1e9 [default: 60 when --checkpoint-dir is given].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    checkpoint_interval: Option<f64>,
    /// Resume from the newest usable checkpoint in --checkpoint-dir.
    #[arg(long)]
    resume: bool,
    /// Write a Chrome trace-event file (open it in ui.perfetto.dev).
    #[arg(long, value_name = "TRACE.json")]
    trace: Option<PathBuf>,
    /// Write a JSON summary of the run.
    #[arg(long, value_name = "SUMMARY.json")]
    summary: Option<PathBuf>,
    /// Let idle ranks take ready tasks from loaded ones [default: on].
    #[arg(long, value_enum, value_name = "on|off")]
    steal: Option<OnOff>,
    /// Seed the cost model from this file when it exists, and write what the run measured
    /// to it at the end (task times per op and size, link latency and bandwidth).
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// Seconds of silence after which a peer rank counts as dead (killed, frozen or cut off)
    /// and the job ends with status 1; at most 1e9 [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    peer_timeout: Option<f64>,
}

/// Parses a flag's number of seconds (see `job::check_seconds`); clap names the flag.
fn seconds(s: &str) -> Result<f64, String> {
    let x: f64 = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    job::check_seconds(x)
}

/// Rank of this process as the launcher says, before MPI starts (for reporting bad flags once).
fn launcher_rank() -> u32 {
    [
        "OMPI_COMM_WORLD_RANK",
        "PMI_RANK",
        "PMIX_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .find_map(|v| std::env::var(v).ok()?.parse().ok())
    .unwrap_or(0)
}

/// The `dirk` command line (`run`, `validate`, `info`, `plot`, `report`, `taskbench`) over
/// the kernel table `registry`: what `dirk`'s own `main` calls with
/// `Registry::with_builtins()`, and an application's `main` with its kernels added.
///
/// Panics when the process's kernel table is already in use (`registry::install`).
pub fn main_with(registry: Registry) -> ExitCode {
    if registry::install(registry).is_err() {
        panic!("main_with: the process's kernel table was already in use");
    }
    // Before the heap grows: a 2 MiB huge-page fault stalls a rank for milliseconds on a VM.
    runtime::pages::no_huge_pages();
    // Task Bench's flags are single-dash words (-steps, -v, -vv): hand them over untouched,
    // so that its -v is not taken for dirk's. Arguments need not be UTF-8 (clap takes the
    // rest as they come); Task Bench's must be.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "taskbench") {
        let flags: Result<Vec<String>, _> =
            argv[2..].iter().map(|a| a.clone().into_string()).collect();
        return match flags {
            Ok(flags) => taskbench(&flags, 0),
            Err(bad) => {
                if launcher_rank() == 0 {
                    eprintln!(
                        "dirk taskbench: error: the argument {bad:?} is not valid UTF-8 text"
                    );
                }
                ExitCode::from(2)
            }
        };
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            if launcher_rank() == 0 || !e.use_stderr() {
                let _ = e.print();
            }
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let verbosity = i32::from(cli.verbose) - i32::from(cli.quiet);
    match cli.command {
        Command::Validate { job } => validate(&job, verbosity),
        Command::Info => info_cmd(verbosity),
        Command::Run(args) => run(args, verbosity),
        Command::Plot(args) => plot(&args, verbosity),
        Command::Report { file } => report(&file, verbosity),
        Command::Taskbench { flags } => taskbench(&flags, verbosity),
    }
}

/// `dirk plot`: a Gantt chart of a trace, or a drawing of a job's graph. Bad input exits 2.
fn plot(a: &PlotArgs, verbosity: i32) -> ExitCode {
    dirk::logging::init(None, verbosity);
    let started = std::time::Instant::now();
    let input = [("the input".to_string(), a.input.clone())];
    if let Err(e) = store::check_results(&[("--output".to_string(), a.output.clone())], &input) {
        error!("{}", brief(&e));
        return ExitCode::from(2);
    }
    let drawn = if a.dag {
        job::load(&a.input)
            .map_err(|e| format!("{}: {e}", a.input.display()))
            .and_then(|job| {
                dirk::trace::write_dag(&job.graph, &a.output).map_err(|e| e.to_string())
            })
            .map(|()| "the task graph".to_string())
    } else {
        dirk::trace::load_trace(&a.input)
            .map_err(|e| e.to_string())
            .and_then(|t| {
                let opt = dirk::trace::GanttOptions {
                    width: a.width,
                    ..Default::default()
                };
                let svg = dirk::trace::render_gantt(&t, &opt);
                store::write_file_atomic(&a.output, svg.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", a.output.display()))
                    .map(|()| format!("{} spans", t.spans.len()))
            })
    };
    match drawn {
        Ok(what) => {
            info!(
                "wrote {} ({what}) in {:.2} s",
                a.output.display(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{}", brief(&e));
            ExitCode::from(2)
        }
    }
}

/// `dirk report`: tables from a trace or a summary. Bad input exits 2.
fn report(path: &Path, verbosity: i32) -> ExitCode {
    dirk::logging::init(None, verbosity);
    match dirk::trace::load_any(path) {
        Ok(dirk::trace::Loaded::Trace(t)) => print!("{}", dirk::trace::report_trace(&t)),
        Ok(dirk::trace::Loaded::Summary(s)) => print!("{}", dirk::trace::report_summary(&s)),
        Err(e) => {
            error!("{}", brief(&e.to_string()));
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

fn validate(path: &Path, verbosity: i32) -> ExitCode {
    dirk::logging::init(None, verbosity);
    let checked = job::load(path)
        .map_err(|e| located(path, &e))
        .and_then(|job| {
            job.options.check().map_err(|e| located(path, &e))?;
            // What `run` checks on rank 0 before any task runs, as far as the job says it.
            check_value_sizes(&job.graph)?;
            let o = &job.options;
            let results = [
                ("options.output", &o.output),
                ("options.summary", &o.summary),
                ("options.trace", &o.trace),
            ];
            let results: Vec<(String, PathBuf)> = results
                .into_iter()
                .filter_map(|(k, p)| Some((k.to_string(), p.clone()?)))
                .collect();
            store::check_results(&results, &inputs_of(Some(path), &job))?;
            Ok(job)
        });
    match checked {
        Ok(job) => {
            let g = &job.graph;
            let edges: usize = g.tasks().iter().map(|t| t.inputs().count()).sum();
            let outputs: Vec<String> = g.outputs().into_iter().map(|o| o.name).collect();
            println!(
                "{}: ok: job {:?}, {} tasks, {} edges, outputs: {}",
                path.display(),
                g.name,
                g.len(),
                edges,
                if outputs.is_empty() {
                    "none".to_string()
                } else {
                    outputs.join(", ")
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("{}", brief(&e));
            ExitCode::from(2)
        }
    }
}

/// The longest error line dirk prints: a message quoting a huge id or value is cut here.
const MAX_ERROR_CHARS: usize = 1000;

/// `msg` on one line and at most [`MAX_ERROR_CHARS`] characters, saying how much was cut.
fn brief(msg: &str) -> String {
    let one_line = msg.replace(['\n', '\r'], " ");
    match one_line.char_indices().nth(MAX_ERROR_CHARS) {
        None => one_line,
        Some((cut, _)) => format!(
            "{} … ({} more characters)",
            &one_line[..cut],
            one_line[cut..].chars().count()
        ),
    }
}

/// The files a run reads, which no result may overwrite: the job file and every input its
/// tasks load, once each.
fn inputs_of(job_file: Option<&Path>, job: &job::Job) -> Vec<(String, PathBuf)> {
    let mut files = std::collections::BTreeSet::new();
    for t in job.graph.tasks() {
        if let Some(file) = t.op.input_file() {
            files.insert(file);
        }
    }
    job_file
        .map(|p| ("the job file".to_string(), p.to_path_buf()))
        .into_iter()
        .chain(
            files
                .into_iter()
                .map(|f| ("an input file".to_string(), PathBuf::from(f))),
        )
        .chain(
            job.plugins
                .iter()
                .map(|p| ("a kernel plugin".to_string(), p.clone())),
        )
        .collect()
}

/// A job error with the job file's path in front, unless the error is about the file itself.
fn located(path: &Path, e: &job::JobError) -> String {
    if e.at == path.display().to_string() {
        e.to_string()
    } else {
        format!("{}: {e}", path.display())
    }
}

/// A job error found while preparing a run, with the job file's path in front.
fn job_error(args: &RunArgs, e: &job::JobError) -> String {
    match &args.job {
        Some(p) => located(p, e),
        None => e.to_string(),
    }
}

fn start_mpi(verbosity: i32) -> Result<Runtime, ExitCode> {
    match Runtime::init() {
        Ok(rt) => {
            dirk::logging::init(Some(rt.rank()), verbosity);
            Ok(rt)
        }
        Err(e) => {
            dirk::logging::init(None, verbosity);
            error!("cannot start MPI: {e}");
            Err(ExitCode::from(1))
        }
    }
}

/// Everything rank 0 decides before the run: the job and the merged flags.
struct Prepared {
    job: Job,
    settings: Settings,
    output: Option<PathBuf>,
    summary: Option<PathBuf>,
    trace: Option<PathBuf>,
    resume: Option<Resume>,
    calibration: Option<PathBuf>,
}

fn prepare(args: &RunArgs, ranks: u32) -> Result<Prepared, String> {
    let job = match &args.job {
        Some(p) => job::load(p).map_err(|e| located(p, &e))?,
        None => {
            info!("no job file given: running the built-in diamond example (jobs/diamond.json)");
            job::from_str(BUILTIN_DIAMOND, "built-in diamond", Path::new("."))
                .map_err(|e| e.to_string())?
        }
    };
    let t_prepare = std::time::Instant::now();
    let o: &JobOptions = &job.options;
    if let Some(t) = args.threads {
        job::check_threads(t as usize).map_err(|e| format!("--threads: {e}"))?;
    }
    let threads = args.threads.map(|t| t as usize).or(o.threads);
    let gpus = args
        .gpus
        .map(|g| g == Gpus::Auto)
        .unwrap_or(o.gpus.as_deref() != Some("none"));
    if !gpus {
        let off = if args.gpus.is_some() {
            "--gpus none"
        } else {
            "options.gpus \"none\""
        };
        let gpu = dirk::graph::Scope::Device(dirk::graph::DeviceClass::Gpu);
        if let Some(t) = job.graph.tasks().iter().find(|t| t.scope == gpu) {
            return Err(format!(
                "task {:?}: scope {{\"device\": \"gpu\"}} but GPUs were turned off with {off} \
                 (use --gpus auto on a GPU node, or drop the scope)",
                t.id
            ));
        }
    }
    let steal = args
        .steal
        .map(|s| s == OnOff::On)
        .unwrap_or(o.steal.as_deref() != Some("off"));
    let trace = args.trace.clone().or(o.trace.clone());
    let mut results = Vec::new();
    let written = [
        ("--output", "options.output", &args.output, &o.output),
        ("--summary", "options.summary", &args.summary, &o.summary),
        ("--trace", "options.trace", &args.trace, &o.trace),
        ("--calibration", "", &args.calibration, &None),
    ];
    for (flag, key, cli, opt) in written {
        let (name, path) = match (cli, opt) {
            (Some(p), _) => (flag, p),
            (None, Some(p)) => (key, p),
            (None, None) => continue,
        };
        results.push((name.to_string(), path.clone()));
    }
    // No result over another, over the job file or an input, or over a device or FIFO.
    store::check_results(&results, &inputs_of(args.job.as_deref(), &job))?;
    for (name, path) in &results {
        store::check_writable(path).map_err(|e| format!("{name} {}: {e}", path.display()))?;
    }
    check_value_sizes(&job.graph)?;
    // Last: this may create the checkpoint folder.
    let calibration = match &args.calibration {
        Some(path) => dirk::plan::learn::read_calibration(path)
            .map_err(|e| format!("--calibration {}: {e}", path.display()))?,
        None => None,
    };
    let (checkpoint, resume) = checkpointing(args, o, &job.graph)?;
    let settings = Settings {
        threads,
        trace: trace.is_some(),
        checkpoint,
        peer_timeout: args.peer_timeout.or(o.peer_timeout),
        gpus,
        steal,
        calibration,
    };
    info!(
        "job {:?}: {} tasks on {ranks} rank{}",
        job.graph.name,
        job.graph.len(),
        if ranks == 1 { "" } else { "s" }
    );
    dirk::trace::record_phase("prepare", t_prepare);
    Ok(Prepared {
        output: args.output.clone().or(o.output.clone()),
        summary: args.summary.clone().or(o.summary.clone()),
        trace,
        settings,
        job,
        resume,
        calibration: args.calibration.clone(),
    })
}

/// Refuses a task whose value alone needs more bytes than this node's physical memory: it
/// could never run, so the job is bad input rather than a failure hours in.
fn check_value_sizes(graph: &dirk::Graph) -> Result<(), String> {
    let Some(ram) = dirk::runtime::ram::physical_memory() else {
        return Ok(());
    };
    let gib = |b: u64| b as f64 / f64::from(1u32 << 30);
    for t in graph.tasks() {
        let bytes = t.ty.bytes() as u64;
        if bytes > ram {
            return Err(format!(
                "task {:?}: its value needs {bytes} bytes ({:.1} GiB), more than this node's \
                 physical memory of {ram} bytes ({:.1} GiB); it can never run: use smaller \
                 arrays or more tiles",
                t.id,
                gib(bytes),
                gib(ram)
            ));
        }
    }
    Ok(())
}

/// Default seconds between checkpoints when only `--checkpoint-dir` is given.
const DEFAULT_CHECKPOINT_INTERVAL: f64 = 60.0;

/// The checkpoint settings and, with `--resume`, the checkpoint to start from.
fn checkpointing(
    args: &RunArgs,
    o: &JobOptions,
    graph: &dirk::Graph,
) -> Result<(Option<CheckpointSettings>, Option<Resume>), String> {
    let flag = if args.checkpoint_dir.is_some() {
        "--checkpoint-dir"
    } else {
        "options.checkpoint_dir"
    };
    let Some(dir) = args.checkpoint_dir.clone().or(o.checkpoint_dir.clone()) else {
        if args.resume {
            return Err("--resume needs --checkpoint-dir DIR (where the checkpoints are)".into());
        }
        if args.checkpoint_interval.is_some() {
            return Err("--checkpoint-interval needs --checkpoint-dir DIR".into());
        }
        o.check().map_err(|e| job_error(args, &e))?;
        return Ok((None, None));
    };
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{flag} {}: not a folder (a file of that name exists)",
            dir.display()
        ));
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{flag} {}: {e}", dir.display()))?;
    let fingerprint = dirk::plan::fingerprint(graph);
    let mut resume = None;
    let mut resumed_from = None;
    if args.resume {
        let as_resume = |f: &checkpoint::Found| -> Result<Resume, String> {
            let mut finished = vec![false; graph.len()];
            for &t in &f.finished {
                *finished
                    .get_mut(t as usize)
                    .ok_or("it names a task the job does not have")? = true;
            }
            let r = Resume {
                finished,
                holder: f.values.iter().copied().collect(),
                files: f.files.iter().map(|p| p.display().to_string()).collect(),
            };
            r.check(graph)?;
            Ok(r)
        };
        // An unusable newest checkpoint (corrupt, or the job cannot be planned from it) falls
        // back to the next older one of this job, with a line saying why.
        let (found, notes) = checkpoint::find_resumable(&dir, &fingerprint, as_resume);
        match found {
            Some((f, r)) => {
                for n in &notes {
                    warn!("{n}");
                }
                info!(
                    "resuming from checkpoint {} ({} of {} tasks finished)",
                    f.seq,
                    f.finished.len(),
                    graph.len()
                );
                resume = Some(r);
                resumed_from = Some(f.seq);
            }
            // One line (DESIGN), naming why the newest was passed over.
            None => info!(
                "no usable checkpoint in {}{}: starting from the beginning",
                dir.display(),
                match notes.len() {
                    0 => String::new(),
                    1 => format!(" ({})", notes[0]),
                    n => format!(" ({}; {} older passed over too)", notes[0], n - 1),
                }
            ),
        }
    }
    let settings = CheckpointSettings {
        dir,
        interval: args
            .checkpoint_interval
            .or(o.checkpoint_interval)
            .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL),
        fingerprint,
        resumed_from,
    };
    Ok((Some(settings), resume))
}

fn run(args: RunArgs, verbosity: i32) -> ExitCode {
    let rt = match start_mpi(verbosity) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    if let Some(t) = args.peer_timeout {
        rt.set_peer_timeout(t);
    }
    let prepared = if rt.rank() == 0 {
        match prepare(&args, rt.size()) {
            Ok(p) => Some(Some(p)),
            Err(e) => {
                error!("{}", brief(&e));
                Some(None)
            }
        }
    } else {
        None
    };
    let job = prepared.as_ref().map(|p| {
        p.as_ref().map(|p| runtime::Job {
            graph: &p.job.graph,
            settings: &p.settings,
            resume: p.resume.as_ref(),
        })
    });
    let result = match launch(&rt, job) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(Some(p)) = &prepared {
        if let Err(e) = write_results(p, &result, rt.size()) {
            error!("{e}");
            runtime::abort_all(1);
        }
    }
    // The job and the results are left to the process's exit: freeing a graph of a million
    // tasks one allocation at a time takes longer than running them.
    std::mem::forget(result);
    std::mem::forget(prepared);
    rt.barrier();
    ExitCode::SUCCESS
}

/// Runs the job on every rank. Bad input (a rejected job, plan or checkpoint) is exit 2 on
/// every rank; any other failure logs and ends every rank with `MPI_Abort` (exit 1).
fn launch(
    rt: &Runtime,
    job: Option<Option<runtime::Job<'_>>>,
) -> Result<runtime::RunResult, ExitCode> {
    let rejected = || {
        rt.set_exit_status(2);
        Err(ExitCode::from(2))
    };
    match rt.launch(job) {
        Ok(r) => Ok(r),
        Err(RunError::Rejected) | Err(RunError::Checkpoint) => rejected(),
        Err(RunError::Plan(e)) => {
            error!("{}", brief(&e.to_string()));
            rejected()
        }
        Err(e @ RunError::Kernels(_)) => {
            error!("{e}");
            rejected()
        }
        Err(e) => {
            error!("{e}");
            runtime::abort_all(1);
        }
    }
}

fn write_results(p: &Prepared, r: &runtime::RunResult, ranks: u32) -> Result<(), String> {
    let t_write = std::time::Instant::now();
    if let Some(path) = &p.output {
        let meta = OutputMeta {
            job: &p.job.graph.name,
            ranks,
        };
        store::write_outputs(path, &r.outputs, &meta, |t| {
            r.value(t)
                .expect("every output part was gathered on rank 0")
        })
        .map_err(|e| format!("cannot write the output: {e}"))?;
        info!("wrote {}", path.display());
    }
    let mut summary = r.summary.clone().expect("rank 0 has the summary");
    dirk::trace::record_phase("write", t_write);
    summary.phases.extend(dirk::trace::take_phases());
    info!(
        "done: {} tasks in {:.3} s ({:.3} s planning)",
        summary.tasks, summary.wall_seconds, summary.plan_seconds
    );
    if let Some(path) = &p.summary {
        dirk::trace::write_json_atomic(path, &summary)
            .map_err(|e| format!("cannot write the summary {}: {e}", path.display()))?;
    }
    if let (Some(path), Some(c)) = (&p.calibration, &r.calibration) {
        dirk::plan::learn::write_calibration(path, c)
            .map_err(|e| format!("cannot write the calibration {}: {e}", path.display()))?;
    }
    if let Some(path) = &p.trace {
        dirk::trace::write_chrome_trace(path, &p.job.graph, &r.trace)
            .map_err(|e| format!("cannot write the trace {}: {e}", path.display()))?;
        info!(
            "wrote trace {} ({} tasks, {} transfer events)",
            path.display(),
            r.trace.tasks.len(),
            r.trace.transfers.len()
        );
    }
    Ok(())
}

/// `dirk taskbench FLAGS`: Task Bench's graphs, flags and output lines. Bad flags exit 2 on
/// every rank before MPI starts (rank 0 says why); rank 0 prints Task Bench's header before
/// the run and its summary after it, the elapsed time being the run phase (`run_seconds`:
/// from a barrier after planning to the last rank's last task), as Task Bench's MPI port
/// times barrier to barrier.
fn taskbench(flags: &[String], verbosity: i32) -> ExitCode {
    use dirk::taskbench::{self as tb, Parsed};
    use std::io::Write;
    let app = match tb::parse(flags) {
        Ok(Parsed::Run(app)) => app,
        Ok(Parsed::Help(text)) => {
            if launcher_rank() == 0 {
                print!("{text}");
            }
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            if launcher_rank() == 0 {
                eprintln!("dirk taskbench: {e}");
                eprintln!("dirk taskbench: run `dirk taskbench -h` for the flags");
            }
            return ExitCode::from(2);
        }
    };
    let results: Vec<(String, PathBuf)> = [("--trace", &app.trace), ("--summary", &app.summary)]
        .into_iter()
        .filter_map(|(f, p)| Some((f.to_string(), p.clone()?)))
        .collect();
    let bad = store::check_results(&results, &[]).err().or_else(|| {
        let t = app.threads?;
        job::check_threads(t as usize)
            .err()
            .map(|e| format!("--threads: {e}"))
    });
    if let Some(e) = bad {
        if launcher_rank() == 0 {
            eprintln!("dirk taskbench: error: {e}");
        }
        return ExitCode::from(2);
    }
    let rt = match start_mpi(verbosity) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let settings = Settings {
        threads: app.threads.map(|t| t as usize),
        trace: app.trace.is_some(),
        checkpoint: None,
        peer_timeout: None,
        gpus: false,
        steal: app.steal,
        calibration: None,
    };
    let graph = (rt.rank() == 0).then(|| {
        if !app.ignored.is_empty() {
            warn!("taskbench: ignoring unknown arguments {:?}", app.ignored);
        }
        let mut g = dirk::Graph::new();
        g.name = "taskbench".into();
        match job::workloads::spawn_taskbench(&app.graphs, &mut g) {
            Ok(()) => {
                print!("{}", tb::display(&app));
                let _ = std::io::stdout().flush();
                Some(g)
            }
            Err(e) => {
                error!("taskbench: {}", brief(&e.to_string()));
                None
            }
        }
    });
    let job = graph.as_ref().map(|g| {
        g.as_ref().map(|g| runtime::Job {
            graph: g,
            settings: &settings,
            resume: None,
        })
    });
    let result = match launch(&rt, job) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if let Some(Some(g)) = &graph {
        let summary = result.summary.as_ref().expect("rank 0 has the summary");
        print!("{}", tb::report_timing(&app, summary.run_seconds));
        let _ = std::io::stdout().flush();
        let mut written = Ok(());
        if let Some(path) = &app.summary {
            written = dirk::trace::write_json_atomic(path, summary)
                .map_err(|e| format!("cannot write the summary {}: {e}", path.display()));
        }
        if let (Ok(()), Some(path)) = (&written, &app.trace) {
            written = dirk::trace::write_chrome_trace(path, g, &result.trace)
                .map_err(|e| format!("cannot write the trace {}: {e}", path.display()));
        }
        if let Err(e) = written {
            error!("{e}");
            runtime::abort_all(1);
        }
    }
    rt.barrier();
    ExitCode::SUCCESS
}

fn info_cmd(verbosity: i32) -> ExitCode {
    let rt = match start_mpi(verbosity) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let lines = dirk::runtime::describe_ranks(&rt);
    if rt.rank() == 0 {
        let (maj, min) = mpi::environment::version();
        let lib = mpi::environment::library_version().unwrap_or_default();
        // The first line names the library: "Open MPI v4.1.4, ..." or, with its tab
        // squeezed, "MPICH Version: 4.0.2".
        let lib = lib
            .trim_end_matches('\0')
            .lines()
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let h5 = hdf5::library_version();
        println!("dirk {}", env!("CARGO_PKG_VERSION"));
        println!("MPI: {lib} (standard {maj}.{min})");
        println!("HDF5: {}.{}.{}", h5.0, h5.1, h5.2);
        println!("ranks: {}", rt.size());
        for l in lines {
            println!("  {l}");
        }
        let table = registry::global();
        println!(
            "kernels: {} (fingerprint {:016x})",
            table.kernels().count(),
            table.fingerprint()
        );
        for k in table.kernels() {
            let from = match (k.is_builtin(), k.in_jobs()) {
                (true, true) => "built-in",
                (true, false) => "built-in, workloads only",
                (false, _) => "app",
            };
            let gpu = match k.gpu() {
                None => "cpu".to_string(),
                Some(g) => {
                    let d: Vec<&str> = g.dtypes.iter().map(|d| d.name()).collect();
                    let bits = if g.bit_identical {
                        "bit-identical"
                    } else {
                        "own order"
                    };
                    format!("cpu+gpu {} ({bits})", d.join("|"))
                }
            };
            println!(
                "  {:<14} {:<34} {:<40} {from}",
                k.name(),
                k.signature().to_string(),
                gpu
            );
        }
    }
    rt.barrier();
    ExitCode::SUCCESS
}
