//! The live state of a running supervisor: built once, in the engine, as a
//! fold over the same events the report is made of, and published on a
//! `watch` channel. The TTY status line (and later `sundown status` and
//! metrics) only read it; none of them reaches into the engine.
//!
//! This file holds the state's shape and the questions asked of it live;
//! how events change it is in `apply`, and how it is shown to clients and
//! on the terminal, at one moment, in `view`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::component::Tracked;
use crate::event::{KillReason, Trigger};
use crate::report::ms;

mod apply;
mod view;

pub use self::view::{ComponentView, SCHEMA, ShutdownView, StatusView, Usage};

/// The supervisor's overall state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Components are starting.
    Starting,
    /// Every component is ready.
    Running,
    /// The ordered shutdown is under way.
    Stopping,
    /// Everything is down; the report is ready.
    Done,
}

/// One component's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    /// Waiting for its dependencies.
    Pending,
    /// Launched, not ready yet.
    Starting,
    /// Ready.
    Ready,
    /// Asked to stop, not down yet.
    Stopping,
    /// Killed, not down yet.
    Killing,
    /// Down after a stop or a kill.
    Stopped,
    /// Down, to be started again (its restart delay, or a dependency's restart).
    Restarting,
    /// Finished by itself, successfully.
    Exited,
    /// A one-shot that did its job (exit status 0).
    Completed,
    /// Failed.
    Failed,
    /// Never started.
    NeverStarted,
}

impl ComponentState {
    /// Every state, in the order a component usually passes through them.
    pub const ALL: [ComponentState; 11] = [
        ComponentState::Pending,
        ComponentState::Starting,
        ComponentState::Ready,
        ComponentState::Stopping,
        ComponentState::Killing,
        ComponentState::Stopped,
        ComponentState::Restarting,
        ComponentState::Exited,
        ComponentState::Completed,
        ComponentState::Failed,
        ComponentState::NeverStarted,
    ];

    /// Whether something of it may be running: started and not yet down.
    pub fn is_running(self) -> bool {
        matches!(
            self,
            ComponentState::Starting
                | ComponentState::Ready
                | ComponentState::Stopping
                | ComponentState::Killing
        )
    }

    /// Whether it counts as up for `status --ready` and `wait --ready`:
    /// ready, or finished its work by itself (a migration is done, not unready).
    pub fn is_up(self) -> bool {
        matches!(
            self,
            ComponentState::Ready | ComponentState::Exited | ComponentState::Completed
        )
    }

    /// Its name in JSON, metrics labels and tables (`"never_started"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentState::Pending => "pending",
            ComponentState::Starting => "starting",
            ComponentState::Ready => "ready",
            ComponentState::Stopping => "stopping",
            ComponentState::Killing => "killing",
            ComponentState::Stopped => "stopped",
            ComponentState::Restarting => "restarting",
            ComponentState::Exited => "exited",
            ComponentState::Completed => "completed",
            ComponentState::Failed => "failed",
            ComponentState::NeverStarted => "never_started",
        }
    }
}

/// One row of the status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentStatus {
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ComponentState,
    /// Its main process id, for process kinds.
    pub pid: Option<u32>,
    /// When it entered `state`, ms since the supervisor started.
    pub since_ms: f64,
    /// When it will be killed if still stopping, ms since the supervisor started.
    pub kill_at_ms: Option<f64>,
    /// What the component says it is doing ("3 jobs in flight").
    pub detail: Option<String>,
    /// How many times it was restarted.
    pub restarts: u32,
    /// How long its last stop took, from the request to its end, in ms.
    pub last_stop_ms: Option<f64>,
    /// When it was last asked to stop (or killed without being asked).
    #[serde(skip)]
    stop_asked_ms: Option<f64>,
    /// When its current or last run was started.
    #[serde(skip)]
    started_ms: Option<f64>,
    /// A one-shot's last completed run: its exit code and how long it took.
    pub completed: Option<Completed>,
    /// Where its lines are kept (`log_file`).
    pub log_file: Option<std::path::PathBuf>,
    /// How its last run ended (`exit status 1`, `killed by SIGKILL`), or
    /// why it was taken down (a restart, a change); `None` while it never ended.
    pub last_exit: Option<String>,
    /// Where its current run's processes are, when it said so (process kinds).
    #[serde(skip)]
    tracked: Option<Tracked>,
    /// Whether its kind runs processes of its own (`process`), which it
    /// says where to find once each run has begun; the others run inside
    /// the supervisor's process.
    #[serde(skip)]
    own_processes: bool,
}

impl ComponentStatus {
    /// Where its current run's processes are, to be measured; `None` for
    /// an in-process kind, and for a process kind until its run says so.
    pub(crate) fn tracked(&self) -> Option<&Tracked> {
        self.tracked.as_ref()
    }

    /// Whether it runs in the supervisor's process: a kind without
    /// processes of its own. A process kind whose run has not yet said
    /// where its processes are is not in-process, only not located yet.
    pub(crate) fn in_process(&self) -> bool {
        !self.own_processes
    }
}

/// How a one-shot's last run completed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Completed {
    /// Its exit code (0).
    pub exit_code: i32,
    /// From its start to its end, in ms.
    pub duration_ms: f64,
}

/// What a shutdown under way is doing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShutdownStatus {
    /// Why it began.
    pub trigger: Trigger,
    /// The current phase (phased strategy).
    pub phase: Option<usize>,
    /// How many phases there are.
    pub phases: usize,
    /// When the global budget runs out, ms since the supervisor started.
    pub deadline_ms: f64,
    /// Set once everything still running is being killed: by a second
    /// signal, or because the budget (`shutdown_timeout`) ran out. From
    /// then on no phase takes its turn and no countdown applies.
    pub forced: Option<KillReason>,
}

/// A snapshot of the whole supervisor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Overall state.
    pub state: State,
    /// One row per component, sorted by name.
    pub components: Vec<ComponentStatus>,
    /// When every component was ready, if that happened.
    pub all_ready_at: Option<f64>,
    /// Present once a shutdown began.
    pub shutdown: Option<ShutdownStatus>,
    /// Each stop phase's start and end, ms since the supervisor started.
    pub phase_ms: Vec<(Option<f64>, Option<f64>)>,
    /// The component whose end ends the run (`exit_with`).
    pub exit_with: Option<String>,
    /// Once the run has ended: the code its process exits with, and why.
    pub exit: Option<crate::exit::RunExit>,
    #[serde(skip)]
    shutdown_timeout: Duration,
    #[serde(skip)]
    started: Instant,
}

impl Status {
    /// Now, in ms since the supervisor started: the clock of every `*_ms` here and of the report.
    pub fn now_ms(&self) -> f64 {
        ms(self.started.elapsed())
    }

    /// The components a shutdown is waiting on: asked to stop (or killed) and
    /// not down yet, by name. Derived on demand, so every event stays O(1).
    pub fn waiting_on(&self) -> impl Iterator<Item = &ComponentStatus> {
        self.components
            .iter()
            .filter(|c| matches!(c.state, ComponentState::Stopping | ComponentState::Killing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_are_the_json_names() {
        for s in ComponentState::ALL {
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
    }
}
