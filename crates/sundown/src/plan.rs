//! The start and stop plans: a pure function of the config and its graph, so
//! `sundown plan` prints exactly what `sundown run` will do.

use std::fmt;
use std::time::Duration;

use crate::config::{Config, Strategy};
use crate::graph::Graph;

/// Start levels and stop phases with their timeouts.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Component indices per start level.
    pub start_levels: Vec<Vec<usize>>,
    /// Stop phases, dependents first.
    pub phases: Vec<Phase>,
    /// The phase each component stops in.
    pub phase_of: Vec<usize>,
    /// Each component's own stop timeout.
    pub stop_timeouts: Vec<Duration>,
    /// The global budget.
    pub shutdown_timeout: Duration,
    /// Phased or eager.
    pub strategy: Strategy,
}

/// One stop phase.
#[derive(Debug, Clone)]
pub struct Phase {
    /// 0 is the first phase to stop; texts show `index + 1`.
    pub index: usize,
    /// Component indices, sorted by name.
    pub members: Vec<usize>,
    /// How long the phase may take before its stragglers are killed.
    pub timeout: Duration,
    /// Whether `[phase_timeouts]` set the timeout (else: the largest member's).
    pub overridden: bool,
}

impl Plan {
    /// Plans a validated config.
    pub fn new(config: &Config, graph: &Graph) -> Plan {
        let stop_timeouts: Vec<Duration> =
            config.components.iter().map(|c| c.stop_timeout).collect();
        let phase_of = match config.supervisor.strategy {
            Strategy::Phased | Strategy::Eager => graph.stop_phases(),
            Strategy::K8sSidecars => {
                // The mains stop first, together (phase 0).
                let (sidecars, _mains) = graph.as_sidecars();
                let mut phase = vec![0; graph.len()];
                for (k, &s) in sidecars.iter().rev().enumerate() {
                    phase[s] = k + 1;
                }
                phase
            }
        };
        let phases = graph
            .group(&phase_of)
            .into_iter()
            .enumerate()
            .map(|(index, members)| {
                let largest = members
                    .iter()
                    .map(|&m| stop_timeouts[m])
                    .max()
                    .unwrap_or_default();
                // Several overrides in one phase: each is a "may take at most", so the smallest holds.
                // Kubernetes has no such caps: its simulation has none either.
                let cap = members
                    .iter()
                    .filter(|_| config.supervisor.strategy != Strategy::K8sSidecars)
                    .filter_map(|&m| config.phase_timeouts.get(graph.name(m)))
                    .min()
                    .copied();
                // A cap only ever shortens a phase: its members are killed at
                // their own stop_timeout anyway, so a longer one would only
                // inflate the worst case `plan` prints.
                let timeout = cap.map_or(largest, |c| c.min(largest));
                Phase {
                    index,
                    members,
                    timeout,
                    overridden: timeout < largest,
                }
            })
            .collect();
        Plan {
            start_levels: graph.group(&graph.start_levels()),
            phases,
            phase_of,
            stop_timeouts,
            shutdown_timeout: config.supervisor.shutdown_timeout,
            strategy: config.supervisor.strategy,
        }
    }

    /// The longest a shutdown can take before the global budget applies:
    /// the sum of the phase timeouts when phased; when eager, the longest
    /// chain of stop timeouts from a component nothing depends on down to a leaf.
    pub fn worst_case(&self, graph: &Graph) -> Duration {
        match self.strategy {
            Strategy::Phased | Strategy::K8sSidecars => self.phases.iter().map(|p| p.timeout).sum(),
            Strategy::Eager => {
                let mut finish = vec![Duration::ZERO; graph.len()];
                for &i in graph.topological_order().iter().rev() {
                    let after = graph
                        .dependents(i)
                        .iter()
                        .map(|&d| finish[d])
                        .max()
                        .unwrap_or_default();
                    finish[i] = after + self.stop_timeouts[i];
                }
                finish.into_iter().max().unwrap_or_default()
            }
        }
    }

