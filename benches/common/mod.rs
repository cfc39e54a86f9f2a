//! Shared by the benchmark binaries: each one, when started by `cargo bench`, re-launches
//! itself under `mpirun` for every configuration it measures and prints what the children
//! report, so `cargo bench --bench NAME` is the whole command.

#![allow(dead_code)]

use std::process::Command;

/// True in a child started by `launch`.
pub fn is_child() -> bool {
    std::env::var_os("DIRK_BENCH_CHILD").is_some()
}

/// Runs this executable on `ranks` ranks with `args`, passing its output through. The
/// launcher is `mpirun` on this machine, or the command named by `DIRK_BENCH_MPIRUN` (for
/// example `tests/netns/nsmpirun`: ranks on separate network namespaces, over TCP), which
/// must take mpirun's arguments and choose its own placement options. An MPICH launcher
/// (`mpiexec.hydra`, `mpirun.mpich`: a bench built with `MPICC=mpicc.mpich`) gets no `-x`:
/// Hydra passes the whole environment on by itself.
pub fn launch(ranks: u32, args: &[&str]) -> bool {
    let exe = std::env::current_exe().expect("own path");
    let mut c = Command::new("timeout");
    c.arg("600");
    let mpich = match std::env::var("DIRK_BENCH_MPIRUN") {
        Ok(launcher) => {
            c.args([launcher.as_str(), "-n", &ranks.to_string()]);
            launcher.contains("hydra") || launcher.contains("mpich")
        }
        Err(_) => {
            c.args([
                "mpirun",
                "-n",
                &ranks.to_string(),
                "--oversubscribe",
                "--bind-to",
                "none",
            ]);
            false
        }
    };
    if !mpich {
        c.args(["-x", "DIRK_BENCH_CHILD=1"]);
    }
    let status = c
        .arg(exe)
        .args(args)
        .env("DIRK_BENCH_CHILD", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .status()
        .expect("run mpirun");
    status.success()
}

/// The machine, for the record: CPU model, cores, load.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{cpu}, {} cores, load {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load.split_whitespace().next().unwrap_or("?")
    )
}

/// Peak resident set size of this process, MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Median of a few samples.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
