//! Kill-and-resume trials of a stencil, and stalls that must not be silent (issue 21).
//!
//! A Life run exchanges many small boundary values between ranks, the traffic in which a
//! checkpoint once stalled a resumed run for good (`../shared/repro/resume-hang`: a value
//! beyond its receiver's pre-post window waited for a producer the checkpoint had paused).
//! Here a Life job is killed with SIGKILL at random moments, across 2-4 ranks, checkpoint
//! intervals of 0.5 and 0.75 s, stealing on and off, and resumed; every resume must finish, with
//! the grid of the sequential reference bit for bit, and must run exactly the tasks its
//! checkpoint had not finished. A run whose ranks all idle with tasks left (a value dropped by
//! the failure-injection hook) must end with exit 1 and name what it waits for.

use crate::common::*;
use crate::reference::{life, rand_cell};
use serde_json::json;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The Life job of the trials: `steps` periodic steps of a 6 x 6-tiled grid.
const GRID: usize = 1024;
const TILES: usize = 6;
const SEED: u64 = 21;

fn life_job(dir: &Path, steps: usize) -> std::path::PathBuf {
    write_job(
        dir,
        "life.json",
        &json!({"dirk": 1, "name": "trials", "workload": {"kind": "life", "grid": [GRID, GRID],
            "tiles": [TILES, TILES], "steps": steps, "boundary": "periodic", "seed": SEED}}),
    )
}

fn read_grid(file: &Path) -> Vec<u8> {
    let f = hdf5::File::open(file).unwrap();
    f.dataset("grid").unwrap().read_raw::<u8>().unwrap()
}

/// `(finished, total)` from rank 0's "resuming from checkpoint N (A of B tasks finished)".
fn resumed_counts(log: &str) -> Option<(u64, u64)> {
    let l = log
        .lines()
        .find(|l| l.contains("resuming from checkpoint"))?;
    let inner = l.split_once('(')?.1;
    let mut words = inner.split_whitespace();
    let finished = words.next()?.parse().ok()?;
    words.next(); // "of"
    let total = words.next()?.parse().ok()?;
    Some((finished, total))
}

/// Tasks run by every rank together, from a `--summary` file.
fn tasks_run(summary: &Path) -> u64 {
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    s["per_rank"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tasks"].as_u64().unwrap())
        .sum()
}

/// A small LCG: the "random" kill moments differ between trials but the test repeats.
struct Lcg(u64);
impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % 1_000_000) as f64 / 1e6
    }
}

/// Starts a checkpointing run and SIGKILLs one rank (`victim`, modulo the ranks) once rank 0
/// has committed `commits` checkpoints and a further `delay` has passed: a random moment of
/// the run proper, past a checkpoint to resume from. Returns true if the kill landed (false:
/// the run had finished first).
fn run_and_kill(
    n: u32,
    args: &[&str],
    log: &Path,
    commits: usize,
    delay: Duration,
    victim: usize,
) -> bool {
    let mut child = mpirun_command(n, 120, &[], args)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn mpirun");
    let launched = Instant::now();
    let committed = || {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("info: checkpoint ") && l.contains(" tasks finished"))
            .count()
    };
    while committed() < commits {
        assert!(
            launched.elapsed() < Duration::from_secs(100),
            "no checkpoint in 100 s"
        );
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let pids = rank_pids(p(log.parent().unwrap()));
    if pids.is_empty() {
        child.wait().unwrap();
        return false;
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pids[victim % pids.len()].to_string()])
        .status();
    let status = child.wait().unwrap();
    if status.success() {
        return false; // finished between the look and the kill
    }
    true
}

