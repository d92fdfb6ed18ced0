//! A shutdown forced (a second signal, or the budget run out) is told as
//! what it is on every surface: the status stops at the phase it was in,
//! shows no countdown and says everything is being killed; the report's
//! sentences measure each span from the event they name.

use std::time::Duration;

use sundown::{KillReason, Running, Trigger};

use crate::common::{Deaf, sup};

/// `web` (phase 1) ignores its stop; `deaf` (phase 2, what web needs)
/// ignores even its kill, so the shutdown outlives the moment everything
/// was killed and the status can be read then.
const STACK: &str = r#"
[components.deaf]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["deaf"]
ignore_stop = true
stop_timeout = "20s"
"#;

async fn running(budget: &str) -> Running {
    sup(&format!(
        "[supervisor]\nshutdown_timeout = \"{budget}\"\n{STACK}"
    ))
    .replace("deaf", Box::new(Deaf))
    .unwrap_or_else(|e| panic!("{e}"))
    .start()
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// What the status says `at_ms` after the shutdown began, when `force_at`
/// (ms after it began) a second signal came.
async fn status_after(
    budget: &str,
    force_at: Option<u64>,
    at_ms: u64,
) -> (Running, sundown::Status) {
    let running = running(budget).await;
    let handle = running.handle();
    handle.shutdown(Trigger::Signal("SIGTERM".into()));
    if let Some(f) = force_at {
        tokio::time::sleep(Duration::from_millis(f)).await;
        handle.force(Trigger::Signal("SIGTERM".into()));
    }
    let slept = force_at.unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(at_ms - slept)).await;
    let status = running.status().borrow().clone();
    (running, status)
}

#[tokio::test(start_paused = true)]
async fn after_a_second_signal_the_status_says_everything_is_being_killed() {
    let (running, st) = status_after("60s", Some(300), 310).await;
    let s = st.shutdown.as_ref().expect("a shutdown is under way");
    assert_eq!(s.forced, Some(KillReason::SecondSignal));
    // web went down at the kill, which ended phase 1; phase 2 began with
    // nothing to ask (deaf was already killed) and is not announced.
    assert_eq!(s.phase, Some(0), "{s:?}");
    assert_eq!(
        st.waiting_line(st.now_ms()).as_deref(),
        Some("forced: killing everything (the second signal); waiting on deaf to end")
    );
    let view = st.view(st.now_ms());
    let json = serde_json::to_value(&view).expect("serializes");
    crate::report_schema::assert_matches("docs/status.schema.json", &json);
    assert_eq!(json["shutdown"]["forced"], "second_signal");
    let v = view.shutdown.expect("a shutdown is under way");
    assert_eq!(v.forced, Some(KillReason::SecondSignal));
    assert_eq!(v.waiting_on, ["deaf"]);
    assert_eq!(v.time_left_ms, None, "no countdown once forced: {v:?}");
    assert_eq!(v.phase, Some(1));
    let r = running.wait().await;
    assert_eq!(r.exit_code, 4);
}

#[tokio::test(start_paused = true)]
async fn when_the_budget_runs_out_the_status_says_everything_is_being_killed() {
    let (running, st) = status_after("1s", None, 1010).await;
    let s = st.shutdown.as_ref().expect("a shutdown is under way");
    assert_eq!(s.forced, Some(KillReason::ShutdownTimeout));
    assert_eq!(s.phase, Some(0), "{s:?}");
    assert_eq!(
        st.waiting_line(st.now_ms()).as_deref(),
        Some("forced: killing everything (shutdown_timeout); waiting on deaf to end")
    );
    assert_eq!(
        st.view(st.now_ms()).shutdown.map(|v| v.time_left_ms),
        Some(None)
    );
    let r = running.wait().await;
    assert_eq!(r.exit_code, 3);
}

