//! Checkpoint and restart: jobs killed with SIGKILL on one rank at random points resume from
//! their newest checkpoint and end with the bit-identical result of an uninterrupted run, on
//! the same or another rank count; a failed or interrupted checkpoint write leaves the
//! previous one in use; foreign and corrupt checkpoints are never used, nor removed; two jobs
//! checkpointing into one folder at the same time never write into the same checkpoint.

use crate::common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use xxhash_rust::xxh3::xxh3_64;

/// Independent chains of `busy` (`iterations` steps each, 40 M is about 40 ms here) and `mul`
/// tasks, summed at the end: a few seconds of work whose result depends on every task.
fn chains_job(dir: &Path, iterations: u64) -> PathBuf {
    let mut tasks = Vec::new();
    let (chains, steps) = (6, 40);
    for k in 0..chains {
        tasks.push(
            json!({"id": format!("c{k}_0"), "op": "rand", "args": [[512]], "params": {"seed": k}}),
        );
        for s in 1..steps {
            let prev = format!("c{k}_{}", s - 1);
            tasks.push(if s % 2 == 1 {
                json!({"id": format!("c{k}_{s}"), "op": "busy", "args": [prev], "params": {"iterations": iterations}})
            } else {
                json!({"id": format!("c{k}_{s}"), "op": "mul", "args": [prev, 1.5]})
            });
        }
    }
    tasks.push(json!({"id": "t1", "op": "add", "args": [format!("c0_{}", steps - 1), format!("c1_{}", steps - 1)]}));
    for k in 2..chains {
        tasks.push(json!({"id": format!("t{k}"), "op": "add", "args": [format!("t{}", k - 1), format!("c{k}_{}", steps - 1)]}));
    }
    tasks.push(json!({"id": "s", "op": "sum", "args": [format!("t{}", chains - 1)]}));
    write_job(
        dir,
        "chains.json",
        &json!({"dirk": 1, "name": "chains", "tasks": tasks, "outputs": ["s", format!("t{}", chains - 1)]}),
    )
}

/// The chains job sized so that an uninterrupted 2-rank run takes at least `MIN_RUN` on this
/// machine (the kill and fault points need time to land on a fast machine), with the wall
/// time and outputs of that uninterrupted run.
struct Calibrated {
    job: PathBuf,
    wall: Duration,
    expect: (Vec<u64>, Vec<u64>),
}

const MIN_RUN: Duration = Duration::from_secs(3);

fn calibrated_chains(dir: &Path) -> Calibrated {
    let reference = dir.join("ref.h5");
    let mut iterations = 40_000_000u64;
    loop {
        let job = chains_job(dir, iterations);
        let r = mpirun(
            2,
            &["run", p(&job), "--output", p(&reference), "--threads", "1"],
            120,
        );
        assert_eq!(r.code, Some(0), "{}", r.text);
        let wall = run_time(&r.text);
        if wall >= MIN_RUN || iterations >= 4_000_000_000 {
            let expect = outputs(&reference);
            return Calibrated { job, wall, expect };
        }
        let scale = (1.3 * MIN_RUN.as_secs_f64() / wall.as_secs_f64()).max(1.5);
        iterations = (iterations as f64 * scale) as u64;
    }
}

