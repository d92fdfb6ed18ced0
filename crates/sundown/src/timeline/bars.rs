//! What a row draws for one component: the bars of each of its runs
//! (starting, running, stopping), and the kind of each segment, as the
//! legends name them.

use crate::report::{ComponentReport, RunReport};

/// What a row draws for one component, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bars {
    pub(super) starting: (f64, f64),
    pub(super) running: Option<(f64, f64)>,
    pub(super) stopping: Option<(f64, f64)>,
    pub(super) kill: Option<f64>,
}

/// A kind of bar segment, as the legends list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Segment {
    Starting,
    Running,
    Stopping,
    /// The stop of a [`flagged`](super::flagged) component: killed at a
    /// deadline, forced or failed.
    Killed,
}

impl Segment {
    /// In legend order.
    pub(super) const ALL: [Segment; 4] = [
        Segment::Starting,
        Segment::Running,
        Segment::Stopping,
        Segment::Killed,
    ];

    /// What the component was doing: a killed stop is still a stop.
    pub(super) fn doing(self) -> &'static str {
        match self {
            Segment::Starting => "starting",
            Segment::Running => "running",
            Segment::Stopping | Segment::Killed => "stopping",
        }
    }

    /// The legend's words for it.
    pub(super) fn legend(self) -> &'static str {
        match self {
            Segment::Killed => "stopping, then killed",
            other => other.doing(),
        }
    }
}

impl Bars {
    /// The bars of a run launched at `start`, ready at `ready`, asked to
    /// stop (or killed first) at `stop_from`, down at `down`.
    fn new(
        start: f64,
        ready: Option<f64>,
        stop_from: Option<f64>,
        down: f64,
        kill: Option<f64>,
    ) -> Bars {
        let down = down.max(start);
        let stop_from = stop_from.map(|s| s.max(start));
        let starting_end = [ready, stop_from]
            .into_iter()
            .flatten()
            .fold(down, f64::min);
        Bars {
            starting: (start, starting_end.max(start)),
            running: ready
                .map(|r| (r, stop_from.unwrap_or(down).max(r)))
                .filter(|(a, b)| b > a),
            stopping: stop_from.map(|s| (s, down.max(s))),
            kill,
        }
    }

    /// The bars of `c`'s last run (the one its fields describe); `None`
    /// for a component that never started.
    pub(super) fn of(c: &ComponentReport, end: f64) -> Option<Bars> {
        let start = c.start_requested?;
        Some(Bars::new(
            start,
            c.ready_at,
            c.stop_requested.or(c.killed_at),
            c.stopped_at.unwrap_or(end),
            c.killed_at,
        ))
    }

    /// The bars of an earlier run.
    fn of_run(run: &RunReport) -> Bars {
        Bars::new(
            run.started_at,
            run.ready_at,
            run.stop_requested.or(run.killed_at),
            run.down_at,
            run.killed_at,
        )
    }

    /// The bars of every run of `c` the report holds, oldest first: each
    /// its own, with the gaps between them (a restart's backoff, a stop on
    /// request) left empty.
    pub(super) fn runs(c: &ComponentReport, end: f64) -> Vec<Bars> {
        c.earlier_runs
            .iter()
            .map(Bars::of_run)
            .chain(Bars::of(c, end))
            .collect()
    }

    /// The segments in drawing order, the stop as [`Segment::Killed`] when
    /// `flagged`. Where two meet, the later one covers the earlier (a shared
    /// cell, a rounded pixel): the long running goes first so the short
    /// starting and stopping stay visible.
    pub(super) fn segments(&self, flagged: bool) -> impl Iterator<Item = (Segment, (f64, f64))> {
        let stop = if flagged {
            Segment::Killed
        } else {
            Segment::Stopping
        };
        [
            self.running.map(|s| (Segment::Running, s)),
            Some((Segment::Starting, self.starting)),
            self.stopping.map(|s| (stop, s)),
        ]
        .into_iter()
        .flatten()
    }
}
