//! Reload: what differs between the running config and a new one, and the
//! switch to the new graph once what the difference takes down is down.
//!
//! A component is kept when its definition (every setting, `depends_on`
//! included) is the same in both; kept components that depend on a removed
//! or changed one go down and come back with it, since what they were
//! started against is gone. Everything else keeps running: same task, same
//! pid. The switch renumbers the components by the new config, and with
//! them the events, so the status and the final report describe the new
//! graph; a removed component leaves the report with the graph.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::slot::Counts;
use super::{Definition, Engine, Life, Slot};
use crate::config::{ComponentSpec, Config};
use crate::graph::Graph;
use crate::status::Status;

mod in_place;
pub use in_place::Updated;

/// How a new config differs from the running one, by component name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// Only in the new config: started.
    pub added: Vec<String>,
    /// Only in the running config: stopped.
    pub removed: Vec<String>,
    /// In both, defined differently: stopped, then started as defined now.
    pub changed: Vec<String>,
    /// Defined the same, but depending on a removed or changed component:
    /// stopped before it and started again after it.
    pub dependents: Vec<String>,
    /// Defined differently only in settings read when it stops or ends
    /// (`stop_timeout`, the restart policy, its phase's cap, …): left
    /// running, the new settings applying from now on.
    #[serde(default)]
    pub updated: Vec<Updated>,
    /// Defined the same and not affected: left running.
    pub unchanged: Vec<String>,
    /// Of `removed`, the instances a smaller `replicas` count leaves out
    /// while their component stays: stopped without their dependents,
    /// which depend on the component and keep its other instances.
    #[serde(default)]
    pub scaled_down: Vec<String>,
}

impl Diff {
    /// Whether the new config changes no component.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.updated.is_empty()
    }

    /// Each list with what it means, for people.
    pub fn parts(&self) -> [(&'static str, Vec<String>); 6] {
        [
            ("added", self.added.clone()),
            ("removed", self.removed.clone()),
            ("changed", self.changed.clone()),
            ("restarted with them", self.dependents.clone()),
            (
                "updated in place",
                self.updated.iter().map(Updated::to_string).collect(),
            ),
            ("unchanged, left running", self.unchanged.clone()),
        ]
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return write!(f, "no component changed");
        }
        let parts: Vec<String> = self
            .parts()
            .into_iter()
            .filter(|(_, names)| !names.is_empty())
            .map(|(what, names)| format!("{what}: {}", names.join(", ")))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

/// Compares two configs component by component.
pub(super) fn diff(old: &Config, graph: &Graph, new: &Config) -> Diff {
    let mut d = Diff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        dependents: Vec::new(),
        updated: Vec::new(),
        unchanged: Vec::new(),
        scaled_down: Vec::new(),
    };
    for c in &new.components {
        let Some(o) = old.components.iter().find(|o| o.name == c.name) else {
            d.added.push(c.name.clone());
            continue;
        };
        let (o, mut settings) = in_place::apply(o, c);
        if !same(old, &o, new, c) {
            d.changed.push(c.name.clone());
            continue;
        }
        if in_place::phase_cap_differs(old, new, &c.name) {
            settings.push("phase_timeouts".to_string());
        }
        if !settings.is_empty() {
            d.updated.push(Updated {
                name: c.name.clone(),
                settings,
            });
        }
    }
    for o in &old.components {
        if new.index_of(&o.name).is_none() {
            d.removed.push(o.name.clone());
            if old
                .group_of(&o.name)
                .is_some_and(|g| new.replicas.contains_key(g))
            {
                d.scaled_down.push(o.name.clone());
            }
        }
    }
    // Kept components above a removed or changed one, in the old graph.
    let mut touched = vec![false; graph.len()];
    for &i in graph.topological_order() {
        let name = graph.name(i);
        let removed =
            d.removed.contains(&name.to_string()) && !d.scaled_down.contains(&name.to_string());
        touched[i] = removed
            || d.changed.iter().any(|n| n == name)
            || graph.deps(i).iter().any(|&j| touched[j]);
    }
    for o in &old.components {
        let Some(i) = old.index_of(&o.name) else {
            continue;
        };
        let kept = new.index_of(&o.name).is_some() && !d.changed.contains(&o.name);
        let updated = d.updated.iter().any(|u| u.name == o.name);
        if kept && touched[i] {
            d.dependents.push(o.name.clone());
        } else if kept && !updated {
            d.unchanged.push(o.name.clone());
        }
    }
    // Restarted anyway, with its new settings.
    let dependents = &d.dependents;
    d.updated.retain(|u| !dependents.contains(&u.name));
    d
}

