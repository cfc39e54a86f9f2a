//! Cross-rank work stealing under mpirun: a skewed job (heavy chains dealt to the first
//! ranks by placement) gets tasks stolen, each task runs exactly once (the trace has one event
//! per task), and the outputs equal, bit for bit, the chains computed here (`expected`), with
//! stealing on and off, at 2 and 4 ranks; with checkpoints on, a stealing run still
//! checkpoints, and it and its resume end with those same outputs.

use crate::common::*;
use crate::reference::rand_f64;
use serde_json::{json, Value as Json};
use std::path::Path;

/// Values per chain, and the factor of each chain's `mul` steps (1 + 2⁻¹⁰).
const SIZE: usize = 300;
const MUL: f64 = 1.0009765625;

/// `chains` chains of `length` (busy, mul) steps; the first half `heavy` iterations per busy,
/// the rest a tenth of that. Chains are dealt out in blocks, so the heavy ones sit on the
/// first ranks.
fn skewed_job(dir: &Path, chains: usize, length: usize, heavy: u64) -> std::path::PathBuf {
    let iterations: Vec<u64> = (0..chains)
        .map(|c| if c < chains / 2 { heavy } else { heavy / 10 })
        .collect();
    write_job(
        dir,
        "skew.json",
        &json!({"dirk": 1, "name": "skew", "workload": {"kind": "chains", "chains": chains,
            "length": length, "size": SIZE, "mul": MUL, "iterations": iterations}}),
    )
}

/// The outputs of `skewed_job` computed here, as bit patterns: chain c starts from
/// rand(seed c, [SIZE]) (dirk's documented contract, re-derived in `reference`), each busy
/// returns its input and each mul multiplies by MUL, one rounding per step.
fn expected(chains: usize, length: usize) -> Vec<Vec<u64>> {
    (0..chains)
        .map(|c| {
            let v: Vec<f64> = (0..SIZE)
                .map(|i| (0..length).fold(rand_f64(c as u64, i), |x, _| x * MUL))
                .collect();
            bits(&v)
        })
        .collect()
}

fn summary(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).expect("summary written"))
        .expect("summary is JSON")
}

/// Asserts that the chains' outputs in `file` are `want` bit for bit; `what` names the run.
fn assert_expected(file: &Path, want: &[Vec<u64>], what: &str) {
    for (c, w) in want.iter().enumerate() {
        let got = bits(&read_f64(file, &format!("c{c}")));
        assert_eq!(got.len(), w.len(), "{what}: c{c} has {} values", got.len());
        if let Some(i) = (0..w.len()).find(|&i| got[i] != w[i]) {
            panic!(
                "{what}: c{c}[{i}] is {}, the reference {}",
                f64::from_bits(got[i]),
                f64::from_bits(w[i])
            );
        }
    }
}

#[test]
fn a_skewed_job_gets_tasks_stolen_and_matches_the_reference_on_2_and_4_ranks() {
    let dir = scratch();
    // 16 chains, so that at 4 ranks (on 2 cores here) each loaded rank holds 4 heavy chains
    // and has tasks ready whenever a thief asks. With 8, a loaded rank held 2 chains, at most
    // one task ready at a time, and a 4-rank run stole nothing in about 1 of 20 runs (with
    // this session's build and the one before alike).
    let chains = 16;
    let job = skewed_job(dir.path(), chains, 6, 4_000_000);
    let want = expected(chains, 6);
    for n in [2u32, 4] {
        for mode in ["off", "on"] {
            let out = dir.path().join(format!("o{n}{mode}.h5"));
            let sum = dir.path().join(format!("s{n}{mode}.json"));
            let trace = dir.path().join(format!("t{n}{mode}.json"));
            let r = mpirun(
                n,
                &[
                    "run",
                    p(&job),
                    "--output",
                    p(&out),
                    "--threads",
                    "1",
                    "--steal",
                    mode,
                    "--summary",
                    p(&sum),
                    "--trace",
                    p(&trace),
                ],
                120,
            );
            assert_eq!(r.code, Some(0), "{n} ranks, steal {mode}: {}", r.text);
            let s = summary(&sum);
            let total = s["tasks"].as_u64().unwrap();
            assert_eq!(total as usize, chains * (1 + 2 * 6));
            let per_rank = s["per_rank"].as_array().unwrap();
            let ran: u64 = per_rank.iter().map(|r| r["tasks"].as_u64().unwrap()).sum();
            assert_eq!(ran, total, "{n} ranks, steal {mode}: tasks run = tasks");
            let stolen = s["tasks_stolen"].as_u64().unwrap();
            let given: u64 = per_rank
                .iter()
                .map(|r| r["given_away"].as_u64().unwrap())
                .sum();
            assert_eq!(stolen, given, "every task stolen was given away once");
            if mode == "on" {
                assert!(stolen > 0, "{n} ranks: nothing was stolen: {s}");
                let rep = dirk(&["report", p(&sum)]);
                assert_eq!(rep.code, Some(0), "{}", rep.text);
                assert!(
                    rep.text.contains(&format!(
                        "work stealing: {stolen} tasks ran on another rank"
                    )),
                    "{}",
                    rep.text
                );
            } else {
                assert_eq!(stolen, 0);
            }
            // One trace event per task: none lost, none run twice.
            let t: Json = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
            let events = t["traceEvents"].as_array().unwrap();
            let mut ids: Vec<&str> = events
                .iter()
                .filter(|e| e["ph"] == "X" && e["cat"] == "task")
                .filter_map(|e| e["args"]["id"].as_str())
                .collect();
            ids.sort_unstable();
            let n_ids = ids.len();
            ids.dedup();
            assert_eq!(
                n_ids,
                ids.len(),
                "{n} ranks, steal {mode}: a task ran twice"
            );
            assert_eq!(
                ids.len() as u64,
                total,
                "{n} ranks, steal {mode}: a task is missing"
            );
            // Equal to the chains computed here, so also bit-identical across rank counts
            // and with stealing on or off.
            assert_expected(&out, &want, &format!("{n} ranks, steal {mode}"));
        }
    }
}

