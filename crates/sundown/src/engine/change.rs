//! Changes to a running graph: `sundown stop NAME`, `start NAME`,
//! `restart NAME` and `reload`. Each keeps the graph's order the way a
//! shutdown does, over part of the graph: what is taken down goes
//! dependents first, each with its own stop timeout and escalation, and
//! what comes up goes dependencies first, each once its dependencies are
//! ready. The rest of the graph runs on untouched. One change runs at a
//! time, and a shutdown ends the one under way.

use std::fmt;

use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::reload::{self, Diff};
use super::{Definition, Engine, Hold, Life};
use crate::component::Exit;
use crate::event::{EventKind, Trigger};
use crate::status::State;

/// A change to a running graph.
pub enum Change {
    /// Stop the component and everything that depends on it, dependents first.
    Stop(String),
    /// Start the component, after starting its stopped dependencies, and
    /// bring back what a `Stop` of it took down with it.
    Start(String),
    /// Stop it and its dependents, then start them all again in order.
    Restart(String),
    /// Run this graph instead: removed and changed components (and their
    /// dependents) stop, added and changed ones start, and the rest keep
    /// running, not restarted. [`Change::reload`] makes one from a
    /// [`Supervisor`](crate::Supervisor).
    Reload(Definition),
}

impl Change {
    /// A reload to `to`, typically a [`Supervisor`](crate::Supervisor) of
    /// the new config.
    pub fn reload(to: impl Into<Definition>) -> Change {
        Change::Reload(to.into())
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Stop(n) => write!(f, "stop {n}"),
            Change::Start(n) => write!(f, "start {n}"),
            Change::Restart(n) => write!(f, "restart {n}"),
            Change::Reload(_) => f.write_str("reload"),
        }
    }
}

/// What an accepted change will do.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// The components it stops, in the order they are asked (dependents first).
    pub stop: Vec<String>,
    /// The components it starts, in dependency order.
    pub start: Vec<String>,
    /// For a reload, how the new config differs from the running one.
    pub diff: Option<Diff>,
    #[serde(skip)]
    done: oneshot::Receiver<Result<(), NotCompleted>>,
}

impl Accepted {
    /// Waits until the change is complete: everything it stops is down and
    /// everything it starts is ready. The error says why it is not (a
    /// shutdown took over, a component it started ended).
    pub async fn finished(self) -> Result<(), NotCompleted> {
        self.done.await.unwrap_or(Err(NotCompleted::Gone))
    }
}

/// Why an accepted change did not complete. What it did until then stays
/// done: a component it stopped stays stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCompleted {
    /// A shutdown began; it takes over from the change.
    #[error("interrupted: shutting down ({0})")]
    Interrupted(Trigger),
    /// Another change was asked for while this one was still starting
    /// what it starts (a crash loop must not block every later change).
    #[error("superseded by `{by}` before `{change}` was ready")]
    Superseded {
        /// The change that took over.
        by: String,
        /// This change.
        change: String,
    },
    /// A component it started ended for good before it was ready.
    #[error("`{0}` ended before it was ready")]
    EndedBeforeReady(String),
    /// The supervisor ended without saying how the change went.
    #[error("the supervisor ended first")]
    Gone,
}

/// Why a change was refused. Nothing was touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No component has that name.
    #[error("there is no component `{name}`{}", .hint.as_ref().map(|h| format!("; did you mean `{h}`?")).unwrap_or_default())]
    Unknown {
        /// The name asked for.
        name: String,
        /// The closest existing name.
        hint: Option<String>,
    },
    /// The graph is shutting down.
    #[error("sundown is shutting down")]
    ShuttingDown,
    /// Not every component has been ready yet (only a reload is taken then).
    #[error(
        "the graph is still starting; ask again once every component is ready (a reload is taken now)"
    )]
    Starting,
    /// Another change is under way.
    #[error("another change is under way ({0}); ask again once it is done")]
    Busy(String),
    /// The component ended for good (it finished, or failed) in this run.
    #[error("`{0}` has ended for good in this run and is not started again")]
    Ended(String),
    /// The supervisor is gone.
    #[error("the supervisor has ended")]
    Gone,
}

