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
    let log = dir.path().join("long.log");
    let mut child = mpirun_command(
        3,
        60,
        &[],
        &["run", p(&job), "--threads", "1", "--peer-timeout", "3"],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::fs::File::create(&log).unwrap())
    .spawn()
    .unwrap();
    // Rank 0 names the job only after every rank has passed start-up, watchdogs included.
    assert!(
        wait_for_log(&log, "tasks on 3 ranks", Duration::from_secs(60)),
        "the job started"
    );
    let pids = rank_pids(p(&job));
    assert_eq!(pids.len(), 3, "three ranks run");
    std::thread::sleep(Duration::from_millis(1000));
    let victim = *pids.last().unwrap();
    let stopped = Instant::now();
    let _ = Command::new("kill")
        .args(["-STOP", &victim.to_string()])
        .status();
    let status = child.wait().unwrap();
    let _ = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(1), "{text}");
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
