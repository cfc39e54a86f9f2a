//! Task Bench's command line (`App::App` in its `core.cc`): `-steps 100 -width 4 -type
//! stencil_1d -kernel compute_bound -iter 1024 -and -steps …`. Values are checked as Task
//! Bench checks them, with the same messages, but an error is returned (the CLI exits 2)
//! instead of calling `abort()`, and a number that does not parse is an error rather than 0.
//! Unknown arguments are skipped, as Task Bench skips them (other ports' flags such as
//! `-core 2` pass through); `ignored` lists them so the caller can warn.
//!
//! dirk's own options for the run use two dashes: `--threads N`, `--trace FILE`,
//! `--summary FILE`.

use super::kernel::{KernelKind, KERNEL_NAMES, UNSUPPORTED_KERNELS};
use super::pattern::{GraphSpec, Pattern, PATTERN_NAMES};
use std::path::PathBuf;

/// A parsed Task Bench command line.
#[derive(Clone, Debug, PartialEq)]
pub struct App {
    /// The task graphs, one per `-and`-separated group of flags.
    pub graphs: Vec<GraphSpec>,
    /// `-nodes`: used only to estimate local and nonlocal dependencies in the report.
    pub nodes: i64,
    /// `-v` (1) / `-vv` (2): print every timestep's points and dependencies.
    pub verbose: u32,
    /// False with `-skip-graph-validation` (Task Bench checks only in debug builds; dirk
    /// validates every task's inputs always, so this is accepted and has no effect).
    pub enable_graph_validation: bool,
    /// `--threads N`: worker threads per rank.
    pub threads: Option<u32>,
    /// `--trace FILE`: a Chrome trace of the run.
    pub trace: Option<PathBuf>,
    /// `--summary FILE`: dirk's JSON summary of the run.
    pub summary: Option<PathBuf>,
    /// `--steal on|off`: cross-rank work stealing (on by default, as for `dirk run`).
    pub steal: bool,
    /// Arguments that were not recognised (skipped).
    pub ignored: Vec<String>,
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum Parsed {
    /// Run the app.
    Run(App),
    /// `-h`: print this help text and exit 0.
    Help(String),
}

fn value<'a>(args: &'a [String], i: &mut usize, flag: &str) -> Result<&'a str, String> {
    *i += 1;
    args.get(*i)
        .map(String::as_str)
        .ok_or_else(|| format!("error: Flag \"{flag}\" requires an argument"))
}

fn int(args: &[String], i: &mut usize, flag: &str) -> Result<i64, String> {
    let v = value(args, i, flag)?;
    v.trim()
        .parse::<i64>()
        .map_err(|_| format!("error: Invalid flag \"{flag} {v}\" must be an integer"))
}

fn float(args: &[String], i: &mut usize, flag: &str) -> Result<f64, String> {
    let v = value(args, i, flag)?;
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("error: Invalid flag \"{flag} {v}\" must be a number"))
}

