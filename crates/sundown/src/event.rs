//! The engine's timestamped event log: the single source of truth that the
//! teardown report (and anything else a user sees afterwards) is folded from.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::component::{Exit, StopStep};

/// Why a shutdown began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// A signal, by name (`"SIGTERM"`).
    Signal(String),
    /// This component exited unexpectedly or failed to start.
    ComponentFailed(String),
    /// `startup_timeout` passed; these components were not ready.
    StartupTimeout(Vec<String>),
    /// The embedding program asked ([`crate::Handle::shutdown`]).
    Requested,
    /// Every component ended by itself.
    AllExited,
    /// This component (`exit_with = true`) ended by itself: the run exits
    /// with its exit code.
    ExitWith(String),
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trigger::Signal(s) => write!(f, "{s}"),
            Trigger::ComponentFailed(c) => write!(f, "component `{c}` failed"),
            Trigger::StartupTimeout(c) => write!(
                f,
                "startup_timeout passed before {} became ready",
                c.join(", ")
            ),
            Trigger::Requested => f.write_str("shutdown requested"),
            Trigger::AllExited => f.write_str("every component exited"),
            Trigger::ExitWith(c) => write!(f, "`{c}` ended (exit_with)"),
        }
    }
}

/// Which deadline ended a component by force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    /// Its own `stop_timeout`.
    StopTimeout,
    /// Its phase's timeout.
    PhaseTimeout,
    /// The global `shutdown_timeout`.
    ShutdownTimeout,
    /// A second signal forced everything.
    SecondSignal,
}

impl KillReason {
    /// The name the report uses (`"stop_timeout"`).
    pub fn as_str(self) -> &'static str {
        match self {
            KillReason::StopTimeout => "stop_timeout",
            KillReason::PhaseTimeout => "phase_timeout",
            KillReason::ShutdownTimeout => "shutdown_timeout",
            KillReason::SecondSignal => "second_signal",
        }
    }

    /// The deadline in a few words, for sentences: `"its stop_timeout"`,
    /// `"the second signal"`.
    pub fn phrase(self) -> &'static str {
        match self {
            KillReason::StopTimeout => "its stop_timeout",
            KillReason::PhaseTimeout => "its phase's timeout",
            KillReason::ShutdownTimeout => "shutdown_timeout",
            KillReason::SecondSignal => "the second signal",
        }
    }

    /// What every surface (status line, table, `top`) says once this
    /// forced the shutdown: `forced: killing everything (the second signal)`.
    pub fn forced_text(self) -> String {
        format!("forced: killing everything ({})", self.phrase())
    }
}

/// How a component's run ended, as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Asked to stop, and stopped within its deadlines.
    Stopped,
    /// Asked to stop, did not make it in time, killed.
    TimedOutKilled,
    /// Killed without a graceful chance: second signal, or the global budget ran out before its turn.
    Forced,
    /// Ended by itself, successfully, before being asked to stop.
    ExitedEarly,
    /// A one-shot (`oneshot = true`) that ended by itself with exit status
    /// 0: it did its job. Its dependents waiting for it may start.
    Completed,
    /// Failed to start, or ended unexpectedly with an error.
    Failed,
    /// Never started (a shutdown came first, or a dependency failed).
    NeverStarted,
}

impl Outcome {
    /// The name the report uses (`"timed_out_killed"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stopped => "stopped",
            Outcome::TimedOutKilled => "timed_out_killed",
            Outcome::Forced => "forced",
            Outcome::ExitedEarly => "exited_early",
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::NeverStarted => "never_started",
        }
    }
}

