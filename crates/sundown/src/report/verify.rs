//! The ordering promise checked after the fact: each component was down
//! before anything it depends on was asked to stop. `sundown verify` and
//! tests (through the `assert_*` methods) ask the same questions here.

use std::fmt;

use super::ShutdownReport;
use crate::event::Outcome;

impl ShutdownReport {
    /// Checks that `first` was fully down before `then` was asked to stop
    /// (or, when `then` was never asked, before `then` went down).
    /// A component that never ran passes trivially.
    pub fn check_stopped_before(&self, first: &str, then: &str) -> Result<(), Violation> {
        let a = self
            .component(first)
            .ok_or_else(|| Violation::unknown(first))?;
        let b = self
            .component(then)
            .ok_or_else(|| Violation::unknown(then))?;
        let Some(b_from) = b.stop_requested.or(b.killed_at).or(b.stopped_at) else {
            return Ok(());
        };
        match a.stopped_at {
            _ if a.outcome == Outcome::NeverStarted => Ok(()),
            Some(a_down) if a_down <= b_from => Ok(()),
            a_down => Err(Violation {
                message: format!(
                    "`{first}` should have stopped before `{then}` was asked to stop, but `{then}` was asked at {b_from:.1} ms and `{first}` was {}",
                    match a_down {
                        Some(t) => format!("down only at {t:.1} ms"),
                        None => "never down".to_string(),
                    }
                ),
            }),
        }
    }

    /// Every violated edge of the recorded graph: for each `A depends_on B`,
    /// A must have been down before B was asked to stop. Edges whose
    /// dependency ended by itself, unasked, are not the supervisor's doing and
    /// are skipped.
    pub fn graph_violations(&self) -> Vec<Violation> {
        self.edge_violations(self.components.iter().flat_map(|c| {
            c.depends_on
                .iter()
                .map(move |d| (c.name.as_str(), d.as_str()))
        }))
    }

    /// Like [`ShutdownReport::graph_violations`], over the given (dependent, dependency) pairs.
    pub fn edge_violations<'a>(
        &self,
        edges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<Violation> {
        edges
            .into_iter()
            .filter(|(_, dep)| {
                self.component(dep)
                    .is_none_or(|d| d.stop_requested.is_some() || d.killed_at.is_some())
            })
            .filter_map(|(a, b)| self.check_stopped_before(a, b).err())
            .collect()
    }

    /// Panics, naming the components and times, unless `first` was down before `then` was asked to stop.
    #[track_caller]
    pub fn assert_stopped_before(&self, first: &str, then: &str) {
        if let Err(v) = self.check_stopped_before(first, then) {
            panic!("teardown order violated: {v}");
        }
    }

    /// Panics, listing every violated edge, unless the teardown respected the dependency graph.
    #[track_caller]
    pub fn assert_respects_graph(&self) {
        let v = self.graph_violations();
        if !v.is_empty() {
            let list: Vec<String> = v.iter().map(|v| format!("  - {v}")).collect();
            panic!(
                "teardown order violated {} time(s):\n{}",
                v.len(),
                list.join("\n")
            );
        }
    }
}

/// A broken ordering promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What went wrong, with names and times.
    pub message: String,
}

impl Violation {
    fn unknown(name: &str) -> Violation {
        Violation {
            message: format!("no component `{name}` in the report"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
