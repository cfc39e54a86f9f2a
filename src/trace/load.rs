//! Reading a trace or a summary back, for `dirk plot` and `dirk report`.
//!
//! A trace is any Chrome trace-event file (an object with `traceEvents`, or a bare array of
//! events); complete events (`"ph": "X"`), duration events (`"B"`/`"E"` pairs, which nest on
//! a track; dirk writes transfers so) and track names are kept, as [`Span`]s. dirk's
//! own fields (`args.key`, `args.deps`, `args.bytes_out`, `args.peer`, `args.bytes`) are read
//! where present, so another tool's trace still plots. A file that is missing, cut short, not
//! JSON, or JSON of another kind gives a [`LoadError`] that says which (the CLI exits 2).

use super::{Summary, MPI_TRACK};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a file could not be read as a trace or summary.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file ends in the middle of the JSON (a run that was killed while writing?).
    #[error("{path} is truncated: the JSON ends early ({detail})")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Where the parser stopped.
        detail: String,
    },
    /// The file is not JSON, or JSON of the wrong shape.
    #[error("{path} is not a dirk trace or summary: {why}")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        why: String,
    },
    /// A trace without a single complete event.
    #[error("{path} holds no complete (\"ph\": \"X\") events: nothing to show")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// What a span shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanKind {
    /// A task (or any complete event of another tool's trace).
    Task,
    /// The sending side of a transfer.
    Send,
    /// The receiving side of a transfer.
    Recv,
}

/// One complete event (or begin/end pair) of a trace, reduced to what plots and reports use.
#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    /// Process: the rank.
    pub pid: u32,
    /// Track: the worker thread (or `MPI_TRACK` for any of dirk's transfer tracks).
    pub tid: u32,
    /// Index into `TraceData::names` (the op of a task).
    pub name: u32,
    /// Task or transfer side.
    pub kind: SpanKind,
    /// Start, µs.
    pub start: f64,
    /// Duration, µs.
    pub dur: f64,
    /// The task's global index (tasks) or the value's (transfers), when the trace says.
    pub key: Option<u32>,
    /// Transfers: the other rank.
    pub peer: Option<u32>,
    /// Tasks: bytes of the result; transfers: bytes moved.
    pub bytes: u64,
    /// Tasks: keys of the tasks whose values it read.
    pub deps: Vec<u32>,
}

impl Span {
    /// End, µs.
    pub fn end(&self) -> f64 {
        self.start + self.dur
    }
}

/// A trace loaded for plotting or reporting.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceData {
    /// The job's name, when the trace says.
    pub job: Option<String>,
    /// Distinct event names (ops), indexed by `Span::name`.
    pub names: Vec<String>,
    /// Every complete event.
    pub spans: Vec<Span>,
    /// Track names from metadata, by (pid, tid).
    pub track_names: HashMap<(u32, u32), String>,
}

/// A file given to `dirk report`.
#[derive(Debug)]
pub enum Loaded {
    /// A Chrome trace.
    Trace(TraceData),
    /// A `--summary` file.
    Summary(Summary),
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow, default)]
    ph: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    cat: Option<Cow<'a, str>>,
    #[serde(default)]
    pid: Option<Value>,
    #[serde(default)]
    tid: Option<Value>,
    #[serde(default)]
    ts: Option<f64>,
    #[serde(default)]
    dur: Option<f64>,
    #[serde(default)]
    args: Option<RawArgs>,
}

#[derive(Deserialize, Default)]
struct RawArgs {
    key: Option<Value>,
    deps: Option<Value>,
    bytes_out: Option<Value>,
    bytes: Option<Value>,
    peer: Option<Value>,
    name: Option<Value>,
}

#[derive(Deserialize)]
struct TopObject<'a> {
    #[serde(borrow, rename = "traceEvents")]
    trace_events: Option<Vec<RawEvent<'a>>>,
    #[serde(rename = "otherData")]
    other_data: Option<Value>,
}

