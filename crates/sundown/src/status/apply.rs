//! How the status changes: its start, what each engine event does to it,
//! and the two changes that are not events (a component's own words about
//! what it is doing, and the end). The engine applies every event as it
//! happens, so applying one stays O(1); what can be derived is left to the
//! readers.

use tokio::time::Instant;

use super::{Completed, ComponentState, ComponentStatus, ShutdownStatus, State, Status};
use crate::component::Exit;
use crate::config::Config;
use crate::event::{Event, EventKind, Outcome};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::report::ms;

impl Status {
    pub(crate) fn new(config: &Config, graph: &Graph, plan: &Plan, started: Instant) -> Status {
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
                    started_ms: None,
                    completed: None,
                    last_exit: None,
                    log_file: config
                        .index_of(graph.name(i))
                        .and_then(|j| config.components[j].log.file.as_ref())
                        .map(|f| f.path.clone()),
                    tracked: None,
                    own_processes: config.index_of(graph.name(i)).is_some_and(|j| {
                        config.components[j]
                            .kind
                            .get::<crate::process::ProcessSpec>()
                            .is_some()
                    }),
                })
                .collect(),
            phase_ms: vec![(None, None); plan.phases.len()],
            all_ready_at: None,
            shutdown: None,
            exit_with: config.exit_with().map(str::to_string),
            exit: None,
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
            EventKind::StartRequested(i) => {
                set(*i, ComponentState::Starting);
                let c = &mut self.components[*i];
                c.started_ms = Some(at);
                // The new run says again where its processes are.
                c.tracked = None;
            }
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
                    forced: None,
                });
            }
            EventKind::PhaseStarted(p) => {
                // A phase that begins after everything was killed asks
                // nothing of anyone: the status stays on the one forced.
                if let Some(s) = &mut self.shutdown
                    && s.forced.is_none()
                {
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
            EventKind::Forced(reason) => {
                if let Some(s) = &mut self.shutdown {
                    s.forced.get_or_insert(*reason);
                }
            }
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
            EventKind::Restarting(i, why, _) | EventKind::Parked(i, why) => {
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
                c.last_exit = Some(why.clone());
                c.pid = None;
                c.kill_at_ms = None;
                c.detail = None;
            }
            EventKind::RestartsForgotten(i, n) => {
                let c = &mut self.components[*i];
                c.restarts = c.restarts.saturating_add(*n);
            }
            EventKind::Ended(i, outcome, exit) => {
                set(
                    *i,
                    match outcome {
                        Outcome::Stopped | Outcome::TimedOutKilled | Outcome::Forced => {
                            ComponentState::Stopped
                        }
                        Outcome::ExitedEarly => ComponentState::Exited,
                        Outcome::Completed => ComponentState::Completed,
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
                if let Some(exit) = exit {
                    c.last_exit = Some(exit.to_string());
                }
                if let (Outcome::Completed, Some(Exit::Code(code))) = (outcome, exit) {
                    c.completed = Some(Completed {
                        exit_code: *code,
                        duration_ms: c.started_ms.map_or(0.0, |s| at - s),
                    });
                }
            }
        }
    }

    pub(crate) fn set_tracked(&mut self, i: usize, tracked: crate::component::Tracked) {
        self.components[i].tracked = Some(tracked);
    }

    /// Takes over what `before` (the status of the graph a reload
    /// replaced) knew of the components that are not events: what each
    /// says it is doing and where its processes are. `kept` says which,
    /// by name, ran on through the reload (their runs are the same).
    pub(crate) fn carry_over(&mut self, before: &Status, kept: impl Fn(&str) -> bool) {
        for c in &mut self.components {
            let Some(b) = before.components.iter().find(|b| b.name == c.name) else {
                continue;
            };
            c.detail.clone_from(&b.detail);
            if kept(&c.name) {
                c.tracked.clone_from(&b.tracked);
            }
        }
    }

    pub(crate) fn set_detail(&mut self, i: usize, detail: Option<String>) {
        self.components[i].detail = detail;
    }

    /// The run has ended, and its process exits with `exit`.
    pub(crate) fn finish(&mut self, exit: crate::exit::RunExit) {
        self.state = State::Done;
        self.exit = Some(exit);
    }
}
