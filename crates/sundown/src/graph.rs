//! The dependency graph: who needs whom, in which order things start, and in
//! which phases they stop.
//!
//! Edges point from a dependent to its dependency (`A depends_on B` is
//! `A → B`). Every function here is linear in V + E so a graph of thousands of
//! components validates and plans in milliseconds.

use petgraph::graph::NodeIndex;
use std::fmt::Write as _;

use crate::config::Config;
pub use crate::cycles::find_cycles;
use crate::cycles::petgraph_of;

/// The validated, acyclic dependency graph of a [`Config`].
#[derive(Debug, Clone)]
pub struct Graph {
    names: Vec<String>,
    deps: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
    topo: Vec<usize>,
}

impl Graph {
    /// Builds the graph of a validated config (which guarantees it is acyclic
    /// and every name resolves).
    pub fn new(config: &Config) -> Graph {
        let deps: Vec<Vec<usize>> = config
            .components
            .iter()
            .map(|c| {
                c.depends_on
                    .iter()
                    .filter_map(|d| config.index_of(d))
                    .collect()
            })
            .collect();
        let names = config.components.iter().map(|c| c.name.clone()).collect();
        Graph::from_adjacency(names, deps)
    }

    /// Builds a graph from names and, per node, the indices it depends on.
    ///
    /// # Panics
    /// If the adjacency has a cycle; [`find_cycles`] first.
    pub fn from_adjacency(names: Vec<String>, deps: Vec<Vec<usize>>) -> Graph {
        let n = names.len();
        let mut dependents = vec![Vec::new(); n];
        for (a, ds) in deps.iter().enumerate() {
            for &b in ds {
                dependents[b].push(a);
            }
        }
        let g = petgraph_of(&deps);
        // Dependencies first: reverse of petgraph's order on dependent → dependency edges.
        #[allow(clippy::expect_used)]
        let mut topo: Vec<usize> = petgraph::algo::toposort(&g, None)
            .expect("the config validator rejects cycles")
            .into_iter()
            .map(NodeIndex::index)
            .collect();
        topo.reverse();
        Graph {
            names,
            deps,
            dependents,
            topo,
        }
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no components.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Name of component `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    /// What `i` depends on.
    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// What depends on `i`.
    pub fn dependents(&self, i: usize) -> &[usize] {
        &self.dependents[i]
    }

    /// Every edge as (dependent, dependency).
    pub fn edges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.deps
            .iter()
            .enumerate()
            .flat_map(|(a, ds)| ds.iter().map(move |&b| (a, b)))
    }

    /// A topological order, dependencies before dependents.
    pub fn topological_order(&self) -> &[usize] {
        &self.topo
    }

    /// Start level of every component: 0 without dependencies, else one more
    /// than its deepest dependency. A level starts when the one before is ready.
    pub fn start_levels(&self) -> Vec<usize> {
        let mut level = vec![0; self.len()];
        for &i in &self.topo {
            level[i] = self.deps[i]
                .iter()
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
        }
        level
    }

    /// Stop phase of every component: 0 when nothing depends on it, else one
    /// more than its latest dependent. A component therefore stops in the
    /// first phase after all its dependents, as early as the edges allow.
    pub fn stop_phases(&self) -> Vec<usize> {
        let mut phase = vec![0; self.len()];
        for &i in self.topo.iter().rev() {
            phase[i] = self.dependents[i]
                .iter()
                .map(|&d| phase[d] + 1)
                .max()
                .unwrap_or(0);
        }
        phase
    }

    /// The graph as one Kubernetes pod with native sidecars: the components
    /// something depends on, as sidecars in a line (by start level, then by
    /// name, so dependencies come first), and those nothing depends on, the
    /// main containers (by name). Kubernetes starts the sidecars in that
    /// order, then the mains; it stops the mains together, then the
    /// sidecars one at a time, last first.
    pub fn as_sidecars(&self) -> (Vec<usize>, Vec<usize>) {
        let level = self.start_levels();
        let by_level_and_name =
            |a: &usize, b: &usize| (level[*a], &self.names[*a]).cmp(&(level[*b], &self.names[*b]));
        let (mut sidecars, mut mains): (Vec<usize>, Vec<usize>) =
            (0..self.len()).partition(|&i| !self.dependents[i].is_empty());
        sidecars.sort_by(by_level_and_name);
        mains.sort_by(|&a, &b| self.names[a].cmp(&self.names[b]));
        (sidecars, mains)
    }

    /// Groups component indices by a per-component level, each group sorted by name.
    pub fn group(&self, level: &[usize]) -> Vec<Vec<usize>> {
        let mut groups = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
        for (i, &l) in level.iter().enumerate() {
            groups[l].push(i);
        }
        for g in &mut groups {
            g.sort_by(|&a, &b| self.names[a].cmp(&self.names[b]));
        }
        groups
    }

    /// The graph as a Mermaid flowchart (arrows point at what a component needs).
    pub fn to_mermaid(&self) -> String {
        let mut s = String::from("flowchart TD\n");
        for (i, name) in self.names.iter().enumerate() {
            let _ = writeln!(s, "    n{i}[\"{name}\"]");
        }
        for (a, b) in self.edges() {
            let _ = writeln!(s, "    n{a} --> n{b}");
        }
        s
    }

    /// The graph in Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph sundown {\n    rankdir=TB;\n");
        for name in &self.names {
            let _ = writeln!(s, "    \"{name}\";");
        }
        for (a, b) in self.edges() {
            let _ = writeln!(s, "    \"{}\" -> \"{}\";", self.names[a], self.names[b]);
        }
        s.push_str("}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(deps: Vec<Vec<usize>>) -> Graph {
        let names = (0..deps.len()).map(|i| format!("c{i}")).collect();
        Graph::from_adjacency(names, deps)
    }

    #[test]
    fn levels_and_phases_of_the_service_shape() {
        // 0 http → 1 workers → {2 redis, 3 postgres}; http → redis
        let g = graph(vec![vec![1, 2], vec![2, 3], vec![], vec![]]);
        assert_eq!(g.start_levels(), vec![2, 1, 0, 0]);
        assert_eq!(g.stop_phases(), vec![0, 1, 2, 2]);
    }

    #[test]
    fn isolated_components_stop_in_the_first_phase() {
        let g = graph(vec![vec![1], vec![], vec![]]);
        assert_eq!(g.stop_phases(), vec![0, 1, 0]);
        assert_eq!(g.group(&g.stop_phases()), vec![vec![0, 2], vec![1]]);
    }
}
