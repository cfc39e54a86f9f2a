//! Priorities: the longest estimated path from a task to any sink (its "bottom level"), so the
//! scheduler runs the critical path first.
//!
//! Two passes: `bottom_levels` before placement (the partitioner visits tasks in that order),
//! and `placed_levels` after it, where an edge between ranks also costs the transfer. The
//! second is what the ready queues order by: among tasks equal in compute (a stencil's tiles
//! of one step), those whose values leave the rank run first, so a neighbour's halo is on
//! its way while this rank computes its interior, instead of both ranks opening every step
//! by waiting for the tile the other computed last.

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

/// Bottom levels once every task has an owner: a task's estimated cost plus the longest path
/// below it, where an edge to a consumer on another rank adds the estimated transfer of the
/// value (`cost::transfer_ns`). Still strictly decreasing along every edge.
pub fn placed_levels(g: &Graph, costs: &[u64], owner: &[u32]) -> Vec<u64> {
    let tasks = g.tasks();
    let mut level = costs.to_vec();
    for i in (0..tasks.len()).rev() {
        let li = level[i];
        for h in tasks[i].inputs() {
            let p = h.index();
            let hop = if owner[p] == owner[i] {
                0
            } else {
                cost::transfer_ns(tasks[p].ty.bytes())
            };
            level[p] = level[p].max(costs[p] + hop + li);
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
                Op::new(crate::kernels::Rand {
                    seed: 0,
                    dtype: DType::F64,
                }),
                [Arg::Shape(vec![10])],
            )
            .unwrap();
        let a = g
            .spawn(Op::new(crate::kernels::Add), [x.into(), 1.0.into()])
            .unwrap();
        let b = g
            .spawn(
                Op::new(crate::kernels::Busy { iterations: 1000 }),
                [a.into()],
            )
            .unwrap();
        let c = g
            .spawn(Op::new(crate::kernels::Mul), [a.into(), 2.0.into()])
            .unwrap();
        let _d = g
            .spawn(Op::new(crate::kernels::Sub), [b.into(), c.into()])
            .unwrap();
        let (costs, lv) = bottom_levels(&g);
        for (i, t) in g.tasks().iter().enumerate() {
            for h in t.inputs() {
                assert!(lv[h.index()] >= lv[i] + costs[h.index()]);
            }
        }
        // The busy branch is the critical one.
        assert!(lv[b.index()] > lv[c.index()]);
    }

    /// A ring of four stencil chains, as Life's tiles, chains 0-2 on rank 0 and 3 on rank 1:
    /// before placement every chain's task of a step ties; after it, the tasks of chains 0
    /// and 2 (read by chain 3 on the other rank) outrank interior chain 1's, and levels still
    /// fall along every edge.
    #[test]
    fn values_leaving_the_rank_outrank_equal_local_work() {
        let n = 4;
        let mut g = Graph::new();
        let mut chain_of = Vec::new();
        let mut row: Vec<_> = (0..n)
            .map(|k| {
                chain_of.push(k);
                g.spawn(
                    Op::new(crate::kernels::Rand {
                        seed: 0,
                        dtype: DType::F64,
                    }),
                    [Arg::Shape(vec![8])],
                )
                .unwrap()
            })
            .collect();
        let mut steps = Vec::new();
        for _ in 0..3 {
            row = (0..n)
                .map(|k| {
                    let (l, r) = (row[(k + n - 1) % n], row[(k + 1) % n]);
                    let sum = g
                        .spawn(Op::new(crate::kernels::Add), [l.into(), r.into()])
                        .unwrap();
                    let next = g
                        .spawn(Op::new(crate::kernels::Add), [sum.into(), row[k].into()])
                        .unwrap();
                    chain_of.extend([k, k]);
                    next
                })
                .collect();
            steps.push(row.clone());
        }
        let owner: Vec<u32> = chain_of.iter().map(|&k| u32::from(k == 3)).collect();
        let (costs, plain) = bottom_levels(&g);
        let placed = placed_levels(&g, &costs, &owner);
        for (i, t) in g.tasks().iter().enumerate() {
            for h in t.inputs() {
                assert!(placed[h.index()] >= placed[i] + costs[h.index()]);
            }
        }
        let level = |v: &[u64], k: usize| v[steps[0][k].index()];
        assert!((0..n).all(|k| level(&plain, k) == level(&plain, 0)));
        assert!(level(&placed, 0) > level(&placed, 1));
        assert!(level(&placed, 2) > level(&placed, 1));
    }
}
