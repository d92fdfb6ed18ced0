//! One component's place in the engine. Its state is one value, [`Life`],
//! whose variants carry what only that state has, so a component cannot be
//! ready while stopped, killed while not running, or held down by nothing.

use std::collections::VecDeque;

use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::component::{Exit, Factory};
use crate::event::{KillReason, Outcome};
use crate::graph::Graph;

/// Where a component is.
pub(super) enum Life {
    /// Not running, waiting for its dependencies: before its first run, or
    /// parked while a dependency restarts.
    Pending {
        /// Whether it has run before.
        ran: bool,
    },
    /// Its task runs.
    Running(Run),
    /// Down after ending by itself, waiting out its restart delay (and, with
    /// `restart_dependents`, for its dependents to stop).
    Backoff,
    /// Down by request (`sundown stop`, or a change that takes it down),
    /// until asked to start.
    Stopped {
        /// Whether it has run before.
        ran: bool,
        /// The component whose `stop` took this one down, so that `start`
        /// of it brings this one back too.
        with: Option<usize>,
    },
    /// Down for good.
    Done {
        /// Whether it was ready when it ended: its dependents do not wait
        /// for it again.
        ready: bool,
    },
}

impl Life {
    pub(super) fn is_running(&self) -> bool {
        matches!(self, Life::Running(_))
    }

    pub(super) fn is_done(&self) -> bool {
        matches!(self, Life::Done { .. })
    }

    /// Stopped, or pending: down until something starts it.
    pub(super) fn is_down(&self) -> bool {
        matches!(self, Life::Stopped { .. } | Life::Pending { .. })
    }

    /// Whether it counts as ready for its dependents.
    pub(super) fn is_ready(&self) -> bool {
        match self {
            Life::Running(run) => run.up == Up::Ready,
            Life::Done { ready } => *ready,
            _ => false,
        }
    }

    /// Whether it counts as started for its dependents: running and not
    /// being taken down, or down for good after being ready.
    pub(super) fn is_started(&self) -> bool {
        match self {
            Life::Running(run) => run.held().is_none(),
            Life::Done { ready } => *ready,
            _ => false,
        }
    }

    /// Whether it has ever been started.
    pub(super) fn ran(&self) -> bool {
        match self {
            Life::Pending { ran } | Life::Stopped { ran, .. } => *ran,
            Life::Running(_) | Life::Backoff | Life::Done { .. } => true,
        }
    }

    pub(super) fn run(&self) -> Option<&Run> {
        match self {
            Life::Running(run) => Some(run),
            _ => None,
        }
    }

    pub(super) fn run_mut(&mut self) -> Option<&mut Run> {
        match self {
            Life::Running(run) => Some(run),
            _ => None,
        }
    }

    /// For a stopped component, the component whose `stop` took it down.
    pub(super) fn stopped_with(&self) -> Option<usize> {
        match self {
            Life::Stopped { with, .. } => *with,
            _ => None,
        }
    }
}

/// A component's current run: its task and how far it has come.
pub(super) struct Run {
    /// Which run this is: messages from an earlier run are stale.
    pub(super) id: u64,
    pub(super) stop: CancellationToken,
    pub(super) kill: CancellationToken,
    pub(super) abort: AbortHandle,
    pub(super) up: Up,
    pub(super) stopping: Stopping,
    /// When it was started, for how long a one-shot took.
    pub(super) started: Instant,
}

impl Run {
    /// Why it is being taken down while the graph runs on, if it is.
    pub(super) fn held(&self) -> Option<Hold> {
        match self.up {
            Up::Held(hold) => Some(hold),
            Up::Starting | Up::Ready => None,
        }
    }

    /// When its stop began: the graceful request, or the kill when there
    /// was none.
    pub(super) fn stop_began(&self) -> Option<Instant> {
        match self.stopping {
            Stopping::NotAsked => None,
            Stopping::Asked { at } => Some(at),
            Stopping::Killed { at, asked, .. } => Some(asked.unwrap_or(at)),
        }
    }

    /// When it was killed and why, if it was.
    pub(super) fn kill(&self) -> Option<(Instant, KillReason)> {
        match self.stopping {
            Stopping::Killed { at, reason, .. } => Some((at, reason)),
            Stopping::NotAsked | Stopping::Asked { .. } => None,
        }
    }

