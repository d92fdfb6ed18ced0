//! Cycles in a dependency adjacency: what the config validator reports and
//! the graph relies on being absent. Apart from both so that neither needs
//! the other for it.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};

/// The adjacency as a petgraph graph, edges from a dependent to its dependency.
pub(crate) fn petgraph_of(deps: &[Vec<usize>]) -> DiGraph<(), ()> {
    let edges = deps.iter().map(Vec::len).sum();
    let mut g = DiGraph::with_capacity(deps.len(), edges);
    for _ in deps {
        g.add_node(());
    }
    for (a, ds) in deps.iter().enumerate() {
        for &b in ds {
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), ());
        }
    }
    g
}

/// One cycle per strongly connected component that has one, each as the path
/// of nodes `[a, b, c]` meaning `a → b → c → a`, starting at its smallest
/// index. Self-loops are left to the caller, which reports them on their own.
pub fn find_cycles(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let g = petgraph_of(deps);
    let mut cycles = Vec::new();
    let mut scc_of = vec![usize::MAX; deps.len()];
    let sccs = tarjan_scc(&g);
    for (k, scc) in sccs.iter().enumerate() {
        for n in scc {
            scc_of[n.index()] = k;
        }
    }
    for (k, scc) in sccs.iter().enumerate() {
        if scc.len() < 2 {
            continue;
        }
        let Some(start) = scc.iter().map(|n| n.index()).min() else {
            continue;
        };
        if let Some(path) = shortest_cycle_through(start, deps, &scc_of, k) {
            cycles.push(path);
        }
    }
    cycles.sort();
    cycles
}

/// Breadth-first search inside one strongly connected component, from
/// `start` back to itself: the shortest cycle through `start`.
fn shortest_cycle_through(
    start: usize,
    deps: &[Vec<usize>],
    scc_of: &[usize],
    k: usize,
) -> Option<Vec<usize>> {
    let mut parent: std::collections::HashMap<usize, usize> = std::collections::HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for &m in &deps[n] {
            if scc_of[m] != k {
                continue;
            }
            if m == start {
                let mut path = vec![n];
                let mut cur = n;
                while cur != start {
                    cur = parent[&cur];
                    path.push(cur);
                }
                path.reverse();
                return Some(path);
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cycle_path() {
        // 0 → 1 → 2 → 0, 3 → 0
        let cycles = find_cycles(&[vec![1], vec![2], vec![0], vec![0]]);
        assert_eq!(cycles, vec![vec![0, 1, 2]]);
    }

    #[test]
    fn one_cycle_per_strongly_connected_component() {
        let cycles = find_cycles(&[vec![1], vec![0], vec![3], vec![2], vec![]]);
        assert_eq!(cycles, vec![vec![0, 1], vec![2, 3]]);
    }

    #[test]
    fn acyclic_has_no_cycles() {
        assert!(find_cycles(&[vec![1, 2], vec![2], vec![]]).is_empty());
    }
}
