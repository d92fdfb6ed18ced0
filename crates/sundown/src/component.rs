//! The one trait every component kind implements, and the registry that
//! builds a component from its config.
//!
//! A component is a single future, [`Component::run`], that owns everything
//! the component is (a child process, a listener, tasks) and returns how it
//! ended. The engine talks to it only through its [`Lifecycle`]: the
//! component says when it is ready; the engine asks it to stop and, when a
//! deadline passes, to die. The engine owns every timeout, so escalation is
//! the same for every kind.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use serde::{Deserialize, Serialize};

/// A boxed future, as returned by [`Component::run`].
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Something the supervisor starts, waits on, and stops.
pub trait Component: Send + 'static {
    /// The `kind` name, for logs and the report.
    fn kind(&self) -> &'static str;

    /// Runs the component to its end.
    ///
    /// Call [`Lifecycle::ready`] once it can serve its dependents. Return
    /// when it has ended: by itself, after [`Lifecycle::stop_requested`]
    /// (stop gracefully, as long as it takes), or after
    /// [`Lifecycle::kill_requested`] (stop now: kill, abort, close).
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit>;
}

/// How a component ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// A process exited with this status code (0 for an in-process success).
    Code(i32),
    /// A process was ended by this signal (`"SIGKILL"`).
    Signal(String),
    /// It could not start or broke, with why.
    Error(String),
}

impl Exit {
    /// Whether this ending counts as a success when nobody asked for it.
    pub fn is_success(&self) -> bool {
        matches!(self, Exit::Code(0))
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit status {c}"),
            Exit::Signal(s) => write!(f, "killed by {s}"),
            Exit::Error(e) => f.write_str(e),
        }
    }
}

/// A step of a process component's stop sequence, in the order they can happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopStep {
    /// The `stop_command` was started.
    StopCommand,
    /// The `stop_command` ended, failed or timed out (the detail says which).
    StopCommandEnded,
    /// The `stop_signal` was sent to the process group.
    Signal,
    /// SIGKILL was sent to the process group.
    Kill,
    /// Processes that had left the process group were killed.
    Descendants,
}

impl StopStep {
    /// The name the report uses (`"stop_command"`).
    pub fn as_str(self) -> &'static str {
        match self {
            StopStep::StopCommand => "stop_command",
            StopStep::StopCommandEnded => "stop_command_ended",
            StopStep::Signal => "signal",
            StopStep::Kill => "kill",
            StopStep::Descendants => "descendants",
        }
    }
}

/// What a component reports to the engine while it runs.
#[derive(Debug)]
pub(crate) enum Report {
    Ready,
    Pid(u32),
    Detail(Option<String>),
    Step(StopStep, String),
    Tracked(Tracked),
}

/// Where a component's processes are found, for measuring what they use:
/// the same ways its descendants are tracked to be killed (see `process::tree`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tracked {
    /// Every process in this cgroup v2 directory.
    Cgroup(std::path::PathBuf),
    /// The main process's descendants, and every process whose initial
    /// environment holds this `SUNDOWN_TREE=…` entry (those that left it).
    Marker(String),
}

/// Reports and the final exit travel on one channel, so the engine always
/// sees a component's `Ready` before its `Exit`. Each carries the run it
/// came from, so a late word from a run that was restarted is ignored.
pub(crate) enum Msg {
    /// From the run with this id (unique across components and runs, so a
    /// message stays addressed right when a reload renumbers components).
    Report(u64, Report),
    Exit(u64, Exit),
}

/// Makes a fresh component for each run of its slot: a restart needs a new
/// one, since [`Component::run`] consumes the old. `None` when it cannot
/// make another (a component handed over as a single instance).
pub type Factory = Box<dyn FnMut() -> Option<Box<dyn Component>> + Send>;

/// A factory that hands out one instance, once: for components given as a
/// value rather than as a way to make them, which therefore cannot restart.
pub fn once(component: Box<dyn Component>) -> Factory {
    let mut slot = Some(component);
    Box::new(move || slot.take())
}

/// The component's side of the conversation with the engine.
pub struct Lifecycle {
    name: String,
    run: u64,
    stop: CancellationToken,
    kill: CancellationToken,
    tx: mpsc::UnboundedSender<Msg>,
    tracker: TaskTracker,
}

impl Lifecycle {
    pub(crate) fn new(
        name: String,
        run: u64,
        stop: CancellationToken,
        kill: CancellationToken,
        tx: mpsc::UnboundedSender<Msg>,
        tracker: TaskTracker,
    ) -> Lifecycle {
        Lifecycle {
            name,
            run,
            stop,
            kill,
            tx,
            tracker,
        }
    }

    /// A standalone lifecycle for driving one component by hand (tests,
    /// examples): returns it with the stop and kill tokens that control it.
    pub fn detached(name: &str) -> (Lifecycle, CancellationToken, CancellationToken) {
        let (tx, _rx) = mpsc::unbounded_channel();
        let (stop, kill) = (CancellationToken::new(), CancellationToken::new());
        (
            Lifecycle::new(
                name.to_string(),
                0,
                stop.clone(),
                kill.clone(),
                tx,
                TaskTracker::new(),
            ),
            stop,
            kill,
        )
    }

    /// The component's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn report(&self, report: Report) {
        // The engine outlives every component; a closed channel means it is gone anyway.
        let _ = self.tx.send(Msg::Report(self.run, report));
    }

    /// Tells the engine the component can serve its dependents.
    pub fn ready(&self) {
        self.report(Report::Ready);
    }

    /// Tells the engine the component's main process id, for the report.
    pub fn pid(&self, pid: u32) {
        self.report(Report::Pid(pid));
    }

    /// Tells the engine where the component's processes are, so the status
    /// can measure their CPU and memory. A component that never says runs
    /// inside the supervisor's own process.
    pub(crate) fn tracked(&self, tracked: Tracked) {
        self.report(Report::Tracked(tracked));
    }

    /// Says what the component is doing, for the live status
    /// ("3 jobs in flight"); `None` clears it. Not recorded in the report.
    pub fn detail(&self, detail: Option<String>) {
        self.report(Report::Detail(detail));
    }

    /// Records a step of the component's own stop sequence (a stop command,
    /// a signal, a kill) in the report, and logs it.
    pub fn step(&self, step: StopStep, detail: String) {
        tracing::info!(component = %self.name, "{}: {}: {detail}", self.name, step.as_str().replace('_', " "));
        self.report(Report::Step(step, detail));
    }

    /// Spawns a helper task the supervisor waits for before it exits (for
    /// work that may outlive [`Component::run`] briefly, like forwarding the
    /// last output). The task must end by itself in bounded time.
    pub fn spawn<F>(&self, task: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    /// Completes when the engine asks for a graceful stop.
    pub async fn stop_requested(&self) {
        self.stop.cancelled().await;
    }

    /// Completes when the engine gives up on a graceful stop.
    pub async fn kill_requested(&self) {
        self.kill.cancelled().await;
    }

    /// Whether a graceful stop has been asked for.
    pub fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }
}
