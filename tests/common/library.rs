//! Helpers for tests that drive the library in-process (usually on tokio's
//! paused clock) rather than the binary.

use sundown::component::BoxFuture;
use sundown::{Component, Exit, Lifecycle, Supervisor};

/// A supervisor for a test config, panicking with every problem if it is invalid.
pub fn sup(toml: &str) -> Supervisor {
    Supervisor::from_toml_str(toml).unwrap_or_else(|e| panic!("test config is invalid:\n{e}"))
}

/// Ignores both its stop and its kill: the engine must give up on it after
/// `KILL_GRACE`.
pub struct Deaf;

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
