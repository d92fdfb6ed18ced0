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
            self.slots[i].stopped_with = target;
            match self.slots[i].life {
                Life::Running => {
                    if self.slots[i].held_by.is_none() {
                        self.slots[i].held_by = Some(Hold::Change);
                    }
                    self.unready(i);
                }
                Life::Pending | Life::Backoff => {
                    self.deadlines.clear(i);
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
    pub(in crate::engine) fn parked_for_change(&mut self, i: usize, exit: &Exit) {
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
    pub(in crate::engine) fn advance_change(&mut self) {
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
                if self.slots[i].life == Life::Pending && self.counts.waiting_deps[i] == 0 {
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
