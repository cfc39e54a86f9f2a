//! Priorities: the longest estimated path from a task to any sink (its "bottom level"), so the
//! scheduler runs the critical path first.

use super::cost;
use crate::graph::Graph;

/// Per task: its estimated cost and its bottom level (own cost plus the longest path below).
/// A task's bottom level is strictly greater than each of its consumers'.
pub fn bottom_levels(g: &Graph) -> (Vec<u64>, Vec<u64>) {
    let tasks = g.tasks();
    let costs: Vec<u64> = tasks.iter().map(|t| cost::task_ns(g, t)).collect();
    let mut level = costs.clone();
    // Spawn order is topological, so a reverse sweep sees every consumer before its producers.
    for i in (0..tasks.len()).rev() {
        let li = level[i];
        for h in tasks[i].inputs() {
            let p = h.index();
            level[p] = level[p].max(costs[p] + li);
        }
    }
    (costs, level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{Arg, DType, Op};

    #[test]
    fn levels_decrease_along_edges() {
        let mut g = Graph::new();
        let x = g
            .spawn(
                Op::Rand {
                    seed: 0,
                    dtype: DType::F64,
                },
                [Arg::Shape(vec![10])],
            )
            .unwrap();
        let a = g.spawn(Op::Add, [x.into(), 1.0.into()]).unwrap();
        let b = g.spawn(Op::Busy { iterations: 1000 }, [a.into()]).unwrap();
        let c = g.spawn(Op::Mul, [a.into(), 2.0.into()]).unwrap();
        let _d = g.spawn(Op::Sub, [b.into(), c.into()]).unwrap();
        let (costs, lv) = bottom_levels(&g);
        for (i, t) in g.tasks().iter().enumerate() {
            for h in t.inputs() {
                assert!(lv[h.index()] >= lv[i] + costs[h.index()]);
            }
        }
        // The busy branch is the critical one.
        assert!(lv[b.index()] > lv[c.index()]);
    }
}
