//! The supervisor loop: the only place with time and side effects.
//!
//! One task per component runs its [`Component::run`]; everything they say,
//! every command from outside (signals arrive as commands) and the next
//! deadline are `select!`ed in one loop, so there is no polling and every
//! decision is made in one place, in order. Starting and stopping are the
//! same bookkeeping run in two directions: a component starts when its
//! dependencies are ready, and stops when its dependents are down.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::component::{Exit, Factory, Lifecycle, Msg, Report};
use crate::config::{Config, Strategy};
use crate::event::{Event, EventKind, KillReason, Outcome, Trigger};
use crate::graph::Graph;
use crate::plan::Plan;
use crate::report::ShutdownReport;
use crate::status::{State, Status};

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
}

mod change;
mod reload;
mod restart;

pub use change::{Accepted, Change, NotCompleted, Refused};
pub use reload::Diff;

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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Life {
    /// Not running, waiting for its dependencies (before its first run, or
    /// parked while a dependency restarts).
    Pending,
    Running,
    /// Down after ending by itself, waiting out its restart delay (and, with
    /// `restart_dependents`, for its dependents to stop).
    Backoff,
    /// Down by request (`sundown stop`), until asked to start.
    Stopped,
    Done,
}

/// Why a running component is being taken down while the graph runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hold {
    /// So that this dependency can restart (`restart_dependents`).
    Restart(usize),
    /// For the change under way (stop, restart, reload).
    Change,
}

/// What the engine does when a component's deadline comes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Due {
    /// Kill it (or, when already killed, give up on it).
    Kill(KillReason),
    /// Its restart delay is over.
    Restart,
}

struct Slot {
    life: Life,
    make: Factory,
    /// Which run this is: messages from an earlier run are stale.
    run: u64,
    /// Whether it has ever been started.
    ran: bool,
    stop: CancellationToken,
    kill: CancellationToken,
    abort: Option<AbortHandle>,
    ready: bool,
    stop_requested: bool,
    killed: Option<KillReason>,
    /// When the stop began: the graceful request, or the kill when there was none.
    asked_at: Option<Instant>,
    /// When the engine acts on this component next, and what it does then.
    deadline: Option<(Instant, Due)>,
    /// When it was restarted, within its `restart_window`.
    restarts: VecDeque<Instant>,
    /// With `restart_dependents`: dependents still to stop before this restarts.
    holding: Vec<usize>,
    /// Why it is being stopped while the graph runs on.
    held_by: Option<Hold>,
    /// The component whose `stop` took this one down, for `start` of it.
    stopped_with: Option<usize>,
}

impl Slot {
    fn new(make: Factory) -> Slot {
        Slot {
            life: Life::Pending,
            make,
            run: 0,
            ran: false,
            stop: CancellationToken::new(),
            kill: CancellationToken::new(),
            abort: None,
            ready: false,
            stop_requested: false,
            killed: None,
            asked_at: None,
            deadline: None,
            restarts: VecDeque::new(),
            holding: Vec::new(),
            held_by: None,
            stopped_with: None,
        }
    }
}

