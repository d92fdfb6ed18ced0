//! The shutdown: everything stops in reverse dependency order, eagerly
//! (each component as soon as its dependents are down) or phase by phase,
//! within the shutdown's budget; a second signal kills what is left.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Engine, Life};
use crate::config::Strategy;
use crate::event::{EventKind, KillReason, Outcome, Trigger};

impl Engine {
    pub(super) fn shutdown(&mut self, trigger: Trigger) {
        if self.trigger.is_some() {
            tracing::info!(
                "already shutting down ({}); a second signal forces it",
                self.trigger_text()
            );
            return;
        }
        tracing::info!(
            "shutting down: {trigger}; strategy {}, budget {:?}",
            self.plan.strategy,
            self.plan.shutdown_timeout
        );
        self.record(EventKind::ShutdownStarted(trigger.clone()));
        self.interrupt_change(&trigger);
        self.trigger = Some(trigger);
        self.global_deadline = Some(Instant::now() + self.plan.shutdown_timeout);
        for i in 0..self.slots.len() {
            match self.slots[i].life {
                // Parked for a restart or stopped by request: it ran, and is already down.
                Life::Pending | Life::Stopped if self.slots[i].ran => {
                    self.end(i, Outcome::Stopped, None)
                }
                Life::Pending | Life::Stopped => self.end(i, Outcome::NeverStarted, None),
                // No restart outlives a shutdown request.
                Life::Backoff => {
                    tracing::info!(
                        component = self.name(i),
                        "{}: not restarting: shutting down",
                        self.name(i)
                    );
                    self.end(i, Outcome::Stopped, None);
                }
                Life::Running | Life::Done => {}
            }
        }
        if self.plan.strategy == Strategy::Eager {
            self.stoppable = (0..self.slots.len())
                .filter(|&i| self.live_dependents[i] == 0)
                .collect();
        }
        self.advance_stop();
    }

    fn trigger_text(&self) -> String {
        self.trigger
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Asks every component whose turn has come to stop.
    pub(super) fn advance_stop(&mut self) {
        if self.trigger.is_none() {
            return;
        }
        match self.plan.strategy {
            Strategy::Eager => {
                let now = Instant::now();
                let global = self.global_deadline.unwrap_or(now);
                while let Some(i) = self.stoppable.pop() {
                    self.request_stop(i, now, (global, KillReason::ShutdownTimeout));
                }
            }
            Strategy::Phased | Strategy::K8sSidecars => self.advance_phases(),
        }
    }

    fn advance_phases(&mut self) {
        let plan = Arc::clone(&self.plan);
        while let Some(phase) = plan.phases.get(self.phase) {
            if !self.phase_started {
                self.phase_started = true;
                self.record(EventKind::PhaseStarted(phase.index));
                let now = Instant::now();
                let global = self.global_deadline.unwrap_or(now);
                let cap = if now + phase.timeout < global {
                    (now + phase.timeout, KillReason::PhaseTimeout)
                } else {
                    (global, KillReason::ShutdownTimeout)
                };
                let live: Vec<&str> = phase
                    .members
                    .iter()
                    .filter(|&&m| self.slots[m].life == Life::Running)
                    .map(|&m| self.name(m))
                    .collect();
                if !live.is_empty() {
                    tracing::info!(
                        "phase {}/{}: stopping {} (timeout {:?})",
                        phase.index + 1,
                        plan.phases.len(),
                        live.join(", "),
                        phase.timeout
                    );
                }
                for &m in &phase.members {
                    self.request_stop(m, now, cap);
                }
                // Counted once here and decremented as members end, so a wide
                // phase costs O(1) per event rather than a scan.
                self.phase_left = phase
                    .members
                    .iter()
                    .filter(|&&m| self.slots[m].life != Life::Done)
                    .count();
            }
            if self.phase_left > 0 {
                return;
            }
            self.record(EventKind::PhaseEnded(phase.index));
            self.phase += 1;
            self.phase_started = false;
        }
    }

    pub(super) fn force(&mut self, trigger: Trigger) {
        if self.trigger.is_none() {
            self.shutdown(trigger);
        }
        if self.forced {
            return;
        }
        self.forced = true;
        tracing::warn!("forcing: killing every component still running");
        self.record(EventKind::Forced);
        // A component already killed for a timeout keeps that reason.
        for i in 0..self.slots.len() {
            self.kill(i, KillReason::SecondSignal);
        }
    }
}
