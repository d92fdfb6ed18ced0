//! Ending: what a component's end means (a stop, a failure, a finish, a
//! kill), and what it releases.

use super::slot::Up;
use super::{Engine, KILL_GRACE, Life};
use crate::component::Exit;
use crate::config::Strategy;
use crate::event::{EventKind, Outcome, Trigger};

impl Engine {
    pub(super) fn on_exit(&mut self, i: usize, exit: Exit) {
        let Some(run) = self.slots[i].life.run() else {
            return;
        };
        let oneshot = self.config.components[i].oneshot;
        let (outcome, held) = (run.outcome(&exit, oneshot), run.held().is_some());
        let (ready, began, kill) = (self.slots[i].life.is_ready(), run.stop_began(), run.kill());
        if self.shutdown.is_none() && held {
            self.park(i, &exit);
            return;
        }
        let ended_by_itself = self.shutdown.is_none()
            && matches!(
                outcome,
                Outcome::Failed | Outcome::ExitedEarly | Outcome::Completed
            );
        // A run with nothing to exit with (it could not start) is a failure like any other.
        if ended_by_itself && self.config.components[i].exit_with && !matches!(exit, Exit::Error(_))
        {
            self.end_the_run_with(i, exit);
            return;
        }
        if ended_by_itself && self.restart_if_allowed(i, outcome, &exit) {
            return;
        }
        if outcome == Outcome::Completed {
            self.complete(i, exit);
            return;
        }
        let name = self.name(i).to_string();
        let took = began.map(|t| t.elapsed()).unwrap_or_default();
        match outcome {
            // A one-shot is never ready before its end: it failed at its job.
            Outcome::Failed if oneshot => {
                tracing::error!(component = %name, "{name}: one-shot failed: {exit}")
            }
            Outcome::Failed if !ready => match exit {
                Exit::Error(_) => {
                    tracing::error!(component = %name, "{name}: failed to start: {exit}")
                }
                _ => {
                    tracing::error!(component = %name, "{name}: failed to start: exited before it was ready ({exit})")
                }
            },
            Outcome::Failed => {
                tracing::error!(component = %name, "{name}: exited unexpectedly: {exit}")
            }
            Outcome::ExitedEarly | Outcome::Completed => {
                tracing::info!(component = %name, "{name}: finished by itself: {exit}")
            }
            Outcome::Stopped => {
                tracing::info!(component = %name, "{name}: stopped in {took:.1?} ({exit})")
            }
            // Each span from the event it names: a kill long after the
            // request and an end just after the kill are two facts.
            _ => match kill {
                Some((killed, reason)) => {
                    let asked = match began {
                        Some(asked) if asked < killed => {
                            format!("{:.1?} after it was asked to stop", killed - asked)
                        }
                        _ => "before its turn to stop".to_string(),
                    };
                    tracing::warn!(
                        component = %name,
                        "{name}: killed by {} {asked}; down {:.1?} after the kill ({exit})",
                        reason.phrase(),
                        killed.elapsed()
                    )
                }
                None => {
                    tracing::warn!(component = %name, "{name}: down {took:.1?} after the stop began ({exit})")
                }
            },
        }
        self.end(i, outcome, Some(exit));
        if outcome == Outcome::Failed {
            self.begin_shutdown(Trigger::ComponentFailed(name));
        }
        self.advance_stop();
    }

    /// The `exit_with` component ended by itself: whatever its exit code,
    /// that is the end of the run, not a failure of the graph. An exit 0
    /// before it was ready counts as a success too (a test suite need not
    /// become ready).
    fn end_the_run_with(&mut self, i: usize, exit: Exit) {
        let name = self.name(i).to_string();
        tracing::info!(component = %name, "{name}: ended ({exit}); exit_with: stopping the rest in order");
        let outcome = if exit.is_success() && self.config.components[i].oneshot {
            Outcome::Completed
        } else if exit.is_success() {
            Outcome::ExitedEarly
        } else {
            Outcome::Failed
        };
        self.end(i, outcome, Some(exit));
        self.begin_shutdown(Trigger::ExitWith(name));
        self.advance_stop();
    }

    /// A one-shot did its job: it is ready from now on (it is down, but
    /// what it did stays done), so what waited for it starts.
    fn complete(&mut self, i: usize, exit: Exit) {
        let name = self.name(i).to_string();
        let took = self.slots[i]
            .life
            .run()
            .map(|r| r.started.elapsed())
            .unwrap_or_default();
        tracing::info!(component = %name, "{name}: completed in {took:.1?} ({exit})");
        if let Some(run) = self.slots[i].life.run_mut() {
            run.up = Up::Ready;
        }
        self.counts.ready += 1;
        // Its `ready_at` in the report is when its dependents were released.
        self.record(EventKind::Ready(i));
        self.end(i, Outcome::Completed, Some(exit));
        self.release_dependents(i);
        if self.shutdown.is_none() {
            self.check_all_ready();
            self.advance_change();
        }
        self.advance_stop();
    }

    /// Marks a component down for good and releases what waited on it.
    pub(super) fn end(&mut self, i: usize, outcome: Outcome, exit: Option<Exit>) {
        self.deadlines.clear(i);
        let ready = self.slots[i].life.is_ready();
        self.slots[i].life = Life::Done { ready };
        self.counts.done += 1;
        if let Some(s) = &mut self.shutdown
            && s.phase_started
            && self.plan.phase_of[i] == s.phase
        {
            s.phase_left -= 1;
        }
        self.record(EventKind::Ended(i, outcome, exit));
        // Eager: a dependency whose last dependent just went down is next.
        // (Before the shutdown, `begin_shutdown()` collects them all at once.)
        let eager = self.plan.strategy == Strategy::Eager;
        for k in 0..self.graph.deps(i).len() {
            let d = self.graph.deps(i)[k];
            self.counts.live_dependents[d] -= 1;
            if eager
                && self.counts.live_dependents[d] == 0
                && let Some(s) = &mut self.shutdown
            {
                s.stoppable.push(d);
            }
        }
    }

    /// The component was killed and still has not ended after [`KILL_GRACE`].
    pub(super) fn abandon(&mut self, i: usize) {
        tracing::error!(
            component = self.name(i),
            "{}: still running {KILL_GRACE:?} after being killed; no longer waiting for it",
            self.name(i)
        );
        let Some(run) = self.slots[i].life.run() else {
            return;
        };
        run.abort.abort();
        let exit = Exit::Error(format!("did not end within {KILL_GRACE:?} of being killed"));
        // Killed: forced, or timed out when it had been asked first.
        let outcome = run.outcome(&exit, self.config.components[i].oneshot);
        if self.shutdown.is_none() && run.held().is_some() {
            self.park(i, &exit);
            return;
        }
        self.end(i, outcome, Some(exit));
    }
}
