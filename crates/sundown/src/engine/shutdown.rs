//! The shutdown: everything stops in reverse dependency order, eagerly
//! (each component as soon as its dependents are down) or phase by phase,
//! within the shutdown's budget; a second signal kills what is left.

use std::sync::Arc;

use tokio::time::Instant;

use super::{Engine, Life};
use crate::config::Strategy;
use crate::event::{EventKind, KillReason, Outcome, Trigger};
use crate::plan::Phase;

/// A shutdown under way. Once begun it never ends: every component goes
/// down for good.
pub(super) struct Shutdown {
    pub(super) trigger: Trigger,
    /// `shutdown_timeout` from the start of the shutdown.
    pub(super) deadline: Instant,
    /// Whether `deadline` has passed and everything was killed.
    pub(super) deadline_passed: bool,
    /// Whether everything was killed at once (a second signal).
    pub(super) forced: bool,
    /// Eager strategy: components whose dependents are all down, to ask next.
    pub(super) stoppable: Vec<usize>,
    /// Phased strategies: the phase under way,
    pub(super) phase: usize,
    /// whether its members were asked to stop,
    pub(super) phase_started: bool,
    /// and how many of them are not down yet.
    pub(super) phase_left: usize,
}

impl Engine {
    /// Begins the ordered shutdown; once one is under way, only says so.
    pub(super) fn begin_shutdown(&mut self, trigger: Trigger) {
        if let Some(s) = &self.shutdown {
            tracing::info!(
                "already shutting down ({}); a second signal forces it",
                s.trigger
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
        self.shutdown = Some(Shutdown {
            trigger,
            deadline: Instant::now() + self.plan.shutdown_timeout,
            deadline_passed: false,
            forced: false,
            stoppable: Vec::new(),
            phase: 0,
            phase_started: false,
            phase_left: 0,
        });
        for i in 0..self.slots.len() {
            match self.slots[i].life {
                // Parked for a restart or stopped by request: it ran, and is already down.
                Life::Pending { ran: true } | Life::Stopped { ran: true, .. } => {
                    self.end(i, Outcome::Stopped, None)
                }
                Life::Pending { .. } | Life::Stopped { .. } => {
                    self.end(i, Outcome::NeverStarted, None)
                }
                // No restart outlives a shutdown request.
                Life::Backoff => {
                    tracing::info!(
                        component = self.name(i),
                        "{}: not restarting: shutting down",
                        self.name(i)
                    );
                    self.end(i, Outcome::Stopped, None);
                }
                Life::Running(_) | Life::Done { .. } => {}
            }
        }
        if self.plan.strategy == Strategy::Eager {
            let stoppable = (0..self.slots.len())
                .filter(|&i| self.counts.live_dependents[i] == 0)
                .collect();
            if let Some(s) = &mut self.shutdown {
                s.stoppable = stoppable;
            }
        }
        self.advance_stop();
    }

    /// Asks every component whose turn has come to stop.
    pub(super) fn advance_stop(&mut self) {
        let Some(s) = &self.shutdown else {
            return;
        };
        match self.plan.strategy {
            Strategy::Eager => {
                let now = Instant::now();
                let cap = (s.deadline, KillReason::ShutdownTimeout);
                while let Some(i) = self.shutdown.as_mut().and_then(|s| s.stoppable.pop()) {
                    self.request_stop(i, now, cap);
                }
            }
            Strategy::Phased | Strategy::K8sSidecars => self.advance_phases(),
        }
    }

    fn advance_phases(&mut self) {
        let plan = Arc::clone(&self.plan);
        loop {
            let Some(s) = &self.shutdown else {
                return;
            };
            let Some(phase) = plan.phases.get(s.phase) else {
                return;
            };
            if !s.phase_started {
                let global = s.deadline;
                self.begin_phase(phase, plan.phases.len(), global);
            }
            if self.shutdown.as_ref().is_some_and(|s| s.phase_left > 0) {
                return;
            }
            self.record(EventKind::PhaseEnded(phase.index));
            if let Some(s) = &mut self.shutdown {
                s.phase += 1;
                s.phase_started = false;
            }
        }
    }

    /// Asks the members of `phase`, one of `of`, to stop, within the phase's
    /// timeout and the shutdown's `global` deadline.
    fn begin_phase(&mut self, phase: &Phase, of: usize, global: Instant) {
        if let Some(s) = &mut self.shutdown {
            s.phase_started = true;
        }
        self.record(EventKind::PhaseStarted(phase.index));
        let now = Instant::now();
        let cap = if now + phase.timeout < global {
            (now + phase.timeout, KillReason::PhaseTimeout)
        } else {
            (global, KillReason::ShutdownTimeout)
        };
        let live: Vec<&str> = phase
            .members
            .iter()
            .filter(|&&m| self.slots[m].life.is_running())
            .map(|&m| self.name(m))
            .collect();
        // Once everything is being killed, a phase's turn asks nothing of
        // anyone: announcing it would contradict the kill just logged.
        let forced = self
            .shutdown
            .as_ref()
            .is_some_and(|s| s.forced || s.deadline_passed);
        if !live.is_empty() && !forced {
            tracing::info!(
                "phase {}/{of}: stopping {} (timeout {:?})",
                phase.index + 1,
                live.join(", "),
                phase.timeout
            );
        }
        for &m in &phase.members {
            self.request_stop(m, now, cap);
        }
        // Counted once here and decremented as members end, so a wide
        // phase costs O(1) per event rather than a scan.
        let left = phase
            .members
            .iter()
            .filter(|&&m| !self.slots[m].life.is_done())
            .count();
        if let Some(s) = &mut self.shutdown {
            s.phase_left = left;
        }
    }

    pub(super) fn force(&mut self, trigger: Trigger) {
        if self.shutdown.is_none() {
            self.begin_shutdown(trigger);
        }
        let Some(s) = &mut self.shutdown else {
            return;
        };
        if s.forced {
            return;
        }
        s.forced = true;
        self.kill_everything(KillReason::SecondSignal);
    }

    /// Kills every component still running, for `reason` (a second signal,
    /// or the end of the budget), saying so in one line: from here on no
    /// phase is announced and no countdown shown. Recorded even when all
    /// that runs was killed already, so the status says it is forced.
    pub(super) fn kill_everything(&mut self, reason: KillReason) {
        self.record(EventKind::Forced(reason));
        // A component already killed for a timeout keeps that reason.
        let doomed: Vec<usize> = (0..self.slots.len())
            .filter(|&i| self.slots[i].life.run().is_some_and(|r| !r.killed()))
            .collect();
        let names: Vec<&str> = doomed.iter().map(|&i| self.name(i)).collect();
        let why = match reason {
            KillReason::ShutdownTimeout => {
                format!(
                    "shutdown_timeout of {:?} passed",
                    self.plan.shutdown_timeout
                )
            }
            _ => reason.phrase().to_string(),
        };
        if names.is_empty() {
            tracing::warn!("forced ({why}): nothing left to kill, waiting for the killed to end");
        } else {
            tracing::warn!(
                "forced ({why}): killing everything still running: {}",
                names.join(", ")
            );
        }
        for i in doomed {
            self.kill(i, reason);
        }
    }
}
