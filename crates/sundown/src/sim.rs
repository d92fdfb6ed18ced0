//! `kind = "sim"`: an in-process stand-in with scripted timings. It costs a
//! task and a few timers, so a thousand of them run on a laptop, and it runs
//! on tokio's clock, so tests can pause time and stay exact.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::sleep;
use toml::Spanned;

use crate::component::{BoxFuture, Component, Exit, Lifecycle};
use crate::diagnostic::Zero;
use crate::kind::{Context, Kind, SerdeKind, Settings};

/// `kind = "sim"`.
pub const KIND: &dyn Kind = &SerdeKind::new("sim", validate);

/// Settings of `kind = "sim"`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimSpec {
    /// Time from start to ready.
    pub start_delay: Duration,
    /// Time from a stop request to having stopped.
    pub stop_delay: Duration,
    /// Exit with an error this long after becoming ready.
    pub fail_after: Option<Duration>,
    /// Exit successfully this long after becoming ready.
    pub exit_after: Option<Duration>,
    /// Never stop gracefully: only a kill ends it.
    pub ignore_stop: bool,
    /// When it ends, leave a blocking task this long behind on tokio's
    /// blocking pool, unawaited: the fault of a kind whose blocking work
    /// outlives its stop (the Redis stand-in's AOF replay once did). The
    /// process must still exit once the engine is done.
    pub leaves_blocking: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSim {
    start_delay: Option<Spanned<String>>,
    stop_delay: Option<Spanned<String>>,
    fail_after: Option<Spanned<String>>,
    exit_after: Option<Spanned<String>>,
    ignore_stop: Option<Spanned<bool>>,
    leaves_blocking: Option<Spanned<String>>,
}

/// Validates the keys of a sim.
fn validate(cx: &mut Context<'_, '_>, c: RawSim) -> Option<SimSpec> {
    let mut duration = |v: &Option<Spanned<String>>, key: &str| {
        let what = cx.what(key);
        cx.opt_duration(v, &what, Zero::Allowed)
    };
    let spec = SimSpec {
        start_delay: duration(&c.start_delay, "start_delay").unwrap_or_default(),
        stop_delay: duration(&c.stop_delay, "stop_delay").unwrap_or_default(),
        fail_after: duration(&c.fail_after, "fail_after"),
        exit_after: duration(&c.exit_after, "exit_after"),
        ignore_stop: c.ignore_stop.as_ref().is_some_and(|b| *b.get_ref()),
        leaves_blocking: duration(&c.leaves_blocking, "leaves_blocking"),
    };
    Some(spec)
}

impl Settings for SimSpec {
    fn build(&self) -> Box<dyn Component> {
        Box::new(Sim::new(self.clone()))
    }
}

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
            let leaves = s.leaves_blocking;
            let exit = scripted(s, life).await;
            if let Some(d) = leaves {
                drop(tokio::task::spawn_blocking(move || std::thread::sleep(d)));
            }
            exit
        })
    }
}

/// What the timings say, from start to end.
async fn scripted(s: SimSpec, life: Lifecycle) -> Exit {
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
}
