//! The real binary under mpirun at 1–4 ranks: results equal an independent reference and are
//! bit-identical whatever the rank count; output files, summaries and traces as DESIGN.md
//! says.

use crate::common::*;
use crate::props::random_tasks;
use crate::reference::{evaluate, V};
use serde_json::json;
use std::collections::HashMap;

#[test]
fn diamond_is_bit_identical_on_1_to_4_ranks_and_equals_the_reference() {
    let dir = scratch();
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/diamond.json");
    let mut first: Option<(Vec<f64>, Vec<f64>)> = None;
    for n in 1..=4 {
        let out = dir.path().join(format!("d{n}.h5"));
        let r = mpirun(n, &["run", job, "--output", p(&out)], 60);
        assert_eq!(r.code, Some(0), "{n} ranks: {}", r.text);
        let (x, d) = (read_f64(&out, "x"), read_f64(&out, "d"));
        assert_eq!(x.len(), 5000);
        // Reference: the same arithmetic, written out: a = x+1; d = a*2 - a/2.
        let expect: Vec<f64> = x
            .iter()
            .map(|&x| (x + 1.0) * 2.0 - (x + 1.0) / 2.0)
            .collect();
        assert_eq!(bits(&d), bits(&expect), "{n} ranks: d is not 2a - a/2");
        assert!(d
            .iter()
            .zip(&x)
            .all(|(d, x)| (d - 1.5 * (x + 1.0)).abs() < 1e-12));
        match &first {
            None => first = Some((x, d)),
            Some((x1, d1)) => {
                assert_eq!(bits(&x), bits(x1), "{n} ranks: x differs from 1 rank");
                assert_eq!(bits(&d), bits(d1), "{n} ranks: d differs from 1 rank");
            }
        }
    }
}

/// A fixed pseudo-random recipe (an LCG, so the job is the same on every run).
fn fixed_recipe(n: usize, mut state: u64) -> Vec<(u8, usize, usize, i8, u8)> {
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    (0..n)
        .map(|_| {
            (
                next() as u8,
                next(),
                next(),
                (next() % 16) as i8 - 8,
                (next() % 3) as u8 * 7,
            )
        })
        .collect()
}

#[test]
fn a_random_graph_matches_the_reference_on_1_to_4_ranks() {
    let dir = scratch();
    let mut tasks = random_tasks(&fixed_recipe(300, 42), 64);
    for t in &mut tasks {
        // Scopes in the generated job may name ranks up to 3; keep them valid on 1 rank too.
        t.as_object_mut().unwrap().remove("scope");
    }
    let job = write_job(
        dir.path(),
        "random.json",
        &json!({"dirk": 1, "name": "random", "tasks": tasks}),
    );
    let expect = evaluate(&tasks, &HashMap::new());
    let mut sinks: Vec<String> = Vec::new();
    for n in 1..=4 {
        let out = dir.path().join(format!("r{n}.h5"));
        let summary = dir.path().join(format!("s{n}.json"));
        let r = mpirun(
            n,
            &[
                "run",
                p(&job),
                "--output",
                p(&out),
                "--summary",
                p(&summary),
                "--threads",
                "2",
            ],
            90,
        );
        assert_eq!(r.code, Some(0), "{n} ranks: {}", r.text);
        let f = hdf5::File::open(&out).unwrap();
        let names = f.member_names().unwrap();
        assert!(!names.is_empty());
        if sinks.is_empty() {
            sinks = names.clone();
        }
        assert_eq!(names, sinks, "the same outputs at every rank count");
        for name in &names {
            let got = read_f64(&out, name);
            let want: &V = &expect[name.as_str()];
            let want = want.flat();
            assert!(
                got.len() == want.len()
                    && got
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
                "{n} ranks: output {name} differs from the reference"
            );
        }
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        assert_eq!(s["ranks"], n);
        assert_eq!(s["tasks"], 300);
        let per_rank = s["per_rank"].as_array().unwrap();
        assert_eq!(per_rank.len(), n as usize);
        let ran: u64 = per_rank.iter().map(|r| r["tasks"].as_u64().unwrap()).sum();
        assert_eq!(ran, 300, "every task ran exactly once");
        if n > 1 {
            let moved: u64 = per_rank
                .iter()
                .map(|r| r["bytes_sent"].as_u64().unwrap())
                .sum();
            let got: u64 = per_rank
                .iter()
                .map(|r| r["bytes_received"].as_u64().unwrap())
                .sum();
            assert_eq!(moved, got, "bytes sent equal bytes received");
        }
    }
}

