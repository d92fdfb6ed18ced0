//! One component's place in the engine: its state, its factory, its
//! restart history.

use std::collections::VecDeque;

use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::component::Factory;
use crate::event::KillReason;
use crate::graph::Graph;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Life {
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
pub(super) enum Hold {
    /// So that this dependency can restart (`restart_dependents`).
    Restart(usize),
    /// For the change under way (stop, restart, reload).
    Change,
}

pub(super) struct Slot {
    pub(super) life: Life,
    pub(super) make: Factory,
    /// Which run this is: messages from an earlier run are stale.
    pub(super) run: u64,
    /// Whether it has ever been started.
    pub(super) ran: bool,
    pub(super) stop: CancellationToken,
    pub(super) kill: CancellationToken,
    pub(super) abort: Option<AbortHandle>,
    pub(super) ready: bool,
    pub(super) stop_requested: bool,
    pub(super) killed: Option<KillReason>,
    /// When the stop began: the graceful request, or the kill when there was none.
    pub(super) asked_at: Option<Instant>,
    /// When it was restarted, within its `restart_window`.
    pub(super) restarts: VecDeque<Instant>,
    /// With `restart_dependents`: dependents still to stop before this restarts.
    pub(super) holding: Vec<usize>,
    /// Why it is being stopped while the graph runs on.
    pub(super) held_by: Option<Hold>,
    /// The component whose `stop` took this one down, for `start` of it.
    pub(super) stopped_with: Option<usize>,
}

impl Slot {
    pub(super) fn new(make: Factory) -> Slot {
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
            restarts: VecDeque::new(),
            holding: Vec::new(),
            held_by: None,
            stopped_with: None,
        }
    }
}

/// What waits on what, kept in step with the slots as components become
/// ready and end, so that each event costs its neighbours, not a scan.
pub(super) struct Counts {
    /// Per component: dependencies not ready.
    pub(super) waiting_deps: Vec<usize>,
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
        Counts {
            waiting_deps: (0..n)
                .map(|j| graph.deps(j).iter().filter(|&&d| !slots[d].ready).count())
                .collect(),
            live_dependents: (0..n)
                .map(|j| {
                    graph
                        .dependents(j)
                        .iter()
                        .filter(|&&d| slots[d].life != Life::Done)
                        .count()
                })
                .collect(),
            ready: slots.iter().filter(|s| s.ready).count(),
            done: slots.iter().filter(|s| s.life == Life::Done).count(),
        }
    }
}
