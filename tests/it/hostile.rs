//! Issue 21: hostile input. Sizes that would exhaust memory, results that would clobber a
//! file, arguments that used to panic, hang or abort, inputs that validate passed and the run
//! failed on, duplicate keys, endless error lines and absurd times: each exits 2 with one
//! line naming the culprit, before any task runs, and leaves nothing behind.

use crate::common::*;
use serde_json::json;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

/// A refusal: exit 2, quickly, one short error line naming `needle`, no panic.
fn refused(r: &Run, needle: &str) {
    assert_eq!(r.code, Some(2), "exit 2: {}", r.text);
    assert!(r.text.contains(needle), "names {needle:?}: {}", r.text);
    assert!(!r.text.contains("panicked"), "no panic: {}", r.text);
    let errors: Vec<&str> = r.text.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "one error line: {}", r.text);
    assert!(
        errors[0].len() < 1200,
        "a short line: {} bytes",
        errors[0].len()
    );
    assert!(r.elapsed.as_secs() < 20, "took {:?}", r.elapsed);
}

/// The names in `dir`.
fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// `validate` and a 2-rank `run` (with `flags`, `{dir}` the scratch folder) of `job` both
/// refuse it naming `needle`, and the folder holds afterwards what it held before.
fn refused_job(job: serde_json::Value, flags: &[&str], needle: &str) {
    let dir = scratch();
    let path = write_job(dir.path(), "job.json", &job);
    let before = entries(dir.path());
    refused(&dirk(&["validate", p(&path)]), needle);
    let flags: Vec<String> = flags
        .iter()
        .map(|f| f.replace("{dir}", p(dir.path())))
        .collect();
    let mut args = vec!["run", p(&path)];
    args.extend(flags.iter().map(String::as_str));
    refused(&mpirun(2, &args, 30), needle);
    assert_eq!(entries(dir.path()), before, "nothing left behind");
}

fn small_job() -> serde_json::Value {
    json!({"dirk": 1, "tasks": [{"id": "a", "op": "fill", "args": [[3], 1.0]}]})
}

fn workload(w: serde_json::Value) -> serde_json::Value {
    json!({"dirk": 1, "workload": w})
}

/// Issue 21, item 2: sizes are judged from the parameters, before memory is taken.
#[test]
fn issue21_sizes_are_refused_from_the_parameters() {
    let tb = |extra: serde_json::Value| {
        let mut w = json!({"kind": "taskbench", "type": "stencil_1d"});
        w.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        workload(w)
    };
    refused_job(
        tb(json!({"width": 1000000000000u64})),
        &[],
        "workload.width",
    );
    refused_job(
        tb(json!({"steps": 1000000000000u64})),
        &[],
        "workload.steps",
    );
    refused_job(
        tb(json!({"kernel": "memory_bound", "scratch": 1000000000000u64})),
        &[],
        "workload.scratch",
    );
    refused_job(
        workload(json!({"kind": "gemm", "m": 4294967296u64, "k": 64, "n": 64, "tile": 64})),
        &[],
        "workload.m",
    );
    // Under 2^31 tasks, but far more than a node's memory on rank 0.
    let reduce = workload(json!({"kind": "reduce", "n": 2147483648u64, "chunks": 700000000}));
    let dir = scratch();
    let path = write_job(dir.path(), "r.json", &reduce);
    let r = dirk(&["validate", p(&path)]);
    refused(&r, "workload.chunks");
    assert!(r.text.contains("GiB"), "says how much: {}", r.text);
    refused_job(
        workload(
            json!({"kind": "chains", "chains": 1000000000, "length": 1, "size": 1, "iterations": 0}),
        ),
        &[],
        "workload.chains",
    );
    for flags in [
        vec!["-width", "1000000000000"],
        vec!["-steps", "1000000000000"],
        vec!["-kernel", "memory_bound", "-scratch", "1000000000000"],
    ] {
        let mut args = vec!["taskbench"];
        args.extend(&flags);
        let r = mpirun(2, &args, 30);
        assert_eq!(r.code, Some(2), "{}", r.text);
        assert!(r.text.contains(flags[flags.len() - 2]), "{}", r.text);
        assert!(r.elapsed.as_secs() < 20, "took {:?}", r.elapsed);
    }
}

