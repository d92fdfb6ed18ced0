//! Engine behaviour on tokio's paused clock: with `sim` components every
//! timing is exact, so these tests assert milliseconds, not "roughly".

use std::time::Duration;

use sundown::component::BoxFuture;
use sundown::{
    Component, Exit, KILL_GRACE, KillReason, Lifecycle, Outcome, ShutdownReport, Trigger,
};

use crate::common::{Deaf, at, component, sup};

async fn run_then_shutdown(toml: &str) -> ShutdownReport {
    let running = match sup(toml).start().await {
        Ok(r) => r,
        Err(e) => panic!("start failed: {e}"),
    };
    running.shutdown().await
}

const CHAIN: &str = r#"
[components.a]
kind = "sim"
stop_delay = "100ms"
[components.b]
kind = "sim"
depends_on = ["a"]
stop_delay = "100ms"
[components.c]
kind = "sim"
depends_on = ["b"]
stop_delay = "100ms"
start_delay = "50ms"
"#;

#[tokio::test(start_paused = true)]
async fn chain_stops_in_reverse_with_exact_timing() {
    let r = run_then_shutdown(CHAIN).await;
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.trigger, Some(Trigger::Requested));
    assert_eq!(r.stop_order(), vec!["c", "b", "a"]);
    r.assert_respects_graph();
    assert_eq!(r.shutdown_ms(), Some(300.0));
    assert_eq!(r.totals.shutdown_ms, Some(300.0));
    assert_eq!(
        (
            r.totals.components,
            r.totals.stopped,
            r.totals.timed_out_killed
        ),
        (3, 3, 0)
    );
    assert_eq!(at(component(&r, "c").ready_at), 50.0);
    for (phase, name) in r.phases.iter().zip(["c", "b", "a"]) {
        assert_eq!(phase.members, vec![name]);
        assert_eq!(at(phase.ended_at) - at(phase.started_at), 100.0);
        assert!(!phase.timed_out);
    }
    assert!(
        r.components
            .iter()
            .all(|c| c.outcome == Outcome::Stopped && c.stop_ms == Some(100.0))
    );
}

/// x (slow) → z and y (fast) → w: phases are {x, y} then {z, w}.
const TWO_LANES: &str = r#"
[components.x]
kind = "sim"
depends_on = ["z"]
stop_delay = "500ms"
[components.z]
kind = "sim"
stop_delay = "10ms"
[components.y]
kind = "sim"
depends_on = ["w"]
stop_delay = "10ms"
[components.w]
kind = "sim"
stop_delay = "10ms"
"#;

#[tokio::test(start_paused = true)]
async fn phased_waits_for_the_whole_phase() {
    let r = run_then_shutdown(TWO_LANES).await;
    r.assert_respects_graph();
    let t0 = at(r.shutdown_started_at);
    assert_eq!(
        at(component(&r, "w").stop_requested) - t0,
        500.0,
        "w waits for x, its phase-mate's dependent"
    );
    assert_eq!(r.shutdown_ms(), Some(510.0));
}

