//! Folding the engine's event log into a [`ShutdownReport`]: the one place
//! that decides what each event means for the report, so the engine only
//! records what happened.

use std::time::SystemTime;

use super::json::SCHEMA;
use super::{
    ComponentReport, PhaseReport, RESTART_HISTORY, RestartReport, RunEnd, RunReport,
    ShutdownReport, StopStepReport, Totals, ms,
};
use crate::component::Exit;
use crate::config::{Condition, Config, Strategy};
use crate::event::{Event, EventKind, KillReason, Outcome};
use crate::graph::Graph;
use crate::plan::Plan;

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
                Outcome::Completed => &mut t.completed,
                Outcome::Failed => &mut t.failed,
                Outcome::NeverStarted => &mut t.never_started,
            } += 1;
        }
        t
    }
}

impl ShutdownReport {
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
                reason: None,
                restart_count: 0,
                restarts: Vec::new(),
                stop_steps: Vec::new(),
                stop_timeout_ms: plan.stop_timeouts.get(i).map(|&t| ms(t)),
                earlier_runs: Vec::new(),
            })
            .collect();
        // A run that went down to be started again, until it is: a
        // component waiting to restart when the shutdown came is described
        // by its last run's fields, not as an earlier run.
        let mut ended_runs: Vec<Option<RunReport>> = vec![None; components.len()];
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
                    if let Some(run) = ended_runs[*i].take() {
                        c.earlier_runs.push(run);
                    }
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
                EventKind::Restarting(i, reason, delay) => {
                    let c = &mut components[*i];
                    ended_runs[*i] = went_down(c, at, RunEnd::Restart, reason);
                    c.restart_count = c.restart_count.saturating_add(1);
                    c.restarts.push(RestartReport {
                        at,
                        reason: reason.clone(),
                        delay_ms: delay.map(ms),
                    });
                }
                EventKind::Parked(i, reason) => {
                    ended_runs[*i] =
                        went_down(&mut components[*i], at, RunEnd::StopRequest, reason);
                }
                EventKind::RestartsForgotten(i, n) => {
                    let c = &mut components[*i];
                    c.restart_count = c.restart_count.saturating_add(*n);
                }
                EventKind::Pid(i, pid) => components[*i].pid = Some(*pid),
                EventKind::Ready(i) => components[*i].ready_at = Some(at),
                EventKind::AllReady => all_ready_at = Some(at),
                EventKind::ShutdownStarted(t) => {
                    trigger = Some(t.clone());
                    shutdown_started_at = Some(at);
                }
                // `forced_at` is the second signal's; the budget's end shows in
                // each component's `killed_by`.
                EventKind::Forced(KillReason::SecondSignal) => forced_at = Some(at),
                EventKind::Forced(_) => {}
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
        for i in 0..components.len() {
            if components[i].outcome == Outcome::NeverStarted {
                components[i].reason = never_started(config, i, &components, trigger.as_ref());
            }
        }
        for c in &mut components {
            let over = c.restarts.len().saturating_sub(RESTART_HISTORY);
            c.restarts.drain(..over);
            let over = c.earlier_runs.len().saturating_sub(RESTART_HISTORY);
            c.earlier_runs.drain(..over);
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
        report.exit_code = report.process_exit_code();
        report
    }
}

/// Records that `c`'s run went down at `at` to be started again later,
/// and returns that run, for `earlier_runs` once the next one starts.
fn went_down(c: &mut ComponentReport, at: f64, ended: RunEnd, reason: &str) -> Option<RunReport> {
    c.stopped_at = Some(at);
    c.stop_ms = c
        .stop_requested
        .or(c.killed_at)
        .map(|from| ((at - from) * 1000.0).round() / 1000.0);
    c.start_requested.map(|started_at| RunReport {
        started_at,
        ready_at: c.ready_at,
        stop_requested: c.stop_requested,
        killed_at: c.killed_at,
        down_at: at,
        ended,
        reason: reason.to_string(),
    })
}

/// Why component `i` never started: the first dependency it waited for that
/// failed or never started itself, else the shutdown that came first.
fn never_started(
    config: &Config,
    i: usize,
    components: &[ComponentReport],
    trigger: Option<&crate::event::Trigger>,
) -> Option<String> {
    let wanted = |d: &str| match config.condition(i, d) {
        Condition::Started => "to start",
        Condition::Ready => "to be ready",
        Condition::Completed => "to complete",
    };
    let dep = |d: &String| {
        let c = &components[config.index_of(d)?];
        let what = match c.outcome {
            Outcome::Failed => {
                let how = match (c.exit_status, &c.signal, &c.error) {
                    (Some(code), _, _) => format!(" (exit status {code})"),
                    (_, Some(s), _) => format!(" (killed by {s})"),
                    (_, _, Some(e)) => format!(" ({e})"),
                    _ => String::new(),
                };
                format!("failed{how}")
            }
            Outcome::NeverStarted => "never started".to_string(),
            _ => return None,
        };
        Some(format!("waited for `{d}` {}, which {what}", wanted(d)))
    };
    let deps = &config.components[i].depends_on;
    deps.iter()
        .find_map(dep)
        .or_else(|| trigger.map(|t| format!("the shutdown came first ({t})")))
}
