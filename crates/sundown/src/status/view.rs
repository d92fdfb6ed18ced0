//! The status as shown outside the engine, at one moment: the JSON view
//! clients read, and the one line the terminal shows while a shutdown
//! waits. Both are given `now_ms`, so the countdowns in them are computed
//! here and every reader shows the same ones.

use serde::{Deserialize, Serialize};

use super::{ComponentState, State, Status};
use crate::event::{KillReason, Trigger};

impl Status {
    /// One line saying what the shutdown waits on and how long until the
    /// next forced kill and the end of the budget, e.g.
    /// `phase 2/3: waiting on workers (3 jobs in flight; killed in 41.0s); budget: 50.2s left`.
    /// Once everything is being killed, it says so instead, without phase
    /// or countdowns: `forced: killing everything (the second signal); waiting on http to end`.
    /// `None` when no shutdown is under way. `now_ms` is on the supervisor's clock.
    pub fn waiting_line(&self, now_ms: f64) -> Option<String> {
        let s = self.shutdown.as_ref()?;
        if let Some(reason) = s.forced {
            let names: Vec<&str> = self.waiting_on().map(|c| c.name.as_str()).collect();
            let left = if names.is_empty() {
                String::new()
            } else {
                format!("; waiting on {} to end", names.join(", "))
            };
            return Some(format!("{}{left}", reason.forced_text()));
        }
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
/// `GET /status` show it (schema 2, `docs/status.schema.json`): a snapshot
/// rendered at one moment, so countdowns are already computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// [`SCHEMA`]; bumped when a field changes meaning or goes away.
    pub schema: u32,
    /// When this view was made, ms since the supervisor started.
    pub now_ms: f64,
    /// Overall state.
    pub state: State,
    /// One row per component, sorted by name.
    pub components: Vec<ComponentView>,
    /// `null` until a shutdown begins.
    pub shutdown: Option<ShutdownView>,
    /// The component whose end ends the run, which then exits with its
    /// exit code (`exit_with`); `null` when there is none.
    #[serde(default)]
    pub exit_with: Option<String>,
    /// `null` until the run has ended; then (in the final status, `state`
    /// `done`) the code the supervisor's process exits with and what it
    /// means: `{"code": 3, "meaning": "stopped by force"}`.
    #[serde(default)]
    pub exit: Option<crate::exit::RunExit>,
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
    /// A one-shot's last completed run: exit code and duration.
    #[serde(default)]
    pub completed: Option<super::Completed>,
    /// Where its lines are kept (`log_file`); `null` when nowhere.
    #[serde(default)]
    pub log_file: Option<std::path::PathBuf>,
    /// What it uses of the machine, measured when the view was made; `null`
    /// while nothing of it runs, while a process kind is being started and
    /// has not yet said where its processes are, and when it could not be
    /// measured in time.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// How its last run ended (`"exit status 1"`, `"killed by SIGKILL"`), or
    /// why it was taken down (a restart, a change); `null` until it has ended once.
    #[serde(default)]
    pub last_exit: Option<String>,
}

/// The status view's format version: 2 added `usage` (and `last_exit`, `shutdown.forced`, `exit`).
pub const SCHEMA: u32 = 2;

/// CPU and memory of one component, in a [`ComponentView`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum Usage {
    /// Measured over the component's cgroup.
    Cgroup {
        /// CPU time used by every process that was ever in the cgroup, in seconds.
        cpu_seconds: f64,
        /// Resident memory of the cgroup now, in bytes.
        memory_bytes: u64,
    },
    /// Measured over the component's tracked process tree.
    Processes {
        /// CPU time of the live processes of the tree (and the children they
        /// reaped), in seconds; never less than an earlier sample of the same run.
        cpu_seconds: f64,
        /// Resident memory summed over the live processes of the tree, in bytes.
        memory_bytes: u64,
        /// How many processes were counted.
        count: u32,
    },
    /// An in-process kind: it shares the supervisor's own process, so it has no usage of its own.
    Supervisor,
}

impl Usage {
    /// `(cpu_seconds, memory_bytes)` when measured (cgroup or processes);
    /// `None` for an in-process kind, which has no usage of its own.
    pub fn measured(&self) -> Option<(f64, u64)> {
        match *self {
            Usage::Cgroup {
                cpu_seconds,
                memory_bytes,
            }
            | Usage::Processes {
                cpu_seconds,
                memory_bytes,
                ..
            } => Some((cpu_seconds, memory_bytes)),
            Usage::Supervisor => None,
        }
    }
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
    /// Once everything still running is being killed, why:
    /// `"second_signal"` or `"shutdown_timeout"` (the budget ran out);
    /// `null` before. When set, `time_left_ms` is `null`: no deadline is
    /// left to count down to.
    #[serde(default)]
    pub forced: Option<KillReason>,
}

impl Status {
    /// The status as shown to clients, at `now_ms` on the supervisor's clock.
    /// A process kind's `usage` is left `null` here: measuring it reads
    /// `/proc`, which the control socket's `GET /status` does off the
    /// engine when asked; an in-process kind's is [`Usage::Supervisor`].
    pub fn view(&self, now_ms: f64) -> StatusView {
        let left = |at: f64| (at - now_ms).max(0.0);
        StatusView {
            schema: SCHEMA,
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
                    completed: c.completed,
                    log_file: c.log_file.clone(),
                    last_exit: c.last_exit.clone(),
                    // Measured by whoever makes the view (see `with_usage`),
                    // except what needs no measuring.
                    usage: (c.state.is_running() && c.tracked().is_none())
                        .then_some(Usage::Supervisor),
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
                    .reduce(f64::min)
                    .filter(|_| s.forced.is_none()),
                budget_left_ms: left(s.deadline_ms),
                forced: s.forced,
            }),
            exit_with: self.exit_with.clone(),
            exit: self.exit.clone(),
        }
    }
}

impl StatusView {
    /// The view with each component's usage as measured, in component order.
    pub(crate) fn with_usage(mut self, usage: Vec<Option<Usage>>) -> StatusView {
        for (c, u) in self.components.iter_mut().zip(usage) {
            c.usage = u;
        }
        self
    }
}