#[tokio::test(start_paused = true)]
async fn eager_stops_each_component_as_soon_as_its_dependents_are_down() {
    let r = run_then_shutdown(&format!("[supervisor]\nstrategy = \"eager\"\n{TWO_LANES}")).await;
    r.assert_respects_graph();
    let t0 = at(r.shutdown_started_at);
    assert_eq!(at(component(&r, "w").stop_requested) - t0, 10.0);
    assert_eq!(at(component(&r, "w").stopped_at) - t0, 20.0);
    assert_eq!(at(component(&r, "z").stop_requested) - t0, 500.0);
    assert_eq!(r.shutdown_ms(), Some(510.0));
    assert_eq!(r.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn ignore_stop_is_killed_at_its_stop_timeout_then_the_next_phase_runs() {
    let r = run_then_shutdown(
        r#"
[components.db]
kind = "sim"
stop_delay = "20ms"
[components.stuck]
kind = "sim"
depends_on = ["db"]
ignore_stop = true
stop_timeout = "2s"
"#,
    )
    .await;
    let stuck = component(&r, "stuck");
    assert_eq!(stuck.outcome, Outcome::TimedOutKilled);
    assert_eq!(stuck.killed_by, Some(KillReason::StopTimeout));
    assert_eq!(at(stuck.killed_at) - at(stuck.stop_requested), 2000.0);
    assert_eq!(stuck.signal.as_deref(), Some("SIGKILL"));
    assert_eq!(component(&r, "db").outcome, Outcome::Stopped);
    r.assert_stopped_before("stuck", "db");
    assert!(r.phases[0].timed_out && !r.phases[1].timed_out);
    assert_eq!(r.exit_code, 3);
    assert_eq!(r.shutdown_ms(), Some(2020.0));
}

#[tokio::test(start_paused = true)]
async fn phase_timeout_override_cuts_the_phase_short() {
    let r = run_then_shutdown(
        r#"
[phase_timeouts]
web = "500ms"
[components.web]
kind = "sim"
ignore_stop = true
stop_timeout = "5s"
[components.api]
kind = "sim"
stop_delay = "100ms"
"#,
    )
    .await;
    assert_eq!(r.phases[0].timeout_ms, 500.0);
    let web = component(&r, "web");
    assert_eq!(web.killed_by, Some(KillReason::PhaseTimeout));
    assert_eq!(at(web.killed_at) - at(web.stop_requested), 500.0);
    // api shares the phase and stops well within it.
    assert_eq!(component(&r, "api").outcome, Outcome::Stopped);
    assert_eq!(r.exit_code, 3);
}

#[tokio::test(start_paused = true)]
async fn global_budget_kills_the_stuck_and_forces_those_not_yet_asked() {
    let r = run_then_shutdown(
        r#"
[supervisor]
shutdown_timeout = "1s"
[components.base]
kind = "sim"
[components.top]
kind = "sim"
depends_on = ["base"]
ignore_stop = true
stop_timeout = "10s"
"#,
    )
    .await;
    let top = component(&r, "top");
    assert_eq!(top.outcome, Outcome::TimedOutKilled);
    assert_eq!(top.killed_by, Some(KillReason::ShutdownTimeout));
    assert_eq!(at(top.killed_at) - at(r.shutdown_started_at), 1000.0);
    // base never got its graceful turn: the budget was gone.
    let base = component(&r, "base");
    assert_eq!(base.outcome, Outcome::Forced);
    assert_eq!(base.stop_requested, None);
    assert_eq!(r.exit_code, 3);
    assert!(r.shutdown_ms().is_some_and(|ms| ms <= 1000.0));
}

#[tokio::test(start_paused = true)]
async fn a_failing_component_triggers_an_ordered_shutdown_and_exit_1() {
    let mut running = sup(r#"
[components.db]
kind = "sim"
stop_delay = "30ms"
[components.worker]
kind = "sim"
depends_on = ["db"]
fail_after = "1s"
[components.web]
kind = "sim"
depends_on = ["worker"]
stop_delay = "20ms"
"#)
    .spawn();
    assert!(running.ready().await);
    let r = running.wait().await;
    assert_eq!(r.trigger, Some(Trigger::ComponentFailed("worker".into())));
    assert_eq!(r.exit_code, 1);
    let worker = component(&r, "worker");
    assert_eq!(worker.outcome, Outcome::Failed);
    assert!(
        worker
            .error
            .as_deref()
            .is_some_and(|e| e.contains("fail_after"))
    );
    assert_eq!(at(worker.stopped_at), 1000.0);
    assert_eq!(component(&r, "web").outcome, Outcome::Stopped);
    assert_eq!(component(&r, "db").outcome, Outcome::Stopped);
    r.assert_respects_graph();
    r.assert_stopped_before("web", "db");
}

#[tokio::test(start_paused = true)]
async fn startup_timeout_stops_what_started_and_names_who_was_not_ready() {
    let result = sup(r#"
[supervisor]
startup_timeout = "1s"
[components.slow]
kind = "sim"
start_delay = "1h"
[components.fast]
kind = "sim"
[components.app]
kind = "sim"
depends_on = ["slow", "fast"]
"#)
    .start()
    .await;
    let Err(sundown::StartFailed(r)) = result else {
        panic!("start should fail")
    };
    assert_eq!(
        r.trigger,
        Some(Trigger::StartupTimeout(vec!["app".into(), "slow".into()]))
    );
    assert_eq!(r.exit_code, 1);
    assert_eq!(at(r.shutdown_started_at), 1000.0);
    assert_eq!(component(&r, "app").outcome, Outcome::NeverStarted);
    assert_eq!(component(&r, "slow").outcome, Outcome::Stopped);
    assert_eq!(component(&r, "slow").ready_at, None);
    assert_eq!(component(&r, "fast").outcome, Outcome::Stopped);
}

#[tokio::test(start_paused = true)]
async fn startup_timeout_no_longer_applies_once_everything_is_ready() {
    let mut running =
        sup("[supervisor]\nstartup_timeout = \"1s\"\n[components.a]\nkind = \"sim\"\n").spawn();
    assert!(running.ready().await);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(running.state(), sundown::State::Running);
    let r = running.shutdown().await;
    assert_eq!(r.trigger, Some(Trigger::Requested));
    assert_eq!(r.exit_code, 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_startup_stops_what_started_without_hanging() {
    let running = sup(r#"
[components.db]
kind = "sim"
start_delay = "10s"
stop_delay = "10ms"
[components.app]
kind = "sim"
depends_on = ["db"]
"#)
    .spawn();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = running.shutdown().await;
    assert_eq!(component(&r, "app").outcome, Outcome::NeverStarted);
    assert_eq!(component(&r, "db").outcome, Outcome::Stopped);
    assert_eq!(r.exit_code, 0);
    assert_eq!(
        r.shutdown_ms(),
        Some(0.0),
        "a sim still starting stops at once"
    );
}

#[tokio::test(start_paused = true)]
async fn force_kills_everything_and_exits_4() {
    let running = sup(r#"
[components.db]
kind = "sim"
stop_delay = "1s"
[components.stuck]
kind = "sim"
depends_on = ["db"]
ignore_stop = true
stop_timeout = "20s"
"#)
    .start()
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let handle = running.handle();
    handle.shutdown(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    handle.force(Trigger::Signal("SIGTERM".into()));
    let r = running.wait().await;
    assert_eq!(r.exit_code, 4);
    assert_eq!(r.trigger, Some(Trigger::Signal("SIGTERM".into())));
    assert_eq!(at(r.forced_at), 300.0);
    let stuck = component(&r, "stuck");
    assert_eq!(stuck.outcome, Outcome::Forced);
    assert_eq!(stuck.killed_by, Some(KillReason::SecondSignal));
    let db = component(&r, "db");
    assert_eq!(db.outcome, Outcome::Forced);
    assert_eq!(db.stop_requested, None);
    assert_eq!(r.ended_at, 300.0);
}

#[tokio::test(start_paused = true)]
async fn when_every_component_finishes_the_run_ends_cleanly() {
    let mut running = sup(r#"
[components.job1]
kind = "sim"
exit_after = "100ms"
[components.job2]
kind = "sim"
depends_on = ["job1"]
exit_after = "300ms"
"#)
    .spawn();
    assert!(running.ready().await);
    let r = running.wait().await;
    assert_eq!(r.trigger, Some(Trigger::AllExited));
    assert_eq!(r.exit_code, 0);
    assert!(
        r.components
            .iter()
            .all(|c| c.outcome == Outcome::ExitedEarly)
    );
    // Phases still close, even with nobody left to stop.
    assert!(r.phases.iter().all(|p| p.ended_at.is_some()));
}

/// Reports on a channel when it is asked to stop.
struct Probe(tokio::sync::oneshot::Sender<()>);

impl Component for Probe {
    fn kind(&self) -> &'static str {
        "probe"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            life.ready();
            life.stop_requested().await;
            let _ = self.0.send(());
            Exit::Code(0)
        })
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_running_supervisor_stops_its_components() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = sup("[components.a]\nkind = \"sim\"\n")
        .replace("a", Box::new(Probe(tx)))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut running = s.spawn();
    assert!(running.ready().await);
    drop(running);
    tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("the component was not asked to stop")
        .expect("the component ended without being asked to stop");
}

#[tokio::test(start_paused = true)]
async fn a_component_that_ignores_its_kill_is_abandoned_after_the_grace() {
    let s = sup("[components.deaf]\nkind = \"sim\"\nstop_timeout = \"1s\"\n")
        .replace("deaf", Box::new(Deaf))
        .unwrap_or_else(|e| panic!("{e}"));
    let r = s
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .shutdown()
        .await;
    let deaf = component(&r, "deaf");
    assert_eq!(deaf.outcome, Outcome::TimedOutKilled);
    assert!(
        deaf.error
            .as_deref()
            .is_some_and(|e| e.contains("did not end"))
    );
    assert_eq!(
        at(deaf.stopped_at) - at(deaf.killed_at),
        KILL_GRACE.as_secs_f64() * 1000.0
    );
    assert_eq!(r.exit_code, 3);
}

#[tokio::test(start_paused = true)]
async fn a_thousand_components_start_and_stop_in_order() {
    let mut toml = String::new();
    for i in 0..1000_usize {
        toml.push_str(&format!(
            "[components.c{i}]\nkind = \"sim\"\nstop_delay = \"1ms\"\n"
        ));
        let deps: Vec<String> = [i / 2, i / 3, i.saturating_sub(1)]
            .into_iter()
            .filter(|&d| d < i)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(|d| format!("\"c{d}\""))
            .collect();
        if !deps.is_empty() {
            toml.push_str(&format!("depends_on = [{}]\n", deps.join(", ")));
        }
    }
    for strategy in ["phased", "eager"] {
        let r =
            run_then_shutdown(&format!("[supervisor]\nstrategy = \"{strategy}\"\n{toml}")).await;
        r.assert_respects_graph();
        assert_eq!(r.exit_code, 0);
        assert_eq!(r.components.len(), 1000);
        assert!(r.components.iter().all(|c| c.outcome == Outcome::Stopped));
    }
}

#[tokio::test(start_paused = true)]
async fn the_report_round_trips_through_json() {
    let r = run_then_shutdown(CHAIN).await;
    let json = r.to_json();
    let back = ShutdownReport::from_json(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["schema"], 1);
    assert_eq!(v["trigger"], "requested");
    assert_eq!(v["components"][0]["outcome"], "stopped");
}

/// Reports what it is draining, then never finishes.
struct Draining;

impl Component for Draining {
    fn kind(&self) -> &'static str {
        "draining"
    }
    fn run(self: Box<Self>, life: Lifecycle) -> BoxFuture<Exit> {
        Box::pin(async move {
            life.ready();
            life.stop_requested().await;
            life.detail(Some("3 jobs in flight".into()));
            life.kill_requested().await;
            Exit::Signal("SIGKILL".into())
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_live_status_names_what_the_shutdown_waits_on_and_the_time_left() {
    use sundown::State;
    use sundown::status::ComponentState;
    let s = sup(r#"
[supervisor]
shutdown_timeout = "25s"
[components.db]
kind = "sim"
[components.workers]
kind = "sim"
depends_on = ["db"]
stop_timeout = "10s"
"#)
    .replace("workers", Box::new(Draining))
    .unwrap_or_else(|e| panic!("{e}"));
    let running = s.start().await.unwrap_or_else(|e| panic!("{e}"));
    let status = running.status();
    assert_eq!(status.borrow().state, State::Running);
    assert!(status.borrow().shutdown.is_none());
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.handle().shutdown(Trigger::Signal("SIGTERM".into()));
    tokio::time::sleep(Duration::from_secs(4)).await;
    {
        let st = status.borrow();
        assert_eq!(st.state, State::Stopping);
        let sh = st
            .shutdown
            .as_ref()
            .unwrap_or_else(|| panic!("no shutdown status"));
        let waiting: Vec<&str> = st.waiting_on().map(|c| c.name.as_str()).collect();
        assert_eq!(waiting, ["workers"]);
        assert_eq!((sh.phase, sh.phases), (Some(0), 2));
        assert_eq!(sh.deadline_ms, 26_000.0);
        let workers = &st.components[1];
        assert_eq!(
            (workers.name.as_str(), workers.state),
            ("workers", ComponentState::Stopping)
        );
        assert_eq!(workers.since_ms, 1000.0);
        assert_eq!(workers.kill_at_ms, Some(11_000.0));
        assert_eq!(
            st.components[0].state,
            ComponentState::Ready,
            "db waits for its turn"
        );
        assert_eq!(
            st.waiting_line(st.now_ms()).as_deref(),
            Some(
                "phase 1/2: waiting on workers (3 jobs in flight; killed in 6.0s); budget: 21.0s left"
            )
        );
    }
    let r = running.wait().await;
    assert_eq!(
        component(&r, "workers").killed_by,
        Some(KillReason::StopTimeout)
    );
    let st = status.borrow();
    assert_eq!(st.state, State::Done);
    assert!(st.shutdown.is_some() && st.waiting_on().next().is_none());
    assert!(
        st.components
            .iter()
            .all(|c| c.state == ComponentState::Stopped)
    );
}
