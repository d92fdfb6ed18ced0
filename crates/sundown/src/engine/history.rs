//! The engine's event log, bounded: a component that restarts forever (a
//! crash loop with a 1 ms backoff made 4000 restarts in 16 s) must not grow
//! the supervisor or its report without end. Of each component's earlier
//! runs only the last [`RESTART_HISTORY`] restarts are kept; the events of
//! older runs become one count ([`EventKind::RestartsForgotten`]), so the
//! status and the report still say how many there were.

use crate::event::{Event, EventKind};
use crate::report::RESTART_HISTORY;

/// Everything that happened, minus the runs that no longer matter.
pub(super) struct History {
    events: Vec<Event>,
    /// How many `Restarting` events of each component the log holds.
    restarts: Vec<usize>,
}

impl History {
    /// An empty log for `n` components.
    pub(super) fn new(n: usize) -> History {
        History {
            events: Vec::new(),
            restarts: vec![0; n],
        }
    }

    pub(super) fn events(&self) -> &[Event] {
        &self.events
    }

    pub(super) fn push(&mut self, event: Event) {
        let restarted = match event.kind {
            EventKind::Restarting(i, ..) => Some(i),
            _ => None,
        };
        self.events.push(event);
        if let Some(i) = restarted
            && let Some(count) = self.restarts.get_mut(i)
        {
            *count += 1;
            // Twice the history, so that forgetting (a pass over the log)
            // happens once per RESTART_HISTORY restarts, not on each.
            if *count >= 2 * RESTART_HISTORY {
                self.forget(i);
            }
        }
    }

    /// The log with its components renumbered by `f` (a reload), for `n`
    /// components; events of components `f` drops are dropped.
    pub(super) fn renumber(&mut self, f: impl Fn(usize) -> Option<usize>, n: usize) {
        let events = std::mem::take(&mut self.events);
        self.restarts = vec![0; n];
        for e in events {
            if let Some(kind) = e.kind.renumber(&f) {
                self.push(Event { at: e.at, kind });
            }
        }
    }

    /// Drops the events of component `i` that come before its last
    /// [`RESTART_HISTORY`] restarts, counting the restarts among them.
    /// `Ended` stays: it is the one event that is not about a single run.
    fn forget(&mut self, i: usize) {
        let mut seen = self.restarts[i];
        let mut forgotten = 0u32;
        let mut marker = None;
        let mut kept = Vec::with_capacity(self.events.len());
        for e in std::mem::take(&mut self.events) {
            let old = seen > RESTART_HISTORY;
            if matches!(e.kind, EventKind::Restarting(j, ..) if j == i) {
                seen -= 1;
            }
            let drop =
                old && e.kind.component() == Some(i) && !matches!(e.kind, EventKind::Ended(..));
            if !drop {
                kept.push(e);
                continue;
            }
            match e.kind {
                EventKind::Restarting(..) => forgotten += 1,
                EventKind::RestartsForgotten(_, n) => forgotten += n,
                _ => {}
            }
            if marker.is_none() {
                marker = Some(kept.len());
                kept.push(Event {
                    at: e.at,
                    kind: EventKind::RestartsForgotten(i, 0),
                });
            }
        }
        if let Some(m) = marker {
            kept[m].kind = EventKind::RestartsForgotten(i, forgotten);
        }
        self.events = kept;
        self.restarts[i] = RESTART_HISTORY;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(ms: u64, kind: EventKind) -> Event {
        Event {
            at: Duration::from_millis(ms),
            kind,
        }
    }

    fn restart(ms: u64, i: usize) -> Event {
        at(ms, EventKind::Restarting(i, format!("run {ms}"), None))
    }

    /// One crash-loop run of component `i` at time `t`: started, pid, down.
    fn run(h: &mut History, t: u64, i: usize) {
        h.push(at(t, EventKind::StartRequested(i)));
        h.push(at(t, EventKind::Pid(i, 42)));
        h.push(restart(t, i));
    }

    fn count(h: &History, i: usize) -> (usize, u32) {
        let mut listed = 0;
        let mut forgotten = 0;
        for e in h.events() {
            match e.kind {
                EventKind::Restarting(j, ..) if j == i => listed += 1,
                EventKind::RestartsForgotten(j, n) if j == i => forgotten += n,
                _ => {}
            }
        }
        (listed, forgotten)
    }

    #[test]
    fn a_crash_loop_keeps_a_bounded_log_and_counts_every_restart() {
        let mut h = History::new(2);
        h.push(at(0, EventKind::StartRequested(1)));
        h.push(at(0, EventKind::Ready(1)));
        for t in 0..10_000 {
            run(&mut h, t, 0);
        }
        let (listed, forgotten) = count(&h, 0);
        assert!(listed < 2 * RESTART_HISTORY, "{listed} restarts kept");
        assert!(listed >= RESTART_HISTORY);
        assert_eq!(listed as u32 + forgotten, 10_000);
        // One marker, not one per pass.
        let markers = h
            .events()
            .iter()
            .filter(|e| matches!(e.kind, EventKind::RestartsForgotten(..)))
            .count();
        assert_eq!(markers, 1);
        assert!(h.events().len() < 3 * 2 * RESTART_HISTORY + 3);
        // The quiet component's events are untouched, and the kept ones
        // are the latest, in order.
        assert!(matches!(h.events()[0].kind, EventKind::StartRequested(1)));
        assert!(matches!(h.events()[1].kind, EventKind::Ready(1)));
        let times: Vec<Duration> = h.events().iter().map(|e| e.at).collect();
        assert!(times.is_sorted(), "the log stays in time order");
        assert_eq!(
            h.events().last().map(|e| e.at),
            Some(Duration::from_millis(9999))
        );
    }

    #[test]
    fn renumbering_keeps_the_counts() {
        let mut h = History::new(2);
        for t in 0..(3 * RESTART_HISTORY as u64) {
            run(&mut h, t, 1);
        }
        let before = count(&h, 1);
        // A reload that removed component 0: 1 becomes 0.
        h.renumber(|i| i.checked_sub(1), 1);
        let (listed, forgotten) = count(&h, 0);
        assert_eq!(listed as u32 + forgotten, before.0 as u32 + before.1);
        assert_eq!(listed as u32 + forgotten, 3 * RESTART_HISTORY as u32);
    }
}
