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

    /// Removes the tasks `pick` chooses, atomically with respect to `pop` (so a task taken
    /// here can never also start). `pick` sees the queue in pop order as (priority, task) and
    /// returns positions in that order.
    pub(crate) fn take(&self, pick: impl FnOnce(&[(u64, u32)]) -> Vec<usize>) -> Vec<(u64, u32)> {
        let mut h = self.heap.lock().expect("ready queue lock");
        if h.is_empty() {
            return Vec::new();
        }
        let mut all: Vec<(u64, u32)> = std::mem::take(&mut *h)
            .into_sorted_vec()
            .into_iter()
            .rev()
            .map(|(p, Reverse(t))| (p, t))
            .collect();
        let mut chosen = pick(&all);
        chosen.sort_unstable();
        chosen.dedup();
        let mut taken = Vec::with_capacity(chosen.len());
        for &i in chosen.iter().rev() {
            taken.push(all.swap_remove(i));
        }
        *h = all.into_iter().map(|(p, t)| (p, Reverse(t))).collect();
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
        let mut taken = q.take(|all| {
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
    }
}
