//! `dirk plot --dag`: a drawing of a (small) job's task graph, as Graphviz dot text or as a
//! layered SVG drawn by hand (no Graphviz needed). Graphs above [`DAG_MAX_TASKS`] tasks are
//! refused: a drawing of thousands of boxes shows nothing; the Gantt chart of a trace scales.

use super::gantt::PALETTE;
use crate::graph::Graph;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The largest graph `dirk plot --dag` draws.
pub const DAG_MAX_TASKS: usize = 500;

/// Why a graph was not drawn.
#[derive(Debug, Error)]
pub enum DagError {
    /// Too many tasks to draw legibly.
    #[error("the graph has {tasks} tasks; --dag draws graphs of at most {limit} (trace a run and use `dirk plot TRACE.json` instead)")]
    TooLarge {
        /// Tasks in the graph.
        tasks: usize,
        /// The limit.
        limit: usize,
    },
    /// The drawing cannot be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Draws `g` to `path`: Graphviz dot when the name ends in `.dot` or `.gv`, SVG otherwise.
pub fn write_dag(g: &Graph, path: &Path) -> Result<(), DagError> {
    if g.len() > DAG_MAX_TASKS {
        return Err(DagError::TooLarge {
            tasks: g.len(),
            limit: DAG_MAX_TASKS,
        });
    }
    let dot = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("dot" | "gv")
    );
    let text = if dot { to_dot(g) } else { to_svg(g) };
    crate::store::write_file_atomic(path, text.as_bytes()).map_err(|source| DagError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One colour per op, in order of first appearance.
fn op_colours(g: &Graph) -> HashMap<&'static str, &'static str> {
    let mut c = HashMap::new();
    for t in g.tasks() {
        let n = c.len();
        c.entry(t.op.name()).or_insert(PALETTE[n % PALETTE.len()]);
    }
    c
}

/// `s` with dot's escapes for a double-quoted string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn quote(s: &str) -> String {
    format!("\"{}\"", escape(s))
}

/// Graphviz dot text: one box per task (id and op), one edge per distinct input.
pub(crate) fn to_dot(g: &Graph) -> String {
    let colours = op_colours(g);
    let mut s = format!(
        "digraph {} {{\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"sans-serif\"];\n",
        quote(&g.name)
    );
    for t in g.tasks() {
        // `\n` left unescaped: dot's line break between the id and the op.
        let _ = writeln!(
            s,
            "  {} [label=\"{}\\n{}\", fillcolor={}, fontcolor=white];",
            quote(&t.id),
            escape(&t.id),
            escape(t.op.name()),
            quote(colours[t.op.name()])
        );
    }
    for t in g.tasks() {
        let mut seen = Vec::new();
        for h in t.inputs() {
            if !seen.contains(&h) {
                seen.push(h);
                let _ = writeln!(s, "  {} -> {};", quote(&g.task(h).id), quote(&t.id));
            }
        }
    }
    s.push_str("}\n");
    s
}

const BOX_W: f64 = 120.0;
const BOX_H: f64 = 34.0;
const GAP_X: f64 = 20.0;
const GAP_Y: f64 = 46.0;

/// A layered SVG: a task's layer is one more than its deepest input's (spawn order is
/// topological, so one pass suffices); boxes are centred in their layer, in spawn order.
pub(crate) fn to_svg(g: &Graph) -> String {
    let tasks = g.tasks();
    let mut layer = vec![0usize; tasks.len()];
    for (i, t) in tasks.iter().enumerate() {
        layer[i] = t.inputs().map(|h| layer[h.index()] + 1).max().unwrap_or(0);
    }
    let depth = layer.iter().max().map_or(0, |m| m + 1);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (i, &l) in layer.iter().enumerate() {
        members[l].push(i);
    }
    let widest = members.iter().map(Vec::len).max().unwrap_or(1);
    let width = widest as f64 * (BOX_W + GAP_X) + GAP_X;
    let height = depth as f64 * (BOX_H + GAP_Y) + GAP_Y;
    let mut pos = vec![(0.0, 0.0); tasks.len()];
    for (l, m) in members.iter().enumerate() {
        let row_w = m.len() as f64 * (BOX_W + GAP_X) - GAP_X;
        for (k, &i) in m.iter().enumerate() {
            pos[i] = (
                (width - row_w) / 2.0 + k as f64 * (BOX_W + GAP_X),
                GAP_Y / 2.0 + l as f64 * (BOX_H + GAP_Y),
            );
        }
    }
    let colours = op_colours(g);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker></defs>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (i, t) in tasks.iter().enumerate() {
        let mut seen = Vec::new();
        for h in t.inputs() {
            if seen.contains(&h) {
                continue;
            }
            seen.push(h);
            let (a, b) = (pos[h.index()], pos[i]);
            let _ = writeln!(
                s,
                "<line class=\"edge\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555\" marker-end=\"url(#arrow)\"/>",
                a.0 + BOX_W / 2.0,
                a.1 + BOX_H,
                b.0 + BOX_W / 2.0,
                b.1
            );
        }
    }
    for (i, t) in tasks.iter().enumerate() {
        let (x, y) = pos[i];
        let _ = writeln!(
            s,
            "<g class=\"task\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"6\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" fill=\"white\" text-anchor=\"middle\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"white\" text-anchor=\"middle\" font-size=\"9\">{}</text></g>",
            colours[t.op.name()],
            x + BOX_W / 2.0,
            y + 15.0,
            esc(&t.id),
            x + BOX_W / 2.0,
            y + 28.0,
            t.op.name()
        );
    }
    s.push_str("</svg>\n");
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::tests::diamond;

    #[test]
    fn dot_and_svg_show_every_task_and_edge() {
        let g = diamond();
        let dot = to_dot(&g);
        assert!(dot.starts_with("digraph \"diamond\""));
        assert_eq!(dot.matches(" -> ").count(), 5);
        assert!(dot.contains("\"b\" -> \"d\""));
        // A dot line break between id and op, not an escaped backslash.
        assert!(dot.contains("label=\"b\\nmul\""), "{dot}");
        let svg = to_svg(&g);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("class=\"task\"").count(), 5);
        assert_eq!(svg.matches("class=\"edge\"").count(), 5);
    }

    #[test]
    fn refuses_large_graphs() {
        let mut g = Graph::new();
        for i in 0..=DAG_MAX_TASKS {
            g.spawn(
                crate::Op::new(crate::kernels::Fill {
                    dtype: crate::DType::F64,
                }),
                [crate::Arg::Shape(vec![1]), f64::from(i as u32).into()],
            )
            .expect("spawn");
        }
        let err = write_dag(&g, Path::new("/nonexistent/x.svg")).unwrap_err();
        assert!(matches!(err, DagError::TooLarge { .. }), "{err}");
    }
}