#[test]
fn load_transpose_matmul_and_sum_against_a_reference() {
    let dir = scratch();
    let input = dir.path().join("in.h5");
    let (m, k) = (37, 23);
    let a: Vec<f64> = (0..m * k)
        .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
        .collect();
    {
        let f = hdf5::File::create(&input).unwrap();
        f.new_dataset::<f64>()
            .shape([m, k])
            .create("A")
            .unwrap()
            .write_raw(&a)
            .unwrap();
    }
    let tasks = vec![
        json!({"id": "A", "op": "load", "params": {"file": "in.h5", "dataset": "A"}}),
        json!({"id": "At", "op": "transpose", "args": ["A"]}),
        json!({"id": "G", "op": "matmul", "args": ["A", "At"], "scope": {"ranks": [0, 2]}}),
        json!({"id": "s", "op": "sum", "args": ["G"]}),
        json!({"id": "f", "op": "fill", "args": [[2, 3], 2.5], "params": {"dtype": "f32"}}),
    ];
    let job = write_job(
        dir.path(),
        "la.json",
        &json!({"dirk": 1, "tasks": tasks, "outputs": ["At", "G", "s", "f"]}),
    );
    let mut given = HashMap::new();
    given.insert("A".to_string(), V::A(vec![m, k], a.clone()));
    let expect = evaluate(&tasks[..4], &given);
    let mut first: Option<Vec<f64>> = None;
    for n in [3, 1, 2] {
        let out = dir.path().join(format!("o{n}.h5"));
        let r = mpirun(n, &["run", p(&job), "--output", p(&out)], 60);
        assert_eq!(r.code, Some(0), "{n} ranks: {}", r.text);
        assert_eq!(
            bits(&read_f64(&out, "At")),
            bits(&expect["At"].flat()),
            "transpose is exact"
        );
        let g = read_f64(&out, "G");
        let scale = g.iter().fold(0.0f64, |s, x| s.max(x.abs()));
        for (x, y) in g.iter().zip(expect["G"].flat()) {
            assert!((x - y).abs() <= 1e-12 * scale, "matmul {x} vs {y}");
        }
        let s = read_f64(&out, "s")[0];
        assert!((s - expect["s"].flat()[0]).abs() <= 1e-10 * scale * (m * m) as f64);
        let f = hdf5::File::open(&out).unwrap();
        let fd = f.dataset("f").unwrap();
        assert_eq!(fd.shape(), vec![2, 3]);
        assert_eq!(fd.read_raw::<f32>().unwrap(), vec![2.5f32; 6]);
        assert_eq!(f.attr("ranks").unwrap().read_scalar::<u32>().unwrap(), n);
        match &first {
            None => first = Some(g),
            Some(g1) => assert_eq!(
                bits(&g),
                bits(g1),
                "matmul bit-identical across rank counts"
            ),
        }
    }
}

