//! Restart policies with the built binary, real processes and a real
//! SIGTERM: a shutdown during a restart backoff, and a crash loop that
//! reaches `max_restarts`. (The engine's restart tests, on a paused clock,
//! are the library's.)

use nix::sys::signal::Signal;
use sundown::report::ComponentReport;
use sundown::{Outcome, ShutdownReport, Trigger};

use crate::common::Sandbox;
use crate::shared::TIMEOUT;

fn c<'a>(r: &'a ShutdownReport, name: &str) -> &'a ComponentReport {
    r.component(name)
        .unwrap_or_else(|| panic!("no component {name} in report"))
}

#[test]
fn sigterm_during_a_restart_backoff_exits_cleanly_at_once() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.shell(
            "crasher",
            "exit 3",
            "ready_after = \"5s\"\nrestart = \"on-failure\"\nrestart_backoff = \"30s\"\nrestart_backoff_max = \"30s\""
        ),
        sb.service("web", "depends_on = [\"crasher\"]"),
    ));
    let mut sd = sb.run();
    sd.wait_for("crasher: failed to start: exit status 3; restarting in");
    let t = std::time::Instant::now();
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert!(t.elapsed() < TIMEOUT);
    let r = sb.report();
    let crasher = c(&r, "crasher");
    assert_eq!(crasher.outcome, Outcome::Stopped);
    assert_eq!(crasher.restarts.len(), 1);
    assert!(
        crasher.restarts[0].reason.contains("exit status 3"),
        "{:?}",
        crasher.restarts
    );
    // web never started: its dependency was never ready.
    assert_eq!(c(&r, "web").outcome, Outcome::NeverStarted);
    assert!(
        sd.stderr()
            .contains("crasher: not restarting: shutting down")
    );
}

#[test]
fn a_crash_loop_of_a_real_process_ends_with_exit_code_1() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.shell(
            "worker",
            "sleep 0.05; exit 7",
            "depends_on = [\"db\"]\nready_after = \"0s\"\nrestart = \"on-failure\"\nmax_restarts = 2\nrestart_backoff = \"20ms\""
        ),
    ));
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 1, "{}", sd.stderr());
    let r = sb.report();
    assert_eq!(r.trigger, Some(Trigger::ComponentFailed("worker".into())));
    let worker = c(&r, "worker");
    assert_eq!(worker.restarts.len(), 2);
    assert_eq!(worker.exit_status, Some(7));
    assert_eq!(worker.outcome, Outcome::Failed);
    assert!(
        sd.stderr()
            .contains("not restarting it again: 2 restart(s) within 1m already (max_restarts = 2)"),
        "{}",
        sd.stderr()
    );
    assert_eq!(c(&r, "db").outcome, Outcome::Stopped);
    r.assert_respects_graph();
}
