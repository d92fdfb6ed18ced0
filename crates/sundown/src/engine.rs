//! The supervisor loop: the only place with time and side effects.
//!
//! One task per component runs its [`Component::run`]; everything they say,
//! every command from outside (signals arrive as commands) and the next
//! deadline are `select!`ed in one loop, so there is no polling and every
//! decision is made in one place, in order. Starting and stopping are the
//! same bookkeeping run in two directions: a component starts when its
//! dependencies are ready, and stops when its dependents are down.
//!
//! Here is the loop; beside it, by concern: `slot` (a component's state,
//! one enum), `start`, `stop` (one component), `end`, `shutdown` (the
//! whole graph), `deadlines`, `restart`, `history` (the event log, kept
//! bounded), `change` (stop, start, restart
//! one component while the graph runs) and `reload`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use crate::component::{Factory, Msg};
use crate::config::{Condition, Config};
use crate::event::{Event, EventKind, Trigger};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::report::ShutdownReport;
use crate::status::Status;

/// How long a killed component may take to actually end before the engine
/// stops waiting for it (a process stuck in uninterruptible sleep, a buggy
/// component ignoring its kill token). Its task is aborted then.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// What the outside can ask of a running engine.
#[derive(Debug)]
pub enum Command {
    /// Begin the ordered shutdown (ignored when one is under way).
    Shutdown(Trigger),
    /// Kill everything now (the second signal).
    Force(Trigger),
    /// Change the running graph; the answer says what will happen, or why not.
    Change(Change, oneshot::Sender<Result<Accepted, Refused>>),
    /// What this change would do now, without making it (a dry run).
    Preview(Change, oneshot::Sender<Result<Preview, Refused>>),
}

mod change;
mod deadlines;
mod end;
mod history;
mod reload;
mod restart;
mod shutdown;
mod slot;
mod start;
mod stop;

use deadlines::{Deadlines, Due};
use history::History;
use shutdown::Shutdown;
use slot::{Counts, Hold, Life, Slot};
use start::Tasks;

pub use change::{Accepted, Change, NotCompleted, Preview, Refused};
pub use reload::{Diff, Updated};

/// A graph ready to run: its validated config, graph and plan, and how to
/// make each component. The engine starts from one, and a reload switches
/// to one; a [`Supervisor`](crate::Supervisor) becomes one with `into()`.
pub struct Definition {
    pub(crate) config: Arc<Config>,
    pub(crate) graph: Arc<Graph>,
    pub(crate) plan: Arc<Plan>,
    /// One per component, in the config's order.
    pub(crate) factories: Vec<Factory>,
}

/// The running graph: its components' state and everything the loop
/// decides with.
pub(crate) struct Engine {
    // What runs now; a reload replaces all three together.
    config: Arc<Config>,
    graph: Arc<Graph>,
    plan: Arc<Plan>,
    /// One per component, in the config's order.
    slots: Vec<Slot>,
    counts: Counts,
    /// The instant the events' times count from.
    t0: Instant,
    /// Everything that happened; the status and the report are folded from it.
    events: History,
    status: watch::Sender<Status>,
    tasks: Tasks,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    deadlines: Deadlines,
    /// Set when the shutdown begins; nothing unsets it.
    shutdown: Option<Shutdown>,
    /// The change under way, if any: one at a time.
    change: Option<change::Active>,
    /// State of the restart delays' jitter (xorshift).
    jitter: u64,
}

impl Engine {
    pub(crate) fn new(
        definition: Definition,
        cmd_rx: mpsc::UnboundedReceiver<Command>,
    ) -> (Engine, watch::Receiver<Status>) {
        let Definition {
            config,
            graph,
            plan,
            factories,
        } = definition;
        let t0 = Instant::now();
        let (status, status_rx) = watch::channel(Status::new(&config, &graph, &plan, t0));
        let slots: Vec<Slot> = factories.into_iter().map(Slot::new).collect();
        let n = slots.len();
        let engine = Engine {
            counts: Counts::new(&graph, &slots),
            deadlines: Deadlines::new(slots.len()),
            config,
            graph,
            plan,
            slots,
            t0,
            events: History::new(n),
            status,
            tasks: Tasks::new(),
            cmd_rx,
            shutdown: None,
            change: None,
            jitter: restart::seed(),
        };
        (engine, status_rx)
    }

