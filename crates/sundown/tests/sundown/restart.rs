//! Restart policies: backoff, the restart limit, `restart_dependents`
//! (rest_for_one), and that no restart outlives a shutdown request. The
//! engine runs on tokio's paused clock, so delays are asserted exactly
//! (within the documented 20% jitter). The same with real processes and a
//! real SIGTERM is in the binary's tests (`tests/cli/restart.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sundown::component::BoxFuture;
use sundown::report::ComponentReport;
use sundown::status::ComponentState;
use sundown::{Component, Exit, Lifecycle, Outcome, Trigger};

use crate::common::{at, component, sup};

/// Fails `fail_runs` times (each `after` its start, once ready), then runs until stopped.
struct Flaky {
    runs: Arc<AtomicUsize>,
    fail_runs: usize,
    after: Duration,
}

impl Component for Flaky {
    fn kind(&self) -> &'static str {
        "flaky"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            let run = self.runs.fetch_add(1, Ordering::SeqCst);
            life.ready();
            if run < self.fail_runs {
                tokio::select! {
                    _ = tokio::time::sleep(self.after) => return Exit::Code(1),
                    _ = life.stop_requested() => return Exit::Code(0),
                }
            }
            life.stop_requested().await;
            Exit::Code(0)
        })
    }
}

fn flaky(
    runs: &Arc<AtomicUsize>,
    fail_runs: usize,
    after_ms: u64,
) -> impl FnMut() -> Box<dyn Component> + Send + 'static {
    let runs = Arc::clone(runs);
    move || {
        Box::new(Flaky {
            runs: Arc::clone(&runs),
            fail_runs,
            after: Duration::from_millis(after_ms),
        }) as Box<dyn Component>
    }
}

