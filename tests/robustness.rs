//! Robustness at the edges, each test a defect found in review and fixed:
//! panicking components, a stalled stderr reader, output that outlives its
//! process, repeated signals, and report consistency in odd shutdowns.
//!
//! Library tests run on tokio's paused clock with `sim` or tiny custom
//! components; the rest drive the built binary with `/bin/sh` children and
//! real signals, through the helpers in `tests/common`.

mod common;

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::library::{Deaf, sup};
use common::{Sandbox, is_alive};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sundown::component::BoxFuture;
use sundown::{Component, Exit, KillReason, Lifecycle, Outcome, Trigger};

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

// ---------------------------------------------------------------- binary

/// The budget holds even when nobody reads sundown's stderr: with a chatty
/// child and a stalled pipe, logs are dropped rather than blocking the one
/// runtime thread, so SIGTERM and the deadlines are still processed.
#[test]
fn a_stalled_stderr_does_not_stop_the_shutdown() {
    let sb = Sandbox::new();
    let marker = sb.path("chatty.started");
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"2s\"\n\n");
    toml += &sb.shell(
        "chatty",
        &format!(
            "echo > '{}'; exec yes 'a chatty line of output'",
            marker.display()
        ),
        "stop_timeout = \"1s\"",
    );
    sb.config(&toml);
    let mut child = common::command()
        .args(["run", "--config"])
        .arg(sb.path("supervisor.toml"))
        .arg("--report")
        .arg(sb.report_path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sundown");
    // Hold the read end open but never read it: a stalled log pipeline.
    let mut stderr = child.stderr.take().expect("piped");
    let deadline = Instant::now() + common::TIMEOUT;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "chatty never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let limit = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if status.is_none() {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let _ = kill(pid, Signal::SIGINT);
        std::thread::sleep(Duration::from_millis(500));
        let forced = child.try_wait().ok().flatten().is_some();
        let _ = child.kill();
        let _ = child.wait();
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
        panic!(
            "sundown did not exit 10 s after SIGTERM with a 2 s budget (blocked in `{wchan}`); \
             a second signal forced it: {forced}"
        );
    }
    drop(stderr);
}

/// A process that exits at once on SIGTERM but left a descendant outside
/// its group holding stdout/stderr is `stopped` when its main process is
/// reaped; draining the pipes continues in the background instead of
/// running into its `stop_timeout` (no false `timed_out_killed`, exit 0).
#[test]
fn a_prompt_graceful_stop_is_not_reported_as_killed_while_output_drains() {
    let sb = Sandbox::new();
    let escaped = sb.path("escaped.pid");
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.shell(
        "web",
        &format!(
            "setsid sleep 30 & echo $! > '{}'; trap 'exit 0' TERM; while :; do sleep 0.05; done",
            escaped.display()
        ),
        "ready_after = \"100ms\"\nstop_timeout = \"500ms\"",
    );
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(1);
    let escaped_pid = sb.pid_file("escaped.pid");
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    if is_alive(escaped_pid) {
        let _ = kill(Pid::from_raw(escaped_pid), Signal::SIGKILL);
    }
    let r = sb.report();
    let web = r.component("web").expect("web");
    assert_eq!(web.exit_status, Some(0), "{web:?}");
    assert_eq!(web.outcome, Outcome::Stopped, "{web:?}");
    assert!(
        web.stop_ms.is_some_and(|ms| ms < 500.0),
        "web exited right after SIGTERM: {web:?}"
    );
    assert_eq!(code, 0, "stderr:\n{}", sd.stderr());
}
