//! `dirk report`: where the time went, as plain-text tables.
//!
//! From a trace: time per op, busy fraction per rank (task time over threads × the traced
//! span), bytes moved per rank (from the transfer events), and the critical path (the
//! longest chain of task durations along the graph's edges, which dirk traces carry as
//! `args.key`/`args.deps`) against the wall time. From a summary: the per-rank figures it
//! holds; per-op times and the critical path need a trace, and the report says so.

use super::load::{Span, SpanKind, TraceData};
use super::Summary;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

/// The report of a trace.
pub fn report_trace(t: &TraceData) -> String {
    let tasks: Vec<&Span> = t
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Task)
        .collect();
    let t0 = tasks.iter().map(|s| s.start).fold(f64::INFINITY, f64::min);
    let t1 = tasks
        .iter()
        .map(|s| s.end())
        .fold(f64::NEG_INFINITY, f64::max);
    let wall_us = if tasks.is_empty() { 0.0 } else { t1 - t0 };
    let busy_us: f64 = tasks.iter().map(|s| s.dur).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trace of {}: {} tasks, {} transfers, wall {} (first task start to last task end)\n",
        t.job.as_deref().unwrap_or("a job"),
        tasks.len(),
        t.spans.iter().filter(|s| s.kind == SpanKind::Send).count(),
        secs(wall_us)
    );

    // Time per op.
    let mut per_op: BTreeMap<&str, (u64, f64, f64)> = BTreeMap::new();
    for s in &tasks {
        let e = per_op
            .entry(t.names[s.name as usize].as_str())
            .or_insert((0, 0.0, 0.0));
        e.0 += 1;
        e.1 += s.dur;
        e.2 = e.2.max(s.dur);
    }
    let mut ops: Vec<_> = per_op.into_iter().collect();
    ops.sort_by(|a, b| b.1 .1.total_cmp(&a.1 .1));
    let rows: Vec<Vec<String>> = ops
        .iter()
        .map(|(op, (n, total, max))| {
            vec![
                op.to_string(),
                n.to_string(),
                secs(*total),
                format!("{:.1}%", total / busy_us.max(1e-12) * 100.0),
                secs(total / *n as f64),
                secs(*max),
            ]
        })
        .collect();
    out.push_str(&table(
        &["op", "tasks", "time", "share", "mean", "max"],
        &rows,
    ));

    // Per rank.
    let mut ranks: BTreeMap<u32, RankFig> = BTreeMap::new();
    for s in &t.spans {
        let r = ranks.entry(s.pid).or_default();
        match s.kind {
            SpanKind::Task => {
                r.tasks += 1;
                r.busy += s.dur;
                if !r.threads.contains(&s.tid) {
                    r.threads.push(s.tid);
                }
            }
            SpanKind::Send => r.sent += s.bytes,
            SpanKind::Recv => r.received += s.bytes,
        }
    }
    let rows: Vec<Vec<String>> = ranks
        .iter()
        .map(|(rank, f)| {
            let cap = f.threads.len().max(1) as f64 * wall_us;
            vec![
                rank.to_string(),
                f.tasks.to_string(),
                f.threads.len().to_string(),
                secs(f.busy),
                format!("{:.1}%", f.busy / cap.max(1e-12) * 100.0),
                bytes(f.sent),
                bytes(f.received),
            ]
        })
        .collect();
    out.push('\n');
    out.push_str(&table(
        &[
            "rank", "tasks", "threads", "busy", "busy %", "sent", "received",
        ],
        &rows,
    ));
    let moved: u64 = ranks.values().map(|f| f.sent).sum();
    let _ = writeln!(out, "\nbytes moved between ranks: {}", bytes(moved));

    // Critical path.
    match critical_path(&tasks) {
        Some((len, n)) => {
            let _ = writeln!(
                out,
                "critical path: {} over {n} tasks = {:.1}% of the wall time; available parallelism (busy / critical path) {:.1}",
                secs(len),
                len / wall_us.max(1e-12) * 100.0,
                busy_us / len.max(1e-12)
            );
        }
        None => out.push_str("critical path: unknown (the trace has no task keys and edges)\n"),
    }
    out
}

/// Per-rank figures of a trace.
#[derive(Default)]
struct RankFig {
    tasks: u64,
    threads: Vec<u32>,
    busy: f64,
    sent: u64,
    received: u64,
}

/// Longest chain of durations along `deps` edges: (length µs, tasks on it). `None` when the
/// spans carry no keys. Edges to keys absent from the trace are ignored.
pub(crate) fn critical_path(tasks: &[&Span]) -> Option<(f64, usize)> {
    if tasks.is_empty() || tasks.iter().any(|s| s.key.is_none()) {
        return None;
    }
    let index: HashMap<u32, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.key.unwrap_or(0), i))
        .collect();
    // Kahn's algorithm over the trace's edges.
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    let mut indeg = vec![0u32; tasks.len()];
    for (i, s) in tasks.iter().enumerate() {
        for d in &s.deps {
            if let Some(&j) = index.get(d) {
                users[j].push(i);
                indeg[i] += 1;
            }
        }
    }
    let mut best = vec![(0.0f64, 0usize); tasks.len()];
    let mut stack: Vec<usize> = (0..tasks.len()).filter(|&i| indeg[i] == 0).collect();
    let mut seen = 0;
    let mut longest = (0.0f64, 0usize);
    while let Some(i) = stack.pop() {
        seen += 1;
        let here = (best[i].0 + tasks[i].dur, best[i].1 + 1);
        if here.0 > longest.0 {
            longest = here;
        }
        for &u in &users[i] {
            if here.0 > best[u].0 || best[u].1 == 0 {
                best[u] = here;
            }
            indeg[u] -= 1;
            if indeg[u] == 0 {
                stack.push(u);
            }
        }
    }
    (seen == tasks.len()).then_some(longest)
}