fn read(path: &Path) -> Result<String, LoadError> {
    // A FIFO would block until someone writes to it: look before opening.
    crate::store::require_regular(path)
        .and_then(|()| std::fs::read_to_string(path))
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// The longest duration a trace or summary may hold: 1e9 s (about 31 years,
/// `job::MAX_SECONDS`). A longer, infinite or negative one is not a run's: the file is refused
/// rather than drawn or summed into nonsense (an infinite span once made `dirk plot` write
/// tick labels until memory ran out).
const MAX_SECONDS: f64 = crate::job::MAX_SECONDS;

/// The latest timestamp a trace may hold, µs: 1e18 (other tools write clock times, such as µs
/// since 1970, about 1.7e15).
const MAX_TS_US: f64 = 1e18;

/// Why `x` is no time of a run, if it is not: finite, not negative, at most `max` `unit`.
fn bad_time(x: f64, max: f64, unit: &str) -> Option<String> {
    (!(0.0..=max).contains(&x)).then(|| {
        let x = if x.abs() < 1e6 {
            x.to_string()
        } else {
            format!("{x:e}")
        };
        format!(
            "{x} is no time of a run (a time is finite, not negative and at most {max:e} {unit})"
        )
    })
}

/// Refuses a summary with a time that no run could have taken.
fn check_summary(s: &Summary, path: &Path) -> Result<(), LoadError> {
    let top = [
        ("wall_seconds", s.wall_seconds),
        ("plan_seconds", s.plan_seconds),
        ("run_seconds", s.run_seconds),
        ("checkpoint_seconds", s.checkpoint_seconds),
        ("resume_load_seconds", s.resume_load_seconds),
    ];
    let ranks = s
        .per_rank
        .iter()
        .enumerate()
        .map(|(i, r)| (format!("per_rank[{i}].busy_seconds"), r.busy_seconds));
    let all = top
        .into_iter()
        .map(|(k, x)| (k.to_string(), x))
        .chain(ranks);
    for (key, x) in all {
        if let Some(why) = bad_time(x, MAX_SECONDS, "s") {
            return Err(LoadError::Foreign {
                path: path.to_path_buf(),
                why: format!("{key}: {why}"),
            });
        }
    }
    Ok(())
}

fn json_error(path: &Path, e: serde_json::Error, what: &str) -> LoadError {
    if e.is_eof() {
        LoadError::Truncated {
            path: path.to_path_buf(),
            detail: e.to_string(),
        }
    } else if e.is_syntax() {
        LoadError::Foreign {
            path: path.to_path_buf(),
            why: format!("not JSON ({e})"),
        }
    } else {
        LoadError::Foreign {
            path: path.to_path_buf(),
            why: format!("{what} ({e})"),
        }
    }
}

/// Reads a Chrome trace.
pub fn load_trace(path: &Path) -> Result<TraceData, LoadError> {
    match load_any(path)? {
        Loaded::Trace(t) => Ok(t),
        Loaded::Summary(_) => Err(LoadError::Foreign {
            path: path.to_path_buf(),
            why: "this is a --summary file, not a trace (`dirk report` reads it)".into(),
        }),
    }
}

/// Reads a Chrome trace or a `--summary` file, whichever it is.
pub fn load_any(path: &Path) -> Result<Loaded, LoadError> {
    let text = read(path)?;
    parse_any(&text, path)
}

/// Parses the text of a trace or summary (`path` names it in errors).
pub(crate) fn parse_any(text: &str, path: &Path) -> Result<Loaded, LoadError> {
    let foreign = |why: &str| LoadError::Foreign {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    match text.trim_start().as_bytes().first() {
        None => return Err(foreign("the file is empty")),
        Some(b'[') => {
            let events: Vec<RawEvent<'_>> = serde_json::from_str(text)
                .map_err(|e| json_error(path, e, "not a list of trace events"))?;
            return to_trace(events, None, path).map(Loaded::Trace);
        }
        Some(b'{') => {}
        Some(_) => return Err(foreign("not JSON (it does not start with `{` or `[`)")),
    }
    let top: TopObject<'_> = serde_json::from_str(text).map_err(|e| {
        json_error(
            path,
            e,
            "an object whose traceEvents is not a list of events",
        )
    })?;
    if let Some(events) = top.trace_events {
        let job = top
            .other_data
            .as_ref()
            .and_then(|o| o.get("job"))
            .and_then(|j| j.as_str())
            .map(str::to_string);
        return to_trace(events, job, path).map(Loaded::Trace);
    }
    let v: Value = serde_json::from_str(text).map_err(|e| json_error(path, e, "bad JSON"))?;
    if v.get("per_rank").is_none() || v.get("wall_seconds").is_none() {
        return Err(foreign(
            "a JSON object with neither `traceEvents` (a trace) nor `per_rank` and `wall_seconds` (a summary)",
        ));
    }
    let summary = serde_json::from_value::<Summary>(v)
        .map_err(|e| foreign(&format!("a summary with a missing or wrong field ({e})")))?;
    check_summary(&summary, path)?;
    Ok(Loaded::Summary(summary))
}

