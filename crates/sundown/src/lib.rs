//! sundown: a supervisor that starts components in dependency order and
//! stops them in reverse, phase by phase, each phase with its own timeout,
//! escalating to a kill when a timeout runs out, and writes a teardown report
//! a test can assert on.
//!
//! The data flows one way: [`Config`] (parsed, validated) → [`Graph`]
//! → [`Plan`] → the engine (behind [`Supervisor`]) → [`ShutdownReport`].
#![deny(missing_docs)]

pub mod component;
pub mod config;
pub mod control;
mod cycles;
pub mod diagnostic;
mod engine;
pub mod event;
pub mod exit;
pub mod graph;
pub mod k8s;
pub mod kind;
pub mod kinds;
pub mod log_file;
pub mod logs;
pub mod metrics;
pub mod notify;
pub mod pid1;
pub mod plan;
pub mod process;
pub mod report;
pub mod sim;
mod spawned;
pub mod status;
mod supervisor;
pub mod timeline;
mod usage;

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

pub use component::{Component, Exit, Lifecycle, StopStep};
pub use config::{Config, ConfigError, Strategy};
pub use engine::{
    Accepted, Change, Command, Definition, Diff, KILL_GRACE, NotCompleted, Preview, Refused,
    Updated,
};
pub use event::{KillReason, Outcome, Trigger};
pub use exit::{ExitCode, RunExit};
pub use graph::Graph;
pub use kind::{Kind, KindSpec, Kinds};
pub use plan::Plan;
pub use report::{RestartReport, ShutdownReport, StopStepReport, Totals, Violation};
pub use status::{State, Status, StatusView};
pub use supervisor::{Handle, ReloadError, Running, StartFailed, Supervisor, UnknownComponent};
