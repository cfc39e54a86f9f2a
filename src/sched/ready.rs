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
}
