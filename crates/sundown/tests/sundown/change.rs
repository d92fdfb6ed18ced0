//! Changes to a running graph through the library API, on tokio's paused
//! clock: stop, start and restart of one component with its dependents,
//! reload, and the requests that are refused. The same commands from the
//! shell, over the control socket, are tested in the binary's
//! `tests/cli/control_change.rs`.

use std::time::Duration;

use sundown::status::ComponentState;
use sundown::{Change, Outcome, Refused, Running, Supervisor};

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
    start_delay = "10ms"
    stop_delay = "10ms"
    [components.other]
    kind = "sim"
"#;

async fn running(toml: &str) -> Running {
    let sup = Supervisor::from_toml_str(toml).expect("valid config");
    let mut running = sup.spawn();
    assert!(running.ready().await, "all ready");
    running
}

fn state(r: &Running, name: &str) -> ComponentState {
    let s = r.status();
    let s = s.borrow();
    s.components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("`{name}` in the status"))
        .state
}

async fn change(r: &Running, c: Change) -> sundown::Accepted {
    r.handle().change(c).await.expect("accepted")
}

/// Asks for `c` and waits until it is done.
async fn apply(r: &Running, c: Change, what: &str) {
    change(r, c).await.finished().await.expect(what);
}

#[tokio::test(start_paused = true)]
async fn stop_takes_dependents_down_first_and_leaves_the_rest_running() {
    let r = running(GRAPH).await;
    let t0 = tokio::time::Instant::now();
    let accepted = change(&r, Change::Stop("db".into())).await;
    assert_eq!(accepted.stop, ["web", "api", "db"]);
    assert!(accepted.start.is_empty());
    assert_eq!(accepted.finished().await, Ok(()));
    // 10 + 20 + 30 ms, one after another.
    assert_eq!(t0.elapsed(), Duration::from_millis(60));
    for n in ["db", "api", "web"] {
        assert_eq!(state(&r, n), ComponentState::Stopped, "{n}");
    }
    assert_eq!(state(&r, "other"), ComponentState::Ready);
    // Stopped stays stopped: nothing restarts it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(state(&r, "db"), ComponentState::Stopped);

    let report = r.shutdown().await;
    assert_eq!(report.exit_code, 0, "{report:#?}");
    report.assert_respects_graph();
    let c = |n: &str| report.component(n).expect("in the report").clone();
    assert!(c("web").stopped_at <= c("api").stop_requested);
    assert!(c("api").stopped_at <= c("db").stop_requested);
    // Down long before the shutdown, and it says so.
    assert!(c("db").stopped_at < report.shutdown_started_at);
    assert_eq!(c("db").outcome, Outcome::Stopped);
    assert!(c("db").restarts.is_empty(), "a stop is not a restart");
    assert_eq!(c("other").start_requested, Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn start_brings_back_what_stop_took_down_in_order() {
    let r = running(GRAPH).await;
    apply(&r, Change::Stop("db".into()), "stopped").await;
    let t0 = tokio::time::Instant::now();
    let accepted = change(&r, Change::Start("db".into())).await;
    assert_eq!(accepted.start, ["db", "api", "web"]);
    assert_eq!(accepted.finished().await, Ok(()));
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(20),
        "api then web, 10 ms each"
    );
    for n in ["db", "api", "web", "other"] {
        assert_eq!(state(&r, n), ComponentState::Ready, "{n}");
    }
    let report = r.shutdown().await;
    report.assert_respects_graph();
    let c = |n: &str| report.component(n).expect("in the report").clone();
    assert!(c("api").start_requested >= c("db").ready_at);
    assert!(c("web").start_requested >= c("api").ready_at);
}

#[tokio::test(start_paused = true)]
async fn start_of_a_dependent_starts_its_stopped_dependencies_only() {
    let r = running(GRAPH).await;
    apply(&r, Change::Stop("db".into()), "stopped").await;
    let accepted = change(&r, Change::Start("api".into())).await;
    assert_eq!(accepted.start, ["db", "api"]);
    accepted.finished().await.expect("started");
    assert_eq!(state(&r, "web"), ComponentState::Stopped);
    r.shutdown().await.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn restart_stops_dependents_first_and_starts_them_after() {
    let r = running(GRAPH).await;
    let accepted = change(&r, Change::Restart("api".into())).await;
    assert_eq!(accepted.stop, ["web", "api"]);
    assert_eq!(accepted.start, ["api", "web"]);
    accepted.finished().await.expect("restarted");
    let report = r.shutdown().await;
    report.assert_respects_graph();
    let c = |n: &str| report.component(n).expect("in the report").clone();
    for n in ["api", "web"] {
        assert_eq!(c(n).restarts.len(), 1, "{n}");
        assert!(c(n).restarts[0].reason.contains("sundown restart api"));
    }
    assert!(c("db").restarts.is_empty());
    assert_eq!(c("db").start_requested, Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn refused_requests_say_why_and_touch_nothing() {
    let r = running(GRAPH).await;
    let e = r
        .handle()
        .change(Change::Stop("dbb".into()))
        .await
        .expect_err("unknown");
    assert_eq!(
        e.to_string(),
        "there is no component `dbb` (did you mean `db`?)"
    );
    // One change at a time.
    let first = change(&r, Change::Stop("db".into())).await;
    let e = r
        .handle()
        .change(Change::Start("db".into()))
        .await
        .expect_err("busy");
    assert_eq!(e, Refused::Busy("stop db".into()));
    first.finished().await.expect("stopped");
    // A shutdown ends the change under way, with a reason.
    let second = change(&r, Change::Start("db".into())).await;
    r.handle().shutdown(sundown::Trigger::Requested);
    let why = second
        .finished()
        .await
        .expect_err("interrupted")
        .to_string();
    assert!(why.starts_with("interrupted: shutting down"), "{why}");
    let e = r
        .handle()
        .change(Change::Stop("db".into()))
        .await
        .expect_err("shutting down");
    assert_eq!(e, Refused::ShuttingDown);
    let report = r.wait().await;
    report.assert_respects_graph();
    assert_eq!(report.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn a_change_is_refused_while_the_graph_starts() {
    let sup = Supervisor::from_toml_str(GRAPH).expect("valid");
    let r = sup.spawn();
    let e = r
        .handle()
        .change(Change::Stop("db".into()))
        .await
        .expect_err("starting");
    assert_eq!(e, Refused::Starting);
    r.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn reload_adding_one_component_starts_only_that_one() {
    let r = running(GRAPH).await;
    let new = format!(
        "{GRAPH}\n[components.cache]\nkind = \"sim\"\ndepends_on = [\"db\"]\nstart_delay = \"5ms\"\n"
    );
    let sup = Supervisor::from_toml_str(&new).expect("valid");
    let accepted = change(&r, Change::reload(sup)).await;
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(diff.added, ["cache"]);
    assert!(diff.removed.is_empty() && diff.changed.is_empty() && diff.dependents.is_empty());
    assert_eq!(diff.unchanged, ["api", "db", "other", "web"]);
    assert!(accepted.stop.is_empty());
    assert_eq!(accepted.start, ["cache"]);
    accepted.finished().await.expect("reloaded");
    assert_eq!(state(&r, "cache"), ComponentState::Ready);
    let report = r.shutdown().await;
    report.assert_respects_graph();
    assert_eq!(report.components.len(), 5);
    for n in ["db", "api", "web", "other"] {
        let c = report.component(n).expect("kept");
        assert!(
            c.start_requested <= report.all_ready_at,
            "{n} was not restarted"
        );
        assert!(c.restarts.is_empty(), "{n}");
    }
    // The new component is stopped before what it depends on.
    report.assert_stopped_before("cache", "db");
}

#[tokio::test(start_paused = true)]
async fn reload_restarts_a_changed_component_with_its_dependents_and_drops_a_removed_one() {
    let r = running(GRAPH).await;
    // api changes (a new stop delay); other is gone.
    let new = GRAPH
        .replace("stop_delay = \"20ms\"", "stop_delay = \"25ms\"")
        .replace("[components.other]\n    kind = \"sim\"\n", "");
    let sup = Supervisor::from_toml_str(&new).expect("valid");
    let accepted = change(&r, Change::reload(sup)).await;
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(diff.changed, ["api"]);
    assert_eq!(diff.removed, ["other"]);
    assert_eq!(diff.dependents, ["web"]);
    assert_eq!(diff.unchanged, ["db"]);
    // Level by level: web and other (nothing above them) together, then api.
    assert_eq!(accepted.stop, ["other", "web", "api"]);
    assert_eq!(accepted.start, ["api", "web"]);
    accepted.finished().await.expect("reloaded");
    let status = r.status().borrow().clone();
    let names: Vec<&str> = status.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["api", "db", "web"]);
    let report = r.shutdown().await;
    report.assert_respects_graph();
    let c = |n: &str| report.component(n).expect("in the report").clone();
    assert_eq!(c("db").start_requested, Some(0.0), "db kept running");
    assert_eq!(c("api").restarts.len(), 1);
    assert_eq!(c("web").restarts.len(), 1);
    // The new definition is the one that stopped: 25 ms.
    assert_eq!(c("api").stop_ms, Some(25.0));
}

#[tokio::test(start_paused = true)]
async fn reload_of_the_same_config_changes_nothing() {
    let r = running(GRAPH).await;
    let sup = Supervisor::from_toml_str(GRAPH).expect("valid");
    let accepted = change(&r, Change::reload(sup)).await;
    assert!(accepted.diff.as_ref().is_some_and(sundown::Diff::is_empty));
    assert!(accepted.stop.is_empty() && accepted.start.is_empty());
    accepted.finished().await.expect("nothing to do");
    let report = r.shutdown().await;
    assert!(
        report
            .components
            .iter()
            .all(|c| c.start_requested <= report.all_ready_at && c.restarts.is_empty()),
        "{report:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_during_the_start_can_fix_what_holds_it_up() {
    // `slow` would take an hour to be ready, and `top` waits for it.
    let stuck = r#"
        [components.db]
        kind = "sim"
        [components.slow]
        kind = "sim"
        depends_on = ["db"]
        start_delay = "1h"
        [components.top]
        kind = "sim"
        depends_on = ["slow"]
    "#;
    let sup = Supervisor::from_toml_str(stuck).expect("valid");
    let mut r = sup.spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(r.state(), sundown::State::Starting);
    let fixed = Supervisor::from_toml_str(&stuck.replace("\"1h\"", "\"10ms\"")).expect("valid");
    let accepted = change(&r, Change::reload(fixed)).await;
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(
        (diff.changed.as_slice(), diff.dependents.as_slice()),
        (&["slow".to_string()][..], &["top".to_string()][..])
    );
    assert_eq!(accepted.start, ["slow", "top"]);
    accepted.finished().await.expect("reloaded");
    assert!(r.ready().await, "every component ready now");
    let report = r.shutdown().await;
    assert_eq!(report.exit_code, 0, "{report:#?}");
    report.assert_respects_graph();
    assert_eq!(
        report.component("db").and_then(|c| c.start_requested),
        Some(0.0)
    );
    assert_eq!(
        report.component("slow").and_then(|c| c.ready_at),
        Some(110.0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_reload_removing_what_holds_the_start_up_completes_it() {
    let stuck = r#"
        [components.db]
        kind = "sim"
        [components.broken]
        kind = "sim"
        start_delay = "1h"
    "#;
    let mut r = Supervisor::from_toml_str(stuck).expect("valid").spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let without = Supervisor::from_toml_str("[components.db]\nkind = \"sim\"\n").expect("valid");
    let accepted = change(&r, Change::reload(without)).await;
    assert_eq!(accepted.stop, ["broken"]);
    accepted.finished().await.expect("reloaded");
    assert!(r.ready().await, "nothing left to wait for");
    // And the graph takes changes now.
    apply(&r, Change::Restart("db".into()), "restarted").await;
    assert_eq!(r.shutdown().await.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn a_component_that_ended_is_not_started_again() {
    let r = running(
        r#"
        [components.db]
        kind = "sim"
        [components.migrate]
        kind = "sim"
        depends_on = ["db"]
        exit_after = "10ms"
    "#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    for c in [
        Change::Start("migrate".into()),
        Change::Restart("migrate".into()),
    ] {
        let e = r.handle().change(c).await.expect_err("ended");
        assert_eq!(e, Refused::Ended("migrate".into()));
    }
    // Restarting what it depends on is fine: it stays ended.
    apply(&r, Change::Restart("db".into()), "restarted").await;
    r.shutdown().await.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn a_change_stuck_starting_gives_way_to_the_next_one() {
    let r = running(GRAPH).await;
    // api comes back taking an hour to be ready: the restart waits on it.
    let slow = GRAPH.replace(
        "start_delay = \"10ms\"\n    stop_delay = \"20ms\"",
        "start_delay = \"1h\"\n    stop_delay = \"20ms\"",
    );
    let accepted = change(
        &r,
        Change::reload(Supervisor::from_toml_str(&slow).expect("valid")),
    )
    .await;
    assert_eq!(accepted.start, ["api", "web"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The fix replaces it.
    let fixed = Supervisor::from_toml_str(GRAPH).expect("valid");
    let next = change(&r, Change::reload(fixed)).await;
    let why = accepted
        .finished()
        .await
        .expect_err("superseded")
        .to_string();
    assert!(why.starts_with("superseded by `reload`"), "{why}");
    assert_eq!(
        next.diff.as_ref().map(|d| d.changed.clone()),
        Some(vec!["api".to_string()])
    );
    next.finished().await.expect("reloaded");
    assert_eq!(state(&r, "web"), ComponentState::Ready);
    r.shutdown().await.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn restart_of_a_stopped_component_brings_back_what_its_stop_took() {
    let r = running(GRAPH).await;
    apply(&r, Change::Stop("api".into()), "stopped").await;
    let accepted = change(&r, Change::Restart("api".into())).await;
    assert!(accepted.stop.is_empty());
    assert_eq!(accepted.start, ["api", "web"]);
    accepted.finished().await.expect("restarted");
    assert_eq!(state(&r, "web"), ComponentState::Ready);
    r.shutdown().await.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn a_reload_leaves_what_was_stopped_by_hand_stopped() {
    let r = running(GRAPH).await;
    apply(&r, Change::Stop("web".into()), "stopped").await;
    let new = GRAPH.replace("stop_delay = \"10ms\"", "stop_delay = \"15ms\"");
    let accepted = change(
        &r,
        Change::reload(Supervisor::from_toml_str(&new).expect("valid")),
    )
    .await;
    assert_eq!(
        accepted.diff.as_ref().map(|d| d.changed.clone()),
        Some(vec!["web".to_string()])
    );
    assert!(accepted.start.is_empty(), "{:?}", accepted.start);
    accepted.finished().await.expect("reloaded");
    assert_eq!(state(&r, "web"), ComponentState::Stopped);
    // Started by hand, it runs as defined now.
    apply(&r, Change::Start("web".into()), "started").await;
    let report = r.shutdown().await;
    assert_eq!(report.component("web").and_then(|c| c.stop_ms), Some(15.0));
}
