//! `kind = "sim"`: an in-process stand-in with scripted timings. It costs a
//! task and a few timers, so a thousand of them run on a laptop, and it runs
//! on tokio's clock, so tests can pause time and stay exact.

use std::time::Duration;

use tokio::time::sleep;

use super::{BoxFuture, Component, Exit, Lifecycle};
use crate::config::SimSpec;

/// A simulated component.
pub struct Sim {
    spec: SimSpec,
}

impl Sim {
    /// A sim with these timings.
    pub fn new(spec: SimSpec) -> Sim {
        Sim { spec }
    }
}

/// Sleeps for `d`, or forever when `None`.
async fn after(d: Option<Duration>) {
    match d {
        Some(d) => sleep(d).await,
        None => std::future::pending().await,
    }
}

fn killed() -> Exit {
    Exit::Signal("SIGKILL".into())
}

impl Component for Sim {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        let s = self.spec;
        Box::pin(async move {
            tokio::select! {
                _ = sleep(s.start_delay) => life.ready(),
                _ = life.stop_requested() => return Exit::Code(0),
                _ = life.kill_requested() => return killed(),
            }
            tokio::select! {
                _ = after(s.fail_after) => return Exit::Error("simulated failure (fail_after)".into()),
                _ = after(s.exit_after) => return Exit::Code(0),
                _ = life.stop_requested() => {}
                _ = life.kill_requested() => return killed(),
            }
            if s.ignore_stop {
                life.kill_requested().await;
                return killed();
            }
            tokio::select! {
                _ = sleep(s.stop_delay) => Exit::Code(0),
                _ = life.kill_requested() => killed(),
            }
        })
    }
}
