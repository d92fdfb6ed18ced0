//! The teardown report: who started and stopped when, in which phase, how it
//! ended, and the exit code. Folded from the engine's event log, written as
//! JSON (schema 1), and read back by `sundown verify` and by tests.
//!
//! This file holds the report's shape and the questions every reader asks
//! of it (its exit code, a component's entry, the stop order). How it is
//! made from events is in `build`, how it is written and read in `json`,
//! and the ordering checks (`sundown verify`, the assertions tests make) in
//! `verify`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::component::StopStep;
use crate::config::Strategy;
use crate::event::{KillReason, Outcome, Trigger};
use crate::exit::ExitCode;

/// How many restarts of each component the report lists (`restarts[]`):
/// the last ones. A component restarting forever must not grow the
/// supervisor or the report without bound; `restart_count` counts them all.
pub const RESTART_HISTORY: usize = 100;

mod build;
mod json;
mod verify;

pub use self::json::SCHEMA;
pub use self::verify::Violation;

/// Everything that happened in one run, from start to the last component down.
///
/// Times (`*_at`, `*_requested`) are milliseconds since the supervisor
/// started, on a monotonic clock; `started_wall` anchors them to wall time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShutdownReport {
    /// Always [`SCHEMA`].
    pub schema: u32,
    /// Version of the sundown that wrote it.
    pub sundown_version: String,
    /// Wall-clock time of the supervisor's start, RFC 3339.
    pub started_wall: String,
    /// Why the shutdown began (`None` only if it never did).
    pub trigger: Option<Trigger>,
    /// `phased` or `eager`.
    pub strategy: Strategy,
    /// The process exit code this run maps to (see the README's table).
    pub exit_code: i32,
    /// The global budget, ms.
    pub shutdown_timeout_ms: f64,
    /// When every component was ready, if they all were.
    pub all_ready_at: Option<f64>,
    /// When the shutdown began.
    pub shutdown_started_at: Option<f64>,
    /// When a second signal forced the shutdown, if one did.
    pub forced_at: Option<f64>,
    /// When the last component was down.
    pub ended_at: f64,
    /// How long the shutdown took and how many components ended which way.
    pub totals: Totals,
    /// Stop phases, in order.
    pub phases: Vec<PhaseReport>,
    /// Components, sorted by name.
    pub components: Vec<ComponentReport>,
}

/// The summary a shell script checks first (`jq .totals.timed_out_killed`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// `ended_at - shutdown_started_at`, ms.
    pub shutdown_ms: Option<f64>,
    /// Number of components.
    pub components: usize,
    /// Components per outcome.
    pub stopped: usize,
    /// See [`Outcome::TimedOutKilled`].
    pub timed_out_killed: usize,
    /// See [`Outcome::Forced`].
    pub forced: usize,
    /// See [`Outcome::ExitedEarly`].
    pub exited_early: usize,
    /// See [`Outcome::Completed`].
    #[serde(default)]
    pub completed: usize,
    /// See [`Outcome::Failed`].
    pub failed: usize,
    /// See [`Outcome::NeverStarted`].
    pub never_started: usize,
}

/// One stop phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseReport {
    /// 0 stops first.
    pub index: usize,
    /// Component names.
    pub members: Vec<String>,
    /// The phase's timeout, ms.
    pub timeout_ms: f64,
    /// When the phase began (phased strategy), or its first stop request (eager).
    pub started_at: Option<f64>,
    /// When its last member was down.
    pub ended_at: Option<f64>,
    /// Whether any member was killed by a timeout.
    pub timed_out: bool,
}

/// One component's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentReport {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
    /// What it depends on.
    pub depends_on: Vec<String>,
    /// The stop phase it belongs to.
    pub phase: usize,
    /// Its main process id, for process kinds.
    pub pid: Option<u32>,
    /// When it was launched.
    pub start_requested: Option<f64>,
    /// When it became ready.
    pub ready_at: Option<f64>,
    /// When it was asked to stop gracefully.
    pub stop_requested: Option<f64>,
    /// When it was told to die, and which deadline did it.
    pub killed_at: Option<f64>,
    /// The deadline that killed it.
    pub killed_by: Option<KillReason>,
    /// When it was down.
    pub stopped_at: Option<f64>,
    /// `stopped_at - stop_requested` (or from the kill when never asked), ms.
    pub stop_ms: Option<f64>,
    /// How it ended.
    pub outcome: Outcome,
    /// Exit status code, when a process exited.
    pub exit_status: Option<i32>,
    /// The signal that ended a process.
    pub signal: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Why it never started, when it did not: the dependency it waited
    /// for and what became of it, or the shutdown that came first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many times it went down and was started again.
    #[serde(default)]
    pub restart_count: u32,
    /// The last [`RESTART_HISTORY`] of those restarts, oldest first (all of
    /// them when there were no more). The other fields describe its last run.
    #[serde(default)]
    pub restarts: Vec<RestartReport>,
    /// The steps of its last stop, for process components: stop command,
    /// signal, kill, in the order taken.
    #[serde(default)]
    pub stop_steps: Vec<StopStepReport>,
    /// Its own stop timeout, ms: the deadline of a graceful stop, unless
    /// its phase's timeout or the global budget comes first. `None` in
    /// reports of sundown before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout_ms: Option<f64>,
    /// Its runs before the last one (which the other fields describe),
    /// oldest first, each ended by a restart or a stop on request; the last
    /// [`RESTART_HISTORY`] of them. Empty when it ran once, and in reports
    /// of sundown before it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_runs: Vec<RunReport>,
}