/// The run time rank 0 reports on its last line (`done: N tasks in S s`), which leaves out
/// MPI start-up (seconds on a loaded machine).
pub(crate) fn run_time(log: &str) -> Duration {
    let secs = log
        .lines()
        .find_map(|l| {
            l.split_once(" tasks in ")?
                .1
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `done: N tasks in S s` line in\n{log}"));
    Duration::from_secs_f64(secs)
}

fn spawn_run(n: u32, args: &[&str]) -> Child {
    mpirun_command(n, 120, &[], args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn mpirun")
}

/// A small LCG so the "random" kill points differ between trials but the test is repeatable.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn outputs(file: &Path) -> (Vec<u64>, Vec<u64>) {
    (bits(&read_f64(file, "s")), bits(&read_f64(file, "t5")))
}

/// Starts a checkpointing run, waits for its `n` ranks to start, kills one with SIGKILL after
/// a further random delay between 20 % and 60 % of an uninterrupted run's time `wall`, and
/// waits for the job to end. Returns false if the run finished before the kill.
fn run_and_kill(
    n: u32,
    job: &Path,
    ck: &Path,
    out: &Path,
    resume: bool,
    wall: Duration,
    rng: &mut Lcg,
) -> bool {
    let mut args = ck_args(job, ck, out);
    args.extend_from_slice(&["--checkpoint-interval", "0.3"]);
    if resume {
        args.push("--resume");
    }
    let mut child = spawn_run(n, &args);
    let launched = Instant::now();
    let mut pids = Vec::new();
    while pids.len() < n as usize {
        assert!(
            launched.elapsed() < Duration::from_secs(60),
            "{n} ranks started within a minute"
        );
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
        pids = rank_pids(p(ck));
    }
    let delay = wall.mul_f64(0.2 + 0.4 * rng.next(1000) as f64 / 1000.0);
    let start = Instant::now();
    while start.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let victim = pids[rng.next(pids.len() as u64) as usize];
    let _ = Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status();
    let waited = Instant::now();
    let status = child.wait().unwrap();
    assert!(
        waited.elapsed() < Duration::from_secs(20),
        "the job ended promptly after the kill"
    );
    assert!(!status.success(), "a killed job does not exit 0");
    true
}

#[test]
fn killed_runs_resume_to_the_uninterrupted_result() {
    let dir = scratch();
    let Calibrated { job, wall, expect } = calibrated_chains(dir.path());
    let mut rng = Lcg(0x5eed);
    let mut resumed = 0;
    for (trial, (n, n_resume)) in [(2, 2), (3, 3), (2, 3)].into_iter().enumerate() {
        let ck = dir.path().join(format!("ck{trial}"));
        let out = dir.path().join(format!("out{trial}.h5"));
        // Kill the first run, then kill the first resume too: several kills per trial.
        assert!(
            run_and_kill(n, &job, &ck, &out, false, wall, &mut rng),
            "trial {trial}: the job finished before the kill"
        );
        assert!(!out.exists(), "trial {trial}: no output from a killed run");
        if !run_and_kill(n_resume, &job, &ck, &out, true, wall, &mut rng) {
            // The resume finished before the second kill: it must already be right.
            assert_eq!(
                outputs(&out),
                expect,
                "trial {trial}: resumed result differs"
            );
            std::fs::remove_file(&out).unwrap();
        }
        let r = ck_run(
            n_resume,
            &job,
            &ck,
            &out,
            &["--checkpoint-interval", "0.3", "--resume"],
        );
        assert_eq!(r.code, Some(0), "trial {trial}: {}", r.text);
        assert!(
            r.text.contains("resuming from checkpoint") || r.text.contains("no usable checkpoint"),
            "{}",
            r.text
        );
        resumed += usize::from(r.text.contains("resuming from checkpoint"));
        assert_eq!(
            outputs(&out),
            expect,
            "trial {trial}: resumed result differs from the uninterrupted run"
        );
    }
    // A restart from scratch gives the same result too: at least one trial must really have
    // resumed (kills fall at 20-60 % of the run, checkpoints every 0.3 s).
    assert!(resumed > 0, "no trial resumed from a checkpoint");
}

/// `run JOB --output OUT --threads 1 --checkpoint-dir CK`: the arguments of every run here.
fn ck_args<'a>(job: &'a Path, ck: &'a Path, out: &'a Path) -> Vec<&'a str> {
    vec![
        "run",
        p(job),
        "--output",
        p(out),
        "--threads",
        "1",
        "--checkpoint-dir",
        p(ck),
    ]
}

/// `dirk run JOB --output OUT --threads 1 --checkpoint-dir CK EXTRA` on `n` ranks.
fn ck_run(n: u32, job: &Path, ck: &Path, out: &Path, extra: &[&str]) -> Run {
    let mut args = ck_args(job, ck, out);
    args.extend_from_slice(extra);
    mpirun(n, &args, 120)
}

/// A checkpointing run on 2 ranks, checkpoints every 0.3 s, with a fault injected
/// (`DIRK_TEST_FAULT`, see `store::checkpoint`).
fn with_fault(fault: &str, job: &Path, ck: &Path, out: &Path) -> std::process::Output {
    let mut args = ck_args(job, ck, out);
    args.extend_from_slice(&["--checkpoint-interval", "0.3"]);
    mpirun_command(2, 120, &["-x", fault], &args)
        .output()
        .unwrap()
}