/// Parses Task Bench's flags (without the program name).
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut app = App {
        graphs: Vec::new(),
        nodes: 0,
        verbose: 0,
        enable_graph_validation: true,
        threads: None,
        trace: None,
        summary: None,
        steal: true,
        ignored: Vec::new(),
    };
    let mut g = GraphSpec::new(0);
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help(help())),
            "-nodes" => {
                let v = int(args, &mut i, flag)?;
                if v <= 0 {
                    return Err(format!("error: Invalid flag \"-nodes {v}\" must be > 0"));
                }
                app.nodes = v;
            }
            "-v" => app.verbose += 1,
            "-vv" => app.verbose += 2,
            "-skip-graph-validation" => app.enable_graph_validation = false,
            "-steps" | "-width" => {
                let v = int(args, &mut i, flag)?;
                if v <= 0 {
                    return Err(format!("error: Invalid flag \"{flag} {v}\" must be > 0"));
                }
                if flag == "-steps" {
                    g.timesteps = v;
                } else {
                    g.max_width = v;
                }
            }
            "-type" => {
                let name = value(args, &mut i, flag)?;
                g.dependence = Pattern::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = PATTERN_NAMES.iter().map(|(n, _)| *n).collect();
                    if name == "random_spread" {
                        "error: Invalid flag \"-type random_spread\": Task Bench defines no \
                         dependencies for it"
                            .to_string()
                    } else {
                        format!(
                            "error: Invalid flag \"-type {name}\" (known: {})",
                            known.join(", ")
                        )
                    }
                })?;
            }
            "-radix" | "-period" => {
                let v = int(args, &mut i, flag)?;
                if v < 0 {
                    return Err(format!("error: Invalid flag \"{flag} {v}\" must be >= 0"));
                }
                if flag == "-radix" {
                    g.radix = v;
                } else {
                    g.period = v;
                }
            }
            "-fraction" => {
                let v = float(args, &mut i, flag)?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(format!(
                        "error: Invalid flag \"-fraction {v:.6}\" must be >= 0 and <= 1"
                    ));
                }
                g.fraction_connected = v;
            }
            "-kernel" => {
                let name = value(args, &mut i, flag)?;
                g.kernel.kind = KernelKind::parse(name).ok_or_else(|| {
                    let known: Vec<&str> = KERNEL_NAMES.iter().map(|(n, _)| *n).collect();
                    if UNSUPPORTED_KERNELS.contains(&name) {
                        format!(
                            "error: Invalid flag \"-kernel {name}\": not supported by dirk \
                             (supported: {})",
                            known.join(", ")
                        )
                    } else {
                        format!(
                            "error: Invalid flag \"-kernel {name}\" (known: {})",
                            known.join(", ")
                        )
                    }
                })?;
            }
            "-iter" | "-scratch" => {
                let v = int(args, &mut i, flag)?;
                if v < 0 {
                    return Err(format!("error: Invalid flag \"{flag} {v}\" must be >= 0"));
                }
                if flag == "-iter" {
                    g.kernel.iterations = v;
                } else {
                    g.scratch_bytes = v;
                }
            }
            "-output" => {
                let v = int(args, &mut i, flag)?;
                if v < 16 {
                    return Err(format!("error: Invalid flag \"-output {v}\" must be >= 16"));
                }
                g.output_bytes = v;
            }
            "-sample" => {
                let v = int(args, &mut i, flag)?;
                if !(0..=i64::from(i32::MAX)).contains(&v) {
                    return Err(format!("error: Invalid flag \"-sample {v}\" must be >= 0"));
                }
                g.kernel.samples = v as i32;
            }
            "-imbalance" => {
                let v = float(args, &mut i, flag)?;
                if !(0.0..=2.0).contains(&v) {
                    return Err(format!(
                        "error: Invalid flag \"-imbalance {v:.6}\" must be >= 0 and <= 2"
                    ));
                }
                g.kernel.imbalance = v;
            }
            "-field" => {
                let v = int(args, &mut i, flag)?;
                if v <= 0 {
                    return Err(format!("error: Invalid flag \"-field {v}\" must be > 1"));
                }
                g.nb_fields = v;
            }
            "-and" => {
                g.resolve_defaults();
                let next = GraphSpec::new(app.graphs.len() as i64 + 1);
                app.graphs.push(std::mem::replace(&mut g, next));
            }
            "--threads" => {
                let v = int(args, &mut i, flag)?;
                if v <= 0 || v > i64::from(u32::MAX) {
                    return Err(format!("error: Invalid flag \"--threads {v}\" must be > 0"));
                }
                app.threads = Some(v as u32);
            }
            "--trace" => app.trace = Some(value(args, &mut i, flag)?.into()),
            "--summary" => app.summary = Some(value(args, &mut i, flag)?.into()),
            "--steal" => {
                app.steal = match value(args, &mut i, flag)? {
                    "on" => true,
                    "off" => false,
                    v => {
                        return Err(format!(
                            "error: Invalid flag \"--steal {v}\" must be on or off"
                        ))
                    }
                }
            }
            other => app.ignored.push(other.to_string()),
        }
        i += 1;
    }
    g.resolve_defaults();
    app.graphs.push(g);
    let memory = crate::runtime::ram::physical_memory();
    for g in &app.graphs {
        // From the parameters first: `check` visits every point.
        if let Some((flag, why)) = g.size_problem(memory) {
            let v = match flag {
                "width" => g.max_width,
                "steps" => g.timesteps,
                "scratch" => g.scratch_bytes,
                _ => g.output_bytes,
            };
            return Err(format!("error: Invalid flag \"-{flag} {v}\": {why}"));
        }
        g.check().map_err(|e| format!("error: {e}"))?;
    }
    Ok(Parsed::Run(app))
}