/// The report of a summary.
pub fn report_summary(s: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "summary of {}: {} tasks on {} ranks × {} threads, wall {} (planning {}, running {})\n",
        s.name,
        s.tasks,
        s.ranks,
        s.threads_per_rank,
        secs(s.wall_seconds * 1e6),
        secs(s.plan_seconds * 1e6),
        secs(s.run_seconds * 1e6)
    );
    let rows: Vec<Vec<String>> = s
        .per_rank
        .iter()
        .map(|r| {
            let cap = f64::from(r.threads.max(1)) * s.run_seconds;
            vec![
                r.rank.to_string(),
                r.tasks.to_string(),
                r.threads.to_string(),
                secs(r.busy_seconds * 1e6),
                format!("{:.1}%", r.busy_seconds / cap.max(1e-12) * 100.0),
                bytes(r.bytes_sent),
                bytes(r.bytes_received),
            ]
        })
        .collect();
    out.push_str(&table(
        &[
            "rank", "tasks", "threads", "busy", "busy %", "sent", "received",
        ],
        &rows,
    ));
    let moved: u64 = s.per_rank.iter().map(|r| r.bytes_sent).sum();
    let busy: f64 = s.per_rank.iter().map(|r| r.busy_seconds).sum();
    let _ = writeln!(
        out,
        "\nbytes moved between ranks: {}\ntotal busy {} over {} of running\n\
         time per op and the critical path need a trace: run with --trace TRACE.json and `dirk report TRACE.json`",
        bytes(moved),
        secs(busy * 1e6),
        secs(s.run_seconds * 1e6)
    );
    if s.steal {
        let line: Vec<String> = s
            .per_rank
            .iter()
            .filter(|r| r.stolen + r.given_away > 0)
            .map(|r| {
                format!(
                    "rank {} ran {} for others, gave {}",
                    r.rank, r.stolen, r.given_away
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "work stealing: {} tasks ran on another rank than planned{}{}",
            s.tasks_stolen,
            if line.is_empty() { "" } else { ": " },
            line.join("; ")
        );
    }
    out
}

/// Left-aligned first column, right-aligned others, columns sized to fit.
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&head.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    out.push_str(&line(&w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>()));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// µs as seconds, with precision to match.
fn secs(us: f64) -> String {
    let s = us / 1e6;
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 1.0 {
        format!("{s:.3} s")
    } else if us >= 1000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.1} µs")
    }
}

/// Bytes in B, KiB, MiB or GiB.
fn bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(key: u32, deps: Vec<u32>, pid: u32, start: f64, dur: f64) -> Span {
        Span {
            pid,
            tid: 0,
            name: 0,
            kind: SpanKind::Task,
            start,
            dur,
            key: Some(key),
            peer: None,
            bytes: 8,
            deps,
        }
    }

    #[test]
    fn critical_path_follows_the_longest_chain() {
        // 0 -> 1 -> 3 and 0 -> 2 -> 3, branch 2 longer.
        let spans = [
            task(0, vec![], 0, 0.0, 1.0),
            task(1, vec![0], 0, 1.0, 2.0),
            task(2, vec![0], 1, 1.0, 5.0),
            task(3, vec![1, 2], 0, 6.0, 1.0),
        ];
        let refs: Vec<&Span> = spans.iter().collect();
        assert_eq!(critical_path(&refs), Some((7.0, 3)));
        let mut nokey = spans[0].clone();
        nokey.key = None;
        assert_eq!(critical_path(&[&nokey]), None);
    }

    #[test]
    fn trace_report_tabulates_ops_ranks_and_bytes() {
        let mut spans = vec![
            task(0, vec![], 0, 0.0, 10.0),
            task(1, vec![0], 1, 20.0, 30.0),
        ];
        spans[1].name = 1;
        spans.push(Span {
            kind: SpanKind::Send,
            tid: 100_000,
            key: Some(0),
            peer: Some(1),
            bytes: 2048,
            deps: vec![],
            ..spans[0].clone()
        });
        let t = TraceData {
            names: vec!["rand".into(), "add".into()],
            spans,
            ..TraceData::default()
        };
        let r = report_trace(&t);
        assert!(r.contains("2 tasks, 1 transfers, wall 50.0 µs"), "{r}");
        let add = r.lines().find(|l| l.starts_with("add ")).expect(&r);
        assert!(add.contains("75.0%"), "{add}");
        let rank1 = r.lines().find(|l| l.starts_with("1 ")).expect(&r);
        assert!(rank1.contains("60.0%"), "{rank1}");
        assert!(r.contains("bytes moved between ranks: 2.0 KiB"), "{r}");
        assert!(
            r.contains("critical path: 40.0 µs over 2 tasks = 80.0%"),
            "{r}"
        );
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "a    bb\n---  --\nxyz   1\n");
    }
}
