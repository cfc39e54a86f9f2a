//! Task Bench compatibility (`dirk taskbench`, the `taskbench` workload): the dependency
//! sets of every pattern against hand-checked cases and against a reimplementation written
//! here from Task Bench's definitions (set-based, sharing no code with dirk's); the task and
//! dependency counts dirk prints against independently computed ones; every pattern run
//! under mpirun at 1 and 2 ranks, printing Task Bench's summary lines in the form Task
//! Bench's `chart_metg.py` parses; the outputs of a job-file run; bad flags exit 2.

use crate::common::{self, mpirun, p, scratch};
use dirk::taskbench::{GraphSpec, KernelKind, Pattern};
use std::collections::BTreeSet;

fn spec(pattern: Pattern, steps: i64, width: i64) -> GraphSpec {
    let mut g = GraphSpec::new(0);
    g.dependence = pattern;
    g.timesteps = steps;
    g.max_width = width;
    g.resolve_defaults();
    g
}

/// Points that exist at timestep t, from Task Bench's definitions.
fn points(pattern: Pattern, steps: i64, width: i64, t: i64) -> BTreeSet<i64> {
    if t < 0 {
        return BTreeSet::new();
    }
    match pattern {
        // The diamond: a band that enters at point 0 and leaves at point width − 1.
        // The diamond: min(width, t + 1, steps − t) points, the band sliding right once
        // steps − t < width.
        Pattern::Dom => {
            let start = (t + width - steps).max(0);
            (start..start + width.min(t + 1).min(steps - t)).collect()
        }
        // A binary tree: 2^t points until the width is reached.
        Pattern::Tree => (0..width.min(1 << t.min(40))).collect(),
        _ => (0..width).collect(),
    }
}

/// Producers of (t, p), from Task Bench's definitions, as a set.
fn expected(
    pattern: Pattern,
    steps: i64,
    width: i64,
    radix: i64,
    period: i64,
    t: i64,
    p: i64,
) -> BTreeSet<i64> {
    let before = points(pattern, steps, width, t - 1);
    let near = |lo: i64, hi: i64| -> BTreeSet<i64> {
        (p - lo..=p + hi)
            .filter(|d| (0..width).contains(d))
            .collect()
    };
    let all: BTreeSet<i64> = match pattern {
        Pattern::Trivial => BTreeSet::new(),
        Pattern::NoComm => [p].into(),
        Pattern::Stencil1d => near(1, 1),
        Pattern::Stencil1dPeriodic => [(p + width - 1) % width, p, (p + 1) % width].into(),
        Pattern::Dom => near(1, 0),
        Pattern::Tree => [p / 2].into(),
        Pattern::Fft => {
            // Stage k = (t − 1) mod log2(width): the butterfly partners at distance 2^k.
            let stages = (width as f64).log2().ceil() as i64;
            let k = (t + stages - 1) % stages;
            [p - (1 << k), p, p + (1 << k)]
                .into_iter()
                .filter(|d| (0..width).contains(d))
                .collect()
        }
        Pattern::AllToAll => (0..width).collect(),
        Pattern::Nearest => {
            if radix == 0 {
                BTreeSet::new()
            } else {
                near(radix / 2, (radix - 1) / 2)
            }
        }
        Pattern::Spread => {
            let shift = t % period;
            (0..radix)
                .map(|i| (p + i * width / radix + if i > 0 { shift } else { 0 }) % width)
                .collect()
        }
        Pattern::RandomNearest => unreachable!("checked separately"),
    };
    all.intersection(&before).copied().collect()
}

const PATTERNS: [Pattern; 10] = [
    Pattern::Trivial,
    Pattern::NoComm,
    Pattern::Stencil1d,
    Pattern::Stencil1dPeriodic,
    Pattern::Dom,
    Pattern::Tree,
    Pattern::Fft,
    Pattern::AllToAll,
    Pattern::Nearest,
    Pattern::Spread,
];

