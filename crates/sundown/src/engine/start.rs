//! Starting: a component's task is spawned once its dependencies are
//! ready, and its being ready releases its dependents.

use std::collections::HashMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::slot::{Run, Stopping, Up};
use super::{Engine, Life};
use crate::component::{Exit, Lifecycle, Msg, Report};
use crate::event::{EventKind, Outcome, Trigger};
use crate::status::State;

/// The components' tasks: how they reach the engine, and which component
/// each run is.
pub(super) struct Tasks {
    pub(super) tx: mpsc::UnboundedSender<Msg>,
    pub(super) rx: mpsc::UnboundedReceiver<Msg>,
    pub(super) tracker: TaskTracker,
    /// The last run id handed out; ids are never reused.
    last_run: u64,
    /// Which slot each live run id belongs to.
    pub(super) runs: HashMap<u64, usize>,
}

impl Tasks {
    pub(super) fn new() -> Tasks {
        let (tx, rx) = mpsc::unbounded_channel();
        Tasks {
            tx,
            rx,
            tracker: TaskTracker::new(),
            last_run: 0,
            runs: HashMap::new(),
        }
    }

    /// A new run id, for slot `i`.
    fn next_run(&mut self, i: usize) -> u64 {
        self.last_run += 1;
        self.runs.insert(self.last_run, i);
        self.last_run
    }
}

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
        if !matches!(self.slots[i].life, Life::Pending { .. } | Life::Backoff) {
            return;
        }
        let Some(component) = (self.slots[i].make)() else {
            let name = self.name(i).to_string();
            let exit = Exit::Error(
                "cannot be started again: it was handed over as a single instance (use Supervisor::replace_with)".into(),
            );
            tracing::error!(component = %name, "{name}: {exit}");
            self.deadlines.clear(i);
            self.end(i, Outcome::Failed, Some(exit));
            self.begin_shutdown(Trigger::ComponentFailed(name));
            return;
        };
        tracing::info!(
            component = self.name(i),
            "{}: starting ({})",
            self.name(i),
            component.kind()
        );
        let id = self.tasks.next_run(i);
        let (stop, kill) = (CancellationToken::new(), CancellationToken::new());
        let life = Lifecycle::new(
            self.graph.name(i).to_string(),
            id,
            stop.clone(),
            kill.clone(),
            self.tasks.tx.clone(),
            self.tasks.tracker.clone(),
        );
        let mut exit = ExitGuard {
            run: id,
            tx: self.tasks.tx.clone(),
            sent: false,
        };
        let handle = self.tasks.tracker.spawn(async move {
            let result = component.run(life).await;
            exit.send(result);
        });
        self.slots[i].life = Life::Running(Run {
            id,
            stop,
            kill,
            abort: handle.abort_handle(),
            up: Up::Starting,
            stopping: Stopping::NotAsked,
            started: tokio::time::Instant::now(),
        });
        self.record(EventKind::StartRequested(i));
        // Dependents waiting only for it to be started go now.
        self.release_dependents(i);
    }

    /// `i` got further (started, ready, completed): its dependents whose
    /// dependencies are now all met start.
    pub(super) fn release_dependents(&mut self, i: usize) {
        if self.shutdown.is_some() {
            return;
        }
        for k in 0..self.graph.dependents(i).len() {
            let d = self.graph.dependents(i)[k];
            // A component restarting is started by its own timer. One still
            // waiting for its own dependents to stop (a nested
            // `restart_dependents`) is started by the last of them.
            if matches!(self.slots[d].life, Life::Pending { .. })
                && self.slots[d].holding.is_empty()
                && self.deps_met(d)
            {
                self.start(d);
            }
        }
    }

    pub(super) fn on_report(&mut self, i: usize, report: Report) {
        if !self.slots[i].life.is_running() {
            return;
        }
        match report {
            Report::Pid(pid) => self.record(EventKind::Pid(i, pid)),
            Report::Detail(d) => self.status.send_modify(|s| s.set_detail(i, d)),
            // Nothing a watcher sees changes until someone samples: no wake-up.
            Report::Tracked(t) => {
                self.status.send_if_modified(|s| {
                    s.set_tracked(i, t);
                    false
                });
            }
            Report::Step(step, detail) => self.record(EventKind::StopStep(i, step, detail)),
            Report::Ready => {
                // Only a starting run becomes ready: see `Up::Held`.
                let Some(run) = self.slots[i].life.run_mut() else {
                    return;
                };
                // A one-shot is ready when it has completed, not before: its
                // probe or ready_after says it runs, not that its job is done.
                if run.up != Up::Starting || self.config.components[i].oneshot {
                    return;
                }
                run.up = Up::Ready;
                self.counts.ready += 1;
                self.record(EventKind::Ready(i));
                tracing::info!(component = self.name(i), "{}: ready", self.name(i));
                self.release_dependents(i);
                if self.shutdown.is_none() {
                    self.check_all_ready();
                    self.advance_change();
                }
            }
        }
    }

    pub(super) fn check_all_ready(&mut self) {
        if self.counts.ready == self.slots.len() && self.status.borrow().state == State::Starting {
            self.record(EventKind::AllReady);
            self.deadlines.startup = None;
            tracing::info!(
                "all {} component(s) ready in {:?}",
                self.slots.len(),
                self.t0.elapsed()
            );
        }
    }
}