/// Checks that each delay is its doubled backoff minus at most 20% jitter.
fn assert_backoff(r: &ComponentReport, base_ms: f64, cap_ms: f64) {
    for (n, restart) in r.restarts.iter().enumerate() {
        let full = (base_ms * 2f64.powi(n as i32)).min(cap_ms);
        let delay = restart.delay_ms.expect("a backoff delay");
        assert!(
            delay <= full && delay >= full * 0.8,
            "restart {n} of {}: delay {delay} ms, expected {full} ms minus at most 20%",
            r.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_loop_stops_at_max_restarts_and_shuts_down_in_order() {
    let r = sup(r#"
        [components.db]
        kind = "sim"
        fail_after = "100ms"
        restart = "on-failure"
        max_restarts = 3
        restart_backoff = "100ms"
        restart_backoff_max = "300ms"
        [components.web]
        kind = "sim"
        depends_on = ["db"]
        stop_delay = "20ms"
    "#)
    .spawn()
    .wait()
    .await;
    assert_eq!(r.exit_code, 1);
    assert_eq!(r.trigger, Some(Trigger::ComponentFailed("db".into())));
    let db = component(&r, "db");
    assert_eq!(db.outcome, Outcome::Failed);
    assert_eq!(db.restarts.len(), 3);
    assert_backoff(db, 100.0, 300.0);
    assert!(
        db.restarts
            .iter()
            .all(|x| x.reason.contains("simulated failure")),
        "{:?}",
        db.restarts
    );
    // Four runs of 100 ms each, and the three delays between them.
    // (The paused clock fires timers on whole milliseconds: up to 1 ms late each.)
    let delays: f64 = db.restarts.iter().filter_map(|x| x.delay_ms).sum();
    let took = at(db.stopped_at) - (400.0 + delays);
    assert!((0.0..=3.0).contains(&took), "{took} ms off");
    // Its dependent kept running through the restarts (no restart_dependents),
    // then went down first in the shutdown.
    let web = component(&r, "web");
    assert!(web.restarts.is_empty());
    assert_eq!(web.start_requested, Some(0.0));
    assert_eq!(web.outcome, Outcome::Stopped);
    assert_eq!(r.totals.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn always_restarts_a_component_that_finishes_and_the_window_forgets_old_restarts() {
    let running = sup(r#"
        [components.job]
        kind = "sim"
        exit_after = "1s"
        restart = "always"
        max_restarts = 1
        restart_window = "500ms"
        restart_backoff = "100ms"
    "#)
    .spawn();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let r = running.shutdown().await;
    assert_eq!(r.exit_code, 0, "{r:?}");
    let job = component(&r, "job");
    // Each run lasts 1 s plus under 100 ms of delay: more than one restart in
    // 10 s although only one is allowed per 500 ms window.
    assert!(job.restarts.len() >= 8, "{:?}", job.restarts);
    assert!(
        job.restarts
            .iter()
            .all(|x| x.reason.starts_with("finished"))
    );
    // The window resets the backoff too: every delay is the first one's.
    assert!(
        job.restarts
            .iter()
            .all(|x| x.delay_ms.is_some_and(|d| (80.0..=100.0).contains(&d)))
    );
    assert_eq!(job.outcome, Outcome::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_during_backoff_ends_the_restart_cleanly() {
    let running = sup(r#"
        [components.db]
        kind = "sim"
        fail_after = "50ms"
        restart = "on-failure"
        restart_backoff = "10s"
        [components.web]
        kind = "sim"
        depends_on = ["db"]
        stop_delay = "30ms"
    "#)
    .spawn();
    let mut status = running.status();
    status
        .wait_for(|s| s.components[0].state == ComponentState::Restarting)
        .await
        .expect("the engine runs");
    assert_eq!(status.borrow().components[0].restarts, 1);
    let before = tokio::time::Instant::now();
    let r = running.shutdown().await;
    // Nothing waits for the 10 s backoff: only web's 30 ms stop.
    assert_eq!(before.elapsed(), Duration::from_millis(30));
    assert_eq!(r.exit_code, 0);
    let db = component(&r, "db");
    assert_eq!(db.outcome, Outcome::Stopped);
    assert_eq!(db.restarts.len(), 1);
    // It went down at its failure, not at the shutdown.
    assert_eq!(db.stopped_at, Some(50.0));
    assert_eq!(component(&r, "web").outcome, Outcome::Stopped);
    r.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn restart_dependents_stops_them_in_reverse_and_starts_them_in_order() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = {
        let running = sup(r#"
            [components.db]
            kind = "sim"
            restart = "on-failure"
            restart_backoff = "10ms"
            restart_dependents = true
            [components.api]
            kind = "sim"
            depends_on = ["db"]
            start_delay = "5ms"
            stop_delay = "40ms"
            [components.web]
            kind = "sim"
            depends_on = ["api"]
            start_delay = "5ms"
            stop_delay = "20ms"
            [components.other]
            kind = "sim"
        "#)
        .replace_with("db", flaky(&runs, 1, 100))
        .expect("db exists")
        .spawn();
        tokio::time::sleep(Duration::from_secs(1)).await;
        running.shutdown().await
    };
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let (db, api, web) = (
        component(&r, "db"),
        component(&r, "api"),
        component(&r, "web"),
    );
    assert_eq!(db.restarts.len(), 1);
    assert_eq!(db.restarts[0].at, 100.0);
    for dependent in [api, web] {
        assert_eq!(dependent.restarts.len(), 1, "{dependent:?}");
        assert!(dependent.restarts[0].reason.contains("restart_dependents"));
        assert_eq!(dependent.restarts[0].delay_ms, None);
    }
    // Reverse order down: web (20 ms), then api (40 ms); db waits for both,
    // although its own backoff (≤ 10 ms) ended long before.
    assert_eq!(web.restarts[0].at, 120.0);
    assert_eq!(api.restarts[0].at, 160.0);
    assert_eq!(db.start_requested, Some(160.0));
    // In order up again: db is ready at once, api 5 ms later, then web.
    assert_eq!(api.start_requested, Some(160.0));
    assert_eq!(web.start_requested, Some(165.0));
    assert_eq!(web.ready_at, Some(170.0));
    // An unrelated component kept running the whole time.
    let other = component(&r, "other");
    assert!(other.restarts.is_empty());
    assert_eq!(other.start_requested, Some(0.0));
    assert!(r.components.iter().all(|c| c.outcome == Outcome::Stopped));
    r.assert_respects_graph();
}

/// Found by `proptest_order`: a dependent being stopped for its
/// dependency's restart still counted as ready, so a component waiting for
/// it and for a slower dependency started on it while it went down.
#[tokio::test(start_paused = true)]
async fn nothing_starts_on_a_dependent_going_down_for_a_restart() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = {
        let running = sup(r#"
            [components.db]
            kind = "sim"
            restart = "on-failure"
            restart_backoff = "5ms"
            restart_dependents = true
            [components.api]
            kind = "sim"
            depends_on = ["db"]
            stop_delay = "50ms"
            [components.slow]
            kind = "sim"
            start_delay = "30ms"
            [components.web]
            kind = "sim"
            depends_on = ["api", "slow"]
        "#)
        .replace_with("db", flaky(&runs, 1, 10))
        .expect("db exists")
        .spawn();
        tokio::time::sleep(Duration::from_secs(1)).await;
        running.shutdown().await
    };
    assert_eq!(r.exit_code, 0, "{r:#?}");
    let (api, web) = (component(&r, "api"), component(&r, "web"));
    // db fails at 10 ms; api goes down from 10 to 60 ms; slow is ready at
    // 30 ms, in between. web must wait for api's second run.
    assert_eq!(api.restarts.len(), 1, "{api:?}");
    assert_eq!(api.restarts[0].at, 60.0);
    assert_eq!(api.start_requested, Some(60.0));
    assert_eq!(web.start_requested, Some(60.0), "{web:?}");
    assert!(web.restarts.is_empty(), "{web:?}");
    r.assert_respects_graph();
}

#[tokio::test(start_paused = true)]
async fn a_dependency_failing_before_ready_is_retried_and_its_dependents_wait() {
    let r = {
        let running = sup(r#"
            [components.db]
            kind = "sim"
            restart = "on-failure"
            restart_backoff = "50ms"
            [components.web]
            kind = "sim"
            depends_on = ["db"]
        "#)
        .replace_with("db", {
            let runs = Arc::new(AtomicUsize::new(0));
            move || {
                Box::new(FailsBeforeReady {
                    runs: Arc::clone(&runs),
                }) as Box<dyn Component>
            }
        })
        .expect("db exists")
        .spawn();
        let mut running = running;
        assert!(running.ready().await, "everything became ready");
        running.shutdown().await
    };
    let (db, web) = (component(&r, "db"), component(&r, "web"));
    assert_eq!(db.restarts.len(), 2);
    assert!(db.restarts[0].reason.starts_with("failed to start"));
    assert!(at(web.start_requested) >= at(db.ready_at));
    assert!(web.restarts.is_empty());
    assert_eq!(r.exit_code, 0);
}

/// Fails twice before it is ready, then comes up.
struct FailsBeforeReady {
    runs: Arc<AtomicUsize>,
}

impl Component for FailsBeforeReady {
    fn kind(&self) -> &'static str {
        "fails-before-ready"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            if self.runs.fetch_add(1, Ordering::SeqCst) < 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Exit::Error("cannot bind".into());
            }
            life.ready();
            life.stop_requested().await;
            Exit::Code(0)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_single_instance_cannot_restart_and_says_why() {
    let runs = Arc::new(AtomicUsize::new(0));
    let mut make = flaky(&runs, 1, 10);
    let r = sup(r#"
        [components.db]
        kind = "sim"
        restart = "always"
    "#)
    .replace("db", make())
    .expect("db exists")
    .spawn()
    .wait()
    .await;
    assert_eq!(r.exit_code, 1);
    let db = component(&r, "db");
    assert_eq!(db.outcome, Outcome::Failed);
    assert!(
        db.error
            .as_deref()
            .is_some_and(|e| e.contains("replace_with")),
        "{db:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_while_dependents_stop_for_a_restart_stops_everything_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let running = sup(r#"
        [components.db]
        kind = "sim"
        restart = "on-failure"
        restart_backoff = "10ms"
        restart_dependents = true
        [components.api]
        kind = "sim"
        depends_on = ["db"]
        ignore_stop = true
        stop_timeout = "300ms"
    "#)
    .replace_with("db", flaky(&runs, 1, 100))
    .expect("db exists")
    .spawn();
    // db fails at 100 ms; api is asked to stop then, and ignores it.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let r = running.shutdown().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "db must not restart");
    let (db, api) = (component(&r, "db"), component(&r, "api"));
    // api keeps the deadline of the stop it was already in: killed at 400 ms.
    assert_eq!(api.stop_requested, Some(100.0));
    assert_eq!(api.killed_at, Some(400.0));
    assert_eq!(api.outcome, Outcome::TimedOutKilled);
    assert!(api.restarts.is_empty());
    assert_eq!(db.outcome, Outcome::Stopped);
    assert_eq!(db.restarts.len(), 1);
    assert_eq!(r.exit_code, 3);
}

#[tokio::test(start_paused = true)]
async fn a_dependent_that_ignores_its_stop_is_killed_then_restarted_with_its_dependency() {
    let runs = Arc::new(AtomicUsize::new(0));
    let running = sup(r#"
        [components.db]
        kind = "sim"
        restart = "on-failure"
        restart_backoff = "10ms"
        restart_dependents = true
        [components.api]
        kind = "sim"
        depends_on = ["db"]
        ignore_stop = true
        stop_timeout = "200ms"
    "#)
    .replace_with("db", flaky(&runs, 1, 100))
    .expect("db exists")
    .spawn();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut status = running.status();
    assert!(
        status
            .borrow_and_update()
            .components
            .iter()
            .all(|c| c.state == ComponentState::Ready),
        "{:?}",
        status.borrow()
    );
    let r = running.shutdown().await;
    let (db, api) = (component(&r, "db"), component(&r, "api"));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(api.restarts.len(), 1);
    assert_eq!(api.restarts[0].at, 300.0, "killed at its stop_timeout");
    assert_eq!(db.start_requested, Some(300.0));
    assert_eq!(api.start_requested, Some(300.0));
}

/// A crash loop that never gives up (1 ms backoff, a window too short to
/// reach the limit) keeps the report bounded: every restart is counted, the
/// last `RESTART_HISTORY` are listed, and the status agrees. (Unbounded, a
/// flapping component made 4057 restarts in 16 s, ~330 B of the
/// supervisor's memory each, and a 543 KB report.)
#[tokio::test(start_paused = true)]
async fn a_crash_loop_that_never_ends_keeps_counts_and_only_the_last_restarts() {
    use sundown::report::RESTART_HISTORY;
    let running = sup(r#"
        [components.flapping]
        kind = "sim"
        fail_after = "1ms"
        restart = "on-failure"
        max_restarts = 1000000
        restart_window = "1ms"
        restart_backoff = "1ms"
        restart_backoff_max = "1ms"
        [components.steady]
        kind = "sim"
    "#)
    .spawn();
    let mut status = running.status();
    let restarts = |s: &sundown::Status| s.components[0].restarts;
    status
        .wait_for(|s| restarts(s) >= 1000)
        .await
        .expect("the engine runs");
    let r = running.shutdown().await;
    let flapping = component(&r, "flapping");
    let counted = flapping.restart_count;
    assert!(counted >= 1000, "{counted} restarts counted");
    assert_eq!(restarts(&status.borrow()), counted, "the status agrees");
    assert_eq!(flapping.restarts.len(), RESTART_HISTORY);
    // The listed ones are the latest, oldest first.
    let times: Vec<f64> = flapping.restarts.iter().map(|x| x.at).collect();
    assert!(times.is_sorted(), "{times:?}");
    let last = *times.last().expect("listed");
    assert!(
        at(flapping.stopped_at) - last < 10.0,
        "the last restart listed ({last} ms) is the last one"
    );
    assert!(
        times[0] > 1000.0,
        "the first restarts (at ~2 ms) are no longer listed: {}",
        times[0]
    );
    assert_eq!(component(&r, "steady").restart_count, 0);
    assert!(
        r.to_json().len() < 64 * 1024,
        "report of {} bytes",
        r.to_json().len()
    );
}
