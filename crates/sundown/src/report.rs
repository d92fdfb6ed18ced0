//! The teardown report: who started and stopped when, in which phase, how it
//! ended, and the exit code. Folded from the engine's event log, written as
//! JSON (schema 1), and read back by `sundown verify` and by tests.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::component::Exit;
use crate::component::StopStep;
use crate::config::{Config, Strategy};
use crate::event::{Event, EventKind, KillReason, Outcome, Trigger};
use crate::exit::ExitCode;
use crate::graph::Graph;
use crate::plan::Plan;

/// The report format version; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

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
    /// See [`Outcome::Failed`].
    pub failed: usize,
    /// See [`Outcome::NeverStarted`].
    pub never_started: usize,
}

impl Totals {
    fn of(
        components: &[ComponentReport],
        shutdown_started_at: Option<f64>,
        ended_at: f64,
    ) -> Totals {
        let mut t = Totals {
            shutdown_ms: shutdown_started_at.map(|s| ((ended_at - s) * 1000.0).round() / 1000.0),
            components: components.len(),
            ..Totals::default()
        };
        for c in components {
            *match c.outcome {
                Outcome::Stopped => &mut t.stopped,
                Outcome::TimedOutKilled => &mut t.timed_out_killed,
                Outcome::Forced => &mut t.forced,
                Outcome::ExitedEarly => &mut t.exited_early,
                Outcome::Failed => &mut t.failed,
                Outcome::NeverStarted => &mut t.never_started,
            } += 1;
        }
        t
    }
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
    /// Every time it went down and was started again, in order. The other
    /// fields describe its last run.
    #[serde(default)]
    pub restarts: Vec<RestartReport>,
    /// The steps of its last stop, for process components: stop command,
    /// signal, kill, in the order taken.
    #[serde(default)]
    pub stop_steps: Vec<StopStepReport>,
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

    /// Folds an event log into a report.
    pub fn from_events(
        config: &Config,
        graph: &Graph,
        plan: &Plan,
        wall: SystemTime,
        events: &[Event],
    ) -> ShutdownReport {
        let mut components: Vec<ComponentReport> = config
            .components
            .iter()
            .enumerate()
            .map(|(i, c)| ComponentReport {
                name: c.name.clone(),
                kind: c.kind.name().to_string(),
                depends_on: c.depends_on.clone(),
                phase: plan.phase_of[i],
                pid: None,
                start_requested: None,
                ready_at: None,
                stop_requested: None,
                killed_at: None,
                killed_by: None,
                stopped_at: None,
                stop_ms: None,
                outcome: Outcome::NeverStarted,
                exit_status: None,
                signal: None,
                error: None,
                restarts: Vec::new(),
                stop_steps: Vec::new(),
            })
            .collect();
        let mut phases: Vec<PhaseReport> = plan
            .phases
            .iter()
            .map(|p| PhaseReport {
                index: p.index,
                members: p
                    .members
                    .iter()
                    .map(|&m| graph.name(m).to_string())
                    .collect(),
                timeout_ms: ms(p.timeout),
                started_at: None,
                ended_at: None,
                timed_out: false,
            })
            .collect();
        let (mut trigger, mut all_ready_at, mut shutdown_started_at, mut forced_at, mut ended_at) =
            (None, None, None, None, 0.0);
        for e in events {
            let at = ms(e.at);
            ended_at = at;
            match &e.kind {
                EventKind::StartRequested(i) => {
                    // The per-run fields describe the last run.
                    let c = &mut components[*i];
                    c.start_requested = Some(at);
                    c.ready_at = None;
                    c.stop_requested = None;
                    c.killed_at = None;
                    c.killed_by = None;
                    c.stopped_at = None;
                    c.stop_ms = None;
                    c.exit_status = None;
                    c.signal = None;
                    c.error = None;
                    c.stop_steps.clear();
                }
                EventKind::StopStep(i, step, detail) => {
                    components[*i].stop_steps.push(StopStepReport {
                        at,
                        step: *step,
                        detail: detail.clone(),
                    })
                }
                EventKind::Restarting(i, _, _) | EventKind::Parked(i, _) => {
                    let c = &mut components[*i];
                    c.stopped_at = Some(at);
                    c.stop_ms = c
                        .stop_requested
                        .or(c.killed_at)
                        .map(|from| ((at - from) * 1000.0).round() / 1000.0);
                    if let EventKind::Restarting(_, reason, delay) = &e.kind {
                        c.restarts.push(RestartReport {
                            at,
                            reason: reason.clone(),
                            delay_ms: delay.map(ms),
                        });
                    }
                }
                EventKind::Pid(i, pid) => components[*i].pid = Some(*pid),
                EventKind::Ready(i) => components[*i].ready_at = Some(at),
                EventKind::AllReady => all_ready_at = Some(at),
                EventKind::ShutdownStarted(t) => {
                    trigger = Some(t.clone());
                    shutdown_started_at = Some(at);
                }
                EventKind::Forced => forced_at = Some(at),
                EventKind::PhaseStarted(p) => phases[*p].started_at = Some(at),
                EventKind::PhaseEnded(p) => phases[*p].ended_at = Some(at),
                EventKind::StopRequested(i, _) => components[*i].stop_requested = Some(at),
                EventKind::KillSent(i, why) => {
                    components[*i].killed_at = Some(at);
                    components[*i].killed_by = Some(*why);
                }
                EventKind::Ended(i, outcome, exit) => {
                    let c = &mut components[*i];
                    c.outcome = *outcome;
                    // Down already, waiting to restart, when the shutdown came:
                    // it went down when it did, not now.
                    let was_down = exit.is_none() && c.stopped_at.is_some();
                    if *outcome != Outcome::NeverStarted && !was_down {
                        c.stopped_at = Some(at);
                        c.stop_ms = c
                            .stop_requested
                            .or(c.killed_at)
                            .map(|from| ((at - from) * 1000.0).round() / 1000.0);
                    }
                    match exit {
                        Some(Exit::Code(code)) => c.exit_status = Some(*code),
                        Some(Exit::Signal(s)) => c.signal = Some(s.clone()),
                        Some(Exit::Error(e)) => c.error = Some(e.clone()),
                        None => {}
                    }
                }
            }
        }
        for p in &mut phases {
            // Components are sorted by name, as the config lists them.
            let members = || {
                p.members.iter().filter_map(|m| {
                    components
                        .binary_search_by(|c| c.name.as_str().cmp(m))
                        .ok()
                        .map(|i| &components[i])
                })
            };
            // A kill before the shutdown (a `sundown stop` that timed out)
            // is not this phase's.
            p.timed_out = members().any(|c| {
                c.killed_by.is_some_and(|k| k != KillReason::SecondSignal)
                    && c.killed_at >= shutdown_started_at
            });
            if config.supervisor.strategy == Strategy::Eager {
                // No phase barrier ran: the phase spans its members' stops,
                // and never begins before the shutdown did.
                let start = members()
                    .filter_map(|c| c.stop_requested.or(c.killed_at))
                    .reduce(f64::min)
                    .or(shutdown_started_at);
                let end = members().filter_map(|c| c.stopped_at).reduce(f64::max);
                p.started_at = start;
                p.ended_at = match (start, end) {
                    (Some(s), e) => Some(e.unwrap_or(s).max(s)),
                    (None, e) => e,
                };
            }
        }
        let mut report = ShutdownReport {
            schema: SCHEMA,
            sundown_version: env!("CARGO_PKG_VERSION").to_string(),
            started_wall: humantime::format_rfc3339_millis(wall).to_string(),
            trigger,
            strategy: config.supervisor.strategy,
            exit_code: 0,
            shutdown_timeout_ms: ms(plan.shutdown_timeout),
            all_ready_at,
            shutdown_started_at,
            forced_at,
            ended_at,
            totals: Totals::of(&components, shutdown_started_at, ended_at),
            phases,
            components,
        };
        report.exit_code = report.exit().code();
        report
    }

