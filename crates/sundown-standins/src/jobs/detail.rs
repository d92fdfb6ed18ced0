//! A component's live detail line ("3 connections", "2/4 busy"), kept up
//! to date from its state without following every change.

use std::sync::Arc;
use std::time::Duration;

use sundown::component::Lifecycle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// State a component shows as its live detail ("3 connections").
pub trait Observed: Send + Sync + 'static {
    /// Notified on every change.
    fn changed(&self) -> &Notify;
    /// The detail line for the current state.
    fn detail(&self) -> String;
}

/// The task refreshing a component's live detail; stops when dropped.
pub struct DetailTask(JoinHandle<()>);

impl Drop for DetailTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps `life`'s detail up to date with `state`, at most every 100 ms:
/// connections and jobs change thousands of times a second, and the live
/// line needs none of that.
pub fn spawn_detail<S: Observed>(life: Arc<Lifecycle>, state: Arc<S>) -> DetailTask {
    DetailTask(tokio::spawn(async move {
        loop {
            state.changed().notified().await;
            life.detail(Some(state.detail()));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }))
}
