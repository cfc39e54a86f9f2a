//! `dirk plot`: a Gantt chart of a trace as SVG, written by hand (no plotting crate).
//!
//! One row per track (rank × worker thread, then the rank's MPI track), time across, spans
//! coloured by op with a legend, transfers drawn as arrows from the sending rank's MPI row to
//! the receiving rank's, and a time axis.
//!
//! Scale: a small trace (up to [`EXACT_LIMIT`] spans) is drawn span by span, each with a
//! tooltip. A larger one is aggregated per pixel column: for each row and column the time each
//! colour covers is summed, and the column is drawn in the colour that covers most, its
//! opacity the covered fraction (quantised to quarters); runs of equal columns merge into one
//! rectangle. The work is linear in spans plus rows × columns, and the SVG's size depends on
//! the picture, not on the number of tasks, so a million-task trace plots in about a second.

use super::load::{Span, SpanKind, TraceData};
use super::MPI_TRACK;
use std::collections::{HashMap, HashSet};
use std::fmt::Write;

/// Traces with at most this many spans are drawn span by span, with tooltips.
pub const EXACT_LIMIT: usize = 5_000;
/// At most this many transfer arrows (after merging those that land close together).
const MAX_ARROWS: usize = 1_000;
/// Transfers between the same rows whose ends are this close (px) share one arrow.
const ARROW_BIN: f64 = 6.0;
/// Fill colours of the ops, by decreasing total time; ops beyond them share `OTHER`.
pub(crate) const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#edc948", "#76b7b2", "#ff9da7",
    "#9c755f", "#8cd17d",
];
const OTHER: &str = "#bab0ac";
const SEND: &str = "#1f3a5f";
const RECV: &str = "#2a9d8f";

/// How the chart is drawn.
#[derive(Clone, Debug)]
pub struct GanttOptions {
    /// Width of the whole picture, px.
    pub width: u32,
    /// Draw span by span up to this many spans; aggregate above.
    pub exact_limit: usize,
}

impl Default for GanttOptions {
    fn default() -> Self {
        GanttOptions {
            width: 1400,
            exact_limit: EXACT_LIMIT,
        }
    }
}

const LEFT: f64 = 120.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 64.0;
const AXIS: f64 = 40.0;

/// Colour slots: one per palette entry, then other, send, receive.
fn colour(slot: usize) -> &'static str {
    match slot {
        s if s < PALETTE.len() => PALETTE[s],
        s if s == PALETTE.len() => OTHER,
        s if s == PALETTE.len() + 1 => SEND,
        _ => RECV,
    }
}
const SLOTS: usize = PALETTE.len() + 3;