/// A pid or tid: a number, or (other tools) a string, mapped to a stable number.
fn ident(v: Option<&Value>) -> u32 {
    match v {
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0).min(u32::MAX as u64) as u32,
        Some(Value::String(s)) => s.parse().unwrap_or_else(|_| {
            s.bytes().fold(2_166_136_261u32, |h, b| {
                (h ^ u32::from(b)).wrapping_mul(16_777_619)
            })
        }),
        _ => 0,
    }
}

fn number(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

fn to_trace(
    events: Vec<RawEvent<'_>>,
    job: Option<String>,
    path: &Path,
) -> Result<TraceData, LoadError> {
    let mut t = TraceData {
        job,
        ..TraceData::default()
    };
    let mut name_index: HashMap<String, u32> = HashMap::new();
    // Duration events begun and not yet ended, by track (they nest on a track).
    let mut open: HashMap<(u32, u32), Vec<RawEvent<'_>>> = HashMap::new();
    for (i, e) in events.into_iter().enumerate() {
        for (field, x, max) in [("ts", e.ts, MAX_TS_US), ("dur", e.dur, MAX_SECONDS * 1e6)] {
            if let Some(why) = x.and_then(|x| bad_time(x, max, "µs")) {
                return Err(LoadError::Foreign {
                    path: path.to_path_buf(),
                    why: format!("traceEvents[{i}].{field}: {why}"),
                });
            }
        }
        let pid = ident(e.pid.as_ref());
        let tid = ident(e.tid.as_ref());
        let (e, dur) = match e.ph.as_deref().unwrap_or("") {
            "M" => {
                if e.name.as_deref() == Some("thread_name") {
                    if let Some(Value::String(n)) = e.args.and_then(|a| a.name) {
                        t.track_names.insert((pid, tid), n);
                    }
                }
                continue;
            }
            "X" => {
                let dur = e.dur.unwrap_or(0.0);
                (e, dur)
            }
            "B" => {
                open.entry((pid, tid)).or_default().push(e);
                continue;
            }
            "E" => {
                let Some(b) = open.get_mut(&(pid, tid)).and_then(Vec::pop) else {
                    continue;
                };
                let dur = e.ts.unwrap_or(0.0) - b.ts.unwrap_or(0.0);
                (b, dur)
            }
            _ => continue,
        };
        let args = e.args.unwrap_or_default();
        let name = e.name.as_deref().unwrap_or("?");
        let kind = match (e.cat.as_deref(), name) {
            (Some("mpi"), "send") => SpanKind::Send,
            (Some("mpi"), "recv") => SpanKind::Recv,
            _ => SpanKind::Task,
        };
        // dirk spreads overlapping transfers over tracks "mpi", "mpi 2", ...: one row here.
        let tid = if kind != SpanKind::Task && tid > MPI_TRACK {
            MPI_TRACK
        } else {
            tid
        };
        let next = name_index.len() as u32;
        let idx = match name_index.get(name) {
            Some(&i) => i,
            None => {
                name_index.insert(name.to_string(), next);
                t.names.push(name.to_string());
                next
            }
        };
        let deps = match &args.deps {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|d| d.as_u64())
                .map(|d| d as u32)
                .collect(),
            _ => Vec::new(),
        };
        let bytes = if kind == SpanKind::Task {
            number(args.bytes_out.as_ref())
        } else {
            number(args.bytes.as_ref())
        };
        t.spans.push(Span {
            pid,
            tid,
            name: idx,
            kind,
            start: e.ts.unwrap_or(0.0),
            dur: dur.max(0.0),
            key: number(args.key.as_ref()).map(|k| k as u32),
            peer: number(args.peer.as_ref()).map(|p| p as u32),
            bytes: bytes.unwrap_or(0),
            deps,
        });
    }
    if t.spans.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Loaded, LoadError> {
        parse_any(text, Path::new("t.json"))
    }

    #[test]
    fn reads_dirk_and_foreign_chrome_traces() {
        let text = r#"{"otherData":{"job":"j"},"traceEvents":[
            {"ph":"M","name":"thread_name","pid":0,"tid":1,"args":{"name":"worker 1"}},
            {"ph":"X","name":"add","cat":"task","pid":0,"tid":1,"ts":5,"dur":2,
             "args":{"id":"a","key":3,"deps":[1,2],"bytes_out":64}},
            {"ph":"B","name":"send","cat":"mpi","pid":0,"tid":100001,"ts":7,
             "args":{"value":"a","key":3,"peer":1,"bytes":64}},
            {"ph":"B","name":"inner","pid":0,"tid":100001,"ts":7.25},
            {"ph":"E","pid":0,"tid":100001,"ts":7.5},
            {"ph":"E","pid":0,"tid":100001,"ts":8},
            {"ph":"E","pid":0,"tid":5,"ts":9},
            {"ph":"s","id":0,"pid":0,"tid":100001,"ts":7}]}"#;
        let Ok(Loaded::Trace(t)) = parse(text) else {
            panic!("a trace")
        };
        assert_eq!(t.job.as_deref(), Some("j"));
        assert_eq!(t.spans.len(), 3, "an unmatched E is skipped");
        assert_eq!(t.spans[0].deps, vec![1, 2]);
        assert_eq!(t.spans[0].bytes, 64);
        // B/E pairs nest: the inner one ends first.
        assert_eq!((t.spans[1].start, t.spans[1].dur), (7.25, 0.25));
        let send = &t.spans[2];
        assert_eq!(send.kind, SpanKind::Send);
        assert_eq!((send.start, send.dur), (7.0, 1.0));
        assert_eq!(send.peer, Some(1));
        assert_eq!(
            send.tid, MPI_TRACK,
            "dirk's second transfer track folds into the first"
        );
        assert_eq!(t.track_names[&(0, 1)], "worker 1");
        let other =
            r#"[{"ph":"X","name":"f","pid":"main","tid":"io","ts":1.5,"dur":3,"args":{"id":7}}]"#;
        let Ok(Loaded::Trace(t)) = parse(other) else {
            panic!("a trace")
        };
        assert_eq!(t.spans[0].end(), 4.5);
    }

    #[test]
    fn refuses_times_no_run_has() {
        for (ts, dur) in [("0", "1e308"), ("1e308", "1"), ("0", "-1"), ("-5", "1")] {
            let text = format!(
                r#"{{"traceEvents":[{{"ph":"X","name":"a","pid":0,"tid":0,"ts":{ts},"dur":{dur}}}]}}"#
            );
            let Err(LoadError::Foreign { why, .. }) = parse(&text) else {
                panic!("ts {ts} dur {dur} refused")
            };
            assert!(why.contains("traceEvents[0]"), "{why}");
        }
        let summary = r#"{"name":"d","dirk_version":"0.1.0","ranks":1,"threads_per_rank":2,
            "tasks":5,"wall_seconds":1e308,"plan_seconds":0.1,"run_seconds":0.5,
            "per_rank":[{"rank":0,"threads":2,"tasks":5,"busy_seconds":-1,"bytes_sent":0,"bytes_received":0}]}"#;
        let Err(LoadError::Foreign { why, .. }) = parse(summary) else {
            panic!("an absurd summary is refused")
        };
        assert!(why.contains("wall_seconds"), "{why}");
    }

    #[test]
    fn tells_truncated_foreign_and_empty_apart() {
        let full = r#"{"traceEvents":[{"ph":"X","name":"a","pid":0,"tid":0,"ts":0,"dur":1}]}"#;
        assert!(matches!(
            parse(&full[..full.len() - 5]),
            Err(LoadError::Truncated { .. })
        ));
        assert!(matches!(parse("hello"), Err(LoadError::Foreign { .. })));
        assert!(matches!(parse(""), Err(LoadError::Foreign { .. })));
        assert!(matches!(
            parse(r#"{"dirk":1,"tasks":[]}"#),
            Err(LoadError::Foreign { .. })
        ));
        assert!(matches!(
            parse(r#"{"traceEvents":{"a":1}}"#),
            Err(LoadError::Foreign { .. })
        ));
        assert!(matches!(
            parse(r#"{"traceEvents":[]}"#),
            Err(LoadError::Empty { .. })
        ));
        let summary = r#"{"name":"d","dirk_version":"0.1.0","ranks":1,"threads_per_rank":2,
            "tasks":5,"wall_seconds":1.0,"plan_seconds":0.1,"run_seconds":0.5,
            "per_rank":[{"rank":0,"threads":2,"tasks":5,"busy_seconds":0.4,"bytes_sent":0,"bytes_received":0}]}"#;
        assert!(matches!(parse(summary), Ok(Loaded::Summary(_))));
        assert!(matches!(
            parse(r#"{"per_rank":[],"wall_seconds":"x"}"#),
            Err(LoadError::Foreign { .. })
        ));
    }
}
