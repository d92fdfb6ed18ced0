//! Changes to a running graph: `sundown stop NAME`, `start NAME`,
//! `restart NAME` and `reload`. Each keeps the graph's order the way a
//! shutdown does, over part of the graph: what is taken down goes
//! dependents first, each with its own stop timeout and escalation, and
//! what comes up goes dependencies first, each once its dependencies are
//! ready. The rest of the graph runs on untouched. One change runs at a
//! time, and a shutdown ends the one under way.

use std::fmt;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::Definition;
use super::reload::Diff;
use crate::event::Trigger;

mod order;
mod plan;
mod progress;

/// A change to a running graph.
pub enum Change {
    /// Stop the component and everything that depends on it, dependents first.
    Stop(String),
    /// Start the component, after starting its stopped dependencies, and
    /// bring back what a `Stop` of it took down with it.
    Start(String),
    /// Stop it and its dependents, then start them all again in order.
    Restart(String),
    /// Run this graph instead: removed and changed components (and their
    /// dependents) stop, added and changed ones start, and the rest keep
    /// running, not restarted. [`Change::reload`] makes one from a
    /// [`Supervisor`](crate::Supervisor).
    Reload(Definition),
}

impl Change {
    /// A reload to `to`, typically a [`Supervisor`](crate::Supervisor) of
    /// the new config.
    pub fn reload(to: impl Into<Definition>) -> Change {
        Change::Reload(to.into())
    }
}

impl fmt::Debug for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Stop(n) => write!(f, "stop {n}"),
            Change::Start(n) => write!(f, "start {n}"),
            Change::Restart(n) => write!(f, "restart {n}"),
            Change::Reload(_) => f.write_str("reload"),
        }
    }
}

/// What an accepted change will do.
#[derive(Debug, Serialize)]
pub struct Accepted {
    /// The components it stops, in the order they are asked (dependents first).
    pub stop: Vec<String>,
    /// The components it starts, in dependency order.
    pub start: Vec<String>,
    /// For a reload, how the new config differs from the running one.
    pub diff: Option<Diff>,
    #[serde(skip)]
    done: oneshot::Receiver<Result<(), NotCompleted>>,
}

impl Accepted {
    /// Waits until the change is complete: everything it stops is down and
    /// everything it starts is ready. The error says why it is not (a
    /// shutdown took over, a component it started ended).
    pub async fn finished(self) -> Result<(), NotCompleted> {
        self.done.await.unwrap_or(Err(NotCompleted::Gone))
    }
}

/// What a change would do now, asked without making it (a dry run): the
/// same stop and start lists, in the same order, as the [`Accepted`] the
/// change itself would be answered with, from the same live state; or the
/// same [`Refused`]. It serializes as the first line of a change's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The components it would stop, in the order they would be asked (dependents first).
    pub stop: Vec<String>,
    /// The components it would start, in dependency order.
    pub start: Vec<String>,
    /// For a reload, how the new config differs from the running one.
    pub diff: Option<Diff>,
}

/// Why an accepted change did not complete. What it did until then stays
/// done: a component it stopped stays stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotCompleted {
    /// A shutdown began; it takes over from the change.
    #[error("interrupted: shutting down ({0})")]
    Interrupted(Trigger),
    /// Another change was asked for while this one was still starting
    /// what it starts (a crash loop must not block every later change).
    #[error("superseded by `{by}` before `{change}` was ready")]
    Superseded {
        /// The change that took over.
        by: String,
        /// This change.
        change: String,
    },
    /// A component it started ended for good before it was ready.
    #[error("`{0}` ended before it was ready")]
    EndedBeforeReady(String),
    /// The supervisor ended without saying how the change went.
    #[error("the supervisor ended first")]
    Gone,
}

/// Why a change was refused. Nothing was touched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No component has that name.
    #[error("there is no component `{name}`{}", .hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default())]
    Unknown {
        /// The name asked for.
        name: String,
        /// The closest existing name.
        hint: Option<String>,
    },
    /// The graph is shutting down.
    #[error("sundown is shutting down")]
    ShuttingDown,
    /// Not every component has been ready yet (only a reload is taken then).
    #[error(
        "the graph is still starting; ask again once every component is ready (a reload is taken now)"
    )]
    Starting,
    /// Another change is under way.
    #[error("another change is under way ({0}); ask again once it is done")]
    Busy(String),
    /// The component ended for good (it finished, or failed) in this run.
    #[error("`{0}` has ended for good in this run and is not started again")]
    Ended(String),
    /// The supervisor is gone.
    #[error("the supervisor has ended")]
    Gone,
}

/// The change under way.
pub(super) struct Active {
    what: String,
    /// The component a stop, start or restart names: what a stop takes
    /// down is stopped with it, and comes back with its start.
    target: Option<usize>,
    /// Taken down first; empty once that part is over.
    stop: Vec<usize>,
    /// Then started, in the numbering of the graph that runs then.
    start: Vec<usize>,
    /// For a reload, the graph to switch to once `stop` is down.
    reload: Option<(Definition, Diff)>,
    /// Whether `stop` still has members running.
    stopping: bool,
    began: Instant,
    done: oneshot::Sender<Result<(), NotCompleted>>,
}

impl Active {
    /// Whether this change is a reload that scales `name` away.
    pub(super) fn scales_down(&self, name: &str) -> bool {
        self.reload
            .as_ref()
            .is_some_and(|(_, diff)| diff.scaled_down.iter().any(|n| n == name))
    }

    /// Whether this change takes `i` down.
    pub(super) fn stops(&self, i: usize) -> bool {
        self.stopping && self.stop.contains(&i)
    }
}
