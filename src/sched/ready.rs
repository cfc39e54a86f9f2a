//! The ready queue: tasks whose inputs are all present, highest priority (bottom level) first,
//! ties broken by the lower local index so the order is deterministic.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;

/// A locked binary heap of (priority, task). The lock is held for a push or a pop only.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    heap: Mutex<BinaryHeap<(u64, Reverse<u32>)>>,
}

impl ReadyQueue {
    /// Adds ready tasks.
    pub(crate) fn push_all(&self, tasks: impl IntoIterator<Item = (u64, u32)>) {
        let mut h = self.heap.lock().expect("ready queue lock");
        h.extend(tasks.into_iter().map(|(p, t)| (p, Reverse(t))));
    }

    /// Number of ready tasks.
    pub(crate) fn len(&self) -> usize {
        self.heap.lock().expect("ready queue lock").len()
    }

    /// Removes the tasks `pick` chooses among the `tail` least urgent ones, atomically with
    /// respect to `pop` (so a task taken here can never also start). `pick` gets the number
    /// of tasks ahead of the tail and the tail in pop order as (priority, task), and returns
    /// positions in the tail. Linear in the queue length (no full sort).
    pub(crate) fn take(
        &self,
        tail: usize,
        pick: impl FnOnce(usize, &[(u64, u32)]) -> Vec<usize>,
    ) -> Vec<(u64, u32)> {
        let mut h = self.heap.lock().expect("ready queue lock");
        if h.is_empty() || tail == 0 {
            return Vec::new();
        }
        let mut all = std::mem::take(&mut *h).into_vec();
        let n = all.len();
        let k = tail.min(n);
        // The k least urgent go to the front (heap order: smaller = less urgent)...
        if k < n {
            all.select_nth_unstable(k - 1);
        }
        // ...and in pop order (most urgent first) among themselves.
        all[..k].sort_unstable_by(|a, b| b.cmp(a));
        let view: Vec<(u64, u32)> = all[..k].iter().map(|&(p, Reverse(t))| (p, t)).collect();
        let mut chosen = pick(n - k, &view);
        chosen.retain(|&i| i < k);
        chosen.sort_unstable();
        chosen.dedup();
        let mut taken = Vec::with_capacity(chosen.len());
        for &i in chosen.iter().rev() {
            let (p, Reverse(t)) = all.swap_remove(i);
            taken.push((p, t));
        }
        *h = BinaryHeap::from(all);
        taken
    }

    /// Takes the most urgent ready task.
    pub(crate) fn pop(&self) -> Option<u32> {
        self.heap
            .lock()
            .expect("ready queue lock")
            .pop()
            .map(|(_, Reverse(t))| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_priority_then_index() {
        let q = ReadyQueue::default();
        q.push_all([(5, 3), (9, 1), (5, 2), (1, 0)]);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![1, 2, 3, 0]);
    }

    #[test]
    fn take_removes_chosen_positions_in_pop_order() {
        let q = ReadyQueue::default();
        q.push_all([(5, 3), (9, 1), (5, 2), (1, 0), (7, 4)]);
        // Pop order: 1, 4, 2, 3, 0; take positions 3 and 4 (tasks 3 and 0).
        let mut taken = q.take(10, |ahead, all| {
            assert_eq!(ahead, 0);
            assert_eq!(
                all.iter().map(|e| e.1).collect::<Vec<_>>(),
                vec![1, 4, 2, 3, 0]
            );
            vec![4, 3]
        });
        taken.sort_unstable();
        assert_eq!(taken, vec![(1, 0), (5, 3)]);
        assert_eq!(q.len(), 3);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![1, 4, 2]);
        // Only the tail is offered: the 2 least urgent of 5, in pop order.
        q.push_all([(5, 3), (9, 1), (5, 2), (1, 0), (7, 4)]);
        let taken = q.take(2, |ahead, tail| {
            assert_eq!(ahead, 3);
            assert_eq!(tail, &[(5, 3), (1, 0)]);
            vec![0]
        });
        assert_eq!(taken, vec![(5, 3)]);
        let order: Vec<u32> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![1, 4, 2, 0]);
    }
}
