//! Generated malformed job files (issue 21): valid jobs of every kind, mutated — a value
//! swapped for a hostile one (huge, negative, empty, NUL, a device path, 33 dimensions, deep
//! nesting), a key removed, added or given twice, the text cut short or a byte changed.
//!
//! 1,200 cases go through the library's validation in-process (`job::from_str`, what
//! `dirk validate` and rank 0 run): none may panic, and each refusal is one line. A sample of
//! the refused ones goes through the binary: `dirk validate`, and `run` under `timeout mpirun
//! -n 2` with result files in a scratch folder: exit 2, one error line, no panic, no hang,
//! nothing left behind. `DIRK_FUZZ_SEED=N` replays another sequence.

use crate::common::*;
use serde_json::{json, Value};
use std::fmt::Write;
use std::time::Instant;

const CASES: usize = 1200;
const VALIDATE_SAMPLE: usize = 20;
const RUN_SAMPLE: usize = 12;

/// splitmix64: a small reproducible generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid jobs of every kind, small.
fn seeds() -> Vec<Value> {
    let w = |v: Value| json!({"dirk": 1, "workload": v});
    vec![
        json!({"dirk": 1, "name": "diamond", "tasks": [
            {"id": "x", "op": "rand", "args": [[50]], "params": {"seed": 0}},
            {"id": "a", "op": "add", "args": ["x", 1.0]},
            {"id": "b", "op": "mul", "args": ["a", 2.0], "scope": {"rank": 1}},
            {"id": "c", "op": "div", "args": ["a", 2.0], "scope": {"device": "cpu"}},
            {"id": "d", "op": "sub", "args": ["b", "c"]},
            {"id": "s", "op": "sum", "args": ["d"]},
            {"id": "f", "op": "fill", "args": [[2, 3], 7], "params": {"dtype": "i64"}},
            {"id": "t", "op": "transpose", "args": ["f"]},
            {"id": "y", "op": "busy", "args": ["x"], "params": {"iterations": 10}}],
            "outputs": ["d", "s", "t"],
            "options": {"threads": 1, "steal": "off", "gpus": "none", "peer_timeout": 30}}),
        w(
            json!({"kind": "life", "grid": [16, 16], "tiles": [2, 2], "steps": 2, "boundary": "dead", "halo": 1, "seed": 3}),
        ),
        w(json!({"kind": "heat", "grid": [16, 16], "tiles": [2, 2], "steps": 2, "alpha": 0.1})),
        w(
            json!({"kind": "conv2d", "image": [16, 16], "tiles": [2, 2], "kernel": [[0, 1, 0], [1, 1, 1], [0, 1, 0]]}),
        ),
        w(json!({"kind": "gemm", "m": 8, "k": 8, "n": 8, "tile": 4})),
        w(json!({"kind": "cholesky", "n": 8, "tile": 4})),
        w(json!({"kind": "reduce", "n": 100, "chunks": 4})),
        w(
            json!({"kind": "taskbench", "steps": 4, "width": 4, "type": "stencil_1d", "kernel": "compute_bound", "iter": 8, "output": 16}),
        ),
        w(
            json!({"kind": "chains", "chains": 2, "length": 3, "size": 4, "iterations": [10, 20], "mul": 1.5}),
        ),
        w(json!({"kind": "diamond", "n": 10, "seed": 1})),
    ]
}

/// Values no parameter should take, or that make a job impossible.
fn hostile(rng: &mut Rng) -> Value {
    let deep = (0..300).fold(json!(1), |v, _| json!([v]));
    let choices = [
        json!(-1),
        json!(0),
        json!(1.5),
        json!(1e12),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(""),
        json!("\u{0}"),
        json!("dir/"),
        json!("/dev/null"),
        json!([]),
        json!({}),
        Value::Null,
        json!(true),
        json!("x".repeat(5000)),
        json!(vec![1; 33]),
        json!([1e12, 1e12]),
        json!({"rank": 99}),
        json!("nope"),
        deep,
    ];
    choices[rng.below(choices.len())].clone()
}

/// A random node of `v` (objects and lists), to mutate.
fn pick<'a>(v: &'a mut Value, rng: &mut Rng) -> &'a mut Value {
    let depth = rng.below(4);
    let mut cur = v;
    for _ in 0..depth {
        let len = match &*cur {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if len == 0 {
            break;
        }
        let i = rng.below(len);
        cur = match cur {
            Value::Object(m) => m.values_mut().nth(i).expect("in range"),
            Value::Array(a) => &mut a[i],
            _ => unreachable!(),
        };
    }
    cur
}