/// Draws `t` as an SVG document.
pub fn render_gantt(t: &TraceData, opt: &GanttOptions) -> String {
    // Rows: every (rank, track), tracks in order, MPI last (its tid is the largest).
    let mut rows: Vec<(u32, u32)> = t
        .spans
        .iter()
        .map(|s| (s.pid, s.tid))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    rows.sort_unstable();
    let row_of: HashMap<(u32, u32), usize> =
        rows.iter().enumerate().map(|(i, r)| (*r, i)).collect();
    let row_h = (720.0 / rows.len().max(1) as f64).clamp(3.0, 18.0);
    let plot_w = (f64::from(opt.width) - LEFT - RIGHT).max(100.0);
    let height = TOP + row_h * rows.len() as f64 + AXIS;
    let t0 = t
        .spans
        .iter()
        .map(|s| s.start)
        .fold(f64::INFINITY, f64::min);
    let t1 = t
        .spans
        .iter()
        .map(Span::end)
        .fold(f64::NEG_INFINITY, f64::max);
    let span_us = (t1 - t0).max(1e-3);
    let x_of = |us: f64| LEFT + (us - t0) / span_us * plot_w;

    // Colour slot of each name: by decreasing total task time.
    let mut per_name = vec![0.0f64; t.names.len()];
    let mut is_task = vec![false; t.names.len()];
    for s in t.spans.iter().filter(|s| s.kind == SpanKind::Task) {
        per_name[s.name as usize] += s.dur;
        is_task[s.name as usize] = true;
    }
    let mut order: Vec<usize> = (0..t.names.len()).filter(|&n| is_task[n]).collect();
    order.sort_by(|&a, &b| per_name[b].total_cmp(&per_name[a]).then(a.cmp(&b)));
    let mut slot_of_name = vec![PALETTE.len(); t.names.len()];
    for (rank, &n) in order.iter().enumerate() {
        slot_of_name[n] = rank.min(PALETTE.len());
    }
    let slot = |s: &Span| match s.kind {
        SpanKind::Task => slot_of_name[s.name as usize],
        SpanKind::Send => PALETTE.len() + 1,
        SpanKind::Recv => PALETTE.len() + 2,
    };

    let mut out = String::with_capacity(1 << 16);
    let w = opt.width;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{height:.0}\" viewBox=\"0 0 {w} {height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"5\" markerHeight=\"5\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    let title = format!(
        "{} — {} spans on {} ranks, {}",
        t.job.as_deref().unwrap_or("trace"),
        t.spans.len(),
        rows.iter().map(|r| r.0).collect::<HashSet<_>>().len(),
        time_text(span_us, span_us / 10.0)
    );
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        esc(&title)
    );
    legend(&mut out, t, &order, &per_name);

    // Row backgrounds and labels.
    for (i, &(pid, tid)) in rows.iter().enumerate() {
        let y = TOP + row_h * i as f64;
        let fill = if pid % 2 == 0 { "#f4f4f4" } else { "#e9eef4" };
        let _ = writeln!(out, "<rect class=\"row\" x=\"{LEFT}\" y=\"{y:.2}\" width=\"{plot_w:.2}\" height=\"{row_h:.2}\" fill=\"{fill}\"/>");
        if row_h >= 8.0 || i == 0 || rows[i - 1].0 != pid {
            let track = if tid == MPI_TRACK {
                "mpi".to_string()
            } else {
                t.track_names
                    .get(&(pid, tid))
                    .cloned()
                    .unwrap_or_else(|| format!("t{tid}"))
            };
            let _ = writeln!(out, "<text x=\"{:.0}\" y=\"{:.2}\" text-anchor=\"end\" font-size=\"{:.0}\">rank {pid} · {}</text>", LEFT - 6.0, y + row_h * 0.8, row_h.clamp(6.0, 11.0), esc(&track));
        }
        if i > 0 && rows[i - 1].0 != pid {
            let _ = writeln!(out, "<line x1=\"0\" x2=\"{w}\" y1=\"{y:.2}\" y2=\"{y:.2}\" stroke=\"#888\" stroke-width=\"0.8\"/>");
        }
    }

    // Spans.
    let exact = t.spans.len() <= opt.exact_limit;
    if exact {
        for s in &t.spans {
            let y = TOP + row_h * row_of[&(s.pid, s.tid)] as f64;
            let x = x_of(s.start);
            let wd = (s.dur / span_us * plot_w).max(0.5);
            let _ = writeln!(
                out,
                "<rect class=\"span\" x=\"{x:.2}\" y=\"{:.2}\" width=\"{wd:.2}\" height=\"{:.2}\" fill=\"{}\"><title>{}</title></rect>",
                y + row_h * 0.1,
                row_h * 0.8,
                colour(slot(s)),
                esc(&tooltip(t, s))
            );
        }
    } else {
        let cols = plot_w.floor() as usize;
        let mut by_row: Vec<Vec<u32>> = vec![Vec::new(); rows.len()];
        for (i, s) in t.spans.iter().enumerate() {
            by_row[row_of[&(s.pid, s.tid)]].push(i as u32);
        }
        let mut occ = vec![0.0f64; cols * SLOTS];
        for (r, spans) in by_row.iter().enumerate() {
            occ.iter_mut().for_each(|o| *o = 0.0);
            for &i in spans {
                let s = &t.spans[i as usize];
                accumulate(
                    &mut occ,
                    cols,
                    slot(s),
                    (s.start - t0) / span_us * cols as f64,
                    (s.end() - t0) / span_us * cols as f64,
                );
            }
            let y = TOP + row_h * r as f64 + row_h * 0.1;
            for (c0, c1, sl, level) in runs(&occ, cols) {
                let _ = writeln!(
                    out,
                    "<rect class=\"span\" x=\"{:.2}\" y=\"{y:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\" fill-opacity=\"{}\"/>",
                    LEFT + c0 as f64 * plot_w / cols as f64,
                    (c1 - c0) as f64 * plot_w / cols as f64,
                    row_h * 0.8,
                    colour(sl),
                    f64::from(level) / 4.0
                );
            }
        }
    }

    // Transfers: sender's MPI row at the send's start to the receiver's at the receive's end.
    let recvs: HashMap<(u32, u32, u32), &Span> = t
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Recv)
        .filter_map(|s| Some(((s.peer?, s.pid, s.key?), s)))
        .collect();
    // Transfers landing within ARROW_BIN px of one another (same rows) share one arrow.
    let mut arrows: Vec<(f64, usize, f64, usize)> = Vec::new();
    let mut seen = HashSet::new();
    let mut skipped = 0usize;
    for s in t.spans.iter().filter(|s| s.kind == SpanKind::Send) {
        let (Some(peer), Some(key)) = (s.peer, s.key) else {
            continue;
        };
        let Some(r) = recvs.get(&(s.pid, peer, key)) else {
            continue;
        };
        let (ra, rb) = (row_of[&(s.pid, s.tid)], row_of[&(r.pid, r.tid)]);
        let (x1, x2) = (x_of(s.start), x_of(r.end()));
        let bin = |x: f64| (x / ARROW_BIN).round() as i64;
        if !seen.insert((bin(x1), ra, bin(x2), rb)) {
            continue;
        }
        if arrows.len() >= MAX_ARROWS {
            skipped += 1;
            continue;
        }
        arrows.push((x1, ra, x2, rb));
    }
    let opacity = if arrows.len() > 200 { 0.25 } else { 0.6 };
    for (x1, ra, x2, rb) in arrows {
        let y1 = TOP + row_h * (ra as f64 + 0.5);
        let y2 = TOP + row_h * (rb as f64 + 0.5);
        let _ = writeln!(out, "<line class=\"xfer\" x1=\"{x1:.2}\" y1=\"{y1:.2}\" x2=\"{x2:.2}\" y2=\"{y2:.2}\" stroke=\"#333\" stroke-opacity=\"{opacity}\" stroke-width=\"0.8\" marker-end=\"url(#arrow)\"/>");
    }

    axis(
        &mut out,
        t0,
        span_us,
        plot_w,
        TOP + row_h * rows.len() as f64,
    );
    if skipped > 0 || !exact {
        let note = format!(
            "{}{}",
            if exact {
                ""
            } else {
                "aggregated per pixel column (colour: the op covering most; opacity: the busy fraction)"
            },
            if skipped > 0 {
                format!("; {skipped} more transfer arrows not drawn")
            } else {
                String::new()
            }
        );
        let _ = writeln!(
            out,
            "<text x=\"{LEFT}\" y=\"{:.0}\" fill=\"#555\">{}</text>",
            height - 4.0,
            esc(&note)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Adds the span from column position `a` to `b` (fractional) to slot `sl` of each column.
fn accumulate(occ: &mut [f64], cols: usize, sl: usize, a: f64, b: f64) {
    let a = a.clamp(0.0, cols as f64);
    let b = b.clamp(a, cols as f64);
    let first = (a.floor() as usize).min(cols - 1);
    let last = ((b.ceil() as usize).max(first + 1)).min(cols);
    for c in first..last {
        let lo = a.max(c as f64);
        let hi = b.min(c as f64 + 1.0);
        if hi > lo {
            occ[c * SLOTS + sl] += hi - lo;
        }
    }
}

/// Merges the columns of one row into runs `(first col, end col, slot, opacity in quarters)`;
/// a column less than 2 % covered is a gap.
fn runs(occ: &[f64], cols: usize) -> Vec<(usize, usize, usize, u8)> {
    let mut out: Vec<(usize, usize, usize, u8)> = Vec::new();
    for c in 0..cols {
        let cell = &occ[c * SLOTS..(c + 1) * SLOTS];
        let total: f64 = cell.iter().sum();
        if total < 0.02 {
            continue;
        }
        let (sl, _) =
            cell.iter().enumerate().fold(
                (0, -1.0),
                |best, (i, &v)| if v > best.1 { (i, v) } else { best },
            );
        let level = ((total.min(1.0) * 4.0).ceil() as u8).clamp(1, 4);
        match out.last_mut() {
            Some(run) if run.1 == c && run.2 == sl && run.3 == level => run.1 = c + 1,
            _ => out.push((c, c + 1, sl, level)),
        }
    }
    out
}

fn legend(out: &mut String, t: &TraceData, order: &[usize], per_name: &[f64]) {
    let total: f64 = per_name.iter().sum::<f64>().max(1e-9);
    let mut x = LEFT;
    let y = 34.0;
    let mut entries: Vec<(String, &str)> = order
        .iter()
        .take(PALETTE.len())
        .enumerate()
        .map(|(i, &n)| {
            (
                format!("{} {:.0}%", t.names[n], per_name[n] / total * 100.0),
                PALETTE[i],
            )
        })
        .collect();
    if order.len() > PALETTE.len() {
        entries.push((format!("{} other ops", order.len() - PALETTE.len()), OTHER));
    }
    if t.spans.iter().any(|s| s.kind == SpanKind::Send) {
        entries.push(("mpi send".into(), SEND));
        entries.push(("mpi recv".into(), RECV));
    }
    for (label, fill) in entries {
        let _ = writeln!(out, "<rect class=\"legend\" x=\"{x:.0}\" y=\"{y}\" width=\"12\" height=\"12\" fill=\"{fill}\"/><text x=\"{:.0}\" y=\"{}\">{}</text>", x + 16.0, y + 10.0, esc(&label));
        x += 26.0 + 6.5 * label.chars().count() as f64;
    }
}

fn axis(out: &mut String, t0: f64, span_us: f64, plot_w: f64, y: f64) {
    let step = nice_step(span_us / 8.0);
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{:.2}\" y1=\"{y:.2}\" y2=\"{y:.2}\" stroke=\"black\"/>",
        LEFT + plot_w
    );
    // At most a few dozen ticks, whatever the span (a non-finite one draws none).
    for k in 0..64u32 {
        let v = f64::from(k) * step;
        if v.is_nan() || v > span_us * 1.000_001 {
            break;
        }
        let x = LEFT + v / span_us * plot_w;
        let _ = writeln!(out, "<line x1=\"{x:.2}\" x2=\"{x:.2}\" y1=\"{y:.2}\" y2=\"{:.2}\" stroke=\"black\"/><text class=\"tick\" x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>", y + 5.0, y + 17.0, time_text(v, step));
    }
    let _ = writeln!(out, "<text x=\"{:.0}\" y=\"{:.2}\" text-anchor=\"end\" fill=\"#555\">time since start (t0 = {:.0} µs)</text>", LEFT + plot_w, y + 32.0, t0);
}

/// A 1, 2 or 5 times a power of ten at least `raw`.
pub(crate) fn nice_step(raw: f64) -> f64 {
    let raw = raw.max(1e-6);
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|s| *s >= raw * 0.999_999)
        .unwrap_or(10.0 * p)
}

