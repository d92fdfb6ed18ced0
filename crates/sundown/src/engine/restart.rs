//! Restarts: a component that ended by itself is started again when its
//! `restart` policy allows, after a growing delay, up to `max_restarts`
//! within `restart_window`; past that it has failed and the graph shuts
//! down. With `restart_dependents` its dependents are first stopped in
//! reverse order and come back, in order, once it is ready again (Erlang's
//! `rest_for_one`). A shutdown request ends every restart in progress.

use std::time::Duration;

use tokio::time::Instant;

use super::{Due, Engine, Hold, Life};
use crate::component::Exit;
use crate::config::RestartPolicy;
use crate::event::{EventKind, Outcome};

/// A seed for the restart jitter that differs between supervisors started
/// together, so a fleet restarting the same crashed service spreads out.
pub(super) fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ (u64::from(std::process::id()) << 32)) | 1
}

impl Engine {
    /// Decides whether component `i`, which ended by itself, runs again;
    /// when it does, schedules that and returns `true`.
    pub(super) fn restart_if_allowed(&mut self, i: usize, outcome: Outcome, exit: &Exit) -> bool {
        let spec = &self.config.components[i].restart;
        let wanted = match spec.policy {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => outcome == Outcome::Failed,
            RestartPolicy::Always => true,
        };
        if !wanted {
            return false;
        }
        let (window, max, dependents) = (spec.window, spec.max_restarts, spec.dependents);
        let now = Instant::now();
        let slot = &mut self.slots[i];
        while slot
            .restarts
            .front()
            .is_some_and(|&t| now.duration_since(t) >= window)
        {
            slot.restarts.pop_front();
        }
        let name = self.graph.name(i).to_string();
        let recent = slot.restarts.len();
        if recent >= max as usize {
            tracing::error!(
                component = %name,
                "{name}: {exit}; not restarting it again: {recent} restart(s) within {} already (max_restarts = {max})",
                humantime::format_duration(window)
            );
            return false;
        }
        slot.restarts.push_back(now);
        let delay = self.jittered(self.config.components[i].restart.delay(recent as u32));
        let ready = self.slots[i].life.is_ready();
        let oneshot = self.config.components[i].oneshot;
        let what = if outcome == Outcome::Failed && oneshot {
            "one-shot failed"
        } else if outcome == Outcome::Failed && !ready {
            "failed to start"
        } else if outcome == Outcome::Failed {
            "exited unexpectedly"
        } else {
            "finished"
        };
        tracing::warn!(
            component = %name,
            "{name}: {what}: {exit}; restarting in {delay:.0?} (restart {} of at most {max} within {})",
            recent + 1,
            humantime::format_duration(window)
        );
        if ready {
            self.no_longer_ready();
        }
        self.slots[i].life = Life::Backoff;
        self.record(EventKind::Restarting(
            i,
            format!("{what}: {exit}"),
            Some(delay),
        ));
        self.deadlines.set(i, (now + delay, Due::Restart));
        if dependents {
            self.hold_dependents(i);
        }
        true
    }

    /// The delay minus up to 20%, so restarts of many components that
    /// failed together do not land on the same instant.
    fn jittered(&mut self, delay: Duration) -> Duration {
        let mut x = self.jitter;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter = x;
        let fraction = (x >> 11) as f64 / (1u64 << 53) as f64;
        delay.mul_f64(1.0 - 0.2 * fraction)
    }

    /// Its restart delay is over: start it now, unless it still waits for
    /// its dependents to stop or for its dependencies to be ready (then
    /// whichever comes last starts it).
    pub(super) fn restart_when_free(&mut self, i: usize) {
        let slot = &self.slots[i];
        if self.shutdown.is_some()
            || !matches!(slot.life, Life::Backoff | Life::Pending { .. })
            || self.deadlines.is_set(i)
            || !slot.holding.is_empty()
        {
            return;
        }
        if self.deps_met(i) {
            self.start(i);
        } else if matches!(self.slots[i].life, Life::Backoff) {
            // A dependency is restarting too: start with the others once it is ready.
            self.slots[i].life = Life::Pending { ran: true };
        }
    }

    /// `restart_dependents`: everything that depends on `x`, directly or
    /// not, goes down before `x` restarts.
    fn hold_dependents(&mut self, x: usize) {
        // Everything above x, not x itself.
        for d in self.with_dependents(&[x]).into_iter().filter(|&d| d != x) {
            match &self.slots[d].life {
                Life::Running(run) if run.held().is_none() => {
                    // Going down now: a dependent of its that has not
                    // started yet must not start on it in the meantime.
                    self.hold(d, Hold::Restart(x));
                    self.slots[x].holding.push(d);
                }
                // Going down for a change already: x waits for it all the same.
                Life::Running(_) => self.slots[x].holding.push(d),
                // Already down and restarting by itself: it now comes back
                // with the others, once its dependencies are ready.
                Life::Backoff => {
                    self.deadlines.clear(d);
                    self.slots[d].life = Life::Pending { ran: true };
                }
                _ => {}
            }
        }
        if !self.slots[x].holding.is_empty() {
            let names: Vec<&str> = self.slots[x]
                .holding
                .iter()
                .map(|&d| self.graph.name(d))
                .collect();
            tracing::info!(
                component = self.name(x),
                "{}: stopping its dependents before restarting it: {}",
                self.name(x),
                names.join(", ")
            );
        }
        self.advance_holds(x);
    }

    /// Asks each held dependent of `x` to stop once none of its own
    /// dependents is still running.
    fn advance_holds(&mut self, x: usize) {
        let holding = self.slots[x].holding.clone();
        self.stop_when_free(&holding);
    }

    /// A component taken down while the graph runs on is down: stopped for
    /// its dependency's restart, it waits, pending, for its dependencies to
    /// be ready again; stopped for a change, the change goes on.
    pub(super) fn park(&mut self, i: usize, exit: &Exit) {
        // Held, so not ready: nothing waits on it that did not already.
        let Some(run) = self.slots[i].life.run() else {
            return;
        };
        let (Some(hold), began) = (run.held(), run.stop_began()) else {
            return;
        };
        self.deadlines.clear(i);
        let Hold::Restart(x) = hold else {
            self.parked_for_change(i, exit);
            self.release(i);
            return;
        };
        if self.change.as_ref().is_some_and(|c| c.stops(i)) {
            // A change takes it down too: the change says what it is now.
            self.parked_for_change(i, exit);
            self.release(i);
            return;
        }
        let took = began.map(|t| t.elapsed()).unwrap_or_default();
        let (name, dep) = (self.name(i).to_string(), self.name(x).to_string());
        tracing::info!(
            component = %name,
            "{name}: stopped in {took:.1?} ({exit}); starts again once `{dep}` is ready"
        );
        self.slots[i].life = Life::Pending { ran: true };
        self.record(EventKind::Restarting(
            i,
            format!("stopped to restart with `{dep}` (restart_dependents)"),
            None,
        ));
        self.release(i);
    }

    /// `i` is down: a restart waiting for it (`restart_dependents`) goes on.
    fn release(&mut self, i: usize) {
        for x in 0..self.slots.len() {
            if self.slots[x].holding.contains(&i) {
                self.slots[x].holding.retain(|&d| d != i);
                self.advance_holds(x);
                self.restart_when_free(x);
            }
        }
    }
}