/// The `-h` text: Task Bench's options, and dirk's.
pub fn help() -> String {
    let mut s =
        String::from("dirk taskbench: A Task Benchmark (Task Bench's flags, run by dirk)\n");
    let opt =
        |s: &mut String, flag: &str, what: &str| s.push_str(&format!("  {flag:<18} {what}\n"));
    s.push_str("\nGeneral options:\n");
    opt(&mut s, "-h", "show this help message and exit");
    opt(
        &mut s,
        "-nodes",
        "number of nodes to use for estimating transfer statistics",
    );
    opt(&mut s, "-v", "enable verbose output");
    opt(&mut s, "-vv", "enable extra verbose output");
    s.push_str("\nOptions for configuring the task graph:\n");
    opt(&mut s, "-steps [INT]", "height of task graph");
    opt(&mut s, "-width [INT]", "width of task graph");
    opt(
        &mut s,
        "-type [DEP]",
        "dependency pattern (see available list below)",
    );
    opt(
        &mut s,
        "-radix [INT]",
        "radix of dependency pattern (only for nearest, spread, and random)",
    );
    opt(
        &mut s,
        "-period [INT]",
        "period of dependency pattern (only for spread and random)",
    );
    opt(
        &mut s,
        "-fraction [FLOAT]",
        "fraction of connected dependencies (only for random)",
    );
    opt(&mut s, "-and", "start configuring next task graph");
    s.push_str("\nOptions for configuring kernels:\n");
    opt(
        &mut s,
        "-kernel [KERNEL]",
        "kernel type (see available list below)",
    );
    opt(&mut s, "-iter [INT]", "number of iterations");
    opt(&mut s, "-output [INT]", "output bytes per task");
    opt(
        &mut s,
        "-scratch [INT]",
        "scratch bytes per task (only for memory-bound kernel)",
    );
    opt(
        &mut s,
        "-sample [INT]",
        "number of samples (only for memory-bound kernel)",
    );
    opt(&mut s, "-imbalance [FLOAT]", "amount of load imbalance");
    s.push_str("\nSupported dependency patterns:\n");
    for (n, _) in PATTERN_NAMES {
        s.push_str(&format!("  {n}\n"));
    }
    s.push_str("\nSupported kernel types:\n");
    for (n, _) in KERNEL_NAMES {
        s.push_str(&format!("  {n}\n"));
    }
    s.push_str("\nLess frequently used options:\n");
    opt(
        &mut s,
        "-field [INT]",
        "number of fields (optimization for certain task bench implementations)",
    );
    opt(
        &mut s,
        "-skip-graph-validation",
        "skip task graph validation",
    );
    s.push_str("\ndirk options:\n");
    opt(
        &mut s,
        "--threads N",
        "worker threads per rank [default: the cores the rank may use]",
    );
    opt(&mut s, "--trace FILE", "write a Chrome trace of the run");
    opt(
        &mut s,
        "--summary FILE",
        "write dirk's JSON summary of the run",
    );
    opt(
        &mut s,
        "--steal on|off",
        "cross-rank work stealing [default: on]",
    );
    s.push_str(
        "\nRun under mpirun, e.g.\n  mpirun -n 2 --bind-to none dirk taskbench -steps 1000 -width 4 \
         -type stencil_1d -kernel compute_bound -iter 1024\n\
         Points are dealt out in blocks over the ranks, as Task Bench's MPI port does.\n\
         Exit status: 0 success; 2 bad flags; 1 a task failed (including a wrong input).\n",
    );
    s
}
