//! The Slurm scripts on a real (throwaway, one-node) Slurm: `tests/slurm/cluster.sh` starts
//! munge, slurmctld and slurmd; the CPU batch scripts in `slurm/` are submitted with `sbatch`
//! exactly as a user would, and their outputs checked. Needs root and Debian's `slurm-wlm`
//! (`.ci/setup` installs it); without them the test says so and checks nothing.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const CLUSTER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slurm/cluster.sh");
const REPO: &str = env!("CARGO_MANIFEST_DIR");

struct Cluster {
    dir: std::path::PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(CLUSTER).arg("down").arg(&self.dir).status();
    }
}

/// Submits `script` with `env` (KEY=VALUE, comma-separated) and `extra` sbatch options (which
/// override the script's `#SBATCH` lines), waits for it to leave the queue, and returns its
/// log: the file its `#SBATCH --output=` line names, in `workdir` (empty if missing).
/// Under an MPICH-family launcher (`common::launcher`) the scripts start the ranks with
/// `srun --mpi=pmi2` (`SRUN_MPI`): MPICH ranks started through PMIx each run alone.
fn sbatch(conf: &Path, workdir: &Path, script: &str, env: &str, extra: &[&str]) -> String {
    let pmi = if mpich() { ",SRUN_MPI=pmi2" } else { "" };
    let out = Command::new("sbatch")
        .args([
            "--parsable",
            "--chdir",
            p(workdir),
            "--export",
            &format!("ALL,{env}{pmi}"),
        ])
        .args(extra)
        .arg(format!("{REPO}/slurm/{script}"))
        .env("SLURM_CONF", conf)
        .output()
        .expect("run sbatch");
    assert!(
        out.status.success(),
        "sbatch {script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let start = Instant::now();
    loop {
        let q = Command::new("squeue")
            .args(["-h", "-j", &id, "-o", "%T"])
            .env("SLURM_CONF", conf)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&q.stdout).trim().is_empty() {
            return std::fs::read_to_string(workdir.join(log_name(script, &id)))
                .unwrap_or_default();
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "{script}: job {id} still queued or running"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The log file `script`'s `#SBATCH --output=` line names for job `id`.
fn log_name(script: &str, id: &str) -> String {
    let text = std::fs::read_to_string(format!("{REPO}/slurm/{script}")).unwrap();
    let pattern = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --output="))
        .unwrap_or_else(|| panic!("{script} names its output file"));
    pattern.trim().replace("%j", id)
}

#[test]
fn batch_scripts_run_on_a_real_slurm() {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if !root || Command::new("slurmctld").arg("-V").output().is_err() {
        skip("slurm: skipped: needs root and slurm-wlm (.ci/setup installs it)");
        return;
    }
    let dir = scratch();
    let state = dir.path().join("slurm");
    let up = Command::new(CLUSTER)
        .arg("up")
        .arg(&state)
        .status()
        .unwrap();
    assert!(up.success(), "the one-node Slurm came up");
    let _cluster = Cluster { dir: state.clone() };
    let conf = state.join("slurm.conf");
    let work = dir.path();

    let d = work.join("d.h5");
    let log = sbatch(
        &conf,
        work,
        "diamond.sbatch",
        &format!(
            "DIRK={},JOB={REPO}/jobs/diamond.json,OUT={}",
            dirk_bin(),
            p(&d)
        ),
        &[],
    );
    assert!(d.exists(), "diamond.sbatch wrote its output: {log}");
    let (x, dd) = (read_f64(&d, "x"), read_f64(&d, "d"));
    assert!(dd
        .iter()
        .zip(&x)
        .all(|(d, x)| (d - 1.5 * (x + 1.0)).abs() < 1e-12));
    assert!(log.contains("2 ranks"), "two ranks under srun: {log}");

    let l = work.join("long.h5");
    let log = sbatch(
        &conf,
        work,
        "long-run.sbatch",
        &format!(
            "DIRK={},JOB={REPO}/jobs/diamond.json,OUT={},CKPT={},INTERVAL=1",
            dirk_bin(),
            p(&l),
            p(&work.join("ck"))
        ),
        &[],
    );
    assert!(l.exists(), "long-run.sbatch wrote its output: {log}");
    assert!(
        log.contains("no usable checkpoint"),
        "the first attempt starts from the beginning: {log}"
    );
    assert_eq!(
        bits(&read_f64(&l, "d")),
        bits(&dd),
        "the same result as the other script"
    );

    // The multi-node script asks for 2 nodes; on this one-node cluster it runs with
    // `--nodes=1` on the sbatch command line (as its header tells users), 2 ranks per node.
    let m = work.join("multi.h5");
    let log = sbatch(
        &conf,
        work,
        "multi-node.sbatch",
        &format!(
            "DIRK={},JOB={REPO}/jobs/life.json,OUT={}",
            dirk_bin(),
            p(&m)
        ),
        &["--nodes=1"],
    );
    assert!(m.exists(), "multi-node.sbatch wrote its output: {log}");
    let f = hdf5::File::open(&m).unwrap_or_else(|e| panic!("open {}: {e}", m.display()));
    let grid = f
        .dataset("grid")
        .unwrap_or_else(|e| panic!("multi-node.sbatch: dataset /grid: {e}: {log}"));
    assert_eq!(grid.shape(), vec![512, 512], "the grid of jobs/life.json");
    let cells = grid.read_raw::<u8>().unwrap();
    assert!(cells.iter().all(|&c| c <= 1), "Life cells are 0 or 1");
    assert!(
        log.contains("tasks on 2 ranks"),
        "two ranks under srun on one node: {log}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.join("multi.summary.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("multi-node.sbatch wrote its summary: {e}: {log}"));
    assert_eq!(summary["ranks"], 2, "the summary counts two ranks: {log}");

    // The scaling sweep, shrunk by its knobs: both sweeps at 1 and 2 ranks under srun, one
    // CSV row each, and the two plots.
    let sc = work.join("scaling");
    let log = sbatch(
        &conf,
        work,
        "scaling.sbatch",
        &format!(
            "DIRK={},SCALING={REPO}/benches/scaling.py,OUT={},GRID=64x32,STEPS=5,REPEATS=2",
            dirk_bin(),
            p(&sc)
        ),
        &[],
    );
    let csv = std::fs::read_to_string(sc.join("scaling.csv"))
        .unwrap_or_else(|e| panic!("scaling.sbatch wrote its CSV: {e}: {log}"));
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let points: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[2], r[3])).collect();
    assert_eq!(
        points,
        [
            ("1", "strong", "64x32"),
            ("2", "strong", "64x32"),
            ("1", "weak", "64x32"),
            ("2", "weak", "128x32"),
        ],
        "ranks, problem and size of each point: {log}"
    );
    for r in &rows {
        let seconds: f64 = r[4].parse().unwrap();
        assert!(seconds > 0.0, "a measured time: {r:?}");
    }
    for plot in ["speedup.svg", "efficiency.svg"] {
        let svg = std::fs::read_to_string(sc.join(plot)).unwrap_or_default();
        assert!(
            svg.starts_with("<svg") || svg.starts_with("<?xml"),
            "{plot}: {log}"
        );
    }
    assert!(log.contains("launcher srun"), "points run with srun: {log}");
}