#[test]
fn without_a_job_file_dirk_runs_the_builtin_diamond_as_one_rank() {
    let dir = scratch();
    let out = dir.path().join("builtin.h5");
    let r = dirk(&["run", "--output", p(&out)]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(r.text.contains("built-in diamond"), "{}", r.text);
    assert_eq!(read_f64(&out, "d").len(), 5000);
}

#[test]
fn the_trace_has_one_complete_event_per_task() {
    let dir = scratch();
    let trace = dir.path().join("t.json");
    let job = concat!(env!("CARGO_MANIFEST_DIR"), "/jobs/diamond.json");
    let r = mpirun(2, &["run", job, "--trace", p(&trace)], 60);
    assert_eq!(r.code, Some(0), "{}", r.text);
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events: Vec<&serde_json::Value> = t["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X")
        .collect();
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["args"]["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["a", "b", "c", "d", "x"]);
    assert!(events
        .iter()
        .all(|e| e["pid"].as_u64().unwrap() < 2 && e["dur"].as_f64().unwrap() >= 0.0));
}

/// Many small values and one large one from rank 1 to rank 0, the large one last. Rank 0 is
/// busy while the small ones come, so they pile up past its window of pre-posted receives
/// while the large one is still to be matched by probing: the probe takes some small ones
/// before their receive would be posted, and the window skips them later (`transport::mpi`,
/// steps 2a and 2b; both paths checked with a print while writing this test). Every value
/// must arrive once, into the right task: the total is checked against a sum done here.
#[test]
fn small_values_past_the_receive_window_and_a_late_large_one_all_arrive() {
    let dir = scratch();
    let n = 150;
    let on = |r: u32| json!({"rank": r});
    let mut tasks = vec![
        json!({"id": "h0", "op": "fill", "args": [[4], 1.0], "scope": on(0)}),
        json!({"id": "hold", "op": "busy", "args": ["h0"], "params": {"iterations": 40_000_000}, "scope": on(0)}),
    ];
    tasks.extend((0..n).map(
        |i| json!({"id": format!("s{i}"), "op": "fill", "args": [[4], i as f64], "scope": on(1)}),
    ));
    // On rank 1, the large value waits for every small one: it is sent after them.
    tasks.push(json!({"id": "g1", "op": "add", "args": ["s0", "s1"], "scope": on(1)}));
    tasks.extend((2..n).map(|i| json!({"id": format!("g{i}"), "op": "add", "args": [format!("g{}", i - 1), format!("s{i}")], "scope": on(1)})));
    tasks.extend([
        json!({"id": "gate", "op": "sum", "args": [format!("g{}", n - 1)], "scope": on(1)}),
        json!({"id": "b0", "op": "fill", "args": [[10000], 0.5], "scope": on(1)}),
        json!({"id": "big", "op": "add", "args": ["b0", "gate"], "scope": on(1)}),
        json!({"id": "a1", "op": "add", "args": ["s0", "s1"], "scope": on(0)}),
    ]);
    tasks.extend((2..n).map(|i| json!({"id": format!("a{i}"), "op": "add", "args": [format!("a{}", i - 1), format!("s{i}")], "scope": on(0)})));
    tasks.extend([
        json!({"id": "bigsum", "op": "sum", "args": ["big"], "scope": on(0)}),
        json!({"id": "total", "op": "add", "args": [format!("a{}", n - 1), "bigsum"], "scope": on(0)}),
    ]);
    let job = write_job(
        dir.path(),
        "window.json",
        &json!({"dirk": 1, "name": "window", "tasks": tasks}),
    );
    let out = dir.path().join("w.h5");
    let r = mpirun(
        2,
        &["run", p(&job), "--output", p(&out), "--threads", "1"],
        90,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    // Every sum is of integers (and halves) far below 2^53: exact in any order.
    let small: f64 = (0..n).map(|i| i as f64).sum();
    let gate = 4.0 * small;
    let want = small + 10000.0 * (0.5 + gate);
    assert_eq!(read_f64(&out, "total"), vec![want; 4]);
}

/// Rank 0 makes 40 medium values (8 KiB, above Open MPI's 4 KiB eager limit, so a send
/// completes only once its receive is posted) with small keys, and 140 with larger keys that
/// feed long chains on rank 1, so its one thread makes the 140 first (higher priority). Rank
/// 1 pre-posts its receives in key order and, with no large value to come, probes for
/// nothing else: its window waits for the 40, which sat behind the 128 sends in flight, all
/// beyond the window. Before the transport let the smallest queued key past the cap, this
/// job hung. Every value must arrive: the sums are checked against ones done here.
#[test]
fn medium_values_made_out_of_key_order_do_not_stall_behind_the_send_cap() {
    let dir = scratch();
    let (early, late) = (40, 140);
    let on = |r: u32| json!({"rank": r});
    let mut tasks = Vec::new();
    tasks.extend((0..early).map(
        |i| json!({"id": format!("e{i}"), "op": "fill", "args": [[1024], 1.0], "scope": on(0)}),
    ));
    tasks.extend((0..late).map(
        |j| json!({"id": format!("l{j}"), "op": "fill", "args": [[1024], 2.0], "scope": on(0)}),
    ));
    tasks.extend((0..early).map(
        |i| json!({"id": format!("ce{i}"), "op": "sum", "args": [format!("e{i}")], "scope": on(1)}),
    ));
    for j in 0..late {
        let mut prev = format!("l{j}");
        for k in 0..4 {
            let id = format!("cl{j}_{k}");
            tasks.push(json!({"id": id, "op": "add", "args": [prev, 1.0], "scope": on(1)}));
            prev = id;
        }
        tasks.push(json!({"id": format!("sl{j}"), "op": "sum", "args": [prev], "scope": on(1)}));
    }
    let job = write_job(
        dir.path(),
        "order.json",
        &json!({"dirk": 1, "name": "order", "tasks": tasks}),
    );
    let out = dir.path().join("o.h5");
    let r = mpirun(
        2,
        &[
            "run",
            p(&job),
            "--output",
            p(&out),
            "--threads",
            "1",
            "--steal",
            "off",
        ],
        60,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(r.elapsed.as_secs() < 30, "took {:?}", r.elapsed);
    for i in [0, early - 1] {
        assert_eq!(read_f64(&out, &format!("ce{i}")), vec![1024.0]);
    }
    for j in [0, late - 1] {
        assert_eq!(read_f64(&out, &format!("sl{j}")), vec![6.0 * 1024.0]);
    }
}

/// Issue 26: every message dirk sends is received before `MPI_Finalize`, so the MPI library
/// warns of nothing. Under MPICH over UCX an unreceived message prints `UCX WARN unexpected
/// tag-receive descriptor ... was not matched`; before the heartbeats' goodbye handshake
/// about one run in three of these printed it (a peer's last heartbeat or goodbye came after
/// this rank stopped listening). Open MPI stays silent about it but would print its banners
/// for other faults. Several short runs, since the race showed in some runs only: stealing
/// off and on, checkpoints, 2-4 ranks, each run's whole output checked.
#[test]
fn issue_26_no_mpi_warning_at_the_end_of_a_run() {
    let dir = scratch();
    let repo = env!("CARGO_MANIFEST_DIR");
    let ck = dir.path().join("ck");
    let ck = p(&ck);
    let runs: [(u32, &str, &[&str]); 6] = [
        (2, "diamond", &["--steal", "off"]),
        (3, "diamond", &["--steal", "on"]),
        (2, "life", &["--steal", "on"]),
        (3, "heat", &["--steal", "off"]),
        (4, "reduce", &["--steal", "on"]),
        (
            3,
            "life",
            &["--checkpoint-dir", ck, "--checkpoint-interval", "0.05"],
        ),
    ];
    for (n, job, extra) in runs {
        let job = format!("{repo}/jobs/{job}.json");
        let mut args = vec!["run", job.as_str(), "--threads", "1"];
        args.extend_from_slice(extra);
        // `finish` (common.rs) fails the test on a warning; checked here again by name.
        let r = mpirun(n, &args, 60);
        assert_eq!(r.code, Some(0), "{n} ranks, {args:?}: {}", r.text);
        assert!(mpi_warnings(&r.text).is_empty(), "{n} ranks: {}", r.text);
    }
}

/// The warning detector knows the libraries' words (and passes dirk's own lines).
#[test]
fn mpi_warnings_are_recognised() {
    let ucx = "[1796678817.915410] [vm:26823:0]       tag_match.c:62   UCX  WARN  unexpected tag-receive descriptor 0x5643b511ac80 was not matched";
    let ompi = "--------------------------------------------------------------------------\nWARNING: There was an error initializing an OpenFabrics device.\n";
    let ompi_line =
        "[vm:01234] 1 more process has sent help message help-mpi-btl-base.txt / btl:no-nics";
    let ompi_warn =
        "[vm:01234] mca_base_component_repository_open: WARNING: unable to open mca_btl_openib";
    let dirk = "dirk[0] warn: the MPI library gives thread level Single\ndirk[0] info: done: 5 tasks in 0.05 s";
    assert_eq!(mpi_warnings(ucx).len(), 1);
    assert_eq!(mpi_warnings(ompi).len(), 1);
    assert_eq!(mpi_warnings(ompi_warn).len(), 1);
    assert!(
        mpi_warnings(ompi_line).is_empty(),
        "a help-message count is no warning itself"
    );
    assert!(mpi_warnings(dirk).is_empty());
}