/// One run of a component that was started again after it: from its
/// launch to its going down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// When it was launched.
    pub started_at: f64,
    /// When it became ready, if it did.
    pub ready_at: Option<f64>,
    /// When it was asked to stop, if it was.
    pub stop_requested: Option<f64>,
    /// When it was told to die, if it was.
    pub killed_at: Option<f64>,
    /// When it was down.
    pub down_at: f64,
    /// Why the run ended: a restart, or a stop on request.
    pub ended: RunEnd,
    /// The restart's reason, or who asked it to stop.
    pub reason: String,
}

/// How a run that was not a component's last one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// It went down and was started again (one of `restarts[]`).
    Restart,
    /// It was stopped on request (`sundown stop`, a reload) and stayed
    /// down until it was asked to start again.
    StopRequest,
}

/// One step of a component's stop sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StopStepReport {
    /// When it was taken.
    pub at: f64,
    /// Which step.
    pub step: StopStep,
    /// What exactly: the command and how it ended, the signal and the group.
    pub detail: String,
}

/// One restart of a component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartReport {
    /// When it went down.
    pub at: f64,
    /// Why it went down ("exited unexpectedly: exit status 1"), or that it
    /// was stopped for a dependency's restart.
    pub reason: String,
    /// The backoff before it was started again; `null` when it was waiting
    /// for a dependency to be ready instead.
    pub delay_ms: Option<f64>,
}

/// Milliseconds with microsecond precision: the unit of every time in the report and the status.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl ShutdownReport {
    /// The exit code this run maps to; the `Ord` of [`ExitCode`] is the precedence.
    pub fn exit(&self) -> ExitCode {
        let report = self;
        let mut code = if report.forced_at.is_some() {
            ExitCode::Forced
        } else {
            ExitCode::Clean
        };
        for c in &report.components {
            let this = match (c.outcome, c.killed_by) {
                (_, Some(KillReason::SecondSignal)) => ExitCode::Forced,
                (Outcome::Failed, _) => ExitCode::ComponentFailed,
                (Outcome::TimedOutKilled | Outcome::Forced, _) => ExitCode::TimedOut,
                _ => ExitCode::Clean,
            };
            code = code.max(this);
        }
        if matches!(
            report.trigger,
            Some(Trigger::ComponentFailed(_) | Trigger::StartupTimeout(_))
        ) {
            code = code.max(ExitCode::ComponentFailed);
        }
        code
    }

    /// The process exit code of this run: [`ShutdownReport::exit`]'s,
    /// except that a run ended by its `exit_with` component exits with that
    /// component's exit status (128 + the signal's number when a signal
    /// ended it, as shells say it). That status outranks a failure or a
    /// timeout in the shutdown it caused: CI asks how its tests went, and
    /// the report still records every kill. Only a second signal (4), an
    /// operator overriding the run, outranks it.
    pub fn process_exit_code(&self) -> i32 {
        let class = self.exit();
        let Some(Trigger::ExitWith(name)) = &self.trigger else {
            return class.code();
        };
        if class == ExitCode::Forced {
            return class.code();
        }
        let Some(c) = self.component(name) else {
            return class.code();
        };
        let by_signal = || {
            let sig: nix::sys::signal::Signal = c.signal.as_deref()?.parse().ok()?;
            Some(128 + sig as i32)
        };
        c.exit_status.or_else(by_signal).unwrap_or(class.code())
    }

    /// The process exit code with its meaning, as the final status tells
    /// it: an `exit_with` component's own code is said to be its.
    pub fn run_exit(&self) -> crate::exit::RunExit {
        // As `process_exit_code` decides whose code it is.
        let own = match &self.trigger {
            Some(Trigger::ExitWith(name)) if self.exit() != ExitCode::Forced => self
                .component(name)
                .filter(|c| c.exit_status.is_some() || c.signal.is_some())
                .map(|c| match (c.exit_status, &c.signal) {
                    (None, Some(sig)) => format!("`{name}` was killed by {sig} (exit_with)"),
                    _ => format!("`{name}`'s exit status (exit_with)"),
                }),
            _ => None,
        };
        let meaning = own.unwrap_or_else(|| {
            ExitCode::from_code(self.exit_code)
                .map_or("unknown", ExitCode::meaning)
                .to_string()
        });
        crate::exit::RunExit {
            code: self.exit_code,
            meaning,
        }
    }

    /// Milliseconds from the start of the shutdown to the last component down.
    pub fn shutdown_ms(&self) -> Option<f64> {
        self.shutdown_started_at.map(|s| self.ended_at - s)
    }

    /// One component's entry.
    pub fn component(&self, name: &str) -> Option<&ComponentReport> {
        // Reports list components sorted by name; a hand-edited one may not.
        match self
            .components
            .binary_search_by(|c| c.name.as_str().cmp(name))
        {
            Ok(i) => Some(&self.components[i]),
            Err(_) => self.components.iter().find(|c| c.name == name),
        }
    }

    /// Names of the components that were stopped or killed, in the order they went down.
    pub fn stop_order(&self) -> Vec<&str> {
        let mut down: Vec<&ComponentReport> = self
            .components
            .iter()
            .filter(|c| c.stopped_at.is_some() && c.outcome != Outcome::NeverStarted)
            .collect();
        down.sort_by(|a, b| {
            a.stopped_at
                .partial_cmp(&b.stopped_at)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        down.into_iter().map(|c| c.name.as_str()).collect()
    }
}
