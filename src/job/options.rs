//! The job file's `options`: defaults for `dirk run` flags (the command line wins).

use super::error::JobError;
use super::params::Params;
use serde_json::{Map, Value};
use std::path::PathBuf;

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

/// Reads `options`; keys are the flag names with `-` or `_` (`checkpoint_dir`).
pub(super) fn parse_options(map: &Map<String, Value>) -> Result<JobOptions, JobError> {
    // Accept `checkpoint-dir` as well as `checkpoint_dir`.
    let normalized: Map<String, Value> = map
        .iter()
        .map(|(k, v)| (k.replace('-', "_"), v.clone()))
        .collect();
    let mut p = Params::new(&normalized, "options");
    let path = |s: Option<&str>| s.map(PathBuf::from);
    let threads = match p.raw("threads") {
        None => None,
        Some(_) => Some(p.positive("threads")?),
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
                if x > 0.0 {
                    Ok(Some(x))
                } else {
                    Err(p.error(key, "must be a positive number of seconds"))
                }
            }
        }
    };
    let opts = JobOptions {
        output: path(p.str_opt("output")?),
        threads,
        gpus,
        checkpoint_dir: path(p.str_opt("checkpoint_dir")?),
        checkpoint_interval: positive_secs(&mut p, "checkpoint_interval")?,
        trace: path(p.str_opt("trace")?),
        summary: path(p.str_opt("summary")?),
        steal,
        peer_timeout: positive_secs(&mut p, "peer_timeout")?,
    };
    p.finish()?;
    Ok(opts)
}
