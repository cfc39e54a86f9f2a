//! Helpers shared by the integration tests: the binary, mpirun with a timeout, scratch
//! folders, and reading HDF5 results.
//!
//! **Which MPI.** By default the tests run the binary cargo built (`CARGO_BIN_EXE_dirk`)
//! under Open MPI's `mpirun`. Two environment variables choose another build and launcher,
//! so one suite covers both MPI families (`.ci/test` runs it a second time with a binary
//! built against MPICH):
//!
//! - `DIRK_BIN`: the dirk binary to run (e.g. `target/mpich/release/dirk`);
//! - `DIRK_MPIRUN`: the launcher (e.g. `mpiexec.hydra`). Its family decides the flags
//!   (`Family`): Open MPI's `--oversubscribe --bind-to none` and `-x NAME=VALUE`, MPICH's
//!   (Hydra) `-bind-to none` and `-genv NAME VALUE`; Hydra oversubscribes by itself.
//!
//! **No MPI warnings.** Every run that ends cleanly (exit 0, or 2 for rejected input) must
//! print no warning from the MPI library (`mpi_warnings`): a test whose run does fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The dirk binary under test: `DIRK_BIN`, else the one cargo built for this test binary.
pub(crate) fn dirk_bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("DIRK_BIN")
            .ok()
            .filter(|b| !b.is_empty())
            .map(|b| {
                // Absolute, since tests compare it with /proc/PID/exe and run it from other
                // folders.
                std::fs::canonicalize(&b)
                    .unwrap_or_else(|e| panic!("DIRK_BIN={b}: {e}"))
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_dirk").to_string())
    })
}

/// The MPI family of the launcher, which decides its flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// Open MPI's `mpirun` (ORTE).
    OpenMpi,
    /// MPICH and its derivatives: Hydra's `mpiexec.hydra` / `mpirun.mpich`.
    Mpich,
}

/// The launcher (`DIRK_MPIRUN`, default `mpirun`) and its family: MPICH when its name says
/// `hydra` or `mpich`, or when `DIRK_MPI_FAMILY=mpich`.
pub(crate) fn launcher() -> (&'static str, Family) {
    static L: OnceLock<(String, Family)> = OnceLock::new();
    let (cmd, family) = L.get_or_init(|| {
        let cmd = std::env::var("DIRK_MPIRUN")
            .ok()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "mpirun".into());
        let family = match std::env::var("DIRK_MPI_FAMILY").ok().as_deref() {
            Some("mpich") => Family::Mpich,
            Some("openmpi") => Family::OpenMpi,
            _ if cmd.contains("hydra") || cmd.contains("mpich") => Family::Mpich,
            _ => Family::OpenMpi,
        };
        (cmd, family)
    });
    (cmd.as_str(), *family)
}

/// True when the tests run under an MPICH-family launcher.
pub(crate) fn mpich() -> bool {
    launcher().1 == Family::Mpich
}

/// Lines in which the MPI library warns: MPICH over UCX (`UCX  WARN`, e.g. a message that no
/// receive matched before `MPI_Finalize`), Open MPI's help banners (`WARNING:` after a rule
/// of dashes) and its `[host:pid] ... WARNING` lines, and MPICH's own `Warning:` lines.
pub(crate) fn mpi_warnings(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            (l.contains("UCX") && l.contains("WARN"))
                || l.starts_with("WARNING:")
                || (l.starts_with('[') && l.contains("WARNING"))
                || l.contains("MPICH Warning")
                || l.contains("Abort(") && l.contains("MPI_Finalize")
        })
        .collect()
}

/// Fails the test when a run that ended cleanly printed an MPI warning.
pub(crate) fn assert_no_mpi_warning(code: Option<i32>, text: &str) {
    if matches!(code, Some(0) | Some(2)) {
        let w = mpi_warnings(text);
        assert!(
            w.is_empty(),
            "the MPI library warned in a run that ended with {code:?}:\n{}\n--- full output ---\n{text}",
            w.join("\n")
        );
    }
}

/// A scratch folder removed at the end of the test.
pub(crate) fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("dirk-it-")
        .tempdir()
        .expect("temp dir")
}

