//! The moments a row marks besides its bars: where a run went down to
//! restart (and why), where it was stopped on request, the steps of its
//! last stop (stop command, signal, kill), the deadlines of that stop (its
//! own stop timeout, its phase's cap, the global budget), and the moment it
//! failed; and every time the report names, for the axis to keep legible.

use crate::component::StopStep;
use crate::config::Strategy;
use crate::event::Outcome;
use crate::report::{ComponentReport, RunEnd, ShutdownReport};

/// Which deadline a [`Deadline`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DeadlineKind {
    /// The component's own `stop_timeout`, from its stop request.
    StopTimeout,
    /// Its phase's timeout, from the phase's start.
    PhaseCap,
    /// The global `shutdown_timeout`, from the shutdown's start.
    Budget,
}

impl DeadlineKind {
    /// In legend order.
    pub(super) const ALL: [DeadlineKind; 3] = [
        DeadlineKind::StopTimeout,
        DeadlineKind::PhaseCap,
        DeadlineKind::Budget,
    ];

    /// The legend's words for it.
    pub(super) fn words(self) -> &'static str {
        match self {
            DeadlineKind::StopTimeout => "stop timeout",
            DeadlineKind::PhaseCap => "phase cap",
            DeadlineKind::Budget => "global budget",
        }
    }
}

/// One deadline of a component's last stop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Deadline {
    pub(super) at: f64,
    pub(super) kind: DeadlineKind,
}

/// A restart or a stop on request: where a run went down, and why.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct RunMark {
    pub(super) at: f64,
    pub(super) end: RunEnd,
    /// Why it went down (and, for a restart, its backoff).
    pub(super) why: String,
}

/// Everything a row marks besides its bars.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Moments {
    /// Restarts (from `restarts[]`, all the report holds) and stops on
    /// request (from `earlier_runs`), in time order.
    pub(super) run_ends: Vec<RunMark>,
    /// The steps of its last stop.
    pub(super) steps: Vec<(f64, StopStep, String)>,
    /// The deadlines of its last stop.
    pub(super) deadlines: Vec<Deadline>,
    /// When it failed, if it did.
    pub(super) failed: Option<f64>,
}

impl Moments {
    pub(super) fn of(r: &ShutdownReport, c: &ComponentReport) -> Moments {
        let mut run_ends: Vec<RunMark> = c
            .restarts
            .iter()
            .map(|x| RunMark {
                at: x.at,
                end: RunEnd::Restart,
                why: match x.delay_ms {
                    Some(d) => format!("{}; started again after {}", x.reason, super::ms(d)),
                    None => format!("{}; started again once its dependencies were", x.reason),
                },
            })
            .chain(
                c.earlier_runs
                    .iter()
                    .filter(|run| run.ended == RunEnd::StopRequest)
                    .map(|run| RunMark {
                        at: run.down_at,
                        end: RunEnd::StopRequest,
                        why: format!("stopped on request ({})", run.reason),
                    }),
            )
            .collect();
        run_ends.sort_by(|a, b| a.at.total_cmp(&b.at));
        Moments {
            run_ends,
            steps: c
                .stop_steps
                .iter()
                .map(|s| (s.at, s.step, s.detail.clone()))
                .collect(),
            deadlines: deadlines(r, c),
            failed: (c.outcome == Outcome::Failed)
                .then_some(c.stopped_at)
                .flatten(),
        }
    }
}

/// The deadlines of `c`'s last stop: its own stop timeout from its stop
/// request; and, when that stop was the shutdown's, its phase's cap (phased
/// strategies) and the global budget.
fn deadlines(r: &ShutdownReport, c: &ComponentReport) -> Vec<Deadline> {
    let mut out = Vec::new();
    let Some(stop) = c.stop_requested.or(c.killed_at) else {
        return out;
    };
    if let (Some(asked), Some(t)) = (c.stop_requested, c.stop_timeout_ms) {
        out.push(Deadline {
            at: asked + t,
            kind: DeadlineKind::StopTimeout,
        });
    }
    let Some(shutdown) = r.shutdown_started_at.filter(|&s| stop >= s) else {
        return out;
    };
    if r.strategy != Strategy::Eager
        && let Some(p) = r.phases.get(c.phase)
        && let Some(began) = p.started_at
    {
        out.push(Deadline {
            at: began + p.timeout_ms,
            kind: DeadlineKind::PhaseCap,
        });
    }
    out.push(Deadline {
        at: shutdown + r.shutdown_timeout_ms,
        kind: DeadlineKind::Budget,
    });
    out.retain(|d| d.at.is_finite());
    out
}

/// Every time the report names (not the deadlines, which may lie past its
/// end): what the axis must show.
pub(super) fn moments(r: &ShutdownReport) -> Vec<f64> {
    let mut out: Vec<f64> = [r.all_ready_at, r.shutdown_started_at, r.forced_at]
        .into_iter()
        .flatten()
        .collect();
    for p in &r.phases {
        out.extend([p.started_at, p.ended_at].into_iter().flatten());
    }
    for c in &r.components {
        out.extend(
            [
                c.start_requested,
                c.ready_at,
                c.stop_requested,
                c.killed_at,
                c.stopped_at,
            ]
            .into_iter()
            .flatten(),
        );
        out.extend(c.restarts.iter().map(|x| x.at));
        out.extend(c.stop_steps.iter().map(|s| s.at));
        for run in &c.earlier_runs {
            out.extend(
                [run.ready_at, run.stop_requested, run.killed_at]
                    .into_iter()
                    .flatten()
                    .chain([run.started_at, run.down_at]),
            );
        }
    }
    out
}
