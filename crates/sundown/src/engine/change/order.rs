//! The order a change works in: which components it reaches, dependents
//! first going down and dependencies first coming up.

use crate::engine::{Engine, Life};

impl Engine {
    /// `roots` and everything that depends on them, directly or not.
    pub(in crate::engine) fn with_dependents(&self, roots: &[usize]) -> Vec<usize> {
        let mut seen = vec![false; self.slots.len()];
        let mut queue = roots.to_vec();
        let mut out = Vec::new();
        while let Some(c) = queue.pop() {
            if std::mem::replace(&mut seen[c], true) {
                continue;
            }
            out.push(c);
            queue.extend_from_slice(self.graph.dependents(c));
        }
        out
    }

    /// The members whose life passes `keep`, dependents before dependencies:
    /// by how far each is from the top of the subgraph (what goes down
    /// together), then by name.
    pub(super) fn in_stop_order(
        &self,
        members: &[usize],
        keep: impl Fn(&Life) -> bool,
    ) -> Vec<usize> {
        let set: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| keep(&self.slots[i].life))
            .collect();
        self.levelled(&set, true)
    }

    /// `set` by level, then by name. Going down (`stopping`), a member's
    /// level is one more than the highest of its dependents in the set;
    /// going up, one more than the highest of its dependencies.
    fn levelled(&self, set: &[usize], stopping: bool) -> Vec<usize> {
        let mut level = vec![0usize; self.slots.len()];
        let topo = self.graph.topological_order();
        // Dependencies come first in topological order: each member's
        // neighbours on the side that counts are levelled before it.
        let order: Vec<usize> = if stopping {
            topo.iter().rev().copied().collect()
        } else {
            topo.to_vec()
        };
        for i in order {
            let next = if stopping {
                self.graph.dependents(i)
            } else {
                self.graph.deps(i)
            };
            level[i] = next
                .iter()
                .filter(|j| set.contains(j))
                .map(|&j| level[j] + 1)
                .max()
                .unwrap_or(0);
        }
        let mut out = set.to_vec();
        out.sort_by(|&a, &b| (level[a], self.name(a)).cmp(&(level[b], self.name(b))));
        out
    }

    /// `wanted` and their dependencies, directly or not, that are down, in
    /// dependency order.
    pub(super) fn to_start(&self, wanted: &[usize]) -> Vec<usize> {
        let down = |i: usize| self.slots[i].life.is_down();
        self.closure_in_start_order(wanted, down)
    }

    /// Like [`Engine::to_start`], for members that are still up now and
    /// will be down by the time they are started.
    pub(super) fn to_start_after(&self, wanted: &[usize]) -> Vec<usize> {
        let down = |i: usize| wanted.contains(&i) || self.slots[i].life.is_down();
        self.closure_in_start_order(wanted, down)
    }

    fn closure_in_start_order(&self, wanted: &[usize], down: impl Fn(usize) -> bool) -> Vec<usize> {
        let mut seen = vec![false; self.slots.len()];
        let mut queue = wanted.to_vec();
        while let Some(c) = queue.pop() {
            if !down(c) || std::mem::replace(&mut seen[c], true) {
                continue;
            }
            queue.extend_from_slice(self.graph.deps(c));
        }
        let set: Vec<usize> = (0..self.slots.len()).filter(|&i| seen[i]).collect();
        self.levelled(&set, false)
    }
}
