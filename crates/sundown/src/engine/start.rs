//! Starting: a component's task is spawned once its dependencies are
//! ready, and its being ready releases its dependents.

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Engine, Life};
use crate::component::{Exit, Lifecycle, Msg, Report};
use crate::event::{EventKind, Outcome, Trigger};
use crate::status::State;

/// Reports a component's end to the engine exactly once, even when its
/// future panics (unwinding drops the guard) or is aborted, so a broken
/// component is a failure the engine sees rather than a task that vanished.
struct ExitGuard {
    run: u64,
    tx: mpsc::UnboundedSender<Msg>,
    sent: bool,
}

impl ExitGuard {
    fn send(&mut self, exit: Exit) {
        self.sent = true;
        let _ = self.tx.send(Msg::Exit(self.run, exit));
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        if !self.sent {
            self.send(Exit::Error(
                "the component panicked (see the log above)".into(),
            ));
        }
    }
}

impl Engine {
    pub(super) fn start(&mut self, i: usize) {
        if !matches!(self.slots[i].life, Life::Pending | Life::Backoff) {
            return;
        }
        let Some(component) = (self.slots[i].make)() else {
            let name = self.name(i).to_string();
            let exit = Exit::Error(
                "cannot be started again: it was handed over as a single instance (use Supervisor::replace_with)".into(),
            );
            tracing::error!(component = %name, "{name}: {exit}");
            self.clear_deadline(i);
            self.slots[i].life = Life::Running;
            self.end(i, Outcome::Failed, Some(exit));
            self.shutdown(Trigger::ComponentFailed(name));
            return;
        };
        tracing::info!(
            component = self.name(i),
            "{}: starting ({})",
            self.name(i),
            component.kind()
        );
        self.last_run += 1;
        self.runs.insert(self.last_run, i);
        let slot = &mut self.slots[i];
        slot.life = Life::Running;
        slot.ran = true;
        slot.run = self.last_run;
        slot.stop = CancellationToken::new();
        slot.kill = CancellationToken::new();
        slot.ready = false;
        slot.stop_requested = false;
        slot.killed = None;
        slot.asked_at = None;
        let run = slot.run;
        let life = Lifecycle::new(
            self.graph.name(i).to_string(),
            run,
            slot.stop.clone(),
            slot.kill.clone(),
            self.msg_tx.clone(),
            self.tracker.clone(),
        );
        let mut exit = ExitGuard {
            run,
            tx: self.msg_tx.clone(),
            sent: false,
        };
        let handle = self.tracker.spawn(async move {
            let result = component.run(life).await;
            exit.send(result);
        });
        self.slots[i].abort = Some(handle.abort_handle());
        self.record(EventKind::StartRequested(i));
    }

    pub(super) fn on_report(&mut self, i: usize, report: Report) {
        if self.slots[i].life != Life::Running {
            return;
        }
        match report {
            Report::Pid(pid) => self.record(EventKind::Pid(i, pid)),
            Report::Detail(d) => self.status.send_modify(|s| s.set_detail(i, d)),
            Report::Step(step, detail) => self.record(EventKind::StopStep(i, step, detail)),
            Report::Ready => {
                // One going down for a dependency's restart comes up again
                // later; ready now, it would start the dependents that are
                // meant to go down with it.
                if self.slots[i].ready || self.slots[i].held_by.is_some() {
                    return;
                }
                self.slots[i].ready = true;
                self.ready_count += 1;
                self.record(EventKind::Ready(i));
                tracing::info!(component = self.name(i), "{}: ready", self.name(i));
                for k in 0..self.graph.dependents(i).len() {
                    let d = self.graph.dependents(i)[k];
                    self.waiting_deps[d] -= 1;
                    if self.waiting_deps[d] == 0 && self.trigger.is_none() {
                        // A component restarting is started by its own timer.
                        // One still waiting for its own dependents to stop
                        // (a nested `restart_dependents`) is started by the last of them.
                        if self.slots[d].life == Life::Pending && self.slots[d].holding.is_empty() {
                            self.start(d);
                        }
                    }
                }
                if self.trigger.is_none() {
                    self.check_all_ready();
                    self.advance_change();
                }
            }
        }
    }

    pub(super) fn check_all_ready(&mut self) {
        if self.ready_count == self.slots.len() && self.status.borrow().state == State::Starting {
            self.record(EventKind::AllReady);
            self.startup_deadline = None;
            tracing::info!(
                "all {} component(s) ready in {:?}",
                self.slots.len(),
                self.t0.elapsed()
            );
        }
    }
}
