//! The live state of a running supervisor: built once, in the engine, as a
//! fold over the same events the report is made of, and published on a
//! `watch` channel. The TTY status line (and later `sundown status` and
//! metrics) only read it; none of them reaches into the engine.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::event::{Event, EventKind, Outcome, Trigger};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::report::ms;

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
    /// Failed.
    Failed,
    /// Never started.
    NeverStarted,
}

impl ComponentState {
    /// Every state, in the order a component usually passes through them.
    pub const ALL: [ComponentState; 10] = [
        ComponentState::Pending,
        ComponentState::Starting,
        ComponentState::Ready,
        ComponentState::Stopping,
        ComponentState::Killing,
        ComponentState::Stopped,
        ComponentState::Restarting,
        ComponentState::Exited,
        ComponentState::Failed,
        ComponentState::NeverStarted,
    ];

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
    #[serde(skip)]
    shutdown_timeout: Duration,
    #[serde(skip)]
    started: Instant,
}

impl Status {
    pub(crate) fn new(graph: &Graph, plan: &Plan, started: Instant) -> Status {
        Status {
            state: State::Starting,
            components: (0..graph.len())
                .map(|i| ComponentStatus {
                    name: graph.name(i).to_string(),
                    state: ComponentState::Pending,
                    pid: None,
                    since_ms: 0.0,
                    kill_at_ms: None,
                    detail: None,
                    restarts: 0,
                    last_stop_ms: None,
                    stop_asked_ms: None,
                })
                .collect(),
            phase_ms: vec![(None, None); plan.phases.len()],
            all_ready_at: None,
            shutdown: None,
            shutdown_timeout: plan.shutdown_timeout,
            started,
        }
    }

    /// Applies one engine event; `phases` is the plan's phase count.
    pub(crate) fn apply(&mut self, e: &Event, phases: usize) {
        let at = ms(e.at);
        let mut set = |i: usize, state| {
            let c = &mut self.components[i];
            c.state = state;
            c.since_ms = at;
        };
        match &e.kind {
            EventKind::StartRequested(i) => set(*i, ComponentState::Starting),
            EventKind::Ready(i) => set(*i, ComponentState::Ready),
            EventKind::Pid(i, pid) => self.components[*i].pid = Some(*pid),
            EventKind::AllReady => {
                self.state = State::Running;
                self.all_ready_at = Some(at);
            }
            EventKind::ShutdownStarted(trigger) => {
                self.state = State::Stopping;
                self.shutdown = Some(ShutdownStatus {
                    trigger: trigger.clone(),
                    phase: None,
                    phases,
                    deadline_ms: at + ms(self.shutdown_timeout),
                });
            }
            EventKind::PhaseStarted(p) => {
                if let Some(s) = &mut self.shutdown {
                    s.phase = Some(*p);
                }
                if let Some(ph) = self.phase_ms.get_mut(*p) {
                    ph.0 = Some(at);
                }
            }
            EventKind::PhaseEnded(p) => {
                if let Some(ph) = self.phase_ms.get_mut(*p) {
                    ph.1 = Some(at);
                }
            }
            EventKind::Forced => {}
            // A stop that runs a command shows which step holds it up.
            EventKind::StopStep(i, step, detail) => {
                self.components[*i].detail =
                    Some(format!("{}: {detail}", step.as_str().replace('_', " ")));
            }
            EventKind::StopRequested(i, kill_at) => {
                set(*i, ComponentState::Stopping);
                self.components[*i].kill_at_ms = Some(ms(*kill_at));
                self.components[*i].stop_asked_ms = Some(at);
            }
            EventKind::KillSent(i, _) => {
                set(*i, ComponentState::Killing);
                let c = &mut self.components[*i];
                c.kill_at_ms = None;
                c.stop_asked_ms.get_or_insert(at);
            }
            EventKind::Restarting(i, _, _) | EventKind::Parked(i, _) => {
                let again = matches!(e.kind, EventKind::Restarting(..));
                set(
                    *i,
                    if again {
                        ComponentState::Restarting
                    } else {
                        ComponentState::Stopped
                    },
                );
                let c = &mut self.components[*i];
                // A dependent stopped for its dependency's restart ends here,
                // without an `Ended`.
                if let Some(asked) = c.stop_asked_ms.take() {
                    c.last_stop_ms = Some(at - asked);
                }
                c.restarts += u32::from(again);
                c.pid = None;
                c.kill_at_ms = None;
                c.detail = None;
            }
            EventKind::Ended(i, outcome, _) => {
                set(
                    *i,
                    match outcome {
                        Outcome::Stopped | Outcome::TimedOutKilled | Outcome::Forced => {
                            ComponentState::Stopped
                        }
                        Outcome::ExitedEarly => ComponentState::Exited,
                        Outcome::Failed => ComponentState::Failed,
                        Outcome::NeverStarted => ComponentState::NeverStarted,
                    },
                );
                let c = &mut self.components[*i];
                c.kill_at_ms = None;
                c.detail = None;
                if let Some(asked) = c.stop_asked_ms.take() {
                    c.last_stop_ms = Some(at - asked);
                }
            }
        }
    }

