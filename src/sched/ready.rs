//! The ready queue: tasks whose inputs are all present, highest priority (bottom level) first,
//! ties broken by the lower local index so the order is deterministic.

use std::cmp::Reverse;
use std::sync::Mutex;

type Entry = (u64, Reverse<u32>);

/// A locked binary max-heap of (priority, task), kept by hand (not `BinaryHeap`) so that a
/// steal can remove entries in place. The lock is held for a push, a pop or a steal only.
#[derive(Default)]
pub(crate) struct ReadyQueue {
    heap: Mutex<Vec<Entry>>,
}

fn sift_up(v: &mut [Entry], mut j: usize) {
    while j > 0 {
        let parent = (j - 1) / 2;
        if v[j] <= v[parent] {
            break;
        }
        v.swap(j, parent);
        j = parent;
    }
}

fn sift_down(v: &mut [Entry], mut j: usize) {
    let n = v.len();
    loop {
        let l = 2 * j + 1;
        if l >= n {
            break;
        }
        let c = if l + 1 < n && v[l + 1] > v[l] {
            l + 1
        } else {
            l
        };
        if v[c] <= v[j] {
            break;
        }
        v.swap(j, c);
        j = c;
    }
}

/// Removes the entry at `i`, keeping the heap order (O(log n)).
fn remove(v: &mut Vec<Entry>, i: usize) -> Entry {
    let e = v.swap_remove(i);
    if i < v.len() {
        sift_up(v, i);
        sift_down(v, i);
    }
    e
}

impl ReadyQueue {
    /// Adds ready tasks.
    pub(crate) fn push_all(&self, tasks: impl IntoIterator<Item = (u64, u32)>) {
        let mut h = self.heap.lock().expect("ready queue lock");
        for (p, t) in tasks {
            h.push((p, Reverse(t)));
            let last = h.len() - 1;
            sift_up(&mut h, last);
        }
    }

    /// Number of ready tasks.
    pub(crate) fn len(&self) -> usize {
        self.heap.lock().expect("ready queue lock").len()
    }

    /// Removes the tasks `pick` chooses among about `tail` of the least urgent ones,
    /// atomically with respect to `pop` (so a task taken here can never also start). `pick`
    /// gets the number of tasks ahead of that tail and the tail in pop order as (priority,
    /// task), and returns positions in the tail. A short queue offers its `tail` least
    /// urgent exactly; a long one offers the last `tail` entries of the heap, which are
    /// leaves and so among its less urgent half. O(tail · log n) under the lock.
    pub(crate) fn take(
        &self,
        tail: usize,
        pick: impl FnOnce(usize, &[(u64, u32)]) -> Vec<usize>,
    ) -> Vec<(u64, u32)> {
        let mut h = self.heap.lock().expect("ready queue lock");
        let n = h.len();
        if n == 0 || tail == 0 {
            return Vec::new();
        }
        let short = n <= 4 * tail;
        let mut idx: Vec<usize> = if short {
            (0..n).collect()
        } else {
            (n - tail..n).collect()
        };
        idx.sort_unstable_by(|&a, &b| h[b].cmp(&h[a]));
        if short {
            idx.drain(..n.saturating_sub(tail));
        }
        let view: Vec<(u64, u32)> = idx.iter().map(|&i| (h[i].0, h[i].1 .0)).collect();
        let mut chosen: Vec<usize> = pick(n - idx.len(), &view)
            .into_iter()
            .filter(|&k| k < idx.len())
            .map(|k| idx[k])
            .collect();
        chosen.sort_unstable();
        chosen.dedup();
        let mut taken = Vec::with_capacity(chosen.len());
        if short {
            // Few entries: remove by value, as removals move entries around.
            let wanted: Vec<Entry> = chosen.iter().map(|&i| h[i]).collect();
            for e in wanted {
                if let Some(i) = h.iter().position(|x| *x == e) {
                    let (p, Reverse(t)) = remove(&mut h, i);
                    taken.push((p, t));
                }
            }
        } else {
            // Every chosen position is a leaf in the last quarter; removing them from the
            // highest position down, each removal only sifts a former last entry up through
            // inner nodes, so the positions still to remove stay where they are.
            for &i in chosen.iter().rev() {
                let (p, Reverse(t)) = remove(&mut h, i);
                taken.push((p, t));
            }
        }
        taken
    }

    /// Takes the most urgent ready task.
    pub(crate) fn pop(&self) -> Option<u32> {
        let mut h = self.heap.lock().expect("ready queue lock");
        if h.is_empty() {
            return None;
        }
        let (_, Reverse(t)) = remove(&mut h, 0);
        Some(t)
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