/// The change under way.
pub(super) struct Active {
    what: String,
    /// Taken down first; empty once that part is over.
    stop: Vec<usize>,
    /// Then started, in the numbering of the graph that runs then.
    start: Vec<usize>,
    /// For a reload, the graph to switch to once `stop` is down.
    reload: Option<(Definition, Diff)>,
    /// Whether `stop` still has members running.
    stopping: bool,
    began: Instant,
    done: oneshot::Sender<Result<(), NotCompleted>>,
}

impl Active {
    /// Whether this change takes `i` down.
    pub(super) fn stops(&self, i: usize) -> bool {
        self.stopping && self.stop.contains(&i)
    }
}

impl Engine {
    pub(super) fn begin_change(
        &mut self,
        change: Change,
        reply: oneshot::Sender<Result<Accepted, Refused>>,
    ) {
        let what = change.to_string();
        let plan = match self.plan_change(change) {
            Ok(p) => p,
            Err(refused) => {
                tracing::warn!("{what}: refused: {refused}");
                let _ = reply.send(Err(refused));
                return;
            }
        };
        let (target, stop, start, reload) = plan;
        let names = |v: &[usize], g: &crate::graph::Graph| -> Vec<String> {
            v.iter().map(|&i| g.name(i).to_string()).collect()
        };
        let stop_names = names(&stop, &self.graph);
        let start_names = match &reload {
            Some((to, _)) => names(&start, &to.graph),
            None => names(&start, &self.graph),
        };
        if let Some(c) = &self.change {
            let why = NotCompleted::Superseded {
                by: what.clone(),
                change: c.what.clone(),
            };
            self.finish_change(Err(why));
        }
        let (done, done_rx) = oneshot::channel();
        let accepted = Accepted {
            stop: stop_names.clone(),
            start: start_names.clone(),
            diff: reload.as_ref().map(|(_, d)| d.clone()),
            done: done_rx,
        };
        if reply.send(Ok(accepted)).is_err() {
            // Nobody waits for it; a change nobody asked for is not made.
            return;
        }
        let mut steps = Vec::new();
        if !stop_names.is_empty() {
            steps.push(format!(
                "stopping {} (dependents first)",
                stop_names.join(", ")
            ));
        }
        if !start_names.is_empty() {
            steps.push(format!("starting {} (in order)", start_names.join(", ")));
        }
        if steps.is_empty() {
            steps.push("nothing to do".to_string());
        }
        tracing::info!("{what}: {}", steps.join(", then "));
        if let Some((to, diff)) = &reload {
            tracing::info!("reload: {diff}");
            for setting in reload::unapplied(&self.config, &to.config) {
                tracing::warn!(
                    "reload: [supervisor] {setting} changed; that takes effect at the next start"
                );
            }
        }
        self.change = Some(Active {
            what,
            stop: stop.clone(),
            start,
            reload,
            stopping: true,
            began: Instant::now(),
            done,
        });
        self.take_down(&stop, target);
        self.advance_change();
    }

