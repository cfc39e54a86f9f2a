//! Issue 5, "see what the job did": runs the real binary under mpirun with `--trace`, then
//! checks the trace's events, `dirk plot` (Gantt and DAG), `dirk report` (trace and summary),
//! the progress line of a long run, and that bad files given to plot/report exit 2.

use crate::common::{assert_no_mpi_warning, dirk_bin, mpirun_command};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// `timeout 60 mpirun -n RANKS dirk ARGS...`, which must succeed.
fn mpirun(ranks: u32, args: &[&str]) -> Output {
    let out = mpirun_command(ranks, 60, &[], args)
        .output()
        .expect("mpirun starts");
    assert_no_mpi_warning(out.status.code(), &String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "dirk {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn dirk(args: &[&str]) -> Output {
    Command::new(dirk_bin())
        .args(args)
        .output()
        .expect("dirk starts")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Runs `job` on 2 ranks with --trace and --summary; returns (dir, trace, summary).
fn traced_run(job: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let trace = dir.path().join("trace.json");
    let summary = dir.path().join("summary.json");
    mpirun(
        2,
        &[
            "run",
            s(&repo(job)),
            "--threads",
            "2",
            "--trace",
            s(&trace),
            "--summary",
            s(&summary),
        ],
    );
    (dir, trace, summary)
}

fn job_ids(job: &str) -> BTreeSet<String> {
    let j: Value = serde_json::from_str(&std::fs::read_to_string(repo(job)).unwrap()).unwrap();
    j["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn trace_holds_one_complete_event_per_task_and_the_transfers() {
    let (_dir, trace, _) = traced_run("jobs/fanout.json");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).expect("valid JSON");
    let events = v["traceEvents"].as_array().expect("traceEvents");
    let tasks: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["cat"] == "task")
        .collect();
    let ids: Vec<&str> = tasks
        .iter()
        .map(|e| e["args"]["id"].as_str().expect("args.id"))
        .collect();
    assert_eq!(ids.len(), 392, "one complete event per task");
    let unique: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        unique,
        job_ids("jobs/fanout.json"),
        "the ids are the job's, each once"
    );
    let pids: BTreeSet<u64> = tasks.iter().map(|e| e["pid"].as_u64().unwrap()).collect();
    assert_eq!(
        pids,
        BTreeSet::from([0, 1]),
        "pid = rank, both ranks ran tasks"
    );
    for e in &tasks {
        assert!(e["tid"].as_u64().unwrap() < 2, "tid = worker thread: {e}");
        assert!(e["dur"].as_f64().unwrap() >= 0.0);
        assert_eq!(e["name"], e["args"]["op"]);
    }
    let x0 = tasks.iter().find(|e| e["args"]["id"] == "x0").unwrap();
    assert_eq!(x0["args"]["bytes_out"], 20000 * 8);
    assert_eq!(x0["args"]["bytes_in"], 0);
    let w0 = tasks.iter().find(|e| e["args"]["id"] == "w0").unwrap();
    assert_eq!(w0["args"]["bytes_in"], 20000 * 8);
    assert_eq!(w0["args"]["deps"], serde_json::json!([x0["args"]["key"]]));

    // Tasks are the only complete events: one per task, its id in args.id (DESIGN).
    let complete = events.iter().filter(|e| e["ph"] == "X").count();
    assert_eq!(complete, tasks.len(), "no complete event but the tasks'");

    // Transfers: both sides on each rank's "mpi" tracks as begin/end pairs, bytes matching,
    // joined by flows.
    let mpi: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "B" && e["cat"] == "mpi")
        .collect();
    let sends = mpi.iter().filter(|e| e["name"] == "send").count();
    let recvs = mpi.iter().filter(|e| e["name"] == "recv").count();
    assert!(sends > 0, "the fan-in crosses ranks");
    assert_eq!(sends, recvs, "every send has its receive");
    assert_eq!(
        events.iter().filter(|e| e["ph"] == "E").count(),
        mpi.len(),
        "each transfer begins and ends"
    );
    let named: HashSet<(u64, u64)> = events
        .iter()
        .filter(|e| {
            e["ph"] == "M"
                && e["name"] == "thread_name"
                && e["args"]["name"].as_str().unwrap().starts_with("mpi")
        })
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    assert!(mpi.iter().all(|e| {
        let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        named.contains(&track) && e["args"]["bytes"].as_u64().unwrap() > 0
    }));
    let ranks: HashSet<u64> = named.iter().map(|t| t.0).collect();
    assert_eq!(ranks.len(), 2, "mpi tracks on each rank");
    // A value's send and receive move the same bytes (joined by key and ranks).
    let side = |name: &str| -> HashMap<(u64, u64, u64), u64> {
        mpi.iter()
            .filter(|e| e["name"] == name)
            .map(|e| {
                let (me, peer) = (
                    e["pid"].as_u64().unwrap(),
                    e["args"]["peer"].as_u64().unwrap(),
                );
                let (from, to) = if name == "send" {
                    (me, peer)
                } else {
                    (peer, me)
                };
                let key = e["args"]["key"].as_u64().unwrap();
                ((from, to, key), e["args"]["bytes"].as_u64().unwrap())
            })
            .collect()
    };
    assert_eq!(
        side("send"),
        side("recv"),
        "each send's bytes arrive in its receive"
    );
    // On each track, in time order, every E ends the B before it: none overlap.
    let mut open: HashMap<(u64, u64), f64> = HashMap::new();
    let mut timeline: Vec<&Value> = events
        .iter()
        .filter(|e| e["ph"] == "B" || e["ph"] == "E")
        .collect();
    timeline.sort_by(|a, b| {
        a["ts"]
            .as_f64()
            .unwrap()
            .total_cmp(&b["ts"].as_f64().unwrap())
    });
    for e in timeline {
        let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let ts = e["ts"].as_f64().unwrap();
        if e["ph"] == "B" {
            assert!(
                open.insert(track, ts).is_none(),
                "overlapping transfers on {track:?}"
            );
        } else {
            let begun = open.remove(&track).expect("an E ends a B on its track");
            assert!(begun <= ts);
        }
    }
    assert!(open.is_empty(), "every transfer ends");
    assert_eq!(events.iter().filter(|e| e["ph"] == "s").count(), sends);
    assert_eq!(events.iter().filter(|e| e["ph"] == "f").count(), sends);
}