    /// Now, in ms since the supervisor started: the clock of every `*_ms` here and of the report.
    pub fn now_ms(&self) -> f64 {
        ms(self.started.elapsed())
    }

    pub(crate) fn set_detail(&mut self, i: usize, detail: Option<String>) {
        self.components[i].detail = detail;
    }

    pub(crate) fn finish(&mut self) {
        self.state = State::Done;
    }

    /// The components a shutdown is waiting on: asked to stop (or killed) and
    /// not down yet, by name. Derived on demand, so every event stays O(1).
    pub fn waiting_on(&self) -> impl Iterator<Item = &ComponentStatus> {
        self.components
            .iter()
            .filter(|c| matches!(c.state, ComponentState::Stopping | ComponentState::Killing))
    }

    /// One line saying what the shutdown waits on and how long until the
    /// next forced kill and the end of the budget, e.g.
    /// `phase 2/3: waiting on workers (3 jobs in flight; killed in 41.0s); budget: 50.2s left`.
    /// `None` when no shutdown is under way. `now_ms` is on the supervisor's clock.
    pub fn waiting_line(&self, now_ms: f64) -> Option<String> {
        let s = self.shutdown.as_ref()?;
        let left = |at: f64| format!("{:.1}s", ((at - now_ms) / 1000.0).max(0.0));
        let waiting: Vec<String> = self
            .waiting_on()
            .map(|c| {
                let mut notes: Vec<String> = c.detail.iter().cloned().collect();
                match (c.state, c.kill_at_ms) {
                    (ComponentState::Killing, _) => {
                        notes.push("killed, waiting for it to end".into())
                    }
                    (_, Some(at)) => notes.push(format!("killed in {}", left(at))),
                    _ => {}
                }
                if notes.is_empty() {
                    c.name.clone()
                } else {
                    format!("{} ({})", c.name, notes.join("; "))
                }
            })
            .collect();
        let phase = match s.phase {
            Some(p) => format!("phase {}/{}: ", p + 1, s.phases),
            None => String::new(),
        };
        let what = if waiting.is_empty() {
            "stopping".to_string()
        } else {
            format!("waiting on {}", waiting.join(", "))
        };
        Some(format!(
            "{phase}{what}; budget: {} left",
            left(s.deadline_ms)
        ))
    }
}

/// The status as `sundown status --json` and the control socket's
/// `GET /status` show it (schema 1): a snapshot rendered at one moment, so
/// countdowns are already computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// `1`; bumped when a field changes meaning or goes away.
    pub schema: u32,
    /// When this view was made, ms since the supervisor started.
    pub now_ms: f64,
    /// Overall state.
    pub state: State,
    /// One row per component, sorted by name.
    pub components: Vec<ComponentView>,
    /// `null` until a shutdown begins.
    pub shutdown: Option<ShutdownView>,
}

/// One component in a [`StatusView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentView {
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ComponentState,
    /// Its main process id (process kinds, while running).
    pub pid: Option<u32>,
    /// When it entered `state`, ms since the supervisor started (the report's clock).
    pub since_ms: f64,
    /// How many times it was restarted.
    pub restarts: u32,
    /// While stopping: ms until it is killed.
    pub kill_in_ms: Option<f64>,
    /// What it says it is doing, or which stop step holds it up.
    pub detail: Option<String>,
}

/// A shutdown under way, in a [`StatusView`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShutdownView {
    /// Why it began.
    pub trigger: Trigger,
    /// The current phase, counting from 1 (phased strategy).
    pub phase: Option<usize>,
    /// How many phases there are.
    pub phases: usize,
    /// The components the shutdown is waiting for right now.
    pub waiting_on: Vec<String>,
    /// ms until the earliest forced kill among `waiting_on`.
    pub time_left_ms: Option<f64>,
    /// ms until the global budget runs out and everything is killed.
    pub budget_left_ms: f64,
}

impl Status {
    /// The status as shown to clients, at `now_ms` on the supervisor's clock.
    pub fn view(&self, now_ms: f64) -> StatusView {
        let left = |at: f64| (at - now_ms).max(0.0);
        StatusView {
            schema: 1,
            now_ms,
            state: self.state,
            components: self
                .components
                .iter()
                .map(|c| ComponentView {
                    name: c.name.clone(),
                    state: c.state,
                    pid: c.pid,
                    since_ms: c.since_ms,
                    restarts: c.restarts,
                    kill_in_ms: c.kill_at_ms.map(left),
                    detail: c.detail.clone(),
                })
                .collect(),
            shutdown: self.shutdown.as_ref().map(|s| ShutdownView {
                trigger: s.trigger.clone(),
                phase: s.phase.map(|p| p + 1),
                phases: s.phases,
                waiting_on: self.waiting_on().map(|c| c.name.clone()).collect(),
                time_left_ms: self
                    .waiting_on()
                    .filter_map(|c| c.kill_at_ms)
                    .map(left)
                    .reduce(f64::min),
                budget_left_ms: left(s.deadline_ms),
            }),
        }
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