/// One thing that happened, `at` after the supervisor started.
#[derive(Debug, Clone)]
pub struct Event {
    /// Time since the engine started (monotonic).
    pub at: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// The kinds of [`Event`]. `usize` fields are component indices.
#[derive(Debug, Clone)]
pub enum EventKind {
    /// The engine launched the component.
    StartRequested(usize),
    /// The component reported its main process id.
    Pid(usize, u32),
    /// The component is ready.
    Ready(usize),
    /// Every component is ready.
    AllReady,
    /// The shutdown began.
    ShutdownStarted(Trigger),
    /// A stop phase began.
    PhaseStarted(usize),
    /// Every member of a phase is down.
    PhaseEnded(usize),
    /// The component was asked to stop gracefully; it will be killed at the
    /// given time (since the engine started) if it is not down by then.
    StopRequested(usize, Duration),
    /// The shutdown was forced: everything still running is killed, for
    /// this reason: a second signal (or [`crate::Handle::force`]), or the
    /// budget (`shutdown_timeout`) ran out. Recorded even when everything
    /// was killed already and nothing is left to kill.
    Forced(KillReason),
    /// The component was told to die.
    KillSent(usize, KillReason),
    /// The component is down and will be started again: it ended by itself
    /// and its restart policy allows another run (the delay is its
    /// backoff), or it was stopped so that a dependency could restart with
    /// `restart_dependents` (no delay: it starts once its dependencies are
    /// ready again). The reason says which.
    Restarting(usize, String, Option<Duration>),
    /// The component is down by request (`sundown stop`) and stays down
    /// until asked to start again; the reason says who asked.
    Parked(usize, String),
    /// A component took a step of its own stop sequence, with what it did.
    StopStep(usize, StopStep, String),
    /// The component is down for good.
    Ended(usize, Outcome, Option<Exit>),
    /// Stands for this many of the component's earliest restarts, whose
    /// events were dropped so that a component restarting forever does not
    /// grow the log without bound (see [`crate::report::RESTART_HISTORY`]).
    RestartsForgotten(usize, u32),
}

impl EventKind {
    /// The same event with its component renumbered by `f` (a reload
    /// renumbers them); `None` when `f` has no place for the component.
    /// Phase numbers are left alone: phases exist only once the graph is final.
    pub(crate) fn renumber(&self, f: impl Fn(usize) -> Option<usize>) -> Option<EventKind> {
        use EventKind::*;
        Some(match self {
            StartRequested(i) => StartRequested(f(*i)?),
            Pid(i, pid) => Pid(f(*i)?, *pid),
            Ready(i) => Ready(f(*i)?),
            StopRequested(i, at) => StopRequested(f(*i)?, *at),
            KillSent(i, why) => KillSent(f(*i)?, *why),
            Restarting(i, why, delay) => Restarting(f(*i)?, why.clone(), *delay),
            Parked(i, why) => Parked(f(*i)?, why.clone()),
            StopStep(i, step, detail) => StopStep(f(*i)?, *step, detail.clone()),
            Ended(i, outcome, exit) => Ended(f(*i)?, *outcome, exit.clone()),
            RestartsForgotten(i, n) => RestartsForgotten(f(*i)?, *n),
            AllReady | Forced(_) | ShutdownStarted(_) | PhaseStarted(_) | PhaseEnded(_) => {
                self.clone()
            }
        })
    }
}

impl EventKind {
    /// The component the event is about, if any.
    pub(crate) fn component(&self) -> Option<usize> {
        use EventKind::*;
        match self {
            StartRequested(i)
            | Pid(i, _)
            | Ready(i)
            | StopRequested(i, _)
            | KillSent(i, _)
            | Restarting(i, _, _)
            | Parked(i, _)
            | StopStep(i, _, _)
            | Ended(i, _, _)
            | RestartsForgotten(i, _) => Some(*i),
            AllReady | Forced(_) | ShutdownStarted(_) | PhaseStarted(_) | PhaseEnded(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `as_str` and the JSON must never drift apart.
    #[test]
    fn names_match_the_report_json() {
        use KillReason::*;
        use Outcome::*;
        for r in [StopTimeout, PhaseTimeout, ShutdownTimeout, SecondSignal] {
            assert_eq!(
                serde_json::to_value(r).ok(),
                Some(serde_json::json!(r.as_str()))
            );
        }
        for s in [
            StopStep::StopCommand,
            StopStep::StopCommandEnded,
            StopStep::Signal,
            StopStep::Kill,
            StopStep::Descendants,
        ] {
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
        for o in [
            Stopped,
            TimedOutKilled,
            Forced,
            ExitedEarly,
            Failed,
            NeverStarted,
        ] {
            assert_eq!(
                serde_json::to_value(o).ok(),
                Some(serde_json::json!(o.as_str()))
            );
        }
    }
}