#[test]
fn plot_draws_a_gantt_chart_with_a_row_per_track() {
    let (dir, trace, _) = traced_run("jobs/fanout.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let tracks: HashSet<(u64, u64)> = v["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ph"] == "X" || e["ph"] == "B")
        .map(|e| {
            // The gantt draws a rank's transfer tracks ("mpi", "mpi 2", ...) as one row.
            let tid = e["tid"].as_u64().unwrap().min(100_000);
            (e["pid"].as_u64().unwrap(), tid)
        })
        .collect();
    let svg_path = dir.path().join("gantt.svg");
    let out = dirk(&["plot", s(&trace), "-o", s(&svg_path)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"), "an SVG document");
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(
        svg.matches("class=\"row\"").count(),
        tracks.len(),
        "one row per rank × track"
    );
    assert!(svg.contains(">busy "), "the legend names the ops");
    assert!(svg.matches("class=\"xfer\"").count() > 0, "transfers drawn");
    assert!(svg.matches("class=\"tick\"").count() >= 3, "a time axis");
}

#[test]
fn plot_dag_draws_the_job_graph_as_svg_or_dot() {
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("dag.svg");
    let dot = dir.path().join("dag.dot");
    let diamond = repo("jobs/diamond.json");
    assert!(dirk(&["plot", "--dag", s(&diamond), "-o", s(&svg)])
        .status
        .success());
    assert!(dirk(&["plot", "--dag", s(&diamond), "-o", s(&dot)])
        .status
        .success());
    let svg = std::fs::read_to_string(svg).unwrap();
    assert!(svg.starts_with("<svg"));
    assert_eq!(svg.matches("class=\"task\"").count(), 5);
    let dot = std::fs::read_to_string(dot).unwrap();
    assert!(
        dot.starts_with("digraph") && dot.contains("\"a\" -> \"b\""),
        "{dot}"
    );
}

#[test]
fn report_prints_tables_from_a_trace_and_from_a_summary() {
    let (_dir, trace, summary) = traced_run("jobs/fanout.json");
    let out = dirk(&["report", s(&trace)]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let busy = text
        .lines()
        .find(|l| l.starts_with("busy "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        busy.split_whitespace().nth(1) == Some("192"),
        "192 busy tasks: {busy}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("rank ") && l.contains("busy %")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("1 ")),
        "a line for rank 1: {text}"
    );
    assert!(text.contains("critical path: "), "{text}");
    assert!(!text.contains("bytes moved between ranks: 0 B"), "{text}");

    let out = dirk(&["report", s(&summary)]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("summary of fanout: 392 tasks on 2 ranks"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("0 ")) && text.lines().any(|l| l.starts_with("1 ")),
        "{text}"
    );
}

#[test]
fn bad_files_given_to_plot_or_report_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let truncated = dir.path().join("truncated.json");
    let text = dir.path().join("notes.txt");
    let out_svg = dir.path().join("x.svg");
    std::fs::write(
        &truncated,
        r#"{"traceEvents":[{"ph":"X","name":"a","pid":0,"tid":0,"ts":0,"du"#,
    )
    .unwrap();
    std::fs::write(&text, "not json at all\n").unwrap();
    let job = repo("jobs/diamond.json");
    let cases: [(&[&str], &str); 6] = [
        (&["plot", s(&missing), "-o", s(&out_svg)], "cannot read"),
        (&["plot", s(&truncated), "-o", s(&out_svg)], "truncated"),
        (
            &["plot", s(&job), "-o", s(&out_svg)],
            "not a dirk trace or summary",
        ),
        (&["report", s(&missing)], "cannot read"),
        (&["report", s(&truncated)], "truncated"),
        (&["report", s(&text)], "not JSON"),
    ];
    for (args, says) in cases {
        let out = dirk(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    assert!(!out_svg.exists(), "no picture from a bad trace");
}

#[test]
fn long_runs_print_progress_lines_on_rank_0() {
    // About 5 s of busy work over 2 ranks: past the 3 s quiet period.
    let mut tasks = vec![r#"{"id": "x", "op": "rand", "args": [[8]]}"#.to_string()];
    for i in 0..40 {
        tasks.push(format!(r#"{{"id": "w{i}", "op": "busy", "args": ["x"], "params": {{"iterations": 250000000}}}}"#));
    }
    let job = format!(
        r#"{{"dirk": 1, "name": "slow", "tasks": [{}]}}"#,
        tasks.join(",")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.json");
    std::fs::write(&path, job).unwrap();
    let out = mpirun(2, &["run", s(&path), "--threads", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("progress: ")).collect();
    assert!(!lines.is_empty(), "a progress line: {err}");
    for l in lines {
        assert!(
            l.starts_with("dirk[0] info: progress: "),
            "from rank 0, as a log line: {l}"
        );
        let done: u64 = l
            .split("progress: ")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            done <= 41 && l.contains("/41 tasks") && l.contains("tasks/s, ETA "),
            "{l}"
        );
    }
}
