//! A change under way: what it takes down, and how it moves from its
//! stops to its starts to its end.

use super::NotCompleted;
use crate::component::Exit;
use crate::engine::{Engine, Hold, Life};
use crate::event::{EventKind, Trigger};

impl Engine {
    /// Marks `members` to go down for the change; those not running are
    /// down at once.
    pub(super) fn take_down(&mut self, members: &[usize], target: Option<usize>) {
        for &i in members {
            match &mut self.slots[i].life {
                // Held for a restart already: it stays so, and the change
                // takes it when it is down (see `park`).
                Life::Running(run) => {
                    if run.held().is_none() {
                        self.hold(i, Hold::Change);
                    }
                }
                Life::Pending { .. } | Life::Backoff => {
                    let ran = self.slots[i].life.ran();
                    self.deadlines.clear(i);
                    self.slots[i].life = Life::Stopped { ran, with: target };
                    if ran {
                        let why = self.change_reason();
                        self.record(EventKind::Parked(i, why));
                    }
                }
                Life::Stopped { with, .. } => *with = target,
                Life::Done { .. } => {}
            }
        }
    }

    fn change_reason(&self) -> String {
        let what = self.change.as_ref().map_or("", |c| c.what.as_str());
        format!("by request (sundown {what})")
    }

    /// A component the change took down is down.
    pub(in crate::engine) fn parked_for_change(&mut self, i: usize, exit: &Exit) {
        let began = self.slots[i].life.run().and_then(|r| r.stop_began());
        let took = began.map(|t| t.elapsed()).unwrap_or_default();
        let name = self.name(i).to_string();
        let why = self.change_reason();
        tracing::info!(component = %name, "{name}: stopped in {took:.1?} ({exit}) {why}");
        // Only the change under way takes a running component down.
        let with = self.change.as_ref().and_then(|c| c.target);
        self.slots[i].life = Life::Stopped { ran: true, with };
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
    pub(in crate::engine) fn advance_change(&mut self) {
        let Some(c) = &self.change else {
            return;
        };
        if c.stopping {
            let stop = c.stop.clone();
            self.stop_when_free(&stop);
            if stop.iter().any(|&i| self.slots[i].life.is_running()) {
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
                self.release_unblocked();
            }
            let start = self
                .change
                .as_ref()
                .map(|c| c.start.clone())
                .unwrap_or_default();
            for &i in &start {
                if self.slots[i].life.is_down() {
                    let ran = self.slots[i].life.ran();
                    self.slots[i].life = Life::Pending { ran };
                }
            }
            for &i in &start {
                if matches!(self.slots[i].life, Life::Pending { .. }) && self.deps_met(i) {
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
            .find(|&&i| matches!(self.slots[i].life, Life::Done { ready: false }))
        {
            let e = NotCompleted::EndedBeforeReady(self.name(gone).to_string());
            self.finish_change(Err(e));
        } else if c.start.iter().all(|&i| self.slots[i].life.is_ready()) {
            self.finish_change(Ok(()));
        }
    }

    pub(super) fn finish_change(&mut self, result: Result<(), NotCompleted>) {
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
    pub(in crate::engine) fn interrupt_change(&mut self, trigger: &Trigger) {
        if self.change.is_some() {
            self.finish_change(Err(NotCompleted::Interrupted(trigger.clone())));
        }
    }
}

impl Engine {
    /// Starts what waited only on components a reload removed (a
    /// dependent of `worker` still starting when `worker.3` is scaled
    /// away): nothing else would ever start it.
    fn release_unblocked(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        let changing = self
            .change
            .as_ref()
            .map(|c| c.start.clone())
            .unwrap_or_default();
        for d in 0..self.slots.len() {
            if !changing.contains(&d)
                && matches!(self.slots[d].life, Life::Pending { .. })
                && self.slots[d].holding.is_empty()
                && self.deps_met(d)
            {
                self.start(d);
            }
        }
    }
}
