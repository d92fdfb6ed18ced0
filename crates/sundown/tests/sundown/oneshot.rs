//! One-shot components (`oneshot = true`) and `depends_on` conditions, on
//! tokio's paused clock with `sim` components (`exit_after` is the job's
//! length). The same with real processes is in the binary's
//! `tests/cli/oneshot.rs`.

use std::time::Duration;

use sundown::status::ComponentState;
use sundown::{Change, Outcome, Trigger};

use crate::common::{at, component, sup};

const MIGRATE: &str = r#"
[components.db]
kind = "sim"
start_delay = "50ms"
[components.migrate]
kind = "sim"
oneshot = true
depends_on = ["db"]
exit_after = "200ms"
[components.app]
kind = "sim"
depends_on = [{ name = "migrate", condition = "completed" }, "db"]
start_delay = "10ms"
[components.web]
kind = "sim"
depends_on = ["migrate"]
"#;

fn state(r: &sundown::Running, name: &str) -> ComponentState {
    let s = r.status();
    let s = s.borrow();
    s.components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("`{name}` in the status"))
        .state
}

#[tokio::test(start_paused = true)]
async fn dependents_start_once_the_one_shot_has_completed_and_it_is_not_stopped() {
    let mut running = sup(MIGRATE).spawn();
    assert!(
        running.ready().await,
        "a completed one-shot counts as ready"
    );
    assert_eq!(state(&running, "migrate"), ComponentState::Completed);
    {
        let s = running.status();
        let s = s.borrow();
        let done = s
            .components
            .iter()
            .find(|c| c.name == "migrate")
            .and_then(|c| c.completed)
            .expect("completed run in the status");
        assert_eq!(done.exit_code, 0);
        assert_eq!(done.duration_ms, 200.0);
    }
    let r = running.shutdown().await;
    let migrate = component(&r, "migrate");
    assert_eq!(migrate.outcome, Outcome::Completed);
    assert_eq!(migrate.exit_status, Some(0));
    assert_eq!(migrate.stop_requested, None, "not stopped at shutdown");
    let done = at(migrate.stopped_at);
    assert_eq!(done, 250.0);
    // Ready when it completed: that is when its dependents were released.
    assert_eq!(migrate.ready_at, Some(done));
    // A plain name waits for the same thing as `completed`: a one-shot is
    // ready when it has completed.
    for dependent in ["app", "web"] {
        assert_eq!(at(component(&r, dependent).start_requested), done);
    }
    assert_eq!(r.totals.completed, 1);
    assert_eq!(r.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn started_ready_and_completed_conditions_wait_for_different_moments() {
    let mut running = sup(r#"
[components.slow]
kind = "sim"
start_delay = "1s"
[components.job]
kind = "sim"
oneshot = true
exit_after = "3s"
[components.on_started]
kind = "sim"
depends_on = [{ name = "slow", condition = "started" }, { name = "job", condition = "started" }]
[components.on_ready]
kind = "sim"
depends_on = [{ name = "slow", condition = "ready" }]
[components.on_completed]
kind = "sim"
depends_on = [{ name = "job", condition = "completed" }]
"#)
    .spawn();
    assert!(running.ready().await);
    let r = running.shutdown().await;
    let started = |n| at(component(&r, n).start_requested);
    assert_eq!(started("on_started"), 0.0);
    assert_eq!(started("on_ready"), 1000.0);
    assert_eq!(started("on_completed"), 3000.0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_one_shot_keeps_its_dependents_from_ever_starting() {
    let mut running = sup(r#"
[components.migrate]
kind = "sim"
oneshot = true
fail_after = "100ms"
[components.app]
kind = "sim"
depends_on = [{ name = "migrate", condition = "completed" }]
"#)
    .spawn();
    assert!(!running.ready().await);
    let r = running.wait().await;
    assert_eq!(r.trigger, Some(Trigger::ComponentFailed("migrate".into())));
    assert_eq!(r.exit_code, 1);
    assert_eq!(component(&r, "migrate").outcome, Outcome::Failed);
    let app = component(&r, "app");
    assert_eq!(app.outcome, Outcome::NeverStarted);
    assert_eq!(
        app.reason.as_deref(),
        Some("waited for `migrate` to complete, which failed (simulated failure (fail_after))")
    );
}

#[tokio::test(start_paused = true)]
async fn a_one_shot_still_running_at_shutdown_is_stopped_in_its_phase() {
    let running = sup(r#"
[components.db]
kind = "sim"
stop_delay = "10ms"
[components.backfill]
kind = "sim"
oneshot = true
depends_on = ["db"]
exit_after = "1h"
stop_delay = "20ms"
[components.api]
kind = "sim"
depends_on = [{ name = "backfill", condition = "started" }]
"#)
    .spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(state(&running, "backfill"), ComponentState::Starting);
    let r = running.shutdown().await;
    let backfill = component(&r, "backfill");
    assert_eq!(backfill.outcome, Outcome::Stopped);
    assert_eq!(backfill.phase, 1);
    // After its dependent, before its dependency.
    assert!(at(backfill.stop_requested) >= at(component(&r, "api").stopped_at));
    assert!(at(backfill.stopped_at) <= at(component(&r, "db").stop_requested));
}

#[tokio::test(start_paused = true)]
async fn restart_and_start_run_a_completed_one_shot_again_with_its_dependents() {
    let mut running = sup(MIGRATE).spawn();
    assert!(running.ready().await);
    let accepted = running
        .handle()
        .change(Change::Restart("migrate".into()))
        .await
        .expect("accepted");
    assert_eq!(accepted.stop, ["app", "web"]);
    assert_eq!(accepted.start, ["migrate", "app", "web"]);
    let t0 = tokio::time::Instant::now();
    assert_eq!(accepted.finished().await, Ok(()));
    // The job again (200 ms), then app's start (10 ms).
    assert_eq!(t0.elapsed(), Duration::from_millis(210));
    assert_eq!(state(&running, "migrate"), ComponentState::Completed);
    assert_eq!(state(&running, "app"), ComponentState::Ready);

    // `start` of a completed one-shot is the same.
    let accepted = running
        .handle()
        .change(Change::Start("migrate".into()))
        .await
        .expect("accepted");
    assert_eq!(accepted.start, ["migrate", "app", "web"]);
    assert_eq!(accepted.finished().await, Ok(()));
    let r = running.shutdown().await;
    let migrate = component(&r, "migrate");
    assert_eq!(migrate.outcome, Outcome::Completed);
    assert_eq!(r.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn reload_sees_a_changed_condition_or_oneshot_as_a_changed_component() {
    let mut running = sup(MIGRATE).spawn();
    assert!(running.ready().await);
    // web now only waits for migrate to be started; the same config
    // otherwise, so migrate (completed) stays completed.
    let new = MIGRATE.replace(
        "depends_on = [\"migrate\"]",
        "depends_on = [{ name = \"migrate\", condition = \"started\" }]",
    );
    let accepted = running
        .handle()
        .change(Change::reload(sup(&new)))
        .await
        .expect("accepted");
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(diff.changed, ["web"]);
    assert_eq!(diff.unchanged, ["app", "db", "migrate"]);
    assert_eq!(accepted.finished().await, Ok(()));
    assert_eq!(state(&running, "migrate"), ComponentState::Completed);

    // A one-shot no more: migrate is changed, runs again as a service, and
    // what depends on it comes back with it.
    let new = new
        .replace("oneshot = true\n", "")
        .replace("condition = \"completed\"", "condition = \"ready\"");
    let accepted = running
        .handle()
        .change(Change::reload(sup(&new)))
        .await
        .expect("accepted");
    let diff = accepted.diff.clone().expect("a diff");
    assert_eq!(diff.changed, ["app", "migrate"]);
    assert_eq!(diff.dependents, ["web"]);
    let r = running.shutdown().await;
    r.assert_respects_graph();
}
