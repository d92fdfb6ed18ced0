//! What a row draws for one component: its bars (starting, running,
//! stopping) and the kind of each segment, as the legends name them.

use crate::report::ComponentReport;

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
    /// `None` for a component that never started.
    pub(super) fn of(c: &ComponentReport, end: f64) -> Option<Bars> {
        let start = c.start_requested?;
        let down = c.stopped_at.unwrap_or(end).max(start);
        let stop_from = c.stop_requested.or(c.killed_at).map(|s| s.max(start));
        let starting_end = [c.ready_at, stop_from]
            .into_iter()
            .flatten()
            .fold(down, f64::min);
        Some(Bars {
            starting: (start, starting_end.max(start)),
            running: c
                .ready_at
                .map(|r| (r, stop_from.unwrap_or(down).max(r)))
                .filter(|(a, b)| b > a),
            stopping: stop_from.map(|s| (s, down.max(s))),
            kill: c.killed_at,
        })
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