/// Issue 21, item 3: no result overwrites another, the job file, an input, or a device.
#[test]
fn issue21_results_never_clobber() {
    let dir = scratch();
    let d = dir.path();
    let job = write_job(d, "job.json", &small_job());
    let job_text = std::fs::read(&job).unwrap();
    let x = d.join("x.h5");
    let dot_x = d.join(".").join("x.h5");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--output".into(),
                p(&x).into(),
                "--trace".into(),
                p(&x).into(),
            ],
            "same file",
        ),
        (
            vec![
                "--summary".into(),
                p(&x).into(),
                "--output".into(),
                p(&dot_x).into(),
            ],
            "same file",
        ),
        (
            vec![
                "--calibration".into(),
                p(&x).into(),
                "--trace".into(),
                p(&x).into(),
            ],
            "same file",
        ),
        (vec!["--output".into(), p(&job).into()], "the job file"),
        (
            vec!["--summary".into(), "/dev/null".into()],
            "character device",
        ),
        (
            vec!["--output".into(), format!("{}/", d.display())],
            "name a file",
        ),
    ];
    for (flags, needle) in cases {
        let before = entries(d);
        let mut args = vec!["run", p(&job)];
        args.extend(flags.iter().map(String::as_str));
        refused(&mpirun(2, &args, 30), needle);
        assert_eq!(entries(d), before, "{flags:?}: nothing left behind");
    }
    assert_eq!(std::fs::read(&job).unwrap(), job_text, "the job is intact");
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(
        std::os::unix::fs::FileTypeExt::is_char_device(&null.file_type()),
        "/dev/null is still a device"
    );
    // An input of the job: a `load` file, and a workload's `init` file.
    let input = d.join("in.h5");
    {
        let f = hdf5::File::create(&input).unwrap();
        f.new_dataset::<f64>()
            .shape([4])
            .create("v")
            .unwrap()
            .write_raw(&[1.0f64, 2.0, 3.0, 4.0])
            .unwrap();
    }
    let load = write_job(
        d,
        "load.json",
        &json!({"dirk": 1, "tasks": [{"id": "in", "op": "load", "params": {"file": p(&input), "dataset": "v"}}]}),
    );
    refused(
        &mpirun(2, &["run", p(&load), "--output", p(&input)], 30),
        "an input file",
    );
    let init = write_job(
        d,
        "init.json",
        &json!({"dirk": 1, "workload": {"kind": "reduce", "n": 4, "chunks": 2, "init": {"file": p(&input), "dataset": "v"}},
                "options": {"summary": p(&input)}}),
    );
    refused(&dirk(&["validate", p(&init)]), "options.summary");
    refused(&mpirun(2, &["run", p(&init)], 30), "an input file");
    assert_eq!(
        super::common::read_f64(&input, "v"),
        vec![1.0, 2.0, 3.0, 4.0]
    );
    // `dirk plot` and `dirk taskbench` too.
    let trace = d.join("t.json");
    std::fs::write(
        &trace,
        r#"{"traceEvents":[{"ph":"X","name":"a","pid":0,"tid":0,"ts":0,"dur":1}]}"#,
    )
    .unwrap();
    refused(&dirk(&["plot", p(&trace), "-o", p(&trace)]), "the input");
    let r = mpirun(2, &["taskbench", "--trace", p(&x), "--summary", p(&x)], 30);
    assert_eq!(r.code, Some(2), "{}", r.text);
    assert!(r.text.contains("same file"), "{}", r.text);
    assert!(!x.exists(), "nothing written");
}

/// Issue 21, item 4: no argument makes dirk panic, abort or hang.
#[test]
fn issue21_no_panic_abort_or_hang_on_any_argument() {
    let bad = OsStr::from_bytes(b"job-\xff.json");
    refused(&dirk(&[OsStr::new("validate"), bad]), "job-");
    refused(&dirk(&[OsStr::new("run"), bad]), "job-");
    refused(&dirk(&[OsStr::new("taskbench"), bad]), "UTF-8");
    refused(
        &dirk(&[OsStr::new("run"), OsStr::new("--steal"), bad]),
        "--steal",
    );
    let dir = scratch();
    let job = write_job(dir.path(), "job.json", &small_job());
    refused(
        &mpirun(2, &["run", p(&job), "--threads", "100000"], 30),
        "--threads",
    );
    let r = mpirun(2, &["taskbench", "--threads", "100000"], 30);
    assert_eq!(r.code, Some(2), "{}", r.text);
    let mut many = small_job();
    many["options"] = json!({"threads": 1000000000000u64});
    refused_job(many, &[], "options.threads");
    // A FIFO as the job, as an input and as a trace: refused, not waited on.
    let fifo = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    refused(&dirk(&["validate", p(&fifo)]), "FIFO");
    refused(&mpirun(2, &["run", p(&fifo)], 30), "FIFO");
    refused(
        &dirk(&["plot", p(&fifo), "-o", p(&dir.path().join("g.svg"))]),
        "FIFO",
    );
    refused(&dirk(&["report", p(&fifo)]), "FIFO");
    refused_job(
        json!({"dirk": 1, "tasks": [{"id": "in", "op": "load", "params": {"file": p(&fifo), "dataset": "v"}}]}),
        &[],
        "FIFO",
    );
    refused(
        &mpirun(2, &["run", p(&job), "--calibration", p(&fifo)], 30),
        "FIFO",
    );
}