/// `us` in the unit that suits a tick spacing of `step` µs.
pub(crate) fn time_text(us: f64, step: f64) -> String {
    if step >= 1e6 {
        format!("{:.0} s", us / 1e6).replace(".0 s", " s")
    } else if step >= 1e5 {
        format!("{:.1} s", us / 1e6)
    } else if step >= 1e3 {
        format!("{} ms", trim(us / 1e3))
    } else {
        format!("{} µs", trim(us))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn tooltip(t: &TraceData, s: &Span) -> String {
    let what = match s.kind {
        SpanKind::Task => t.names[s.name as usize].clone(),
        SpanKind::Send => format!("send to rank {}", s.peer.unwrap_or(0)),
        SpanKind::Recv => format!("receive from rank {}", s.peer.unwrap_or(0)),
    };
    let key = s.key.map(|k| format!(" #{k}")).unwrap_or_default();
    format!("{what}{key}: {:.1} µs, {} bytes", s.dur, s.bytes)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(pid: u32, tid: u32, name: u32, start: f64, dur: f64) -> Span {
        Span {
            pid,
            tid,
            name,
            kind: SpanKind::Task,
            start,
            dur,
            key: None,
            peer: None,
            bytes: 0,
            deps: vec![],
        }
    }

    #[test]
    fn accumulate_splits_a_span_over_columns() {
        let mut occ = vec![0.0; 4 * SLOTS];
        accumulate(&mut occ, 4, 2, 0.5, 2.25);
        let col = |c: usize| occ[c * SLOTS + 2];
        assert_eq!((col(0), col(1), col(2), col(3)), (0.5, 1.0, 0.25, 0.0));
        // A sliver inside one column, and spans past the edges, stay in range.
        accumulate(&mut occ, 4, 1, 3.1, 3.2);
        accumulate(&mut occ, 4, 1, -1.0, 0.5);
        accumulate(&mut occ, 4, 1, 3.9, 9.0);
        assert!((occ[3 * SLOTS + 1] - 0.2).abs() < 1e-9);
        assert_eq!(occ[1], 0.5);
    }

    #[test]
    fn runs_merge_equal_columns_and_pick_the_dominant_op() {
        let cols = 5;
        let mut occ = vec![0.0; cols * SLOTS];
        for c in 0..3 {
            occ[c * SLOTS] = 1.0;
        }
        occ[3 * SLOTS + 1] = 0.3;
        occ[3 * SLOTS] = 0.1;
        let r = runs(&occ, cols);
        assert_eq!(r, vec![(0, 3, 0, 4), (3, 4, 1, 2)]);
    }

    #[test]
    fn aggregated_chart_has_one_row_rect_per_track_and_bounded_size() {
        let n = 200_000u32;
        let spans: Vec<Span> = (0..n)
            .map(|i| span(i % 2, (i / 2) % 2, i % 3, f64::from(i / 4), 0.9))
            .collect();
        let t = TraceData {
            names: vec!["a".into(), "b".into(), "c".into()],
            spans,
            ..TraceData::default()
        };
        let svg = render_gantt(&t, &GanttOptions::default());
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("class=\"row\"").count(), 4);
        assert!(svg.contains("aggregated per pixel column"));
        assert!(svg.len() < 2_000_000, "{} bytes", svg.len());
        let exact = render_gantt(
            &TraceData {
                spans: t.spans[..100].to_vec(),
                ..t.clone()
            },
            &GanttOptions::default(),
        );
        assert_eq!(exact.matches("class=\"span\"").count(), 100);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(120.0), 200.0);
        assert_eq!(nice_step(1000.0), 1000.0);
        assert_eq!(time_text(2500.0, 500.0), "2500 µs");
        assert_eq!(time_text(2500.0, 1000.0), "2.5 ms");
        assert_eq!(time_text(3e6, 1e6), "3 s");
    }
}