/// `deaf` is killed at its own stop_timeout and outlives the kill: when
/// the budget runs out there is nothing left to kill, and the shutdown is
/// forced all the same.
#[tokio::test(start_paused = true)]
async fn when_the_budget_runs_out_with_everything_killed_already_the_status_says_forced() {
    let running = sup(
        "[supervisor]\nshutdown_timeout = \"1s\"\n[components.deaf]\nkind = \"sim\"\nstop_timeout = \"300ms\"\n",
    )
    .replace("deaf", Box::new(Deaf))
    .unwrap_or_else(|e| panic!("{e}"))
    .start()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    running.handle().shutdown(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    {
        let st = running.status().borrow().clone();
        assert_eq!(st.shutdown.as_ref().and_then(|s| s.forced), None);
        assert_eq!(
            st.waiting_line(st.now_ms()).as_deref(),
            Some("phase 1/1: waiting on deaf (killed, waiting for it to end); budget: 0.5s left")
        );
    }
    tokio::time::sleep(Duration::from_millis(510)).await;
    let st = running.status().borrow().clone();
    let s = st.shutdown.as_ref().expect("a shutdown is under way");
    assert_eq!(s.forced, Some(KillReason::ShutdownTimeout), "{s:?}");
    assert_eq!(
        st.waiting_line(st.now_ms()).as_deref(),
        Some("forced: killing everything (shutdown_timeout); waiting on deaf to end")
    );
    let view = st.view(st.now_ms());
    let json = serde_json::to_value(&view).expect("serializes");
    crate::report_schema::assert_matches("docs/status.schema.json", &json);
    assert_eq!(json["shutdown"]["forced"], "shutdown_timeout");
    assert_eq!(json["shutdown"]["time_left_ms"], serde_json::Value::Null);
    let r = running.wait().await;
    // Killed by its stop_timeout, not by the budget; no second signal.
    let deaf = r.component("deaf").expect("deaf");
    assert_eq!(deaf.killed_by, Some(KillReason::StopTimeout));
    assert_eq!(r.forced_at, None);
    assert_eq!(r.exit_code, 3);
    crate::report_schema::assert_matches(
        "docs/report.schema.json",
        &serde_json::to_value(&r).expect("serializes"),
    );
}

#[tokio::test(start_paused = true)]
async fn before_it_is_forced_the_status_counts_down() {
    let (running, st) = status_after("60s", None, 300).await;
    let s = st.shutdown.as_ref().expect("a shutdown is under way");
    assert_eq!(s.forced, None);
    assert_eq!(
        st.waiting_line(st.now_ms()).as_deref(),
        Some("phase 1/2: waiting on web (killed in 19.7s); budget: 59.7s left")
    );
    running.handle().force(Trigger::Signal("SIGTERM".into()));
    running.wait().await;
}

/// The report's sentences: the kill from the request, the end from the
/// kill; a component killed before its turn says so.
#[tokio::test(start_paused = true)]
async fn the_report_measures_each_span_from_the_event_it_names() {
    let running = sup(r#"
[components.db]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["db"]
ignore_stop = true
stop_timeout = "20s"
[components.slow]
kind = "sim"
ignore_stop = true
stop_timeout = "100ms"
"#)
    .start()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let handle = running.handle();
    handle.shutdown(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.force(Trigger::Signal("SIGTERM".into()));
    let r = running.wait().await;
    let text = sundown::timeline::render_terminal(&r, 200, false);
    for line in [
        "! web: forced: asked to stop at 1000 ms, killed by the second signal at 1300 ms, down 0 ms after the kill",
        "! db: forced: killed by the second signal at 1300 ms before its turn to stop, down 0 ms after the kill",
        "! slow: timed out: asked to stop at 1000 ms, killed by stop_timeout at 1100 ms, down 0 ms after the kill",
    ] {
        assert!(text.contains(line), "`{line}` not in:\n{text}");
    }
    assert!(!text.contains("later"), "{text}");
}