/// Issue 21, items 4 and 6: a trace or summary with times no run has is refused by `plot`
/// (which used to write tick labels until it aborted) and `report`.
#[test]
fn issue21_absurd_times_are_refused() {
    let dir = scratch();
    let svg = dir.path().join("g.svg");
    for (ts, dur) in [("0", "1e308"), ("1e308", "1"), ("0", "-3")] {
        let trace = dir.path().join("t.json");
        std::fs::write(
            &trace,
            format!(
                r#"{{"traceEvents":[{{"ph":"X","name":"a","pid":0,"tid":0,"ts":0,"dur":1}},
                {{"ph":"X","name":"b","pid":0,"tid":0,"ts":{ts},"dur":{dur}}}]}}"#
            ),
        )
        .unwrap();
        refused(&dirk(&["plot", p(&trace), "-o", p(&svg)]), "traceEvents[1]");
        refused(&dirk(&["report", p(&trace)]), "traceEvents[1]");
        assert!(!svg.exists());
    }
    let summary = dir.path().join("s.json");
    std::fs::write(
        &summary,
        r#"{"name":"d","dirk_version":"0.1.0","ranks":1,"threads_per_rank":2,"tasks":5,
        "wall_seconds":1e308,"plan_seconds":0.1,"run_seconds":0.5,"per_rank":[{"rank":0,
        "threads":2,"tasks":5,"busy_seconds":0.4,"bytes_sent":0,"bytes_received":0}]}"#,
    )
    .unwrap();
    refused(&dirk(&["report", p(&summary)]), "wall_seconds");
}

/// Issue 21, item 5: an input whose header opens but whose data cannot be read (its
/// external raw file is missing) fails validation, not the run.
#[test]
fn issue21_an_unreadable_input_fails_validation() {
    let dir = scratch();
    let h5 = dir.path().join("ext.h5");
    let raw = dir.path().join("ext.raw");
    {
        let f = hdf5::File::create(&h5).unwrap();
        let ds = f
            .new_dataset::<f64>()
            .shape([4])
            .external(p(&raw), 0, 32)
            .create("v")
            .unwrap();
        ds.write_raw(&[1.0f64, 2.0, 3.0, 4.0]).unwrap();
    }
    std::fs::remove_file(&raw).unwrap();
    refused_job(
        json!({"dirk": 1, "tasks": [{"id": "in", "op": "load", "params": {"file": p(&h5), "dataset": "v"}}]}),
        &[],
        "cannot be read",
    );
    refused_job(
        workload(
            json!({"kind": "reduce", "n": 4, "chunks": 2, "init": {"file": p(&h5), "dataset": "v"}}),
        ),
        &[],
        "cannot be read",
    );
}

/// Issue 21, item 5: what HDF5 cannot hold is refused before any task runs (it used to fail
/// after every task ran, with "Invalid handle id: -1").
#[test]
fn issue21_what_hdf5_cannot_hold_is_refused_up_front() {
    let ones: Vec<u64> = vec![1; 33];
    refused_job(
        json!({"dirk": 1, "tasks": [{"id": "deep", "op": "fill", "args": [ones, 1.0]}]}),
        &[],
        "33 dimensions",
    );
    let mut nul = small_job();
    nul["name"] = json!("a\u{0}b");
    refused_job(nul, &[], "NUL");
    let mut empty = small_job();
    empty["options"] = json!({"output": ""});
    refused_job(empty, &[], "options.output");
    let mut slash = small_job();
    slash["options"] = json!({"trace": "somewhere/"});
    refused_job(slash, &[], "options.trace");
    let dir = scratch();
    let job = write_job(dir.path(), "job.json", &small_job());
    let folder = format!("{}/sub/", dir.path().display());
    refused(
        &mpirun(2, &["run", p(&job), "--output", &folder], 30),
        "--output",
    );
    assert_eq!(entries(dir.path()).len(), 1, "nothing left behind");
}

/// Issue 21, item 6: a key given twice is refused, naming its JSON path.
#[test]
fn issue21_duplicate_keys_are_refused() {
    let dir = scratch();
    let cases = [
        (
            r#"{"dirk": 1, "name": "a", "name": "b", "tasks": [{"id": "a", "op": "fill", "args": [[3], 1.0]}]}"#,
            "name:",
        ),
        (
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "rand", "args": [[3]], "params": {"seed": 1, "seed": 2}}]}"#,
            "tasks[0].params.seed",
        ),
        (
            r#"{"dirk": 1, "workload": {"kind": "reduce", "n": 8, "chunks": 2, "n": 4}}"#,
            "workload.n",
        ),
        (
            r#"{"dirk": 1, "tasks": [{"id": "a", "op": "fill", "args": [[3], 1.0]}], "options": {"threads": 1, "threads": 2}}"#,
            "options.threads",
        ),
    ];
    for (text, needle) in cases {
        let path = dir.path().join("dup.json");
        std::fs::write(&path, text).unwrap();
        refused(&dirk(&["validate", p(&path)]), needle);
        refused(&mpirun(2, &["run", p(&path)], 30), needle);
    }
}

/// Issue 21, item 6: an error line stays short, however large the job.
#[test]
fn issue21_error_lines_stay_short() {
    let n = 100_000;
    let tasks: Vec<serde_json::Value> = (0..n)
        .map(|i| json!({"id": format!("t{i}"), "op": "add", "args": [format!("t{}", (i + 1) % n), 1.0]}))
        .collect();
    refused_job(json!({"dirk": 1, "tasks": tasks}), &[], "(100000 tasks)");
    let long = "x".repeat(200_000);
    refused_job(
        json!({"dirk": 1, "tasks": [{"id": "a", "op": "add", "args": [long, 1.0]}]}),
        &[],
        "more characters",
    );
}