pub(crate) struct Engine {
    config: Arc<Config>,
    graph: Arc<Graph>,
    plan: Arc<Plan>,
    t0: Instant,
    slots: Vec<Slot>,
    events: Vec<Event>,
    msg_tx: mpsc::UnboundedSender<Msg>,
    msg_rx: mpsc::UnboundedReceiver<Msg>,
    cmd_rx: mpsc::UnboundedReceiver<Command>,
    status: watch::Sender<Status>,
    tracker: TaskTracker,
    deadlines: BTreeSet<(Instant, usize)>,
    /// Per component: dependencies not yet ready.
    waiting_deps: Vec<usize>,
    /// Per component: dependents not yet down.
    live_dependents: Vec<usize>,
    /// Eager strategy: components whose dependents are all down.
    stoppable: Vec<usize>,
    phase: usize,
    phase_started: bool,
    startup_deadline: Option<Instant>,
    global_deadline: Option<Instant>,
    trigger: Option<Trigger>,
    forced: bool,
    ready_count: usize,
    /// Components down for good.
    done: usize,
    /// Members of the current phase not down yet (phased strategy).
    phase_left: usize,
    /// Whether the global deadline has passed and everything was killed.
    global_fired: bool,
    /// State of the restart delays' jitter (xorshift).
    jitter: u64,
    /// The last run id handed out; ids are never reused.
    last_run: u64,
    /// Which slot each live run id belongs to.
    runs: HashMap<u64, usize>,
    /// The change under way, if any: one at a time.
    change: Option<change::Active>,
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
    pub(crate) fn new(
        definition: Definition,
        cmd_rx: mpsc::UnboundedReceiver<Command>,
    ) -> (Engine, watch::Receiver<Status>) {
        let Definition {
            config,
            graph,
            plan,
            factories: components,
        } = definition;
        let (msg_tx, msg_rx) = mpsc::unbounded_channel();
        let t0 = Instant::now();
        let (status, status_rx) = watch::channel(Status::new(&graph, &plan, t0));
        let slots = components.into_iter().map(Slot::new).collect();
        let n = graph.len();
        let engine = Engine {
            waiting_deps: (0..n).map(|i| graph.deps(i).len()).collect(),
            live_dependents: (0..n).map(|i| graph.dependents(i).len()).collect(),
            config,
            graph,
            plan,
            t0,
            slots,
            events: Vec::new(),
            msg_tx,
            msg_rx,
            cmd_rx,
            status,
            tracker: TaskTracker::new(),
            deadlines: BTreeSet::new(),
            stoppable: Vec::new(),
            phase: 0,
            phase_started: false,
            startup_deadline: None,
            global_deadline: None,
            trigger: None,
            forced: false,
            ready_count: 0,
            done: 0,
            phase_left: 0,
            global_fired: false,
            jitter: restart::seed(),
            last_run: 0,
            runs: HashMap::new(),
            change: None,
        };
        (engine, status_rx)
    }

    /// Starts the graph and drives it, one event at a time, until every
    /// component is down for good; then reports.
    pub(crate) async fn drive(mut self) -> ShutdownReport {
        let wall = std::time::SystemTime::now();
        self.startup_deadline = self.config.supervisor.startup_timeout.map(|d| self.t0 + d);
        tracing::info!(
            "starting {} component(s) in {} level(s)",
            self.slots.len(),
            self.plan.start_levels.len()
        );
        for i in 0..self.slots.len() {
            if self.waiting_deps[i] == 0 {
                self.start(i);
            }
        }
        self.check_all_ready();
        let mut commands_open = true;
        while !self.finished() {
            let next = self.next_deadline();
            tokio::select! {
                // The channel cannot close: the engine holds a sender.
                Some(msg) = self.msg_rx.recv() => match msg {
                    Msg::Report(run, r) => if let Some(i) = self.current(run) { self.on_report(i, r) },
                    Msg::Exit(run, exit) => {
                        let i = self.current(run);
                        self.runs.remove(&run);
                        if let Some(i) = i { self.on_exit(i, exit) }
                    }
                },
                cmd = self.cmd_rx.recv(), if commands_open => match cmd {
                    Some(Command::Shutdown(t)) => self.shutdown(t),
                    Some(Command::Force(t)) => self.force(t),
                    Some(Command::Change(c, reply)) => self.begin_change(c, reply),
                    // Every handle dropped: nobody can ask any more, so stop now.
                    None => {
                        commands_open = false;
                        self.shutdown(Trigger::Requested);
                    }
                },
                _ = sleep_until(next.unwrap_or_else(Instant::now)), if next.is_some() => self.on_deadline(),
            }
        }
        // Every component has reported its end; their tasks finish right after.
        self.tracker.close();
        // Helper tasks (output forwarders) end by themselves, in bounded
        // time; the bound here only protects against a buggy custom one.
        if tokio::time::timeout(KILL_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "helper tasks still running {KILL_GRACE:?} after the last component ended; not waiting for them"
            );
        }
        self.status.send_modify(Status::finish);
        let report =
            ShutdownReport::from_events(&self.config, &self.graph, &self.plan, wall, &self.events);
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