#[test]
fn a_failed_or_interrupted_checkpoint_write_leaves_the_previous_one_usable() {
    let dir = scratch();
    let Calibrated { job, expect, .. } = calibrated_chains(dir.path());

    // A full disk on rank 1 at checkpoint 3: the checkpoint is abandoned, the run goes on.
    let ck = dir.path().join("full");
    let out = dir.path().join("full.h5");
    let run = with_fault("DIRK_TEST_FAULT=ckpt-fail:1:3", &job, &ck, &out);
    let text = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{text}");
    assert!(
        text.contains("checkpoint 3 abandoned") && text.contains("No space left"),
        "{text}"
    );
    assert_eq!(outputs(&out), expect);

    // Rank 1 dies in the middle of writing checkpoint 3: resume uses checkpoint 2.
    let ck = dir.path().join("die");
    let out = dir.path().join("die.h5");
    let run = with_fault("DIRK_TEST_FAULT=ckpt-die:1:3", &job, &ck, &out);
    assert!(!run.status.success());
    assert!(ck.join("ckpt-000003").exists() && !ck.join("ckpt-000003/MANIFEST.json").exists());
    let r = ck_run(2, &job, &ck, &out, &["--resume"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(
        r.text.contains("ckpt-000003") && r.text.contains("incomplete"),
        "{}",
        r.text
    );
    assert!(r.text.contains("resuming from checkpoint 2"), "{}", r.text);
    assert_eq!(outputs(&out), expect);
}

#[test]
fn corrupt_and_foreign_checkpoints_are_never_used() {
    let dir = scratch();
    let Calibrated { job, expect, .. } = calibrated_chains(dir.path());
    let ck = dir.path().join("ck");
    let out = dir.path().join("out.h5");
    let r = ck_run(2, &job, &ck, &out, &["--checkpoint-interval", "0.3"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert_eq!(outputs(&out), expect, "a checkpointing run changes nothing");
    let mut seqs: Vec<u64> = std::fs::read_dir(&ck)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("ckpt-")?.parse().ok())
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs.len(),
        2,
        "the newest checkpoint and the previous one are kept: {seqs:?}"
    );
    // Corrupt the newest: flip bytes in the middle of rank 1's file.
    let newest = ck.join(format!("ckpt-{:06}/rank-1.h5", seqs[1]));
    let mut bytes = std::fs::read(&newest).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 16] {
        *b ^= 0xff;
    }
    std::fs::write(&newest, bytes).unwrap();
    let out2 = dir.path().join("out2.h5");
    let r = ck_run(2, &job, &ck, &out2, &["--resume"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(r.text.contains("corrupt"), "{}", r.text);
    assert!(
        r.text
            .contains(&format!("resuming from checkpoint {}", seqs[0])),
        "{}",
        r.text
    );
    assert_eq!(outputs(&out2), expect);

    // Another job pointed at the same folder: the checkpoints are not its own.
    let other = write_job(
        dir.path(),
        "other.json",
        &json!({"dirk": 1, "tasks": [{"id": "s", "op": "fill", "args": [[2], 1.0]}]}),
    );
    let r = mpirun(
        2,
        &["run", p(&other), "--checkpoint-dir", p(&ck), "--resume"],
        60,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(
        r.text.contains("different job") && r.text.contains("starting from the beginning"),
        "{}",
        r.text
    );

    // --resume without a folder is a usage error.
    let r = mpirun(2, &["run", p(&job), "--resume"], 60);
    assert_eq!(r.code, Some(2), "{}", r.text);
    assert!(r.text.contains("--checkpoint-dir"), "{}", r.text);
}

/// The checkpoint sequence numbers under `ck`, in order.
fn seqs(ck: &Path) -> Vec<u64> {
    let mut seqs: Vec<u64> = std::fs::read_dir(ck)
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("ckpt-")?.parse().ok())
        .collect();
    seqs.sort_unstable();
    seqs
}

/// Two jobs checkpointing into one folder keep each other's checkpoints: each removes only
/// its own old ones (it once removed every `ckpt-*` but its newest two).
#[test]
fn jobs_sharing_a_checkpoint_folder_keep_each_others_checkpoints() {
    let dir = scratch();
    let Calibrated { job, expect, .. } = calibrated_chains(dir.path());
    let ck = dir.path().join("ck");
    let out = dir.path().join("a.h5");
    let r = ck_run(2, &job, &ck, &out, &["--checkpoint-interval", "0.3"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    let a = seqs(&ck);
    assert_eq!(a.len(), 2, "job A keeps its newest two: {a:?}");

    // Job B: the same chains from another seed, so another graph, into the same folder.
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&job).unwrap()).unwrap();
    other["tasks"][0]["params"]["seed"] = json!(99);
    let other = write_job(dir.path(), "other.json", &other);
    let r = ck_run(
        2,
        &other,
        &ck,
        &dir.path().join("b.h5"),
        &["--checkpoint-interval", "0.3"],
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    let both = seqs(&ck);
    let b: Vec<u64> = both.iter().copied().filter(|s| !a.contains(s)).collect();
    assert!(
        a.iter().all(|s| both.contains(s)),
        "job B removed job A's checkpoints: {a:?} -> {both:?}"
    );
    assert_eq!(b.len(), 2, "job B keeps its newest two: {both:?}");

    // Job A resumes from its own newest, passing over job B's (newer) ones.
    let out2 = dir.path().join("a2.h5");
    let r = ck_run(
        2,
        &job,
        &ck,
        &out2,
        &["--resume", "--checkpoint-interval", "0.3"],
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(r.text.contains("different job"), "{}", r.text);
    assert!(
        r.text
            .contains(&format!("resuming from checkpoint {}", a[1])),
        "{}",
        r.text
    );
    assert_eq!(outputs(&out2), expect);
    let after = seqs(&ck);
    assert!(
        b.iter().all(|s| after.contains(s)),
        "job A removed job B's checkpoints: {b:?} -> {after:?}"
    );
}

/// Writes `in.h5` in `dir` with dataset `x`: 512 f64 of `value`.
fn write_input(dir: &Path, value: f64) {
    let f = hdf5::File::create(dir.join("in.h5")).unwrap();
    f.new_dataset::<f64>()
        .shape([512])
        .create("x")
        .unwrap()
        .write_raw(&[value; 512])
        .unwrap();
}

/// An input file fixed in place between a checkpointed run and its `--resume`: the
/// checkpoints hold values made from the old data, so they are not used (once they were, and
/// the result mixed old and new input); the run starts over and says why in one line.
#[test]
fn a_changed_input_file_makes_the_checkpoints_unusable() {
    let dir = scratch();
    let Calibrated { job, .. } = calibrated_chains(dir.path());
    // The chains job, its sum taken over t5 + a loaded array.
    let mut j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&job).unwrap()).unwrap();
    let tasks = j["tasks"].as_array_mut().unwrap();
    tasks.push(json!({"id": "in", "op": "load", "params": {"file": "in.h5", "dataset": "x"}}));
    tasks.push(json!({"id": "u", "op": "add", "args": ["t5", "in"]}));
    let s = tasks.iter_mut().find(|t| t["id"] == "s").unwrap();
    s["args"] = json!(["u"]);
    let job = write_job(dir.path(), "loads.json", &j);
    write_input(dir.path(), 1.0);
    let ck = dir.path().join("ck");
    let out = dir.path().join("old.h5");
    let r = ck_run(2, &job, &ck, &out, &["--checkpoint-interval", "0.3"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(!seqs(&ck).is_empty(), "no checkpoint taken: {}", r.text);

    write_input(dir.path(), 2.0);
    let fresh = dir.path().join("fresh.h5");
    let r = mpirun(
        2,
        &["run", p(&job), "--output", p(&fresh), "--threads", "1"],
        120,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    let out2 = dir.path().join("resumed.h5");
    let r = ck_run(2, &job, &ck, &out2, &["--resume"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    let line = r
        .text
        .lines()
        .find(|l| l.contains("no usable checkpoint"))
        .unwrap_or_else(|| panic!("no 'no usable checkpoint' line: {}", r.text));
    assert!(
        line.contains("input file") && line.contains("starting from the beginning"),
        "{line}"
    );
    assert!(!r.text.contains("resuming from"), "{}", r.text);
    assert_eq!(outputs(&out2), outputs(&fresh), "old and new input mixed");
    assert_ne!(outputs(&out2), outputs(&out));
}

/// The sequence numbers of the checkpoints a run committed, from rank 0's
/// `checkpoint N: T tasks finished, ...` lines.
fn committed(log: &str) -> Vec<u64> {
    log.lines()
        .filter(|l| l.contains(" tasks finished, "))
        .filter_map(|l| {
            l.split_once("checkpoint ")?
                .1
                .split_once(':')?
                .0
                .parse()
                .ok()
        })
        .collect()
}

/// Every committed checkpoint under `ck` is one job's: the manifest's rank files exist, match
/// their checksums and carry the manifest's fingerprint and sequence number. Returns the
/// fingerprint of each committed folder, by sequence number.
fn committed_folders_are_whole(ck: &Path) -> Vec<(u64, String)> {
    let mut owners = Vec::new();
    for seq in seqs(ck) {
        let folder = ck.join(format!("ckpt-{seq:06}"));
        let Ok(text) = std::fs::read_to_string(folder.join("MANIFEST.json")) else {
            continue;
        };
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        let fingerprint = m["fingerprint"].as_str().unwrap().to_string();
        assert_eq!(
            m["seq"],
            json!(seq),
            "{}: manifest of another folder",
            folder.display()
        );
        for f in m["files"].as_array().unwrap() {
            let path = folder.join(f["file"].as_str().unwrap());
            let file =
                hdf5::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let theirs = file
                .attr("fingerprint")
                .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>())
                .unwrap();
            assert_eq!(
                theirs.as_str(),
                fingerprint,
                "{}: a rank file of another job under this manifest",
                path.display()
            );
            let file_seq = file
                .attr("seq")
                .and_then(|a| a.read_scalar::<u64>())
                .unwrap();
            assert_eq!(
                file_seq,
                seq,
                "{}: a rank file of another checkpoint",
                path.display()
            );
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                (
                    json!(bytes.len()),
                    json!(format!("{:016x}", xxh3_64(&bytes)))
                ),
                (f["bytes"].clone(), f["xxh3"].clone()),
                "{}: not the file committed",
                path.display()
            );
        }
        owners.push((seq, fingerprint));
    }
    owners
}

/// Two different jobs checkpointing into one folder at the same time: rank 0 of each claims
/// every checkpoint's folder (`create_dir`) before any rank writes, so no sequence number is
/// shared (each once numbered on from the highest it saw at its start, and both wrote into
/// the same `ckpt-NNNNNN`), every committed folder holds one job's files, and each job then
/// resumes from its own newest.
#[test]
fn jobs_checkpointing_into_one_folder_at_the_same_time_never_share_a_checkpoint() {
    let dir = scratch();
    let a_job = chains_job(dir.path(), 3_000_000);
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&a_job).unwrap()).unwrap();
    other["tasks"][0]["params"]["seed"] = json!(99);
    let b_job = write_job(dir.path(), "other.json", &other);
    let ck = dir.path().join("ck");
    let jobs = [
        (&a_job, dir.path().join("a.h5")),
        (&b_job, dir.path().join("b.h5")),
    ];
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(job, out)| {
                let ck = &ck;
                s.spawn(move || ck_run(2, job, ck, out, &["--checkpoint-interval", "0.2"]))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &runs {
        assert_eq!(r.code, Some(0), "{}", r.text);
    }
    let (a, b) = (committed(&runs[0].text), committed(&runs[1].text));
    assert!(
        a.len() >= 2 && b.len() >= 2,
        "each job commits a few checkpoints: {a:?} {b:?}"
    );
    // The two ran at the same time (else the test shows nothing): their numbers interleave.
    assert!(
        a[0] < *b.last().unwrap() && b[0] < *a.last().unwrap(),
        "the jobs did not checkpoint at the same time: {a:?} {b:?}"
    );
    let shared: Vec<u64> = a.iter().copied().filter(|s| b.contains(s)).collect();
    assert!(
        shared.is_empty(),
        "both jobs committed checkpoints {shared:?}"
    );
    let owners = committed_folders_are_whole(&ck);
    for (job, (mine, out)) in [(a, &jobs[0].1), (b, &jobs[1].1)].iter().enumerate() {
        // Its newest two stay, committed, and hold its own files.
        let newest = *mine.last().unwrap();
        assert!(
            owners.iter().any(|(s, _)| *s == newest),
            "job {job}'s newest checkpoint {newest} is gone: {owners:?}"
        );
        let resumed = dir.path().join(format!("resumed{job}.h5"));
        let r = ck_run(2, jobs[job].0, &ck, &resumed, &["--resume"]);
        assert_eq!(r.code, Some(0), "{}", r.text);
        assert!(
            r.text
                .contains(&format!("resuming from checkpoint {newest} ")),
            "job {job} does not resume from its newest, {newest}: {}",
            r.text
        );
        assert_eq!(
            outputs(&resumed),
            outputs(out),
            "job {job}: resumed result differs"
        );
    }
}
