//! Dry runs of changes ([`Handle::preview`]) on tokio's paused clock: the
//! engine answers with the plan the change itself would be answered with,
//! or the same refusal, and touches nothing. Over the control socket and
//! from the shell, the same is tested in the binary's
//! `tests/cli/control_change.rs`.

use std::time::Duration;

use sundown::status::{ComponentState, Status};
use sundown::{Change, Handle, Preview, Refused, Running, Supervisor};

const GRAPH: &str = r#"
    [components.db]
    kind = "sim"
    stop_delay = "30ms"
    [components.api]
    kind = "sim"
    depends_on = ["db"]
    start_delay = "10ms"
    stop_delay = "20ms"
    [components.web]
    kind = "sim"
    depends_on = ["api"]
    [components.other]
    kind = "sim"
    [components.migrate]
    kind = "sim"
    oneshot = true
    exit_after = "5ms"
    [components.app]
    kind = "sim"
    depends_on = [{ name = "migrate", condition = "completed" }]
"#;

async fn running() -> Running {
    let mut running = Supervisor::from_toml_str(GRAPH)
        .expect("valid config")
        .spawn();
    assert!(running.ready().await, "all ready");
    running
}

/// The states, by name, and the rest of what a dry run must leave alone.
fn states(r: &Running) -> Vec<(String, ComponentState, u32, Option<String>)> {
    let s = r.status();
    let s: &Status = &s.borrow();
    s.components
        .iter()
        .map(|c| (c.name.clone(), c.state, c.restarts, c.last_exit.clone()))
        .collect()
}

async fn preview(h: &Handle, c: Change) -> Preview {
    h.preview(c).await.expect("a plan")
}

/// Asks `c` as a dry run first, then for real: the two must agree.
async fn same_as_the_change(r: &Running, c: impl Fn() -> Change) -> Preview {
    let h = r.handle();
    let dry = preview(&h, c()).await;
    let real = h.change(c()).await.expect("accepted");
    let said = Preview {
        stop: real.stop.clone(),
        start: real.start.clone(),
        diff: real.diff.clone(),
    };
    assert_eq!(dry, said, "the dry run of `{}` and the change", c());
    real.finished().await.expect("done");
    dry
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_plans_what_the_change_does_and_changes_nothing() {
    let r = running().await;
    let h = r.handle();
    let before = states(&r);
    let t0 = tokio::time::Instant::now();
    let stop = preview(&h, Change::Stop("db".into())).await;
    assert_eq!(stop.stop, ["web", "api", "db"]);
    assert!(stop.start.is_empty() && stop.diff.is_none());
    let restart = preview(&h, Change::Restart("api".into())).await;
    assert_eq!(
        (restart.stop, restart.start),
        (
            vec!["web".to_string(), "api".into()],
            vec!["api".to_string(), "web".into()]
        )
    );
    // A completed one-shot would run again, with what depends on it;
    // asking must not make it pending.
    let again = preview(&h, Change::Start("migrate".into())).await;
    assert_eq!(
        (again.stop, again.start),
        (
            vec!["app".to_string()],
            vec!["migrate".to_string(), "app".into()]
        )
    );
    let reload = format!("{GRAPH}\n[components.cache]\nkind = \"sim\"\ndepends_on = [\"db\"]\n");
    let sup = Supervisor::from_toml_str(&reload).expect("valid");
    let reload = preview(&h, Change::reload(sup)).await;
    assert_eq!(reload.start, ["cache"]);
    assert_eq!(reload.diff.expect("a diff").added, ["cache"]);
    // Answered at once, and nothing moved, then or later.
    assert_eq!(t0.elapsed(), Duration::ZERO);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(states(&r), before);
    assert_eq!(
        r.status().borrow().components.len(),
        6,
        "no component added"
    );
    let report = r.shutdown().await;
    assert_eq!(report.exit_code, 0, "{report:#?}");
    for c in &report.components {
        assert!(c.restarts.is_empty(), "{} restarted", c.name);
        assert!(
            c.stop_requested
                .is_none_or(|t| t >= report.shutdown_started_at.unwrap_or(0.0)),
            "{} was stopped before the shutdown",
            c.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_agrees_with_the_change_that_follows_it() {
    let r = running().await;
    let stop = same_as_the_change(&r, || Change::Stop("api".into())).await;
    assert_eq!(stop.stop, ["web", "api"]);
    // The live state: db is up, so only what the stop took down comes back.
    let start = same_as_the_change(&r, || Change::Start("api".into())).await;
    assert_eq!(start.start, ["api", "web"]);
    let restart = same_as_the_change(&r, || Change::Restart("db".into())).await;
    assert_eq!(restart.stop, ["web", "api", "db"]);
    let again = same_as_the_change(&r, || Change::Restart("migrate".into())).await;
    assert_eq!(again.start, ["migrate", "app"]);
    r.shutdown().await.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_is_refused_as_the_change_would_be() {
    let r = running().await;
    let h = r.handle();
    let unknown = h.preview(Change::Stop("apj".into())).await;
    assert_eq!(
        unknown,
        Err(Refused::Unknown {
            name: "apj".into(),
            hint: Some("api".into())
        })
    );
    // While a stop is under way, a dry run hears what a change would.
    let busy = h.change(Change::Stop("db".into())).await.expect("accepted");
    let dry = h.preview(Change::Restart("other".into())).await;
    let real = h.change(Change::Restart("other".into())).await.map(|_| ());
    assert_eq!(dry.map(|_| ()), real);
    assert!(matches!(real, Err(Refused::Busy(_))), "{real:?}");
    busy.finished().await.expect("stopped");
    h.shutdown(sundown::Trigger::Requested);
    assert_eq!(
        h.preview(Change::Start("db".into())).await,
        Err(Refused::ShuttingDown)
    );
    r.wait().await;
}