    /// Parses a report written by `sundown run --report`; a report of
    /// another schema version is refused rather than misread.
    pub fn from_json(json: &str) -> Result<ShutdownReport, serde_json::Error> {
        let report: ShutdownReport = serde_json::from_str(json)?;
        if report.schema != SCHEMA {
            return Err(<serde_json::Error as serde::de::Error>::custom(format!(
                "report schema {} is not supported (this sundown reads schema {SCHEMA})",
                report.schema
            )));
        }
        Ok(report)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialization cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
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

    /// Checks that `first` was fully down before `then` was asked to stop
    /// (or, when `then` was never asked, before `then` went down).
    /// A component that never ran passes trivially.
    pub fn check_stopped_before(&self, first: &str, then: &str) -> Result<(), Violation> {
        let a = self
            .component(first)
            .ok_or_else(|| Violation::unknown(first))?;
        let b = self
            .component(then)
            .ok_or_else(|| Violation::unknown(then))?;
        let Some(b_from) = b.stop_requested.or(b.killed_at).or(b.stopped_at) else {
            return Ok(());
        };
        match a.stopped_at {
            _ if a.outcome == Outcome::NeverStarted => Ok(()),
            Some(a_down) if a_down <= b_from => Ok(()),
            a_down => Err(Violation {
                message: format!(
                    "`{first}` should have stopped before `{then}` was asked to stop, but `{then}` was asked at {b_from:.1} ms and `{first}` was {}",
                    match a_down {
                        Some(t) => format!("down only at {t:.1} ms"),
                        None => "never down".to_string(),
                    }
                ),
            }),
        }
    }

    /// Every violated edge of the recorded graph: for each `A depends_on B`,
    /// A must have been down before B was asked to stop. Edges whose
    /// dependency ended by itself, unasked, are not the supervisor's doing and
    /// are skipped.
    pub fn graph_violations(&self) -> Vec<Violation> {
        self.edge_violations(self.components.iter().flat_map(|c| {
            c.depends_on
                .iter()
                .map(move |d| (c.name.as_str(), d.as_str()))
        }))
    }

    /// Like [`ShutdownReport::graph_violations`], over the given (dependent, dependency) pairs.
    pub fn edge_violations<'a>(
        &self,
        edges: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<Violation> {
        edges
            .into_iter()
            .filter(|(_, dep)| {
                self.component(dep)
                    .is_none_or(|d| d.stop_requested.is_some() || d.killed_at.is_some())
            })
            .filter_map(|(a, b)| self.check_stopped_before(a, b).err())
            .collect()
    }

    /// Panics, naming the components and times, unless `first` was down before `then` was asked to stop.
    #[track_caller]
    pub fn assert_stopped_before(&self, first: &str, then: &str) {
        if let Err(v) = self.check_stopped_before(first, then) {
            panic!("teardown order violated: {v}");
        }
    }

    /// Panics, listing every violated edge, unless the teardown respected the dependency graph.
    #[track_caller]
    pub fn assert_respects_graph(&self) {
        let v = self.graph_violations();
        if !v.is_empty() {
            let list: Vec<String> = v.iter().map(|v| format!("  - {v}")).collect();
            panic!(
                "teardown order violated {} time(s):\n{}",
                v.len(),
                list.join("\n")
            );
        }
    }
}

/// A broken ordering promise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What went wrong, with names and times.
    pub message: String,
}

impl Violation {
    fn unknown(name: &str) -> Violation {
        Violation {
            message: format!("no component `{name}` in the report"),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
