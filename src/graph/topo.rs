//! Topological order and cycle detection over an adjacency given by index lists.
//!
//! Used by the job loader, whose tasks may be listed in any order, before tasks are spawned.

/// Orders `n` nodes so that every node comes after the nodes it depends on, or returns one
/// cycle (as node indices, first node repeated at the end) if there is none.
///
/// `deps(i)` lists the nodes that node `i` reads. Ties keep the input order, so the result is
/// deterministic.
pub fn topo_order<'a>(
    n: usize,
    deps: impl Fn(usize) -> &'a [usize],
) -> Result<Vec<usize>, Vec<usize>> {
    let mut indegree = vec![0u32; n];
    // Each node's users, `users[first[d]..first[d + 1]]`, in increasing order (one flat list:
    // a node of its own per task would be a million allocations for a million tasks).
    let mut first = vec![0usize; n + 1];
    for (i, deg) in indegree.iter_mut().enumerate() {
        for &d in deps(i) {
            *deg += 1;
            first[d + 1] += 1;
        }
    }
    for d in 0..n {
        first[d + 1] += first[d];
    }
    let mut users = vec![0usize; first[n]];
    let mut fill = first[..n].to_vec();
    for i in 0..n {
        for &d in deps(i) {
            users[fill[d]] = i;
            fill[d] += 1;
        }
    }
    drop(fill);
    let mut order = Vec::with_capacity(n);
    let mut stack: Vec<usize> = (0..n).rev().filter(|&i| indegree[i] == 0).collect();
    while let Some(i) = stack.pop() {
        order.push(i);
        for &u in users[first[i]..first[i + 1]].iter().rev() {
            indegree[u] -= 1;
            if indegree[u] == 0 {
                stack.push(u);
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    Err(find_cycle(n, &indegree, &deps))
}

/// Walks dependencies among the nodes left with a positive in-degree until one repeats.
fn find_cycle<'a>(n: usize, indegree: &[u32], deps: &impl Fn(usize) -> &'a [usize]) -> Vec<usize> {
    let start = (0..n).find(|&i| indegree[i] > 0).expect("a cycle exists");
    let mut seen = vec![usize::MAX; n];
    let mut path = Vec::new();
    let mut cur = start;
    loop {
        if seen[cur] != usize::MAX {
            let mut cycle = path[seen[cur]..].to_vec();
            cycle.push(cur);
            return cycle;
        }
        seen[cur] = path.len();
        path.push(cur);
        cur = *deps(cur)
            .iter()
            .find(|&&d| indegree[d] > 0)
            .expect("a node left in a cycle has a dependency left in it");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_a_diamond() {
        let deps: Vec<Vec<usize>> = vec![vec![3], vec![], vec![1], vec![1, 2]];
        let order = topo_order(4, |i| &deps[i]).unwrap();
        let pos = |x| order.iter().position(|&o| o == x).unwrap();
        assert!(pos(1) < pos(2) && pos(2) < pos(3) && pos(3) < pos(0));
    }

    #[test]
    fn the_order_is_the_depth_first_one_of_the_input() {
        // x; a0 <- x; b0 <- x; a1 <- a0; b1 <- b0; c <- a1, b1, x: each node's users are
        // taken last-pushed-first, so a chain is followed to its end before the next starts.
        let deps: Vec<Vec<usize>> = vec![vec![], vec![0], vec![0], vec![1], vec![2], vec![3, 4, 0]];
        assert_eq!(topo_order(6, |i| &deps[i]).unwrap(), [0, 1, 3, 2, 4, 5]);
    }

    #[test]
    fn finds_a_cycle() {
        let deps: Vec<Vec<usize>> = vec![vec![], vec![0, 3], vec![1], vec![2]];
        let cycle = topo_order(4, |i| &deps[i]).unwrap_err();
        assert_eq!(cycle.first(), cycle.last());
        let mut members = cycle[..cycle.len() - 1].to_vec();
        members.sort();
        assert_eq!(members, vec![1, 2, 3]);
    }

    #[test]
    fn self_loop_is_a_cycle() {
        let deps: Vec<Vec<usize>> = vec![vec![0]];
        assert_eq!(topo_order(1, |i| &deps[i]).unwrap_err(), vec![0, 0]);
    }
}
