//! Stopping one component: the graceful request with its deadline, and
//! the kill when a deadline passes.

use tokio::time::Instant;

use super::slot::{Hold, Stopping, Up};
use super::{Due, Engine, KILL_GRACE};
use crate::event::{EventKind, KillReason};

impl Engine {
    /// Sends the graceful stop and arms the earliest of the component's own
    /// stop timeout and `cap` (its phase's or the global deadline).
    pub(super) fn request_stop(&mut self, i: usize, now: Instant, cap: (Instant, KillReason)) {
        let cap = (cap.0, Due::Kill(cap.1));
        let Some(run) = self.slots[i].life.run_mut() else {
            return;
        };
        if run.stopping != Stopping::NotAsked {
            return;
        }
        run.stopping = Stopping::Asked { at: now };
        run.stop.cancel();
        // `now` is the instant `cap` was computed from: with equal timeouts the
        // component's own stop_timeout is what fires, not its phase's.
        let own = now + self.plan.stop_timeouts[i];
        let deadline = if own <= cap.0 {
            (own, Due::Kill(KillReason::StopTimeout))
        } else {
            cap
        };
        self.record(EventKind::StopRequested(i, deadline.0 - self.t0));
        tracing::debug!(component = self.name(i), "{}: asked to stop", self.name(i));
        self.deadlines.set(i, deadline);
    }

    pub(super) fn kill(&mut self, i: usize, reason: KillReason) {
        let Some(run) = self.slots[i].life.run_mut() else {
            return;
        };
        run.stopping = match run.stopping {
            Stopping::Killed { .. } => return,
            Stopping::Asked { at } => Stopping::Killed {
                reason,
                at: Instant::now(),
                asked: Some(at),
            },
            Stopping::NotAsked => Stopping::Killed {
                reason,
                at: Instant::now(),
                asked: None,
            },
        };
        run.kill.cancel();
        self.record(EventKind::KillSent(i, reason));
        let name = self.name(i);
        match reason {
            KillReason::StopTimeout => {
                tracing::warn!(
                    component = name,
                    "{name}: killing it: its stop_timeout passed"
                )
            }
            KillReason::PhaseTimeout => {
                tracing::warn!(
                    component = name,
                    "{name}: killing it: its phase's timeout passed"
                )
            }
            // `kill_everything` said it once for all of them.
            KillReason::ShutdownTimeout | KillReason::SecondSignal => {
                tracing::debug!(component = name, "{name}: killing it: {}", reason.phrase())
            }
        }
        // The same reason again, later, means "it ignored the kill": abandon it.
        self.deadlines
            .set(i, (Instant::now() + KILL_GRACE, Due::Kill(reason)));
    }

    /// Asks each of `members` to stop, with its own stop timeout, once none
    /// of its dependents is still running: the usual reverse order, over a
    /// subgraph, while the rest of the graph runs on.
    pub(super) fn stop_when_free(&mut self, members: &[usize]) {
        let now = Instant::now();
        for &d in members {
            let asked = self.slots[d].life.run().map(|r| r.stopping);
            if asked != Some(Stopping::NotAsked) {
                continue;
            }
            let blocked = self
                .graph
                .dependents(d)
                .iter()
                .any(|&e| self.slots[e].life.is_running())
                && !self.scaled_down(d);
            if !blocked {
                let own = now + self.plan.stop_timeouts[d];
                self.request_stop(d, now, (own, KillReason::StopTimeout));
            }
        }
    }

    /// Whether `d` is an instance the reload under way scales away: its
    /// dependents run on with the component's other instances.
    fn scaled_down(&self, d: usize) -> bool {
        self.change
            .as_ref()
            .is_some_and(|c| c.scales_down(self.name(d)))
    }

    /// Marks running `i` to go down while the graph runs on, for `hold`.
    /// It is no longer ready: its dependents that have not started wait
    /// for it again.
    pub(super) fn hold(&mut self, i: usize, hold: Hold) {
        let Some(run) = self.slots[i].life.run_mut() else {
            return;
        };
        let was_ready = run.up == Up::Ready;
        run.up = Up::Held(hold);
        if was_ready {
            self.no_longer_ready();
        }
    }

    /// `i` was ready and is not: its dependents that have not started
    /// wait for it again (their edges are read afresh, see `deps_met`).
    pub(super) fn no_longer_ready(&mut self) {
        self.counts.ready -= 1;
    }
}
