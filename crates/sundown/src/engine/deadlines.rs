//! Deadlines: every timeout is an instant the loop sleeps until, never a
//! poll. Each component has at most one (its kill, or the end of its
//! restart delay); the startup and shutdown timeouts are the graph's.

use std::collections::BTreeSet;

use tokio::time::Instant;

use super::Engine;
use super::slot::Run;
use crate::event::{KillReason, Trigger};

/// What the engine does when a component's deadline comes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Due {
    /// Kill it (or, when already killed, give up on it).
    Kill(KillReason),
    /// Its restart delay is over.
    Restart,
}

/// The components' deadlines, each kept both by component (to replace or
/// drop it) and by time (for the next one), the two always in step.
pub(super) struct Deadlines {
    /// Per component: when the engine acts on it next, and what it does then.
    of: Vec<Option<(Instant, Due)>>,
    by_time: BTreeSet<(Instant, usize)>,
    /// `startup_timeout` from the start, until every component has been ready.
    pub(super) startup: Option<Instant>,
}

impl Deadlines {
    pub(super) fn new(n: usize) -> Deadlines {
        Deadlines {
            of: vec![None; n],
            by_time: BTreeSet::new(),
            startup: None,
        }
    }

    /// Replaces `i`'s deadline.
    pub(super) fn set(&mut self, i: usize, deadline: (Instant, Due)) {
        self.clear(i);
        self.of[i] = Some(deadline);
        self.by_time.insert((deadline.0, i));
    }

    pub(super) fn clear(&mut self, i: usize) {
        if let Some((at, _)) = self.of[i].take() {
            self.by_time.remove(&(at, i));
        }
    }

    pub(super) fn is_set(&self, i: usize) -> bool {
        self.of[i].is_some()
    }

    fn first(&self) -> Option<Instant> {
        self.by_time.first().map(|&(at, _)| at)
    }

    /// Takes off the earliest component deadline that has come by `now`.
    fn take_due(&mut self, now: Instant) -> Option<(usize, Due)> {
        while let Some(&(at, i)) = self.by_time.first()
            && at <= now
        {
            self.by_time.remove(&(at, i));
            if let Some((_, due)) = self.of[i].take() {
                return Some((i, due));
            }
        }
        None
    }

    /// Renumbers the components' deadlines for a new graph: component `j`
    /// keeps the deadline of the old component `from[j]`, if any.
    pub(super) fn renumber(&mut self, from: &[Option<usize>]) {
        self.of = from
            .iter()
            .map(|old| old.and_then(|i| self.of[i]))
            .collect();
        self.by_time = self
            .of
            .iter()
            .enumerate()
            .filter_map(|(j, d)| d.map(|(at, _)| (at, j)))
            .collect();
    }
}

impl Engine {
    /// The next instant the engine must act without being told.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let graph = match &self.shutdown {
            None => self.deadlines.startup,
            Some(s) if !s.deadline_passed => Some(s.deadline),
            Some(_) => None,
        };
        [self.deadlines.first(), graph].into_iter().flatten().min()
    }

    pub(super) fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.shutdown.is_none() && self.deadlines.startup.is_some_and(|d| d <= now) {
            let waiting: Vec<String> = (0..self.slots.len())
                .filter(|&i| !self.slots[i].life.is_ready())
                .map(|i| self.name(i).to_string())
                .collect();
            tracing::error!("startup_timeout passed; not ready: {}", waiting.join(", "));
            self.begin_shutdown(Trigger::StartupTimeout(waiting));
        }
        if let Some(s) = &mut self.shutdown
            && !s.deadline_passed
            && s.deadline <= now
        {
            s.deadline_passed = true;
            self.kill_everything(KillReason::ShutdownTimeout);
        }
        // Each is taken off before it is acted on; a kill sets the next one.
        while let Some((i, due)) = self.deadlines.take_due(now) {
            match due {
                Due::Restart => self.restart_when_free(i),
                Due::Kill(_) if self.slots[i].life.run().is_some_and(Run::killed) => {
                    self.abandon(i)
                }
                Due::Kill(reason) => self.kill(i, reason),
            }
        }
        self.advance_stop();
    }
}
