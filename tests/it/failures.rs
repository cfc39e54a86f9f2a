//! The failure detector: a rank frozen with SIGSTOP ends the job with status 1 within
//! `--peer-timeout` + 5 s, with a message naming the silent rank; tasks that compute for much
//! longer than the timeout do not look dead.

use crate::common::*;
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_frozen_rank_ends_the_job_within_the_peer_timeout() {
    let dir = scratch();
    // Long enough that only the detector can end it early.
    let job = write_job(
        dir.path(),
        "long.json",
        &json!({"dirk": 1, "tasks": [
            {"id": "x", "op": "fill", "args": [[8], 1.0]},
            {"id": "a", "op": "busy", "args": ["x"], "params": {"iterations": 120_000_000_000u64}, "scope": {"rank": 0}},
            {"id": "b", "op": "busy", "args": ["x"], "params": {"iterations": 120_000_000_000u64}, "scope": {"rank": 1}},
            {"id": "c", "op": "busy", "args": ["x"], "params": {"iterations": 120_000_000_000u64}, "scope": {"rank": 2}}
        ]}),
    );
    let start = Instant::now();
    let child = Command::new("timeout")
        .args([
            "60",
            "mpirun",
            "-n",
            "3",
            "--oversubscribe",
            "--bind-to",
            "none",
        ])
        .arg(DIRK)
        .args(["run", p(&job), "--threads", "1", "--peer-timeout", "3"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    while pids.len() < 3 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(200));
        pids = rank_pids(p(&job));
    }
    assert_eq!(pids.len(), 3, "three ranks started");
    std::thread::sleep(Duration::from_millis(1500));
    let victim = *pids.last().unwrap();
    let stopped = Instant::now();
    let _ = Command::new("kill")
        .args(["-STOP", &victim.to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let _ = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        stopped.elapsed() < Duration::from_secs(3 + 5),
        "ended in {:?}: {text}",
        stopped.elapsed()
    );
    assert!(
        text.contains("has not answered") && text.contains("on host"),
        "{text}"
    );
}

#[test]
fn long_tasks_do_not_look_dead() {
    let dir = scratch();
    // Every task computes for about 6 s, twice the peer timeout.
    let job = write_job(
        dir.path(),
        "slow.json",
        &json!({"dirk": 1, "tasks": [
            {"id": "x", "op": "fill", "args": [[8], 1.0]},
            {"id": "a", "op": "busy", "args": ["x"], "params": {"iterations": 6_000_000_000u64}, "scope": {"rank": 0}},
            {"id": "b", "op": "busy", "args": ["x"], "params": {"iterations": 6_000_000_000u64}, "scope": {"rank": 1}},
            {"id": "s", "op": "add", "args": ["a", "b"]}
        ]}),
    );
    let r = mpirun(
        2,
        &["run", p(&job), "--threads", "1", "--peer-timeout", "2"],
        120,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(!r.text.contains("has not answered"), "{}", r.text);
}
