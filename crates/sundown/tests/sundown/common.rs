//! Helpers for the tests that drive the library in-process, usually on
//! tokio's paused clock.

use sundown::component::BoxFuture;
use sundown::report::ComponentReport;
use sundown::{Component, Exit, Lifecycle, ShutdownReport, Supervisor};

/// A supervisor for a test config, panicking with every problem if it is invalid.
pub(crate) fn sup(toml: &str) -> Supervisor {
    Supervisor::from_toml_str(toml).unwrap_or_else(|e| panic!("test config is invalid:\n{e}"))
}

/// The report of one component, panicking when the report has none of that name.
pub(crate) fn component<'a>(r: &'a ShutdownReport, name: &str) -> &'a ComponentReport {
    r.component(name)
        .unwrap_or_else(|| panic!("no component {name} in report"))
}

/// A time the report must have recorded.
pub(crate) fn at(v: Option<f64>) -> f64 {
    v.unwrap_or_else(|| panic!("expected a time"))
}

/// Ignores both its stop and its kill: the engine must give up on it after
/// `KILL_GRACE`.
pub(crate) struct Deaf;

impl Component for Deaf {
    fn kind(&self) -> &'static str {
        "deaf"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            life.ready();
            std::future::pending::<()>().await;
            Exit::Code(0)
        })
    }
}
