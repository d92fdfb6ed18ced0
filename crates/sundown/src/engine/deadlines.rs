//! Deadlines: every timeout is an instant the loop sleeps until, never a
//! poll. Each component has at most one (its kill, or the end of its
//! restart delay); the startup and shutdown timeouts are the graph's.

use tokio::time::Instant;

use super::Engine;
use crate::event::{KillReason, Trigger};

/// What the engine does when a component's deadline comes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Due {
    /// Kill it (or, when already killed, give up on it).
    Kill(KillReason),
    /// Its restart delay is over.
    Restart,
}

impl Engine {
    pub(super) fn set_deadline(&mut self, i: usize, deadline: (Instant, Due)) {
        self.clear_deadline(i);
        self.slots[i].deadline = Some(deadline);
        self.deadlines.insert((deadline.0, i));
    }

    pub(super) fn clear_deadline(&mut self, i: usize) {
        if let Some((at, _)) = self.slots[i].deadline.take() {
            self.deadlines.remove(&(at, i));
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        let mut next = self.deadlines.first().map(|(at, _)| *at);
        let mut consider = |d: Option<Instant>| {
            if let Some(d) = d {
                next = Some(next.map_or(d, |n| n.min(d)));
            }
        };
        if self.trigger.is_none() {
            consider(self.startup_deadline);
        } else if !self.global_fired {
            consider(self.global_deadline);
        }
        next
    }

    pub(super) fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.trigger.is_none() && self.startup_deadline.is_some_and(|d| d <= now) {
            let waiting: Vec<String> = (0..self.slots.len())
                .filter(|&i| !self.slots[i].ready)
                .map(|i| self.name(i).to_string())
                .collect();
            tracing::error!("startup_timeout passed; not ready: {}", waiting.join(", "));
            self.shutdown(Trigger::StartupTimeout(waiting));
        }
        if !self.global_fired && self.global_deadline.is_some_and(|d| d <= now) {
            self.global_fired = true;
            for i in 0..self.slots.len() {
                self.kill(i, KillReason::ShutdownTimeout);
            }
        }
        while let Some(&(at, i)) = self.deadlines.first() {
            if at > now {
                break;
            }
            let Some((_, due)) = self.slots[i].deadline else {
                self.deadlines.remove(&(at, i));
                continue;
            };
            match due {
                Due::Restart => {
                    self.clear_deadline(i);
                    self.restart_when_free(i);
                }
                Due::Kill(reason) if self.slots[i].killed.is_none() => self.kill(i, reason),
                Due::Kill(_) => self.abandon(i),
            }
        }
        self.advance_stop();
    }
}