#[test]
fn every_pattern_matches_an_independent_reimplementation() {
    for pattern in PATTERNS {
        for (steps, width) in [(1, 1), (5, 3), (9, 4), (12, 8), (7, 13), (20, 16)] {
            let mut g = spec(pattern, steps, width);
            if pattern == Pattern::Spread {
                g.radix = 2;
                g.period = 1.max(((width + 1) / 2).min(3));
            }
            if g.check().is_err() {
                // Degenerate widths Task Bench itself rejects (fft of width 1, periodic of
                // width 1 or 2, which would list a dependency twice).
                continue;
            }
            for t in 0..steps {
                let exist: BTreeSet<i64> = (g.offset_at_timestep(t)
                    ..g.offset_at_timestep(t) + g.width_at_timestep(t))
                    .collect();
                assert_eq!(
                    exist,
                    points(pattern, steps, width, t),
                    "{pattern:?} {steps}x{width} t={t}"
                );
                for p in exist {
                    let got = g.inputs(t, p);
                    let set: BTreeSet<i64> = got.iter().copied().collect();
                    assert_eq!(
                        set.len(),
                        got.len(),
                        "{pattern:?}: duplicate inputs at t={t} p={p}"
                    );
                    assert_eq!(
                        set,
                        expected(pattern, steps, width, g.radix, g.period, t, p),
                        "{pattern:?} {steps}x{width} t={t} p={p}"
                    );
                }
            }
        }
    }
}

#[test]
fn hand_checked_small_cases() {
    let deps = |g: &GraphSpec, t: i64| -> Vec<Vec<i64>> {
        let o = g.offset_at_timestep(t);
        (o..o + g.width_at_timestep(t))
            .map(|p| g.inputs(t, p))
            .collect()
    };
    let g = spec(Pattern::Stencil1d, 3, 4);
    assert_eq!(deps(&g, 0), vec![Vec::<i64>::new(); 4]);
    assert_eq!(
        deps(&g, 1),
        vec![vec![0, 1], vec![0, 1, 2], vec![1, 2, 3], vec![2, 3]]
    );
    let g = spec(Pattern::Stencil1dPeriodic, 3, 4);
    assert_eq!(
        deps(&g, 2),
        vec![vec![0, 1, 3], vec![0, 1, 2], vec![1, 2, 3], vec![2, 3, 0]]
    );
    // Tree of width 4: 1, 2, 4, 4 points; each reads its parent p/2.
    let g = spec(Pattern::Tree, 4, 4);
    assert_eq!(deps(&g, 1), vec![vec![0], vec![0]]);
    assert_eq!(deps(&g, 2), vec![vec![0], vec![0], vec![1], vec![1]]);
    assert_eq!(deps(&g, 3), vec![vec![0], vec![0], vec![1], vec![1]]);
    // FFT of width 4: stages at distance 1, 2, 1, …
    let g = spec(Pattern::Fft, 4, 4);
    assert_eq!(
        deps(&g, 1),
        vec![vec![0, 1], vec![0, 1, 2], vec![1, 2, 3], vec![2, 3]]
    );
    assert_eq!(
        deps(&g, 2),
        vec![vec![0, 2], vec![1, 3], vec![0, 2], vec![1, 3]]
    );
    // dom with 4 steps and width 4: points {0}, {1,2}, {2,3}, {3}.
    let g = spec(Pattern::Dom, 4, 4);
    assert_eq!((g.offset_at_timestep(1), g.width_at_timestep(1)), (1, 2));
    assert_eq!(deps(&g, 1), vec![vec![0], vec![]]);
    assert_eq!(deps(&g, 2), vec![vec![1, 2], vec![2]]);
    assert_eq!(deps(&g, 3), vec![vec![2, 3]]);
    assert_eq!(g.counts(), (6, 6));
    // nearest with radix 4 reads p−2 … p+1.
    let mut g = spec(Pattern::Nearest, 2, 6);
    g.radix = 4;
    assert_eq!(deps(&g, 1)[3], vec![1, 2, 3, 4]);
    // spread, width 8, radix 2, period 3: p and p + 4 + (t mod 3).
    let mut g = spec(Pattern::Spread, 4, 8);
    g.radix = 2;
    g.period = 3;
    assert!(g.check().is_ok());
    assert_eq!(deps(&g, 1)[0], vec![0, 5]);
    assert_eq!(deps(&g, 2)[7], vec![7, 5]);
}

#[test]
fn random_nearest_is_a_deterministic_subset_of_nearest() {
    let mut g = spec(Pattern::RandomNearest, 6, 16);
    g.radix = 5;
    g.fraction_connected = 0.5;
    assert!(g.check().is_ok());
    let mut total = 0;
    for t in 1..6 {
        for p in 0..16 {
            let got: BTreeSet<i64> = g.inputs(t, p).into_iter().collect();
            assert!(got.contains(&p), "a point always depends on itself");
            assert!(got.iter().all(|d| (p - 2..=p + 2).contains(d)));
            total += got.len();
            assert_eq!(g.inputs(t, p), g.clone().inputs(t, p));
        }
    }
    // About half the 4 neighbours kept, plus the point itself.
    assert!(total > 5 * 16 && total < 5 * 16 * 5, "{total}");
}