    /// What a change stops and starts, or why it cannot be made.
    #[allow(clippy::type_complexity, reason = "one private caller")]
    fn plan_change(
        &self,
        change: Change,
    ) -> Result<
        (
            Option<usize>,
            Vec<usize>,
            Vec<usize>,
            Option<(Definition, Diff)>,
        ),
        Refused,
    > {
        if self.trigger.is_some() {
            return Err(Refused::ShuttingDown);
        }
        // Stopping is bounded by the stop timeouts; starting may not be (a
        // crash loop), so a change that is starting gives way to the next.
        if let Some(c) = self.change.as_ref().filter(|c| c.stopping) {
            return Err(Refused::Busy(c.what.clone()));
        }
        // A reload may fix what keeps the start from finishing (a component
        // that crash-loops on a bad flag); a stop would keep it from ever
        // finishing.
        if self.status.borrow().state == State::Starting && !matches!(change, Change::Reload(_)) {
            return Err(Refused::Starting);
        }
        let lookup = |name: &str| {
            self.config.index_of(name).ok_or_else(|| {
                let names: Vec<&str> = (0..self.graph.len()).map(|i| self.graph.name(i)).collect();
                Refused::Unknown {
                    name: name.to_string(),
                    hint: crate::config::did_you_mean(name, &names).map(str::to_string),
                }
            })
        };
        Ok(match change {
            Change::Stop(name) => {
                let i = lookup(&name)?;
                let stop = self.in_stop_order(&self.with_dependents(&[i]), |l| {
                    l != Life::Done && l != Life::Stopped
                });
                (Some(i), stop, Vec::new(), None)
            }
            Change::Start(name) => {
                let i = lookup(&name)?;
                self.not_ended(i)?;
                let mut wanted = vec![i];
                wanted.extend(
                    (0..self.slots.len()).filter(|&j| self.slots[j].stopped_with == Some(i)),
                );
                (Some(i), Vec::new(), self.to_start(&wanted), None)
            }
            Change::Restart(name) => {
                let i = lookup(&name)?;
                self.not_ended(i)?;
                let members = self.with_dependents(&[i]);
                let stop = self.in_stop_order(&members, |l| l == Life::Running);
                // Started again: what was up, the target itself, and what
                // a `stop` of it took down.
                let mut up: Vec<usize> = stop.clone();
                up.push(i);
                up.extend((0..self.slots.len()).filter(|&j| self.slots[j].stopped_with == Some(i)));
                (Some(i), stop, self.to_start_after(&up), None)
            }
            Change::Reload(to) => {
                let diff = reload::diff(&self.config, &self.graph, &to.config);
                let touched: Vec<usize> = diff
                    .removed
                    .iter()
                    .chain(&diff.changed)
                    .filter_map(|n| self.config.index_of(n))
                    .collect();
                let stop = self.in_stop_order(&self.with_dependents(&touched), |l| {
                    l != Life::Done && l != Life::Stopped
                });
                // What was stopped by hand stays stopped, as defined now.
                let stopped: Vec<&str> = (0..self.slots.len())
                    .filter(|&i| self.slots[i].life == Life::Stopped)
                    .map(|i| self.name(i))
                    .collect();
                let start = reload::to_start(&diff, &to.graph)
                    .into_iter()
                    .filter(|&j| !stopped.contains(&to.graph.name(j)))
                    .collect();
                (None, stop, start, Some((to, diff)))
            }
        })
    }

    /// A component that ended for good (finished by itself, or failed)
    /// does not run again in this run.
    fn not_ended(&self, i: usize) -> Result<(), Refused> {
        if self.slots[i].life == Life::Done {
            return Err(Refused::Ended(self.name(i).to_string()));
        }
        Ok(())
    }