/// What a run printed and how it ended.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) text: String,
    pub(crate) elapsed: Duration,
}

/// What a finished command printed and how it ended (an MPI warning fails a run that exited
/// 0 or 2).
pub(crate) fn finish(out: Output, start: Instant) -> Run {
    let run = Run {
        code: out.status.code(),
        text: String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr),
        elapsed: start.elapsed(),
    };
    assert_no_mpi_warning(run.code, &run.text);
    run
}

/// `timeout LIMIT LAUNCHER -n N [MPI_ARGS] dirk ARGS` (see `launcher`), allowed to run as
/// root and to oversubscribe, ranks unbound, not yet started. `limit` ends it with SIGTERM,
/// so the launcher cleans up. `MPI_ARGS` are written in Open MPI's form and mapped to the
/// launcher's family; only `-x NAME=VALUE` (an environment variable for the ranks) is used.
pub(crate) fn mpirun_command(n: u32, limit: u32, mpi_args: &[&str], args: &[&str]) -> Command {
    let (launcher, family) = launcher();
    let mut c = Command::new("timeout");
    c.arg(limit.to_string())
        .arg(launcher)
        .args(["-n", &n.to_string()]);
    match family {
        Family::OpenMpi => {
            c.args(["--oversubscribe", "--bind-to", "none"])
                .args(mpi_args);
        }
        Family::Mpich => {
            c.args(["-bind-to", "none"]);
            let mut it = mpi_args.iter();
            while let Some(&a) = it.next() {
                match (a, it.as_slice().first()) {
                    ("-x", Some(kv)) if kv.contains('=') => {
                        let (k, v) = kv.split_once('=').expect("checked");
                        c.args(["-genv", k, v]);
                        it.next();
                    }
                    _ => panic!("no MPICH form known for the mpirun argument {a:?}"),
                }
            }
        }
    }
    c.arg(dirk_bin())
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1");
    c
}

/// Runs `dirk ARGS` on `n` ranks under mpirun, ended after `limit` seconds.
pub(crate) fn mpirun(n: u32, args: &[&str], limit: u32) -> Run {
    let start = Instant::now();
    let out = mpirun_command(n, limit, &[], args)
        .output()
        .expect("run mpirun");
    finish(out, start)
}

/// Runs `dirk ARGS` directly (no mpirun); the arguments need not be UTF-8.
pub(crate) fn dirk<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    let start = Instant::now();
    let out = Command::new("timeout")
        .arg("60")
        .arg(dirk_bin())
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .output()
        .expect("run dirk");
    finish(out, start)
}

/// Writes `job` (JSON) to `dir/name` and returns its path.
pub(crate) fn write_job(dir: &Path, name: &str, job: &serde_json::Value) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_string_pretty(job).unwrap()).unwrap();
    p
}

/// Reads an f64 dataset (array or scalar) as a flat vector.
pub(crate) fn read_f64(file: &Path, name: &str) -> Vec<f64> {
    let f = hdf5::File::open(file).unwrap_or_else(|e| panic!("open {}: {e}", file.display()));
    let ds = f
        .dataset(name)
        .unwrap_or_else(|e| panic!("dataset {name}: {e}"));
    if ds.shape().is_empty() {
        vec![ds.read_scalar::<f64>().unwrap()]
    } else {
        ds.read_raw::<f64>().unwrap()
    }
}

/// Bit patterns, for exact comparisons that treat NaN like any other value.
pub(crate) fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

pub(crate) fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Pids of the dirk ranks whose command line mentions `needle`.
pub(crate) fn rank_pids(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if exe == Path::new(dirk_bin()) && String::from_utf8_lossy(&cmd).contains(needle) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    pids
}

/// Waits until the file at `log` contains `needle` (true) or `limit` passes (false).
pub(crate) fn wait_for_log(log: &Path, needle: &str, limit: std::time::Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if std::fs::read_to_string(log).is_ok_and(|t| t.contains(needle)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A test that cannot run here (not root, no Slurm) says why and passes; under CI (`CI` set)
/// it fails instead, since there a skip would hide that the capability went untested.
pub(crate) fn skip(why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{why}: under CI this test must run, not skip"
    );
    println!("{why}");
}