#[test]
fn a_stealing_run_with_checkpoints_matches_the_reference() {
    let dir = scratch();
    let chains = 6;
    let job = skewed_job(dir.path(), chains, 10, 8_000_000);
    let want = expected(chains, 10);
    let ck = dir.path().join("ck");
    let on = dir.path().join("on.h5");
    let sum = dir.path().join("s.json");
    let r = mpirun(
        2,
        &[
            "run",
            p(&job),
            "--output",
            p(&on),
            "--threads",
            "1",
            "--checkpoint-dir",
            p(&ck),
            "--checkpoint-interval",
            "0.05",
            "--summary",
            p(&sum),
        ],
        120,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    let s = summary(&sum);
    assert!(s["checkpoints"].as_u64().unwrap() > 0, "{s}");
    assert!(s["tasks_stolen"].as_u64().unwrap() > 0, "{s}");
    // Each task stolen came in a reply to some request; no reply without a request.
    let per_rank = s["per_rank"].as_array().unwrap();
    let field = |k: &str| per_rank.iter().map(|r| r[k].as_u64().unwrap()).sum::<u64>();
    assert!(field("steal_successes") >= 1, "{s}");
    assert!(field("steal_successes") <= field("steal_requests"), "{s}");
    assert!(field("steal_successes") <= field("stolen"), "{s}");
    assert_expected(&on, &want, "stealing with checkpoints");
    // Resuming from the last checkpoint (a stolen task is recorded by its owner) plans only
    // what was left, and gives the same result.
    let again = dir.path().join("again.h5");
    let r = mpirun(
        2,
        &[
            "run",
            p(&job),
            "--output",
            p(&again),
            "--threads",
            "1",
            "--checkpoint-dir",
            p(&ck),
            "--resume",
        ],
        120,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert_expected(&again, &want, "resumed");
}

#[test]
fn calibration_files_are_written_and_read_back() {
    let dir = scratch();
    let job = skewed_job(dir.path(), 4, 3, 1_000_000);
    let cal = dir.path().join("cal.json");
    for _ in 0..2 {
        let r = mpirun(
            2,
            &["run", p(&job), "--threads", "1", "--calibration", p(&cal)],
            60,
        );
        assert_eq!(r.code, Some(0), "{}", r.text);
        let c: Json = serde_json::from_str(&std::fs::read_to_string(&cal).unwrap()).unwrap();
        assert_eq!(c["dirk_calibration"], 1);
        let busy = c["ops"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(k, _)| k.starts_with("busy/"))
            .map(|(_, v)| v["ns"].as_f64().unwrap())
            .expect("busy times measured");
        // 1e6 or 1e5 iterations of about a nanosecond each.
        assert!(busy > 2e4 && busy < 1e8, "{busy}");
    }
    // A file that is not a calibration file is bad input, and is left as it was: before,
    // it was only warned about and then overwritten (`--calibration job.json` ate the job).
    std::fs::write(&cal, "garbage").unwrap();
    let r = mpirun(
        2,
        &["run", p(&job), "--threads", "1", "--calibration", p(&cal)],
        60,
    );
    assert_eq!(r.code, Some(2), "{}", r.text);
    assert!(
        r.text.contains("--calibration") && r.text.contains("cal.json"),
        "{}",
        r.text
    );
    assert_eq!(
        r.text.matches("error").count(),
        1,
        "reported once: {}",
        r.text
    );
    assert_eq!(std::fs::read_to_string(&cal).unwrap(), "garbage");
}