/// Whether `o` (of `old`) and `c` (of `new`) are defined the same, a
/// dependency on every instance of a component counting as one on the
/// component: a dependent of `worker` is not changed by a new count of
/// `worker`, as Docker Compose's `scale` leaves dependents running. One
/// that names some instances only (`worker.3`) is compared by those.
fn same(old: &Config, o: &ComponentSpec, new: &Config, c: &ComponentSpec) -> bool {
    o == c || grouped(old, o) == grouped(new, c)
}

/// `spec` with its dependencies on all the instances of a component
/// written as one on the component.
fn grouped(config: &Config, spec: &ComponentSpec) -> ComponentSpec {
    let mut spec = spec.clone();
    for (group, &n) in &config.replicas {
        let instances: Vec<String> = (1..=n).map(|i| format!("{group}.{i}")).collect();
        if !instances.iter().all(|i| spec.depends_on.contains(i)) {
            continue;
        }
        let condition = spec.conditions.remove(&instances[0]);
        for i in &instances {
            spec.conditions.remove(i);
        }
        if let Some(condition) = condition {
            spec.conditions.insert(group.clone(), condition);
        }
        spec.depends_on.retain(|d| !instances.contains(d));
        spec.depends_on.push(group.clone());
    }
    spec.depends_on.sort();
    spec
}

/// `[supervisor]` settings that belong to the process rather than the
/// graph, and so take effect at the next start only. Timeouts and the
/// strategy apply at once: the new plan replaces the old.
pub(super) fn unapplied(old: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (&old.supervisor, &new.supervisor);
    [
        ("control_socket", a.control_socket != b.control_socket),
        ("metrics", a.metrics != b.metrics),
        ("log_lines", a.log_lines != b.log_lines),
        ("report", a.report != b.report),
        ("startup_timeout", a.startup_timeout != b.startup_timeout),
    ]
    .into_iter()
    .filter_map(|(name, differs)| differs.then_some(name))
    .collect()
}

/// What a reload starts, numbered in the new graph, in dependency order.
pub(super) fn to_start(diff: &Diff, new: &Graph) -> Vec<usize> {
    new.topological_order()
        .iter()
        .copied()
        .filter(|&i| {
            let name = new.name(i);
            diff.added
                .iter()
                .chain(&diff.changed)
                .chain(&diff.dependents)
                .any(|n| n == name)
        })
        .collect()
}