    fn name(&self, i: usize) -> &str {
        self.graph.name(i)
    }

    /// The component a message comes from, if it is from its current run.
    fn current(&self, run: u64) -> Option<usize> {
        let &i = self.runs.get(&run)?;
        (self.slots[i].life == Life::Running && self.slots[i].run == run).then_some(i)
    }

    fn finished(&mut self) -> bool {
        if self.done < self.slots.len() {
            return false;
        }
        if self.trigger.is_none() {
            self.shutdown(Trigger::AllExited);
        }
        // A phased shutdown still closes its remaining (empty) phases.
        self.advance_stop();
        true
    }

    // ------------------------------------------------------------ starting

    fn start(&mut self, i: usize) {
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

    fn on_report(&mut self, i: usize, report: Report) {
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

    fn check_all_ready(&mut self) {
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

    // ------------------------------------------------------------ ending

    fn on_exit(&mut self, i: usize, exit: Exit) {
        let slot = &self.slots[i];
        let outcome = match (slot.killed, slot.stop_requested) {
            (Some(KillReason::SecondSignal), _) | (Some(_), false) => Outcome::Forced,
            (Some(_), true) => Outcome::TimedOutKilled,
            (None, true) => Outcome::Stopped,
            (None, false) if slot.ready && exit.is_success() => Outcome::ExitedEarly,
            (None, false) => Outcome::Failed,
        };
        if self.trigger.is_none() && self.slots[i].held_by.is_some() {
            self.park(i, &exit);
            return;
        }
        if self.trigger.is_none()
            && matches!(outcome, Outcome::Failed | Outcome::ExitedEarly)
            && self.restart_if_allowed(i, outcome, &exit)
        {
            return;
        }
        let slot = &self.slots[i];
        let name = self.name(i).to_string();
        let took = slot.asked_at.map(|t| t.elapsed()).unwrap_or_default();
        match outcome {
            Outcome::Failed if !slot.ready => match exit {
                Exit::Error(_) => {
                    tracing::error!(component = %name, "{name}: failed to start: {exit}")
                }
                _ => {
                    tracing::error!(component = %name, "{name}: failed to start: exited before it was ready ({exit})")
                }
            },
            Outcome::Failed => {
                tracing::error!(component = %name, "{name}: exited unexpectedly: {exit}")
            }
            Outcome::ExitedEarly => {
                tracing::info!(component = %name, "{name}: finished by itself: {exit}")
            }
            Outcome::Stopped => {
                tracing::info!(component = %name, "{name}: stopped in {took:.1?} ({exit})")
            }
            _ => {
                tracing::warn!(component = %name, "{name}: down {took:.1?} after the stop began, by force ({exit})")
            }
        }
        self.end(i, outcome, Some(exit));
        if outcome == Outcome::Failed {
            self.shutdown(Trigger::ComponentFailed(name));
        }
        self.advance_stop();
    }

    /// Marks a component down for good and releases what waited on it.
    fn end(&mut self, i: usize, outcome: Outcome, exit: Option<Exit>) {
        self.clear_deadline(i);
        self.slots[i].life = Life::Done;
        self.done += 1;
        if self.phase_started && self.plan.phase_of[i] == self.phase {
            self.phase_left -= 1;
        }
        self.record(EventKind::Ended(i, outcome, exit));
        // Eager: a dependency whose last dependent just went down is next.
        // (Before the shutdown, `shutdown()` collects them all at once.)
        let eager = self.trigger.is_some() && self.plan.strategy == Strategy::Eager;
        for k in 0..self.graph.deps(i).len() {
            let d = self.graph.deps(i)[k];
            self.live_dependents[d] -= 1;
            if eager && self.live_dependents[d] == 0 {
                self.stoppable.push(d);
            }
        }
    }

    // ------------------------------------------------------------ stopping

    fn shutdown(&mut self, trigger: Trigger) {
        if self.trigger.is_some() {
            tracing::info!(
                "already shutting down ({}); a second signal forces it",
                self.trigger_text()
            );
            return;
        }
        tracing::info!(
            "shutting down: {trigger}; strategy {}, budget {:?}",
            self.plan.strategy,
            self.plan.shutdown_timeout
        );
        self.record(EventKind::ShutdownStarted(trigger.clone()));
        self.interrupt_change(&trigger);
        self.trigger = Some(trigger);
        self.global_deadline = Some(Instant::now() + self.plan.shutdown_timeout);
        for i in 0..self.slots.len() {
            match self.slots[i].life {
                // Parked for a restart or stopped by request: it ran, and is already down.
                Life::Pending | Life::Stopped if self.slots[i].ran => {
                    self.end(i, Outcome::Stopped, None)
                }
                Life::Pending | Life::Stopped => self.end(i, Outcome::NeverStarted, None),
                // No restart outlives a shutdown request.
                Life::Backoff => {
                    tracing::info!(
                        component = self.name(i),
                        "{}: not restarting: shutting down",
                        self.name(i)
                    );
                    self.end(i, Outcome::Stopped, None);
                }
                Life::Running | Life::Done => {}
            }
        }
        if self.plan.strategy == Strategy::Eager {
            self.stoppable = (0..self.slots.len())
                .filter(|&i| self.live_dependents[i] == 0)
                .collect();
        }
        self.advance_stop();
    }

    fn trigger_text(&self) -> String {
        self.trigger
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// Asks every component whose turn has come to stop.
    fn advance_stop(&mut self) {
        if self.trigger.is_none() {
            return;
        }
        match self.plan.strategy {
            Strategy::Eager => {
                let now = Instant::now();
                let global = self.global_deadline.unwrap_or(now);
                while let Some(i) = self.stoppable.pop() {
                    self.request_stop(i, now, (global, KillReason::ShutdownTimeout));
                }
            }
            Strategy::Phased | Strategy::K8sSidecars => self.advance_phases(),
        }
    }

    fn advance_phases(&mut self) {
        let plan = Arc::clone(&self.plan);
        while let Some(phase) = plan.phases.get(self.phase) {
            if !self.phase_started {
                self.phase_started = true;
                self.record(EventKind::PhaseStarted(phase.index));
                let now = Instant::now();
                let global = self.global_deadline.unwrap_or(now);
                let cap = if now + phase.timeout < global {
                    (now + phase.timeout, KillReason::PhaseTimeout)
                } else {
                    (global, KillReason::ShutdownTimeout)
                };
                let live: Vec<&str> = phase
                    .members
                    .iter()
                    .filter(|&&m| self.slots[m].life == Life::Running)
                    .map(|&m| self.name(m))
                    .collect();
                if !live.is_empty() {
                    tracing::info!(
                        "phase {}/{}: stopping {} (timeout {:?})",
                        phase.index + 1,
                        plan.phases.len(),
                        live.join(", "),
                        phase.timeout
                    );
                }
                for &m in &phase.members {
                    self.request_stop(m, now, cap);
                }
                // Counted once here and decremented as members end, so a wide
                // phase costs O(1) per event rather than a scan.
                self.phase_left = phase
                    .members
                    .iter()
                    .filter(|&&m| self.slots[m].life != Life::Done)
                    .count();
            }
            if self.phase_left > 0 {
                return;
            }
            self.record(EventKind::PhaseEnded(phase.index));
            self.phase += 1;
            self.phase_started = false;
        }
    }

    /// Sends the graceful stop and arms the earliest of the component's own
    /// stop timeout and `cap` (its phase's or the global deadline).
    fn request_stop(&mut self, i: usize, now: Instant, cap: (Instant, KillReason)) {
        let cap = (cap.0, Due::Kill(cap.1));
        let slot = &self.slots[i];
        if slot.life != Life::Running || slot.stop_requested || slot.killed.is_some() {
            return;
        }
        // `now` is the instant `cap` was computed from: with equal timeouts the
        // component's own stop_timeout is what fires, not its phase's.
        let own = now + self.plan.stop_timeouts[i];
        let deadline = if own <= cap.0 {
            (own, Due::Kill(KillReason::StopTimeout))
        } else {
            cap
        };
        let slot = &mut self.slots[i];
        slot.stop_requested = true;
        slot.asked_at = Some(now);
        slot.stop.cancel();
        self.record(EventKind::StopRequested(i, deadline.0 - self.t0));
        tracing::debug!(component = self.name(i), "{}: asked to stop", self.name(i));
        self.set_deadline(i, deadline);
    }

    fn kill(&mut self, i: usize, reason: KillReason) {
        let slot = &mut self.slots[i];
        if slot.life != Life::Running || slot.killed.is_some() {
            return;
        }
        slot.killed = Some(reason);
        slot.asked_at.get_or_insert_with(Instant::now);
        slot.kill.cancel();
        self.record(EventKind::KillSent(i, reason));
        let why = match reason {
            KillReason::StopTimeout => "its stop_timeout passed",
            KillReason::PhaseTimeout => "its phase's timeout passed",
            KillReason::ShutdownTimeout => "shutdown_timeout passed",
            KillReason::SecondSignal => "a second signal forces the shutdown",
        };
        tracing::warn!(
            component = self.name(i),
            "{}: killing it: {why}",
            self.name(i)
        );
        // The same reason again, later, means "it ignored the kill": abandon it.
        self.set_deadline(i, (Instant::now() + KILL_GRACE, Due::Kill(reason)));
    }

    fn force(&mut self, trigger: Trigger) {
        if self.trigger.is_none() {
            self.shutdown(trigger);
        }
        if self.forced {
            return;
        }
        self.forced = true;
        tracing::warn!("forcing: killing every component still running");
        self.record(EventKind::Forced);
        // A component already killed for a timeout keeps that reason.
        for i in 0..self.slots.len() {
            self.kill(i, KillReason::SecondSignal);
        }
    }

    // ------------------------------------------------------------ deadlines

    fn set_deadline(&mut self, i: usize, deadline: (Instant, Due)) {
        self.clear_deadline(i);
        self.slots[i].deadline = Some(deadline);
        self.deadlines.insert((deadline.0, i));
    }

    fn clear_deadline(&mut self, i: usize) {
        if let Some((at, _)) = self.slots[i].deadline.take() {
            self.deadlines.remove(&(at, i));
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
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

    fn on_deadline(&mut self) {
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

    /// The component was killed and still has not ended after [`KILL_GRACE`].
    fn abandon(&mut self, i: usize) {
        tracing::error!(
            component = self.name(i),
            "{}: still running {KILL_GRACE:?} after being killed; no longer waiting for it",
            self.name(i)
        );
        if let Some(abort) = self.slots[i].abort.take() {
            abort.abort();
        }
        let outcome = if self.slots[i].stop_requested
            && self.slots[i].killed != Some(KillReason::SecondSignal)
        {
            Outcome::TimedOutKilled
        } else {
            Outcome::Forced
        };
        let exit = Exit::Error(format!("did not end within {KILL_GRACE:?} of being killed"));
        if self.trigger.is_none() && self.slots[i].held_by.is_some() {
            self.park(i, &exit);
            return;
        }
        self.end(i, outcome, Some(exit));
    }
}
