//! Robustness at the edges, each test a defect found in review and fixed:
//! a panicking component, `ready()` after a run that already ended, a third
//! signal, and report consistency in odd shutdowns. On tokio's paused clock
//! with `sim` or tiny custom components; the binary's side (a stalled
//! stderr reader, output that outlives its process) is in `tests/cli`.

use std::time::Duration;

use sundown::component::BoxFuture;
use sundown::{Component, Exit, KillReason, Lifecycle, Outcome, Trigger};

use crate::common::{Deaf, sup};

/// Becomes ready, then panics a little later (a bug in a plugged-in kind).
struct Panicker;

impl Component for Panicker {
    fn kind(&self) -> &'static str {
        "panicker"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            life.ready();
            tokio::time::sleep(Duration::from_millis(100)).await;
            panic!("bug in a custom component");
        })
    }
}

/// A component whose task panics is a failed component: the ordered
/// shutdown begins and the run exits 1 (not a silently vanished task that is
/// "killed" and abandoned at the eventual shutdown, exit 3).
#[tokio::test(start_paused = true)]
async fn a_panicking_component_is_a_failure_that_triggers_the_shutdown() {
    let s = sup(r#"
[components.db]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["db"]
"#)
    .replace("db", Box::new(Panicker))
    .unwrap_or_else(|e| panic!("{e}"));
    let running = s.spawn();
    let report = tokio::time::timeout(Duration::from_secs(60), running.wait())
        .await
        .unwrap_or_else(|_| {
            panic!("60 s after `db` panicked the supervisor has not noticed: no shutdown began")
        });
    assert_eq!(report.trigger, Some(Trigger::ComponentFailed("db".into())));
    assert_eq!(report.exit_code, 1);
    let db = report.component("db").expect("db");
    assert_eq!(db.outcome, Outcome::Failed, "{db:?}");
}

/// Ready at once, then finishes by itself with status 0: `exited_early`.
struct OneShot;

impl Component for OneShot {
    fn kind(&self) -> &'static str {
        "oneshot"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            life.ready();
            Exit::Code(0)
        })
    }
}

/// `Running::ready` answers `true` once every component has been ready,
/// even when the run already ended before the caller was polled; `false`
/// only if a shutdown began first. So `start` never reports `StartFailed`
/// for a run in which nothing failed.
#[tokio::test(start_paused = true)]
async fn ready_is_true_when_everything_became_ready_before_the_run_ended() {
    let s = sup("[components.job]\nkind = \"sim\"\n")
        .replace("job", Box::new(OneShot))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut running = s.spawn();
    let ready = running.ready().await;
    let report = running.wait().await;
    assert!(report.all_ready_at.is_some(), "every component was ready");
    assert!(
        report.all_ready_at <= report.shutdown_started_at,
        "and it was ready before the shutdown began"
    );
    assert_eq!(report.exit_code, 0);
    assert!(
        ready,
        "ready() said a shutdown began before everything was ready; report:\n{}",
        report.to_json()
    );
}

/// `forced_at` is when the *second* signal forced the shutdown; a third
/// one changes nothing.
#[tokio::test(start_paused = true)]
async fn a_third_signal_does_not_move_forced_at() {
    let s = sup("[components.deaf]\nkind = \"sim\"\n")
        .replace("deaf", Box::new(Deaf))
        .unwrap_or_else(|e| panic!("{e}"));
    let running = s.start().await.unwrap_or_else(|e| panic!("{e}"));
    let handle = running.handle();
    handle.shutdown(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.force(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.force(Trigger::Signal("SIGINT".into()));
    let r = running.wait().await;
    assert_eq!(r.exit_code, 4);
    let deaf = r.component("deaf").expect("deaf");
    assert_eq!(deaf.killed_at, Some(300.0), "{deaf:?}");
    assert_eq!(
        r.forced_at,
        Some(300.0),
        "the second signal forced the shutdown at 300 ms"
    );
}

/// `eager` phases describe the span their members took: a phase whose
/// member finished by itself before the shutdown still starts (and ends) no
/// earlier than the shutdown.
#[tokio::test(start_paused = true)]
async fn an_eager_phase_that_ended_also_started_and_not_before_the_shutdown() {
    let running = sup(r#"
[supervisor]
strategy = "eager"
[components.db]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["db"]
exit_after = "100ms"
"#)
    .start()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let r = running.shutdown().await;
    assert_eq!(r.exit_code, 0);
    let begun = r.shutdown_started_at.expect("a shutdown");
    for p in &r.phases {
        assert_eq!(
            p.started_at.is_some(),
            p.ended_at.is_some(),
            "phase {} has ended_at {:?} but started_at {:?}",
            p.index,
            p.ended_at,
            p.started_at
        );
        if let (Some(s), Some(e)) = (p.started_at, p.ended_at) {
            assert!(
                begun <= s && s <= e,
                "phase {} spans {s}..{e} ms, shutdown began at {begun} ms",
                p.index
            );
        }
    }
}

/// `timed_out`: "whether any member was killed by a timeout", including a
/// member the global `shutdown_timeout` killed before its turn (outcome
/// `forced`, `killed_by = shutdown_timeout`).
#[tokio::test(start_paused = true)]
async fn a_phase_whose_member_the_budget_killed_is_timed_out() {
    let running = sup(r#"
[supervisor]
shutdown_timeout = "1s"
[components.db]
kind = "sim"
[components.app]
kind = "sim"
depends_on = ["db"]
ignore_stop = true
stop_timeout = "10s"
"#)
    .start()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let r = running.shutdown().await;
    let db = r.component("db").expect("db");
    assert_eq!(db.killed_by, Some(KillReason::ShutdownTimeout), "{db:?}");
    assert!(
        r.phases[db.phase].timed_out,
        "phase {} had a member killed by shutdown_timeout: {:?}",
        db.phase, r.phases[db.phase]
    );
}
