//! Taking a change: what it stops and starts, worked out before anything
//! is touched, or why it is refused.

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::{Accepted, Active, Change, NotCompleted, Preview, Refused};
use crate::engine::reload::{self, Diff};
use crate::engine::{Definition, Engine, Life};
use crate::status::State;

/// What a change will do, worked out before anything is touched.
struct Planned {
    /// The component a stop, start or restart names.
    target: Option<usize>,
    stop: Vec<usize>,
    start: Vec<usize>,
    reload: Option<(Definition, Diff)>,
}

impl Engine {
    pub(in crate::engine) fn begin_change(
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
        let (stop_names, start_names) = self.names(&plan);
        let Planned {
            target,
            stop,
            start,
            reload,
        } = plan;
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
        if reload.is_none() {
            for &i in &start {
                if self.completed(i) {
                    self.revive(i);
                }
            }
        }
        self.change = Some(Active {
            what,
            target,
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

    /// What `change` would do now, or why it would be refused: worked out
    /// as [`Engine::begin_change`] does it, and nothing is touched.
    pub(in crate::engine) fn preview_change(&self, change: Change) -> Result<Preview, Refused> {
        let plan = self.plan_change(change)?;
        let (stop, start) = self.names(&plan);
        Ok(Preview {
            stop,
            start,
            diff: plan.reload.map(|(_, diff)| diff),
        })
    }

    /// The names of what `plan` stops and starts, each in its own graph's
    /// numbering (what a reload starts is numbered in the new graph).
    fn names(&self, plan: &Planned) -> (Vec<String>, Vec<String>) {
        let names = |v: &[usize], g: &crate::graph::Graph| -> Vec<String> {
            v.iter().map(|&i| g.name(i).to_string()).collect()
        };
        let start = match &plan.reload {
            Some((to, _)) => names(&plan.start, &to.graph),
            None => names(&plan.start, &self.graph),
        };
        (names(&plan.stop, &self.graph), start)
    }

    /// What a change stops and starts, or why it cannot be made.
    fn plan_change(&self, change: Change) -> Result<Planned, Refused> {
        if self.shutdown.is_some() {
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
                    !matches!(l, Life::Done { .. } | Life::Stopped { .. })
                });
                Planned {
                    target: Some(i),
                    stop,
                    start: Vec::new(),
                    reload: None,
                }
            }
            // A completed one-shot runs again, and so does what depends on
            // it (they may rely on what it did): a restart of it.
            Change::Start(name) | Change::Restart(name)
                if lookup(&name).is_ok_and(|i| self.completed(i)) =>
            {
                let i = lookup(&name)?;
                self.restart_plan(i)
            }
            Change::Start(name) => {
                let i = lookup(&name)?;
                self.not_ended(i)?;
                let mut wanted = vec![i];
                wanted.extend(self.stopped_with(i));
                Planned {
                    target: Some(i),
                    stop: Vec::new(),
                    start: self.to_start(&wanted),
                    reload: None,
                }
            }
            Change::Restart(name) => {
                let i = lookup(&name)?;
                self.not_ended(i)?;
                self.restart_plan(i)
            }
            Change::Reload(to) => {
                let diff = reload::diff(&self.config, &self.graph, &to.config);
                let touched: Vec<usize> = diff
                    .removed
                    .iter()
                    .filter(|n| !diff.scaled_down.contains(n))
                    .chain(&diff.changed)
                    .filter_map(|n| self.config.index_of(n))
                    .collect();
                // Instances scaled away go alone: their dependents keep the others.
                let mut members = self.with_dependents(&touched);
                members.extend(
                    diff.scaled_down
                        .iter()
                        .filter_map(|n| self.config.index_of(n)),
                );
                members.sort_unstable();
                members.dedup();
                let stop = self.in_stop_order(&members, |l| {
                    !matches!(l, Life::Done { .. } | Life::Stopped { .. })
                });
                // What was stopped by hand stays stopped, as defined now.
                let stopped: Vec<&str> = (0..self.slots.len())
                    .filter(|&i| matches!(self.slots[i].life, Life::Stopped { .. }))
                    .map(|i| self.name(i))
                    .collect();
                let start = reload::to_start(&diff, &to.graph)
                    .into_iter()
                    .filter(|&j| !stopped.contains(&to.graph.name(j)))
                    .collect();
                Planned {
                    target: None,
                    stop,
                    start,
                    reload: Some((to, diff)),
                }
            }
        })
    }

    fn restart_plan(&self, i: usize) -> Planned {
        let members = self.with_dependents(&[i]);
        let stop = self.in_stop_order(&members, Life::is_running);
        // Started again: what was up, the target itself, and what
        // a `stop` of it took down.
        let mut up: Vec<usize> = stop.clone();
        up.push(i);
        up.extend(self.stopped_with(i));
        Planned {
            target: Some(i),
            start: self.to_start_after(&up),
            stop,
            reload: None,
        }
    }

    /// Whether `i` is a one-shot that has completed (and may run again).
    pub(in crate::engine) fn completed(&self, i: usize) -> bool {
        self.config.components[i].oneshot
            && matches!(self.slots[i].life, Life::Done { ready: true })
    }

    /// A completed one-shot that a change runs again: pending, as before
    /// its first run. It is not ready any more, so its dependents wait for
    /// it again; its dependencies have a live dependent again.
    fn revive(&mut self, i: usize) {
        self.slots[i].life = Life::Pending { ran: true };
        self.no_longer_ready();
        self.counts.done -= 1;
        for k in 0..self.graph.deps(i).len() {
            let d = self.graph.deps(i)[k];
            self.counts.live_dependents[d] += 1;
        }
    }

    /// A component that ended for good (finished by itself, or failed)
    /// does not run again in this run.
    fn not_ended(&self, i: usize) -> Result<(), Refused> {
        if self.slots[i].life.is_done() {
            return Err(Refused::Ended(self.name(i).to_string()));
        }
        Ok(())
    }

    /// The components a `stop` of `i` took down, still down.
    fn stopped_with(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.slots.len()).filter(move |&j| self.slots[j].life.stopped_with() == Some(i))
    }
}