/// JSON text of `v`, giving one key of one object twice when `dup` says which (a count of
/// objects to pass first).
fn emit(v: &Value, dup: &mut Option<usize>, out: &mut String) {
    match v {
        Value::Object(m) => {
            let this = dup.as_mut().is_some_and(|n| {
                if *n == 0 {
                    true
                } else {
                    *n -= 1;
                    false
                }
            }) && !m.is_empty();
            if this {
                *dup = None;
            }
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                emit(x, dup, out);
                if this && i == 0 {
                    let _ = write!(out, ",{}:", Value::String(k.clone()));
                    emit(x, &mut None, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                emit(x, dup, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The char boundary at or before byte `i` of `text`.
fn boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One malformed job file's text.
fn case(rng: &mut Rng, seeds: &[Value]) -> String {
    let mut v = seeds[rng.below(seeds.len())].clone();
    let mut dup = None;
    for _ in 0..1 + rng.below(2) {
        match rng.below(10) {
            0..=4 => {
                let h = hostile(rng);
                *pick(&mut v, rng) = h;
            }
            5 => {
                if let Value::Object(m) = pick(&mut v, rng) {
                    if !m.is_empty() {
                        let k = m.keys().nth(rng.below(m.len())).cloned().expect("a key");
                        m.remove(&k);
                    }
                }
            }
            6 => {
                if let Value::Object(m) = pick(&mut v, rng) {
                    m.insert("surprise".into(), hostile(rng));
                }
            }
            _ => dup = Some(rng.below(4)),
        }
    }
    let mut text = String::new();
    emit(&v, &mut dup, &mut text);
    match rng.below(8) {
        0 => text.truncate(boundary(&text, rng.below(text.len()))),
        1 => {
            let at = boundary(&text, rng.below(text.len()));
            let junk = ["}", "]", ",", "\"", "\u{0}", "é", "\\"][rng.below(7)];
            text.insert_str(at, junk);
        }
        _ => {}
    }
    text
}

#[test]
fn fuzzed_job_files_are_refused_cleanly() {
    let seed: u64 = std::env::var("DIRK_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    let dir = scratch();
    let seeds = seeds();
    for (i, s) in seeds.iter().enumerate() {
        let job = dirk::job::from_str(&s.to_string(), "seed.json", dir.path());
        assert!(job.is_ok(), "seed {i} is valid: {:?}", job.err());
    }
    let start = Instant::now();
    let mut rng = Rng(seed);
    let mut refused = Vec::new();
    for n in 0..CASES {
        let text = case(&mut rng, &seeds);
        let outcome = std::panic::catch_unwind(|| {
            dirk::job::from_str(&text, "fuzz.json", dir.path()).and_then(|job| job.options.check())
        });
        match outcome {
            Err(_) => panic!("case {n} (DIRK_FUZZ_SEED={seed}) panicked: {text}"),
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(
                    !msg.contains('\n'),
                    "case {n} (seed {seed}): one line: {msg}"
                );
                refused.push(text);
            }
        }
    }
    let in_process = start.elapsed();
    assert!(
        refused.len() * 10 >= CASES * 7,
        "most cases are malformed: {} of {CASES}",
        refused.len()
    );
    println!(
        "{CASES} cases in-process in {in_process:?}: {} refused",
        refused.len()
    );
    // A sample through the binary, spread over the sequence.
    let step = refused.len() / VALIDATE_SAMPLE;
    for (k, text) in refused
        .iter()
        .step_by(step)
        .take(VALIDATE_SAMPLE)
        .enumerate()
    {
        let path = dir.path().join(format!("v{k}.json"));
        std::fs::write(&path, text).unwrap();
        let r = dirk(&["validate", p(&path)]);
        check_refusal(&r, text);
        std::fs::remove_file(&path).unwrap();
    }
    let step = refused.len() / RUN_SAMPLE;
    for (k, text) in refused.iter().step_by(step).take(RUN_SAMPLE).enumerate() {
        let run_dir = scratch();
        let path = run_dir.path().join(format!("r{k}.json"));
        std::fs::write(&path, text).unwrap();
        let out = run_dir.path().join("out.h5");
        let trace = run_dir.path().join("trace.json");
        let r = mpirun(
            2,
            &["run", p(&path), "--output", p(&out), "--trace", p(&trace)],
            30,
        );
        check_refusal(&r, text);
        let left: Vec<_> = std::fs::read_dir(run_dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "nothing left behind: {left:?}");
    }
    println!("fuzz test took {:?} in all", start.elapsed());
}

/// Exit 2, one short error line, no panic, no hang.
fn check_refusal(r: &Run, text: &str) {
    let shown: String = text.chars().take(300).collect();
    assert_eq!(r.code, Some(2), "exit 2 for {shown}: {}", r.text);
    assert!(!r.text.contains("panicked"), "no panic: {}", r.text);
    let errors: Vec<&str> = r.text.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line for {shown}: {}", r.text);
    assert!(errors[0].len() < 1200, "a short line: {}", errors[0]);
    assert!(r.elapsed.as_secs() < 20, "no hang: {:?}", r.elapsed);
}