    /// Starts the graph and drives it, one event at a time, until every
    /// component is down for good; then reports.
    pub(crate) async fn drive(mut self) -> ShutdownReport {
        let wall = std::time::SystemTime::now();
        self.deadlines.startup = self.config.supervisor.startup_timeout.map(|d| self.t0 + d);
        tracing::info!(
            "starting {} component(s) in {} level(s)",
            self.slots.len(),
            self.plan.start_levels.len()
        );
        for i in 0..self.slots.len() {
            if self.deps_met(i) {
                self.start(i);
            }
        }
        self.check_all_ready();
        let mut commands_open = true;
        while !self.finished() {
            let next = self.next_deadline();
            tokio::select! {
                // The channel cannot close: the engine holds a sender.
                Some(msg) = self.tasks.rx.recv() => match msg {
                    Msg::Report(run, r) => if let Some(i) = self.current(run) { self.on_report(i, r) },
                    Msg::Exit(run, exit) => {
                        let i = self.current(run);
                        self.tasks.runs.remove(&run);
                        if let Some(i) = i { self.on_exit(i, exit) }
                    }
                },
                cmd = self.cmd_rx.recv(), if commands_open => match cmd {
                    Some(Command::Shutdown(t)) => self.begin_shutdown(t),
                    Some(Command::Force(t)) => self.force(t),
                    Some(Command::Change(c, reply)) => self.begin_change(c, reply),
                    Some(Command::Preview(c, reply)) => {
                        let _ = reply.send(self.preview_change(c));
                    }
                    // Every handle dropped: nobody can ask any more, so stop now.
                    None => {
                        commands_open = false;
                        self.begin_shutdown(Trigger::Requested);
                    }
                },
                _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => self.on_deadline(),
            }
        }
        // Every component has reported its end; their tasks finish right after.
        self.tasks.tracker.close();
        // Helper tasks (output forwarders) end by themselves, in bounded
        // time; the bound here only protects against a buggy custom one.
        if tokio::time::timeout(KILL_GRACE, self.tasks.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "helper tasks still running {KILL_GRACE:?} after the last component ended; not waiting for them"
            );
        }
        let report = ShutdownReport::from_events(
            &self.config,
            &self.graph,
            &self.plan,
            wall,
            self.events.events(),
        );
        // Told before the control socket closes, so that a client hears
        // how the run ended from the supervisor itself.
        self.status.send_modify(|s| s.finish(report.run_exit()));
        tracing::info!(
            "all components down in {:.0} ms after the shutdown began; exit code {}",
            report.shutdown_ms().unwrap_or(0.0),
            report.exit_code
        );
        report
    }

    /// Logs an event and folds it into the published status, so the status
    /// and the report can never disagree.
    fn record(&mut self, kind: EventKind) {
        let event = Event {
            at: self.t0.elapsed(),
            kind,
        };
        let phases = self.plan.phases.len();
        self.status.send_modify(|s| s.apply(&event, phases));
        self.events.push(event);
    }

    /// Whether every dependency of `d` is as far as its edge asks: started,
    /// or ready (a one-shot is ready once it has completed).
    fn deps_met(&self, d: usize) -> bool {
        self.graph.deps(d).iter().all(|&x| {
            let life = &self.slots[x].life;
            match self.config.condition(d, self.graph.name(x)) {
                Condition::Started => life.is_started(),
                Condition::Ready | Condition::Completed => life.is_ready(),
            }
        })
    }

    fn name(&self, i: usize) -> &str {
        self.graph.name(i)
    }

    /// The component a message comes from, if it is from its current run.
    fn current(&self, run: u64) -> Option<usize> {
        let &i = self.tasks.runs.get(&run)?;
        let current = self.slots[i].life.run().is_some_and(|r| r.id == run);
        current.then_some(i)
    }

    fn finished(&mut self) -> bool {
        if self.counts.done < self.slots.len() {
            return false;
        }
        if self.shutdown.is_none() {
            self.begin_shutdown(Trigger::AllExited);
        }
        // A phased shutdown still closes its remaining (empty) phases.
        self.advance_stop();
        true
    }
}
