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

    /// Removes the tasks `pick` chooses among about `tail` of the least urgent ones,
    /// atomically with respect to `pop` (so a task taken here can never also start). `pick`
    /// gets the number of tasks ahead of that tail and the tail in pop order as (priority,
    /// task), and returns positions in the tail. A short queue is offered whole (its `tail`
    /// least urgent exactly); a long one offers `tail` of its heap's leaves, which are among
    /// its less urgent half, so a call costs O(tail · log n) plus one linear pass to rebuild.
    pub(crate) fn take(
        &self,
        tail: usize,
        pick: impl FnOnce(usize, &[(u64, u32)]) -> Vec<usize>,
    ) -> Vec<(u64, u32)> {
        type Entry = (u64, Reverse<u32>);
        let mut h = self.heap.lock().expect("ready queue lock");
        if h.is_empty() || tail == 0 {
            return Vec::new();
        }
        let mut all: Vec<Entry> = std::mem::take(&mut *h).into_vec();
        let n = all.len();
        // Candidate positions in `all`, sorted into pop order.
        let mut idx: Vec<usize> = if n <= 4 * tail {
            (0..n).collect()
        } else {
            (n - tail..n).collect()
        };
        idx.sort_unstable_by(|&a, &b| all[b].cmp(&all[a]));
        if n <= 4 * tail {
            idx.drain(..n.saturating_sub(tail));
        }
        let view: Vec<(u64, u32)> = idx.iter().map(|&i| (all[i].0, all[i].1 .0)).collect();
        let mut chosen: Vec<usize> = pick(n - idx.len(), &view)
            .into_iter()
            .filter(|&k| k < idx.len())
            .map(|k| idx[k])
            .collect();
        chosen.sort_unstable();
        chosen.dedup();
        let mut taken = Vec::with_capacity(chosen.len());
        if n <= 4 * tail {
            for &i in chosen.iter().rev() {
                let (p, Reverse(t)) = all.swap_remove(i);
                taken.push((p, t));
            }
            *h = BinaryHeap::from(all);
        } else {
            // Every position taken is a leaf (the last quarter of the heap): removing it and
            // moving the last entry there needs only a sift-up to keep the heap order.
            for &i in chosen.iter().rev() {
                let (p, Reverse(t)) = all.swap_remove(i);
                taken.push((p, t));
                let mut j = i;
                while j > 0 && j < all.len() {
                    let parent = (j - 1) / 2;
                    if all[j] <= all[parent] {
                        break;
                    }
                    all.swap(j, parent);
                    j = parent;
                }
            }
            // Already a heap: `from` only checks it (one comparison per inner node).
            *h = BinaryHeap::from(all);
        }
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

    #[test]
    fn take_from_a_long_queue_keeps_the_heap_order() {
        let q = ReadyQueue::default();
        let n = 1000u32;
        q.push_all((0..n).map(|t| (u64::from((t * 7919) % 1013), t)));
        let mut taken = q.take(16, |ahead, tail| {
            assert_eq!(ahead + tail.len(), n as usize);
            assert_eq!(tail.len(), 16);
            assert!(tail.windows(2).all(|w| w[0] >= w[1]), "pop order");
            (0..16).step_by(3).collect()
        });
        assert_eq!(taken.len(), 6);
        taken.sort_unstable();
        taken.dedup();
        assert_eq!(taken.len(), 6);
        let mut rest: Vec<(u64, u32)> = Vec::new();
        while let Some(t) = q.pop() {
            rest.push((u64::from((t * 7919) % 1013), t));
        }
        assert_eq!(rest.len(), n as usize - 6);
        assert!(
            rest.windows(2).all(|w| w[0].0 >= w[1].0),
            "still pops by priority"
        );
        assert!(taken.iter().all(|t| !rest.contains(t)));
    }
}
