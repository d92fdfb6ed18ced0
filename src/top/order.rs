//! The graph as `top` lists it: dependencies first, each component
//! indented by its start level. The status names components only (sorted
//! by name), so the graph comes from the config the supervisor runs.

use std::path::Path;
use std::time::Duration;

use sundown::{Config, Graph, Plan};

/// The running config's graph, as far as this client could read it.
pub(crate) struct Order {
    pub(crate) graph: Graph,
    /// Start level of each component, by index in `graph`.
    level: Vec<usize>,
    /// The global shutdown budget, for the width of its countdown bar.
    pub(crate) budget: Duration,
}

impl Order {
    /// The graph of the config at `path`; `None` when it does not load (a
    /// `--socket` without a readable config): then the list is by name.
    pub(crate) fn load(path: &Path) -> Option<Order> {
        let config = Config::load_with(path, &crate::config_file::kinds()).ok()?;
        Some(Order::of(&config))
    }

    pub(crate) fn of(config: &Config) -> Order {
        let graph = Graph::new(config);
        let budget = Plan::new(config, &graph).shutdown_timeout;
        Order {
            level: graph.start_levels(),
            graph,
            budget,
        }
    }

    /// Whether this graph is the one running: the same component names
    /// (a reload or a scale since may have changed them).
    pub(crate) fn matches<'a>(&self, mut names: impl ExactSizeIterator<Item = &'a str>) -> bool {
        names.len() == self.graph.len() && names.all(|n| self.index(n).is_some())
    }

    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        (0..self.graph.len()).find(|&i| self.graph.name(i) == name)
    }

    /// Names in graph order, each with its start level: by level, then by
    /// name, which puts every dependency before its dependents.
    pub(crate) fn listed(&self) -> Vec<(&str, usize)> {
        let mut out: Vec<(&str, usize)> = (0..self.graph.len())
            .map(|i| (self.graph.name(i), self.level[i]))
            .collect();
        out.sort_by_key(|&(name, level)| (level, name));
        out
    }
}