    pub(super) fn killed(&self) -> bool {
        matches!(self.stopping, Stopping::Killed { .. })
    }

    /// What its ending with `exit` now means; a `oneshot` that exits 0 by
    /// itself has done its job.
    pub(super) fn outcome(&self, exit: &Exit, oneshot: bool) -> Outcome {
        match self.stopping {
            // A second signal's kill is forced, graceful request or not.
            Stopping::Killed {
                reason: KillReason::SecondSignal,
                ..
            }
            | Stopping::Killed { asked: None, .. } => Outcome::Forced,
            Stopping::Killed { asked: Some(_), .. } => Outcome::TimedOutKilled,
            Stopping::Asked { .. } => Outcome::Stopped,
            Stopping::NotAsked if oneshot && exit.is_success() => Outcome::Completed,
            Stopping::NotAsked if self.up == Up::Ready && exit.is_success() => Outcome::ExitedEarly,
            Stopping::NotAsked => Outcome::Failed,
        }
    }
}

/// A running component towards its dependents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Up {
    /// Not ready yet: its dependents wait.
    Starting,
    /// Ready: its dependents may start.
    Ready,
    /// Being taken down while the graph runs on. Not ready, and a ready
    /// report no longer makes it so: it would start the dependents that
    /// are meant to go down with it.
    Held(Hold),
}

/// Why a running component is being taken down while the graph runs on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Hold {
    /// So that this dependency can restart (`restart_dependents`).
    Restart(usize),
    /// For the change under way (stop, restart, reload).
    Change,
}

/// How far the stop of a running component has gone.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Stopping {
    /// Nobody asked it to stop: its end is its own doing.
    NotAsked,
    /// Asked to stop gracefully at `at`.
    Asked { at: Instant },
    /// Killed at `at`, for `reason`, after a graceful request at `asked`
    /// when there was one: its stop began at the request, else at the kill.
    Killed {
        reason: KillReason,
        at: Instant,
        asked: Option<Instant>,
    },
}

pub(super) struct Slot {
    pub(super) life: Life,
    pub(super) make: Factory,
    /// When it was restarted, within its `restart_window`.
    pub(super) restarts: VecDeque<Instant>,
    /// With `restart_dependents`: dependents still to stop before this
    /// restarts. Outlives the run: it is kept while this one waits.
    pub(super) holding: Vec<usize>,
}

impl Slot {
    pub(super) fn new(make: Factory) -> Slot {
        Slot {
            life: Life::Pending { ran: false },
            make,
            restarts: VecDeque::new(),
            holding: Vec::new(),
        }
    }

    /// Renumbers the components it refers to, for a new graph; one that
    /// is gone is forgotten.
    pub(super) fn renumber(&mut self, f: impl Fn(usize) -> Option<usize>) {
        self.holding = self.holding.iter().filter_map(|&d| f(d)).collect();
        match &mut self.life {
            Life::Running(run) => {
                if let Up::Held(Hold::Restart(x)) = run.up {
                    run.up = f(x).map_or(Up::Starting, |y| Up::Held(Hold::Restart(y)));
                }
            }
            Life::Stopped { with, .. } => *with = with.and_then(f),
            Life::Pending { .. } | Life::Backoff | Life::Done { .. } => {}
        }
    }
}

/// What waits on what, kept in step with the slots as components become
/// ready and end, so that each event costs its neighbours, not a scan.
/// (Whether a component's dependencies are met is asked of its own edges,
/// [`super::Engine::deps_met`]: each edge has its own condition.)
pub(super) struct Counts {
    /// Per component: dependents not down for good.
    pub(super) live_dependents: Vec<usize>,
    /// Components ready.
    pub(super) ready: usize,
    /// Components down for good.
    pub(super) done: usize,
}

impl Counts {
    /// Counted afresh, for the slots of `graph`.
    pub(super) fn new(graph: &Graph, slots: &[Slot]) -> Counts {
        let n = graph.len();
        let live = |d: &usize| !slots[*d].life.is_done();
        Counts {
            live_dependents: (0..n)
                .map(|j| graph.dependents(j).iter().filter(|d| live(d)).count())
                .collect(),
            ready: slots.iter().filter(|s| s.life.is_ready()).count(),
            done: slots.iter().filter(|s| s.life.is_done()).count(),
        }
    }
}