/// Task Bench's counts, computed from the reimplementation above.
fn expected_counts(
    pattern: Pattern,
    steps: i64,
    width: i64,
    radix: i64,
    period: i64,
) -> (i64, i64) {
    let mut tasks = 0;
    let mut deps = 0;
    for t in 0..steps {
        for p in points(pattern, steps, width, t) {
            tasks += 1;
            deps += expected(pattern, steps, width, radix, period, t, p).len() as i64;
        }
    }
    (tasks, deps)
}

/// The value of a `Key value` summary line (Task Bench's `chart_metg.py` regexes:
/// `^\s*Total Tasks ([0-9]+)$`, `^\s*Elapsed Time ([0-9.e+-]+) seconds$`, …).
fn field<'a>(text: &'a str, key: &str, suffix: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix(key)?.strip_suffix(suffix))
        .collect()
}

fn number(text: &str, key: &str) -> i64 {
    let v = field(text, &format!("{key} "), "");
    assert_eq!(v.len(), 1, "one {key:?} line in:\n{text}");
    v[0].parse().unwrap_or_else(|_| panic!("{key}: {:?}", v[0]))
}

fn pattern_args(pattern: Pattern) -> Vec<String> {
    let mut a = vec!["-type".to_string(), pattern.name().to_string()];
    if pattern == Pattern::Spread {
        a.extend(["-radix", "2", "-period", "2"].map(String::from));
    }
    a
}

fn check_summary(text: &str, graphs: &[(Pattern, i64, i64, i64, i64)], iter: i64) {
    assert!(text.contains("Running Task Benchmark"), "{text}");
    let (mut tasks, mut deps) = (0, 0);
    for &(pattern, steps, width, radix, period) in graphs {
        let (t, d) = expected_counts(pattern, steps, width, radix, period);
        tasks += t;
        deps += d;
    }
    assert_eq!(number(text, "Total Tasks"), tasks, "{text}");
    assert_eq!(number(text, "Total Dependencies"), deps, "{text}");
    // compute_bound: 2·64·iter + 64 FLOPs per task.
    assert_eq!(
        number(text, "Total FLOPs"),
        tasks * (128 * iter + 64),
        "{text}"
    );
    assert_eq!(number(text, "Total Bytes"), 0);
    let elapsed = field(text, "Elapsed Time ", " seconds");
    assert_eq!(elapsed.len(), 1, "{text}");
    let e = elapsed[0];
    assert!(
        e.chars().all(|c| c.is_ascii_digit() || ".e+-".contains(c)),
        "{e}"
    );
    assert!(e.parse::<f64>().unwrap() > 0.0);
    assert_eq!(field(text, "Iterations: ", "").len(), graphs.len());
    assert_eq!(field(text, "Time Steps: ", "").len(), graphs.len());
    assert_eq!(field(text, "Max Width: ", "").len(), graphs.len());
    assert_eq!(field(text, "Output Bytes: ", "").len(), graphs.len());
    assert_eq!(field(text, "FLOP/s ", "").len(), 1);
}

