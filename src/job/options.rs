//! The job file's `options`: defaults for `dirk run` flags (the command line wins).

use super::error::JobError;
use super::params::Params;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// The longest interval `--peer-timeout` and `--checkpoint-interval` (and their `options`
/// keys) accept: about 31 years, far beyond any job, well inside what a timer can hold.
pub const MAX_SECONDS: f64 = 1e9;

/// Checks a number of seconds for a run flag or option: positive, finite, at most
/// [`MAX_SECONDS`]. The error says what is wrong, for the caller to prefix with the flag or key.
pub fn check_seconds(x: f64) -> Result<f64, String> {
    if x > 0.0 && x <= MAX_SECONDS {
        Ok(x)
    } else {
        Err(format!(
            "must be a positive number of seconds, at most {MAX_SECONDS:e}"
        ))
    }
}

/// At most this many worker threads per core the rank may use (`--threads`, `options.threads`):
/// more only slows a run down, and `--threads 100000` would start that many threads.
pub const MAX_THREADS_PER_CORE: usize = 64;

/// Checks a worker-thread count against the cores this process may use: at most
/// [`MAX_THREADS_PER_CORE`] per core. The error says why, for the caller to prefix with the
/// flag or key.
pub fn check_threads(n: usize) -> Result<usize, String> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let max = cores.saturating_mul(MAX_THREADS_PER_CORE);
    if (1..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} worker threads: at most {max} ({MAX_THREADS_PER_CORE} per core; this rank may \
             use {cores} core{})",
            if cores == 1 { "" } else { "s" }
        ))
    }
}

/// Run-flag defaults from a job file. `None` means the job does not set it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct JobOptions {
    /// `--output`.
    pub output: Option<PathBuf>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--gpus` (`auto` or `none`).
    pub gpus: Option<String>,
    /// `--checkpoint-dir`.
    pub checkpoint_dir: Option<PathBuf>,
    /// `--checkpoint-interval`.
    pub checkpoint_interval: Option<f64>,
    /// `--trace`.
    pub trace: Option<PathBuf>,
    /// `--summary`.
    pub summary: Option<PathBuf>,
    /// `--steal` (`on` or `off`).
    pub steal: Option<String>,
    /// `--peer-timeout`.
    pub peer_timeout: Option<f64>,
}

impl JobOptions {
    /// Checks the options that only work together, as `dirk run` with no flags sees them
    /// (`dirk validate`, and `dirk run` where no flag supplies the missing half).
    pub fn check(&self) -> Result<(), JobError> {
        if self.checkpoint_interval.is_some() && self.checkpoint_dir.is_none() {
            return Err(JobError::new(
                "options.checkpoint_interval",
                "needs a checkpoint folder: set options.checkpoint_dir (or pass --checkpoint-dir)",
            ));
        }
        Ok(())
    }
}

/// Reads `options`; keys are the flag names with `-` or `_` (`checkpoint_dir`).
pub(super) fn parse_options(map: &Map<String, Value>) -> Result<JobOptions, JobError> {
    // Accept `checkpoint-dir` as well as `checkpoint_dir`.
    let normalized: Map<String, Value> = map
        .iter()
        .map(|(k, v)| (k.replace('-', "_"), v.clone()))
        .collect();
    let mut p = Params::new(&normalized, "options");
    let path = |s: Option<&str>| s.map(PathBuf::from);
    // A result file: a name that can be one (the run checks what exists there).
    let result = |p: &mut Params<'_>, key: &'static str| -> Result<Option<PathBuf>, JobError> {
        let Some(s) = p.str_opt(key)? else {
            return Ok(None);
        };
        let file = PathBuf::from(s);
        match crate::store::result_path_problem(&file) {
            Some(why) => Err(p.error(key, format!("{s:?}: {why}"))),
            None => Ok(Some(file)),
        }
    };
    let threads = match p.raw("threads") {
        None => None,
        Some(_) => {
            let n = p.positive("threads")?;
            Some(check_threads(n).map_err(|e| p.error("threads", e))?)
        }
    };
    let gpus = p.str_opt("gpus")?.map(str::to_string);
    if let Some(g) = &gpus {
        if g != "auto" && g != "none" {
            return Err(p.error("gpus", format!("{g:?}: expected \"auto\" or \"none\"")));
        }
    }
    let steal = p.str_opt("steal")?.map(str::to_string);
    if let Some(s) = &steal {
        if s != "on" && s != "off" {
            return Err(p.error("steal", format!("{s:?}: expected \"on\" or \"off\"")));
        }
    }
    let positive_secs = |p: &mut Params<'_>, key: &'static str| -> Result<Option<f64>, JobError> {
        match p.raw(key) {
            None => Ok(None),
            Some(_) => {
                let x = p.f64_or(key, 0.0)?;
                check_seconds(x).map(Some).map_err(|e| p.error(key, e))
            }
        }
    };
    let opts = JobOptions {
        output: result(&mut p, "output")?,
        threads,
        gpus,
        checkpoint_dir: path(p.str_opt("checkpoint_dir")?),
        checkpoint_interval: positive_secs(&mut p, "checkpoint_interval")?,
        trace: result(&mut p, "trace")?,
        summary: result(&mut p, "summary")?,
        steal,
        peer_timeout: positive_secs(&mut p, "peer_timeout")?,
    };
    p.finish()?;
    Ok(opts)
}
