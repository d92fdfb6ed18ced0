//! The settings a reload applies to a running component without restarting
//! it: those the engine reads only when the component stops or ends (how
//! long a stop may take, what happens after an exit), never those its
//! process or task was started with.
//!
//! A kind's own keys (`command`, `env`, `stop_signal`, probes, …) are not
//! among them, even the ones used at the stop: the running component was
//! built from them and keeps them until it ends. A kind that copies one of
//! these settings into its own says so ([`Settings::runs_as`]).
//!
//! [`Settings::runs_as`]: crate::kind::Settings::runs_as

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::config::{ComponentSpec, Config};

/// A component a reload left running, with new settings that apply from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Updated {
    /// The component.
    pub name: String,
    /// The settings that changed, as the config names them (`stop_timeout`,
    /// `restart_backoff`, `phase_timeouts`, …).
    pub settings: Vec<String>,
}

impl fmt::Display for Updated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.settings.join(", "))
    }
}

/// `old` with the in-place settings of `new`, and the names of those
/// that differ: when the result is defined as `new` is, the component
/// needs no restart.
pub(super) fn apply(old: &ComponentSpec, new: &ComponentSpec) -> (ComponentSpec, Vec<String>) {
    let (a, b) = (&old.restart, &new.restart);
    let differing = [
        ("stop_timeout", old.stop_timeout != new.stop_timeout),
        ("restart", a.policy != b.policy),
        ("max_restarts", a.max_restarts != b.max_restarts),
        ("restart_window", a.window != b.window),
        ("restart_backoff", a.backoff != b.backoff),
        ("restart_backoff_max", a.backoff_max != b.backoff_max),
        ("restart_dependents", a.dependents != b.dependents),
        ("exit_with", old.exit_with != new.exit_with),
        // Which profiles a component runs in matters only to whether it
        // runs at all: in both configs, it does.
        ("profiles", old.profiles != new.profiles),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name.to_string())
    .collect();
    let mut updated = old.clone();
    updated.stop_timeout = new.stop_timeout;
    updated.restart = new.restart.clone();
    updated.exit_with = new.exit_with;
    updated.profiles.clone_from(&new.profiles);
    // A kind's copy of one of those (a process keeps its stop_timeout).
    if old.kind.runs_as(&new.kind) {
        updated.kind = new.kind.clone();
    }
    (updated, differing)
}

/// Whether the cap of the phase `name` stops in differs (`[phase_timeouts]`).
pub(super) fn phase_cap_differs(old: &Config, new: &Config, name: &str) -> bool {
    old.phase_timeouts.get(name) != new.phase_timeouts.get(name)
}
