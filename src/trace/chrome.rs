//! Chrome trace-event JSON (the format Perfetto and chrome://tracing open): one complete
//! event (`"ph": "X"`) per task, `pid` = rank, `tid` = worker thread, the task id in
//! `args.id`, plus metadata events naming each process and thread.

use super::TaskEvent;
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Writes `events` as a Chrome trace to `path`, whole or not at all.
pub fn write_chrome_trace(path: &Path, job: &str, events: &[TaskEvent]) -> std::io::Result<()> {
    let atomic = crate::store::AtomicPath::new(path);
    let mut w = std::io::BufWriter::new(std::fs::File::create(atomic.tmp())?);
    write!(
        w,
        "{{\"displayTimeUnit\":\"ms\",\"otherData\":{},\"traceEvents\":[",
        json!({"job": job, "dirk_version": env!("CARGO_PKG_VERSION")})
    )?;
    let mut first = true;
    let mut sep = |w: &mut std::io::BufWriter<std::fs::File>| -> std::io::Result<()> {
        if !first {
            w.write_all(b",\n")?;
        }
        first = false;
        Ok(())
    };
    let mut seen = std::collections::BTreeSet::new();
    for e in events {
        if seen.insert((e.rank, u32::MAX)) {
            sep(&mut w)?;
            serde_json::to_writer(
                &mut w,
                &json!({"ph": "M", "name": "process_name", "pid": e.rank, "args": {"name": format!("rank {}", e.rank)}}),
            )?;
        }
        if seen.insert((e.rank, e.thread)) {
            sep(&mut w)?;
            serde_json::to_writer(
                &mut w,
                &json!({"ph": "M", "name": "thread_name", "pid": e.rank, "tid": e.thread, "args": {"name": format!("worker {}", e.thread)}}),
            )?;
        }
        sep(&mut w)?;
        serde_json::to_writer(
            &mut w,
            &json!({
                "ph": "X",
                "name": e.op,
                "cat": "task",
                "pid": e.rank,
                "tid": e.thread,
                "ts": e.start_ns as f64 / 1000.0,
                "dur": (e.end_ns.saturating_sub(e.start_ns)) as f64 / 1000.0,
                "args": {"id": e.id, "op": e.op},
            }),
        )?;
    }
    w.write_all(b"]}\n")?;
    w.flush()?;
    drop(w);
    atomic.commit()
}
