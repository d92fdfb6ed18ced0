//! Fixed graphs and status snapshots for the tests of `top`'s screens.

use std::path::Path;

use sundown::Config;
use sundown::event::Trigger;
use sundown::status::{ComponentState as S, ComponentView, ShutdownView, State, StatusView, Usage};

use super::app::App;
use super::order::Order;

/// http → workers → redis, postgres.
const CONFIG: &str = r#"
[supervisor]
shutdown_timeout = "30s"

[components.postgres]
kind = "sim"
[components.redis]
kind = "sim"
[components.workers]
kind = "sim"
depends_on = ["redis", "postgres"]
[components.http]
kind = "sim"
depends_on = ["workers"]
"#;

pub(crate) fn order() -> Order {
    let config = Config::parse(CONFIG, "top.toml", Path::new(".")).expect("the fixture parses");
    Order::of(&config)
}

const MIB: u64 = 1024 * 1024;

fn component(
    name: &str,
    state: S,
    pid: Option<u32>,
    since_ms: f64,
    usage: Option<Usage>,
) -> ComponentView {
    ComponentView {
        name: name.into(),
        state,
        pid,
        since_ms,
        restarts: 0,
        kill_in_ms: None,
        detail: None,
        completed: None,
        log_file: None,
        usage,
        last_exit: None,
    }
}

fn tree(cpu_seconds: f64, mib: u64) -> Option<Usage> {
    Some(Usage::Processes {
        cpu_seconds,
        memory_bytes: mib * MIB,
        count: 2,
    })
}

/// Everything up at 65.4 s; http restarted once after a crash.
pub(crate) fn running() -> StatusView {
    running_at(65_400.0, [2.0, 10.0, 1.0])
}

/// One second before [`running`]: http used 10 % of a core since, postgres 50 %.
pub(crate) fn a_second_before() -> StatusView {
    running_at(64_400.0, [1.9, 9.5, 1.0])
}

fn running_at(now_ms: f64, cpu: [f64; 3]) -> StatusView {
    let mut http = component("http", S::Ready, Some(4242), 1_200.0, tree(cpu[0], 12));
    http.restarts = 1;
    http.last_exit = Some("exited unexpectedly: exit status 1".into());
    let postgres = Some(Usage::Cgroup {
        cpu_seconds: cpu[1],
        memory_bytes: 250 * MIB,
    });
    StatusView {
        schema: 1,
        now_ms,
        state: State::Running,
        components: vec![
            http,
            component("postgres", S::Ready, Some(4100), 40.0, postgres),
            component("redis", S::Ready, None, 35.0, Some(Usage::Supervisor)),
            component("workers", S::Ready, Some(4200), 90.0, tree(cpu[2], 30)),
        ],
        shutdown: None,
        exit_with: None,
        exit: None,
    }
}

/// SIGTERM at 64.9 s: http stopped in phase 1, phase 2 waits on workers,
/// asked to stop at 65 s and killed at 70 s unless it ends.
pub(crate) fn stopping() -> StatusView {
    let mut v = running();
    v.state = State::Stopping;
    for c in &mut v.components {
        match c.name.as_str() {
            "http" => {
                c.state = S::Stopped;
                c.pid = None;
                c.usage = None;
                c.since_ms = 64_950.0;
                c.last_exit = Some("exit status 0".into());
            }
            "workers" => {
                c.state = S::Stopping;
                c.since_ms = 65_000.0;
                c.kill_in_ms = Some(4_600.0);
                c.detail = Some("3 jobs in flight".into());
            }
            _ => {}
        }
    }
    v.shutdown = Some(ShutdownView {
        trigger: Trigger::Signal("SIGTERM".into()),
        phase: Some(2),
        phases: 3,
        waiting_on: vec!["workers".into()],
        time_left_ms: Some(4_600.0),
        budget_left_ms: 29_500.0,
        forced: None,
    });
    v
}

/// An app on the fixture graph showing `view` (after `before`, if any).
pub(crate) fn app(before: Option<StatusView>, view: StatusView) -> App {
    let mut app = App::new("/run/user/1000/sundown/app.sock".into(), Some(order()));
    if let Some(b) = before {
        app.status(b);
    }
    app.status(view);
    app
}
