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

/// Bottom levels once the owners are known: an edge whose producer and consumer are on
/// different ranks also costs the transfer of the producer's value. A task whose result
/// another rank waits for (a stencil's boundary tile and the strips cut from it) then ranks
/// above the local work of the same step, so its rank computes and sends it first and the
/// neighbour does not sit idle waiting for it.
pub(super) fn bottom_levels_placed(g: &Graph, owner: &[u32], costs: &[u64]) -> Vec<u64> {
    let tasks = g.tasks();
    let mut level = costs.to_vec();
    for i in (0..tasks.len()).rev() {
        let li = level[i];
        for h in tasks[i].inputs() {
            let p = h.index();
            let edge = if owner[p] == owner[i] {
                0
            } else {
                cost::transfer_ns(tasks[p].ty.bytes())
            };
            level[p] = level[p].max(costs[p] + edge + li);
        }
    }
    level
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

    #[test]
    fn a_value_another_rank_waits_for_ranks_above_local_work() {
        let mut g = Graph::new();
        let shape = || Arg::Shape(vec![1000]);
        let rand = |seed| Op::Rand {
            seed,
            dtype: DType::F64,
        };
        let x = g.spawn(rand(0), [shape()]).unwrap();
        let y = g.spawn(rand(1), [shape()]).unwrap();
        let x2 = g.spawn(Op::Mul, [x.into(), 2.0.into()]).unwrap();
        let y2 = g.spawn(Op::Mul, [y.into(), 2.0.into()]).unwrap();
        let (costs, flat) = bottom_levels(&g);
        assert_eq!(flat[x.index()], flat[y.index()]);
        // x2 runs on another rank than x; y2 beside y.
        let owner = [0, 0, 1, 0];
        let placed = bottom_levels_placed(&g, &owner, &costs);
        assert!(placed[x.index()] > placed[y.index()]);
        assert_eq!(placed[y.index()], flat[y.index()]);
        // Sinks keep their own cost.
        for sink in [x2, y2] {
            assert_eq!(placed[sink.index()], costs[sink.index()]);
        }
        for (i, t) in g.tasks().iter().enumerate() {
            for h in t.inputs() {
                assert!(placed[h.index()] >= placed[i] + costs[h.index()]);
            }
        }
    }
}