#[test]
fn twenty_killed_life_runs_resume_to_the_reference_without_redoing_work() {
    let dir = scratch();
    // An uninterrupted run takes 1.2-1.4 s past planning on a quiet machine (2-4 ranks, one
    // thread each), long enough for a kill after the first checkpoint to land.
    let steps = 3000;
    let job = life_job(dir.path(), steps);
    let init: Vec<u8> = (0..GRID * GRID).map(|i| rand_cell(SEED, i)).collect();
    let want = life(init, GRID, GRID, true, steps);

    let mut rng = Lcg(0x21);
    let (mut kills, mut resumed) = (0, 0);
    // Trials go on until 20 kills have landed (a run may finish before its kill: it is checked
    // all the same), at most 40.
    const KILLS: usize = 20;
    let mut trials = 0;
    for trial in 0..40 {
        if kills == KILLS {
            break;
        }
        trials += 1;
        let n = [2u32, 3, 4][trial % 3];
        let interval = if trial % 2 == 0 { "0.5" } else { "0.75" };
        let steal = if (trial / 2) % 2 == 0 { "on" } else { "off" };
        // Each trial's files in a folder of its own, whose path finds its ranks' pids.
        let tdir = dir.path().join(format!("trial{trial}"));
        std::fs::create_dir(&tdir).unwrap();
        let ck = tdir.join("ck");
        let out = tdir.join("out.h5");
        let summary = tdir.join("summary.json");
        let mut args = vec![
            "run",
            p(&job),
            "--output",
            p(&out),
            "--summary",
            p(&summary),
            "--checkpoint-dir",
            p(&ck),
            "--checkpoint-interval",
            interval,
            "--steal",
            steal,
            "--threads",
            "1",
            // A stall ends the run with exit 1 in 10 s instead of at the test's time limit.
            "--peer-timeout",
            "10",
        ];
        // After the first commit, anywhere within the next quarter second.
        let commits = 1;
        let delay = Duration::from_secs_f64(0.25 * rng.unit());
        let victim = (rng.unit() * 4.0) as usize;
        if !run_and_kill(n, &args, &tdir.join("run.log"), commits, delay, victim) {
            // Finished before the kill: it must be right all the same.
            assert_eq!(read_grid(&out), want, "trial {trial}: unkilled run");
            continue;
        }
        if out.exists() {
            // The kill came after rank 0 had written the output (whole, by rename) and
            // before the ranks exited: the run was done, and its result must be right.
            assert_eq!(
                read_grid(&out),
                want,
                "trial {trial}: output of a late-killed run"
            );
            continue;
        }
        kills += 1;
        args.push("--resume");
        let r = mpirun(n, &args, 120);
        let setup = format!("trial {trial}: {n} ranks, interval {interval} s, steal {steal}");
        assert_eq!(r.code, Some(0), "{setup}: the resume failed\n{}", r.text);
        assert_eq!(read_grid(&out), want, "{setup}: resumed grid differs");
        if let Some((finished, total)) = resumed_counts(&r.text) {
            resumed += 1;
            assert_eq!(
                tasks_run(&summary),
                total - finished,
                "{setup}: the resume ran other tasks than those its checkpoint lacked\n{}",
                r.text
            );
        } else {
            assert!(
                r.text.contains("no usable checkpoint"),
                "{setup}\n{}",
                r.text
            );
        }
    }
    println!("{trials} trials, {kills} kills, {resumed} resumed from a checkpoint");
    assert_eq!(kills, KILLS, "only {kills} kills landed in {trials} trials");
    assert!(
        resumed >= kills * 3 / 4,
        "only {resumed} of {kills} killed runs had a checkpoint to resume from"
    );
}

/// A value lost in transit (dropped by the failure-injection hook) leaves rank 1 waiting with
/// every rank idle: the run must end with exit 1 within about the peer timeout, rank 0 saying
/// the run stalled and rank 1 naming the value and the task that waits for it.
#[test]
fn a_stalled_run_ends_with_exit_1_naming_what_it_waits_for() {
    let dir = scratch();
    let job = write_job(
        dir.path(),
        "lost.json",
        &json!({"dirk": 1, "name": "lost", "tasks": [
            {"id": "x", "op": "rand", "args": [[64]], "scope": {"rank": 0}},
            {"id": "y", "op": "add", "args": ["x", 1.0], "scope": {"rank": 1}}
        ]}),
    );
    let out = dir.path().join("out.h5");
    for steal in ["on", "off"] {
        let start = Instant::now();
        let r = mpirun_command(
            2,
            60,
            &["-x", "DIRK_TEST_FAULT=drop-value:0:0"],
            &[
                "run",
                p(&job),
                "--output",
                p(&out),
                "--peer-timeout",
                "2",
                "--steal",
                steal,
            ],
        )
        .output()
        .unwrap();
        let r = finish(r, start);
        let text = r.text;
        assert_eq!(r.code, Some(1), "steal {steal}: {text}");
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "steal {steal}: the stall took {:?} to end",
            start.elapsed()
        );
        assert!(text.contains("the run stalled"), "steal {steal}: {text}");
        assert!(
            text.contains(
                "rank 1: 1 of its 1 tasks left (0 ready, 0 running); it waits for 1 value: \
                 the value of global task #0 from rank 0 (read by task \"y\")"
            ),
            "steal {steal}: {text}"
        );
        assert!(!out.exists(), "steal {steal}: no output from a stalled run");
    }
}