#[test]
fn every_pattern_runs_at_1_and_2_ranks_and_prints_the_summary() {
    // All patterns in one app (-and), and each pattern alone at 2 ranks.
    let (steps, width, iter) = (6i64, 4i64, 16i64);
    let mut args: Vec<String> = vec!["taskbench".into()];
    let mut graphs = Vec::new();
    for (i, pattern) in PATTERNS.into_iter().enumerate() {
        if i > 0 {
            args.push("-and".into());
        }
        args.extend(pattern_args(pattern));
        args.extend(
            [
                "-steps",
                &steps.to_string(),
                "-width",
                &width.to_string(),
                "-kernel",
                "compute_bound",
                "-iter",
                &iter.to_string(),
                "-output",
                "40",
            ]
            .map(String::from),
        );
        let (radix, period) = if pattern == Pattern::Spread {
            (2, 2)
        } else {
            (3, 0)
        };
        graphs.push((pattern, steps, width, radix, period));
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    for ranks in [1, 2] {
        let r = mpirun(ranks, &argv, 60);
        assert_eq!(r.code, Some(0), "{ranks} ranks: {}", r.text);
        check_summary(&r.text, &graphs, iter);
        assert_eq!(
            r.text.matches("Running Task Benchmark").count(),
            1,
            "rank 0 only"
        );
    }
    // Each pattern alone at 2 ranks (width 5: uneven blocks), the runs side by side.
    let runs: Vec<_> = graphs
        .into_iter()
        .map(|(pattern, _, _, radix, period)| {
            std::thread::spawn(move || {
                let mut a: Vec<String> = vec!["taskbench".into()];
                a.extend(pattern_args(pattern));
                a.extend(
                    [
                        "-steps",
                        "5",
                        "-width",
                        "5",
                        "-kernel",
                        "compute_bound",
                        "-iter",
                        "16",
                    ]
                    .map(String::from),
                );
                a.extend(["--threads", "1"].map(String::from));
                let argv: Vec<&str> = a.iter().map(String::as_str).collect();
                (pattern, radix, period, mpirun(2, &argv, 120))
            })
        })
        .collect();
    for h in runs {
        let (pattern, radix, period, r) = h.join().expect("run thread");
        assert_eq!(r.code, Some(0), "{pattern:?}: {}", r.text);
        check_summary(&r.text, &[(pattern, 5, 5, radix, period)], 16);
    }
}

#[test]
fn other_kernels_and_the_nodes_estimate() {
    let r = mpirun(
        2,
        &[
            "taskbench",
            "-steps",
            "8",
            "-width",
            "4",
            "-type",
            "stencil_1d",
            "-kernel",
            "memory_bound",
            "-iter",
            "32",
            "-scratch",
            "65536",
            "-nodes",
            "2",
            "-and",
            "-type",
            "random_nearest",
            "-radix",
            "3",
            "-kernel",
            "load_imbalance",
            "-iter",
            "100",
            "-imbalance",
            "1.5",
            "-and",
            "-kernel",
            "busy_wait",
            "-iter",
            "100",
            "-and",
            "-kernel",
            "empty",
        ],
        60,
    );
    assert_eq!(r.code, Some(0), "{}", r.text);
    // memory_bound: scratch · iter / samples bytes per task, 32 tasks.
    assert_eq!(
        number(&r.text, "Total Bytes"),
        32 * 65536 * 32 / 16,
        "{}",
        r.text
    );
    // stencil_1d 8×4 on 2 nodes: of 7·10 dependencies, 7·2 cross the middle.
    assert_eq!(
        field(&r.text, "Nonlocal Dependencies ", " (estimated)").len(),
        1,
        "{}",
        r.text
    );
    assert!(
        r.text.contains("Number of Nodes (used for estimate) 2"),
        "{}",
        r.text
    );
    assert!(r.text.contains("  Nonlocal Bytes "), "{}", r.text);
    let flops = number(&r.text, "Total FLOPs");
    let mut g = GraphSpec::new(1);
    g.dependence = Pattern::RandomNearest;
    g.kernel.kind = KernelKind::LoadImbalance;
    g.kernel.iterations = 100;
    g.kernel.imbalance = 1.5;
    g.resolve_defaults();
    assert_eq!(
        flops,
        g.work().0,
        "load_imbalance FLOPs follow Task Bench's per-task draw"
    );
    assert_ne!(
        flops,
        16 * (128 * 100 + 64),
        "the draw varies the iterations"
    );
}

#[test]
fn a_job_file_workload_writes_the_last_timestep() {
    let dir = scratch();
    let job = serde_json::json!({
        "dirk": 1,
        "workload": {"kind": "taskbench", "steps": 5, "width": 6, "type": "dom", "kernel": "compute_bound",
                     "iter": 8, "output": 24, "and": [{"type": "stencil_1d_periodic", "steps": 3, "width": 3}]}
    });
    let path = common::write_job(dir.path(), "tb.json", &job);
    let out = dir.path().join("out.h5");
    let r = mpirun(2, &["run", p(&path), "--output", p(&out)], 60);
    assert_eq!(r.code, Some(0), "{}", r.text);
    let f = hdf5::File::open(&out).unwrap();
    // dom 5×6: the last timestep has one point, 5; its 24 bytes are (4, 5) and 8 zeros.
    let ds = f.dataset("graph0").unwrap();
    assert_eq!(ds.shape(), vec![1, 24]);
    let v = ds.read_raw::<u8>().unwrap();
    assert_eq!(&v[..8], &4i64.to_le_bytes());
    assert_eq!(&v[8..16], &5i64.to_le_bytes());
    assert_eq!(&v[16..], &[0u8; 8]);
    let ds = f.dataset("graph1").unwrap();
    assert_eq!(ds.shape(), vec![3, 16]);
    let v = ds.read_raw::<u8>().unwrap();
    for p in 0..3usize {
        assert_eq!(&v[p * 16..p * 16 + 8], &2i64.to_le_bytes());
        assert_eq!(&v[p * 16 + 8..p * 16 + 16], &(p as i64).to_le_bytes());
    }
    // Parameter mistakes name the JSON path.
    let bad = serde_json::json!({"dirk": 1, "workload": {"kind": "taskbench", "type": "spread", "period": 9}});
    let path = common::write_job(dir.path(), "bad.json", &bad);
    let v = common::dirk(&["validate", p(&path)]);
    assert_eq!(v.code, Some(2), "{}", v.text);
    assert!(
        v.text.contains("workload.type") && v.text.contains("period that is at most"),
        "{}",
        v.text
    );
    let bad =
        serde_json::json!({"dirk": 1, "workload": {"kind": "taskbench", "and": [{"steps": 0}]}});
    let path = common::write_job(dir.path(), "bad2.json", &bad);
    let v = common::dirk(&["validate", p(&path)]);
    assert_eq!(v.code, Some(2), "{}", v.text);
    assert!(v.text.contains("workload.and[0].steps"), "{}", v.text);
}

#[test]
fn bad_flags_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["-steps", "0"], "Invalid flag \"-steps 0\" must be > 0"),
        (
            &["-width", "x"],
            "Invalid flag \"-width x\" must be an integer",
        ),
        (&["-steps"], "Flag \"-steps\" requires an argument"),
        (&["-type", "bogus"], "Invalid flag \"-type bogus\""),
        (&["-kernel", "compute_dgemm"], "not supported by dirk"),
        (
            &["-output", "8"],
            "Invalid flag \"-output 8\" must be >= 16",
        ),
        (&["-imbalance", "3"], "must be >= 0 and <= 2"),
        (
            &["-type", "stencil_1d", "-period", "2"],
            "does not support user-configurable period",
        ),
        (
            &["-type", "spread", "-width", "4"],
            "requires a period that is at most 2",
        ),
        (&["-type", "stencil_1d_periodic", "-width", "2"], "twice"),
        (&["-kernel", "memory_bound"], "requires -scratch > 0"),
    ];
    for (flags, needle) in cases {
        let mut args = vec!["taskbench"];
        args.extend_from_slice(flags);
        let r = common::dirk(&args);
        assert_eq!(r.code, Some(2), "{flags:?}: {}", r.text);
        assert!(r.text.contains(needle), "{flags:?}: {}", r.text);
    }
    // Under mpirun: exit 2, said once.
    let r = mpirun(2, &["taskbench", "-type", "bogus"], 30);
    assert_eq!(r.code, Some(2), "{}", r.text);
    assert_eq!(r.text.matches("Invalid flag").count(), 1, "{}", r.text);
    // -h prints the flags and exits 0.
    let r = common::dirk(&["taskbench", "-h"]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(
        r.text.contains("-steps [INT]") && r.text.contains("stencil_1d"),
        "{}",
        r.text
    );
}

#[test]
fn verbose_lists_every_timesteps_dependencies() {
    let r = common::dirk(&[
        "taskbench",
        "-v",
        "-steps",
        "3",
        "-width",
        "4",
        "-type",
        "stencil_1d",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(
        r.text
            .contains("      Timestep 1 (offset 0, width 4, last offset 0, last width 4):"),
        "{}",
        r.text
    );
    assert!(r.text.contains("          Point 1: 0 1 2\n"), "{}", r.text);
    // -vv adds the reverse dependencies.
    let r = common::dirk(&[
        "taskbench",
        "-steps",
        "2",
        "-width",
        "4",
        "-type",
        "tree",
        "-vv",
    ]);
    assert_eq!(r.code, Some(0), "{}", r.text);
    assert!(
        r.text
            .contains("        Reverse Dependencies:\n          Point 0: 0 1\n"),
        "{}",
        r.text
    );
}
