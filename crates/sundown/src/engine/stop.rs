//! Stopping one component: the graceful request with its deadline, and
//! the kill when a deadline passes.

use tokio::time::Instant;

use super::{Due, Engine, KILL_GRACE, Life};
use crate::event::{EventKind, KillReason};

impl Engine {
    /// Sends the graceful stop and arms the earliest of the component's own
    /// stop timeout and `cap` (its phase's or the global deadline).
    pub(super) fn request_stop(&mut self, i: usize, now: Instant, cap: (Instant, KillReason)) {
        let cap = (cap.0, Due::Kill(cap.1));
        let slot = &self.slots[i];
        if slot.life != Life::Running || slot.stop_requested || slot.killed.is_some() {
            return;
        }
        // `now` is the instant `cap` was computed from: with equal timeouts the
        // component's own stop_timeout is what fires, not its phase's.
        let own = now + self.plan.stop_timeouts[i];
        let deadline = if own <= cap.0 {
            (own, Due::Kill(KillReason::StopTimeout))
        } else {
            cap
        };
        let slot = &mut self.slots[i];
        slot.stop_requested = true;
        slot.asked_at = Some(now);
        slot.stop.cancel();
        self.record(EventKind::StopRequested(i, deadline.0 - self.t0));
        tracing::debug!(component = self.name(i), "{}: asked to stop", self.name(i));
        self.deadlines.set(i, deadline);
    }

    pub(super) fn kill(&mut self, i: usize, reason: KillReason) {
        let slot = &mut self.slots[i];
        if slot.life != Life::Running || slot.killed.is_some() {
            return;
        }
        slot.killed = Some(reason);
        slot.asked_at.get_or_insert_with(Instant::now);
        slot.kill.cancel();
        self.record(EventKind::KillSent(i, reason));
        let why = match reason {
            KillReason::StopTimeout => "its stop_timeout passed",
            KillReason::PhaseTimeout => "its phase's timeout passed",
            KillReason::ShutdownTimeout => "shutdown_timeout passed",
            KillReason::SecondSignal => "a second signal forces the shutdown",
        };
        tracing::warn!(
            component = self.name(i),
            "{}: killing it: {why}",
            self.name(i)
        );
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
            let slot = &self.slots[d];
            if slot.life != Life::Running || slot.stop_requested || slot.killed.is_some() {
                continue;
            }
            let blocked = self
                .graph
                .dependents(d)
                .iter()
                .any(|&e| self.slots[e].life == Life::Running);
            if !blocked {
                let own = now + self.plan.stop_timeouts[d];
                self.request_stop(d, now, (own, KillReason::StopTimeout));
            }
        }
    }
}