    /// `roots` and everything that depends on them, directly or not.
    pub(super) fn with_dependents(&self, roots: &[usize]) -> Vec<usize> {
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
    fn in_stop_order(&self, members: &[usize], keep: impl Fn(Life) -> bool) -> Vec<usize> {
        let set: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| keep(self.slots[i].life))
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
    fn to_start(&self, wanted: &[usize]) -> Vec<usize> {
        let down = |i: usize| matches!(self.slots[i].life, Life::Stopped | Life::Pending);
        self.closure_in_start_order(wanted, down)
    }

    /// Like [`Engine::to_start`], for members that are still up now and
    /// will be down by the time they are started.
    fn to_start_after(&self, wanted: &[usize]) -> Vec<usize> {
        let down = |i: usize| {
            wanted.contains(&i) || matches!(self.slots[i].life, Life::Stopped | Life::Pending)
        };
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

    /// Marks `members` to go down for the change; those not running are
    /// down at once.
    fn take_down(&mut self, members: &[usize], target: Option<usize>) {
        for &i in members {
            self.slots[i].stopped_with = target;
            match self.slots[i].life {
                Life::Running => {
                    if self.slots[i].held_by.is_none() {
                        self.slots[i].held_by = Some(Hold::Change);
                    }
                    self.unready(i);
                }
                Life::Pending | Life::Backoff => {
                    self.clear_deadline(i);
                    self.slots[i].life = Life::Stopped;
                    if self.slots[i].ran {
                        let why = self.change_reason();
                        self.record(EventKind::Parked(i, why));
                    }
                }
                Life::Stopped | Life::Done => {}
            }
        }
    }

    fn change_reason(&self) -> String {
        let what = self.change.as_ref().map_or("", |c| c.what.as_str());
        format!("by request (sundown {what})")
    }

    /// A component the change took down is down.
    pub(super) fn parked_for_change(&mut self, i: usize, exit: &Exit) {
        let took = self.slots[i]
            .asked_at
            .map(|t| t.elapsed())
            .unwrap_or_default();
        let name = self.name(i).to_string();
        let why = self.change_reason();
        tracing::info!(component = %name, "{name}: stopped in {took:.1?} ({exit}) {why}");
        self.slots[i].life = Life::Stopped;
        let again = self
            .change
            .as_ref()
            .is_some_and(|c| c.reload.is_some() || c.start.contains(&i));
        // Coming back (restart, reload) is a restart in the report; staying
        // down (stop) is not.
        self.record(if again {
            EventKind::Restarting(i, why, None)
        } else {
            EventKind::Parked(i, why)
        });
        self.advance_change();
    }

    /// Moves the change under way on: its stops once their dependents are
    /// down, then (the stops all down) its starts, then its end once every
    /// start is ready.
    pub(super) fn advance_change(&mut self) {
        let Some(c) = &self.change else {
            return;
        };
        if c.stopping {
            let stop = c.stop.clone();
            self.stop_when_free(&stop);
            if stop.iter().any(|&i| self.slots[i].life == Life::Running) {
                return;
            }
            let Some(c) = self.change.as_mut() else {
                return;
            };
            c.stopping = false;
            if let Some((to, diff)) = c.reload.take() {
                self.switch_graph(to, &diff);
                // Removing what held the start up may have completed it.
                self.check_all_ready();
                // Numbered by the new graph now; what was stopped is gone.
                let start = self
                    .change
                    .as_ref()
                    .map(|c| c.start.clone())
                    .unwrap_or_default();
                let start = self.to_start(&start);
                if let Some(c) = self.change.as_mut() {
                    c.stop.clear();
                    c.start = start;
                }
            }
            let start = self
                .change
                .as_ref()
                .map(|c| c.start.clone())
                .unwrap_or_default();
            for &i in &start {
                if matches!(self.slots[i].life, Life::Stopped | Life::Pending) {
                    self.slots[i].life = Life::Pending;
                    self.slots[i].stopped_with = None;
                }
            }
            for &i in &start {
                if self.slots[i].life == Life::Pending && self.waiting_deps[i] == 0 {
                    self.start(i);
                }
            }
        }
        let Some(c) = &self.change else {
            return;
        };
        if let Some(&gone) = c
            .start
            .iter()
            .find(|&&i| self.slots[i].life == Life::Done && !self.slots[i].ready)
        {
            let e = NotCompleted::EndedBeforeReady(self.name(gone).to_string());
            self.finish_change(Err(e));
        } else if c.start.iter().all(|&i| self.slots[i].ready) {
            self.finish_change(Ok(()));
        }
    }

    fn finish_change(&mut self, result: Result<(), NotCompleted>) {
        let Some(c) = self.change.take() else {
            return;
        };
        match &result {
            Ok(()) => tracing::info!("{}: done in {:.1?}", c.what, c.began.elapsed()),
            Err(e) => tracing::warn!("{}: not completed: {e}", c.what),
        }
        let _ = c.done.send(result);
    }

    /// A shutdown takes over from the change under way.
    pub(super) fn interrupt_change(&mut self, trigger: &Trigger) {
        if self.change.is_some() {
            self.finish_change(Err(NotCompleted::Interrupted(trigger.clone())));
        }
    }
}