    /// The pairs of sidecars Kubernetes stops one after the other although
    /// neither depends on the other, directly or not: `(first, then)`, in
    /// stop order. Each costs the first one's stop time for nothing.
    pub fn serialised_sidecars(graph: &Graph) -> Vec<(usize, usize)> {
        let (sidecars, _) = graph.as_sidecars();
        // needs[i][j]: i depends on j, directly or not.
        let mut needs = vec![vec![false; graph.len()]; graph.len()];
        for &i in graph.topological_order() {
            for &d in graph.deps(i) {
                needs[i][d] = true;
                let inherited = needs[d].clone();
                for (j, &n) in inherited.iter().enumerate() {
                    needs[i][j] |= n;
                }
            }
        }
        sidecars
            .iter()
            .rev()
            .zip(sidecars.iter().rev().skip(1))
            .filter(|&(&a, &b)| !needs[a][b] && !needs[b][a])
            .map(|(&a, &b)| (a, b))
            .collect()
    }

    /// Human-readable rendering for `sundown plan`.
    pub fn display<'a>(&'a self, graph: &'a Graph) -> impl fmt::Display + 'a {
        PlanDisplay { plan: self, graph }
    }
}

struct PlanDisplay<'a> {
    plan: &'a Plan,
    graph: &'a Graph,
}

fn secs(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(d)
}

impl fmt::Display for PlanDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, g) = (self.plan, self.graph);
        let names = |members: &[usize]| {
            members
                .iter()
                .map(|&m| g.name(m))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "start: {} level(s); a component starts as soon as all its dependencies are ready",
            p.start_levels.len()
        )?;
        for (l, members) in p.start_levels.iter().enumerate() {
            writeln!(f, "  level {l}: {}", names(members))?;
        }
        writeln!(
            f,
            "stop: strategy {}, {} phase(s), dependents first",
            p.strategy,
            p.phases.len()
        )?;
        for phase in &p.phases {
            let members: Vec<String> = phase
                .members
                .iter()
                .map(|&m| format!("{} ({})", g.name(m), secs(p.stop_timeouts[m])))
                .collect();
            let source = if phase.overridden {
                "set in [phase_timeouts]"
            } else {
                "largest member"
            };
            writeln!(
                f,
                "  phase {}: timeout {} ({source}): {}",
                // Humans count from 1; `index` stays the position in `phases`.
                phase.index + 1,
                secs(phase.timeout),
                members.join(", ")
            )?;
        }
        let worst = p.worst_case(g);
        let how = match p.strategy {
            Strategy::Phased => "sum of phase timeouts",
            Strategy::Eager => "longest chain of stop timeouts",
            Strategy::K8sSidecars => {
                "the main containers' longest stop timeout, then every sidecar's in turn; `export k8s` adds the front end's preStop drain"
            }
        };
        writeln!(
            f,
            "worst case: {} ({how}); shutdown_timeout: {}",
            secs(worst),
            secs(p.shutdown_timeout)
        )?;
        if worst > p.shutdown_timeout {
            writeln!(
                f,
                "warning: the worst case exceeds shutdown_timeout by {}: components still stopping when the budget runs out are killed",
                secs(worst - p.shutdown_timeout)
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(toml: &str) -> Plan {
        let config =
            Config::parse(toml, "t.toml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        Plan::new(&config, &Graph::new(&config))
    }

    const TWO: &str = "[components.a]\nkind = \"sim\"\nstop_timeout = \"2s\"\n[components.b]\nkind = \"sim\"\nstop_timeout = \"5s\"\n";

    #[test]
    fn a_phase_takes_its_largest_members_timeout() {
        let p = plan(TWO);
        assert_eq!(p.phases.len(), 1);
        assert_eq!(p.phases[0].timeout, Duration::from_secs(5));
        assert!(!p.phases[0].overridden);
    }

    #[test]
    fn phase_timeouts_only_ever_shorten_a_phase() {
        let p = plan(&format!("[phase_timeouts]\na = \"60s\"\n{TWO}"));
        assert_eq!(
            p.phases[0].timeout,
            Duration::from_secs(5),
            "a longer cap changes nothing"
        );
        assert!(!p.phases[0].overridden);
        let p = plan(&format!("[phase_timeouts]\na = \"3s\"\nb = \"4s\"\n{TWO}"));
        assert_eq!(
            p.phases[0].timeout,
            Duration::from_secs(3),
            "the smallest cap wins"
        );
        assert!(p.phases[0].overridden);
    }
}