impl Engine {
    /// Runs the new graph from now on. Everything the diff takes down is
    /// down; kept components move over with their task, state and history.
    pub(super) fn switch_graph(&mut self, to: Definition, diff: &Diff) {
        let Definition {
            config,
            graph,
            plan,
            factories,
        } = to;
        let to_new: Vec<Option<usize>> = (0..self.slots.len())
            .map(|i| config.index_of(self.graph.name(i)))
            .collect();
        let renumber = |i: usize| to_new.get(i).copied().flatten();
        let mut old: Vec<Option<Slot>> = std::mem::take(&mut self.slots)
            .into_iter()
            .map(Some)
            .collect();
        let mut slots = Vec::with_capacity(graph.len());
        // Per new component: the old one it is, when kept.
        let mut kept_from = vec![None; graph.len()];
        for (j, make) in factories.into_iter().enumerate() {
            let name = graph.name(j);
            let i = self.config.index_of(name);
            let before = i.and_then(|i| old[i].take());
            let slot = match before {
                Some(mut s) if !diff.changed.iter().any(|n| n == name) => {
                    kept_from[j] = i;
                    s.renumber(renumber);
                    // Its next run is built as defined now: that of a
                    // component updated in place (a restart) or restarted
                    // with a changed dependency (at once), whose kind may
                    // keep a copy of a setting the reload updated. One
                    // defined as before keeps the factory it was given.
                    if i.is_some_and(|i| self.config.components[i] != config.components[j]) {
                        s.make = make;
                    }
                    s
                }
                // Changed: its old run is over; it starts as defined now.
                Some(s) => {
                    let mut fresh = Slot::new(make);
                    fresh.life = Life::Stopped {
                        ran: s.life.ran(),
                        with: s.life.stopped_with().and_then(renumber),
                    };
                    fresh
                }
                None => Slot::new(make),
            };
            slots.push(slot);
        }
        self.slots = slots;
        self.tasks.runs.retain(|_, i| match renumber(*i) {
            Some(j) => {
                *i = j;
                true
            }
            None => false,
        });
        self.events.renumber(renumber, graph.len());
        self.deadlines.renumber(&kept_from);
        self.counts = Counts::new(&graph, &self.slots);
        let n = graph.len();
        // The status is the events folded, so fold the renumbered ones.
        let mut status = Status::new(&config, &graph, &plan, self.t0);
        for e in self.events.events() {
            status.apply(e, plan.phases.len());
        }
        // A kept component's run goes on: where its processes are is not
        // said again, and without it the usage would take it for in-process.
        status.carry_over(&self.status.borrow(), |name| {
            !diff.changed.iter().any(|n| n == name)
        });
        self.status.send_replace(status);
        self.config = config;
        self.graph = graph;
        self.plan = plan;
        tracing::info!("reload: now running the new config ({n} component(s))");
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(replicas: u32) -> Config {
        let text = format!(
            "[components.db]\ncommand = \"db\"\n[components.worker]\ncommand = \"w\"\nreplicas = {replicas}\ndepends_on = [\"db\"]\n[components.api]\ncommand = \"api\"\ndepends_on = [\"worker\"]\n[components.one]\ncommand = \"one\"\ndepends_on = [\"worker.1\"]\n"
        );
        Config::parse(&text, "s.toml", Path::new("/")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn of(old: u32, new: u32) -> Diff {
        let old = config(old);
        diff(&old, &Graph::new(&old), &config(new))
    }

    #[test]
    fn a_new_count_adds_instances_and_leaves_every_dependent_running() {
        let d = of(2, 4);
        assert_eq!(d.added, ["worker.3", "worker.4"]);
        assert!(d.removed.is_empty() && d.changed.is_empty() && d.dependents.is_empty());
        assert_eq!(d.unchanged, ["api", "db", "one", "worker.1", "worker.2"]);
    }

    #[test]
    fn a_smaller_count_removes_instances_without_their_dependents() {
        let d = of(4, 2);
        assert_eq!(d.removed, ["worker.3", "worker.4"]);
        assert_eq!(d.scaled_down, d.removed);
        assert!(d.changed.is_empty() && d.dependents.is_empty(), "{d:?}");
    }

    #[test]
    fn a_dependent_of_one_instance_is_changed_when_it_names_another() {
        let old = config(1);
        let text = "[components.db]\ncommand = \"db\"\n[components.worker]\ncommand = \"w\"\nreplicas = 3\ndepends_on = [\"db\"]\n[components.api]\ncommand = \"api\"\ndepends_on = [\"worker.3\"]\n[components.one]\ncommand = \"one\"\ndepends_on = [\"worker.1\"]\n";
        let new = Config::parse(text, "s.toml", Path::new("/")).unwrap_or_else(|e| panic!("{e}"));
        let d = diff(&old, &Graph::new(&old), &new);
        // api depended on all of worker (one instance), now on worker.3 only.
        assert_eq!(d.changed, ["api"]);
        assert_eq!(d.added, ["worker.2", "worker.3"]);
        assert!(d.dependents.is_empty(), "{d:?}");
    }

    #[test]
    fn an_instance_changed_takes_its_dependents_with_it() {
        let old = config(2);
        let mut new = config(2);
        let w1 = new.index_of("worker.1").expect("worker.1");
        new.components[w1].oneshot = true;
        let d = diff(&old, &Graph::new(&old), &new);
        assert_eq!(d.changed, ["worker.1"]);
        assert_eq!(d.dependents, ["api", "one"]);
    }

    #[test]
    fn a_stop_side_setting_is_updated_in_place_without_dependents() {
        let old = config(2);
        let mut new = config(2);
        let w1 = new.index_of("worker.1").expect("worker.1");
        new.components[w1].stop_timeout = std::time::Duration::from_secs(3);
        new.components[w1].restart.max_restarts += 1;
        let d = diff(&old, &Graph::new(&old), &new);
        assert!(d.changed.is_empty() && d.dependents.is_empty(), "{d:?}");
        assert_eq!(
            d.updated,
            [Updated {
                name: "worker.1".into(),
                settings: vec!["stop_timeout".into(), "max_restarts".into()],
            }]
        );
        assert_eq!(d.unchanged, ["api", "db", "one", "worker.2"]);
    }
}
