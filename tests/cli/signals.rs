//! The built `sundown` binary against real `process` components and real
//! signals: ordered shutdown on SIGTERM and SIGINT (phased and eager), the
//! second signal forcing, a signal during startup, and a SIGKILLed
//! supervisor taking its children with it.

use std::os::unix::process::ExitStatusExt as _;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sundown::{KillReason, Outcome, Strategy, Trigger};

use crate::common::{
    Sandbox, assert_started_before, assert_stop_end_before_begin, is_alive, wait_dead,
};
use crate::shared::TIMEOUT;

/// http → workers → {redis, postgres}, and http → redis: a diamond.
const EDGES: [(&str, &str); 4] = [
    ("http", "workers"),
    ("http", "redis"),
    ("workers", "redis"),
    ("workers", "postgres"),
];

fn diamond(sb: &Sandbox, strategy: &str) {
    let mut toml =
        format!("[supervisor]\nshutdown_timeout = \"10s\"\nstrategy = \"{strategy}\"\n\n");
    toml += &sb.service("redis", "ready_after = \"100ms\"\nstop_timeout = \"5s\"");
    toml += &sb.service("postgres", "ready_after = \"100ms\"\nstop_timeout = \"5s\"");
    toml += &sb.service(
        "workers",
        "ready_after = \"100ms\"\nstop_timeout = \"5s\"\ndepends_on = [\"redis\", \"postgres\"]",
    );
    toml += &sb.service(
        "http",
        "ready_after = \"100ms\"\nstop_timeout = \"5s\"\ndepends_on = [\"workers\", \"redis\"]",
    );
    sb.config(&toml);
}

/// Starts the diamond, sends `sig` once everything is ready, and checks
/// the exit code, the order in the children's own log, and the report.
fn ordered_shutdown(strategy: Strategy, sig: Signal) {
    let sb = Sandbox::new();
    diamond(&sb, &strategy.to_string());
    let mut sd = sb.run();
    sd.wait_ready(4);
    sd.signal(sig);
    let code = sd.exit_code();
    assert_eq!(code, 0, "stderr:\n{}", sd.stderr());

    // The children's own view of the order.
    let log = sb.log_lines();
    for (dependent, dependency) in EDGES {
        assert_started_before(&log, dependency, dependent);
        assert_stop_end_before_begin(&log, dependent, dependency);
    }
    for name in ["http", "workers", "redis", "postgres"] {
        for what in ["start", "stop-begin", "stop-end"] {
            let line = format!("{what} {name}");
            assert_eq!(
                log.iter().filter(|l| **l == line).count(),
                1,
                "`{line}` exactly once in:\n{}",
                log.join("\n")
            );
        }
    }

    // The report's view.
    let r = sb.report();
    assert_eq!(r.schema, sundown::report::SCHEMA);
    assert_eq!(r.trigger, Some(Trigger::Signal(sig.as_str().to_string())));
    assert_eq!(r.strategy, strategy);
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.forced_at, None);
    assert_eq!(r.components.len(), 4);
    r.assert_respects_graph();
    for (dependent, dependency) in EDGES {
        r.assert_stopped_before(dependent, dependency);
    }
    for c in &r.components {
        assert_eq!(c.kind, "process");
        assert_eq!(c.outcome, Outcome::Stopped, "{}: {c:?}", c.name);
        assert_eq!(c.exit_status, Some(0), "{}: {c:?}", c.name);
        assert_eq!(c.killed_by, None, "{}: {c:?}", c.name);
        assert_eq!(
            c.pid,
            Some(sb.pid_file(&format!("{}.pid", c.name)) as u32),
            "{}: the report's pid is the script's own $$",
            c.name
        );
        let ready = c.ready_at.expect("ready");
        let asked = c.stop_requested.expect("asked to stop");
        let down = c.stopped_at.expect("down");
        assert!(c.start_requested.expect("started") <= ready);
        assert!(ready <= r.all_ready_at.expect("all ready"));
        assert!(asked >= r.shutdown_started_at.expect("shutdown started"));
        // The trap sleeps 100 ms before exiting.
        assert!(
            down - asked >= 90.0,
            "{}: stop took {} ms",
            c.name,
            down - asked
        );
    }
    assert!(r.all_ready_at <= r.shutdown_started_at);
    let order = r.stop_order();
    assert_eq!(&order[..2], ["http", "workers"], "stop order {order:?}");

    // Phases: dependents first, each one over before the next begins.
    let members: Vec<Vec<&str>> = r
        .phases
        .iter()
        .map(|p| p.members.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        members,
        vec![vec!["http"], vec!["workers"], vec!["postgres", "redis"]]
    );
    for (i, p) in r.phases.iter().enumerate() {
        assert_eq!(p.index, i);
        assert!(!p.timed_out);
        let (start, end) = (p.started_at.expect("began"), p.ended_at.expect("ended"));
        assert!(start <= end);
        for m in &p.members {
            let c = r.component(m).expect("member in the report");
            assert_eq!(c.phase, i);
            assert!(c.stop_requested.expect("asked") >= start);
            assert!(c.stopped_at.expect("down") <= end);
        }
        if let Some(next) = r.phases.get(i + 1) {
            assert!(
                end <= next.started_at.expect("next began"),
                "phase {i} ended at {end} after phase {} began: {:?}",
                i + 1,
                r.phases
            );
        }
    }
    assert!(r.ended_at >= r.phases[2].ended_at.expect("last phase ended"));
}

#[test]
fn sigterm_stops_a_diamond_in_reverse_order_phased() {
    ordered_shutdown(Strategy::Phased, Signal::SIGTERM);
}

#[test]
fn sigterm_stops_a_diamond_in_reverse_order_eager() {
    ordered_shutdown(Strategy::Eager, Signal::SIGTERM);
}

#[test]
fn sigint_stops_a_diamond_in_reverse_order() {
    ordered_shutdown(Strategy::Phased, Signal::SIGINT);
}

#[test]
fn sigint_stops_a_diamond_in_reverse_order_eager() {
    ordered_shutdown(Strategy::Eager, Signal::SIGINT);
}

#[test]
fn second_signal_forces_the_shutdown() {
    let sb = Sandbox::new();
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"60s\"\n\n");
    toml += &sb.service("db", "ready_after = \"100ms\"\nstop_timeout = \"5s\"");
    // stubborn depends on db, so db waits for stubborn, which ignores SIGTERM.
    toml += &sb.stubborn(
        "stubborn",
        "ready_after = \"100ms\"\nstop_timeout = \"30s\"\ndepends_on = [\"db\"]",
    );
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(2);
    let grandchild = sb.pid_file("stubborn.gc.pid");
    assert!(is_alive(grandchild));

    sd.signal(Signal::SIGTERM);
    sd.wait_for("shutting down:");
    let second = Instant::now();
    sd.signal(Signal::SIGTERM);
    let status = sd.wait_exit(Duration::from_secs(3));
    let took = second.elapsed();
    assert_eq!(status.code(), Some(4), "stderr:\n{}", sd.stderr());
    assert!(
        took < Duration::from_secs(3),
        "exit took {took:?} after the second signal"
    );

    let r = sb.report();
    assert_eq!(r.exit_code, 4);
    assert_eq!(r.trigger, Some(Trigger::Signal("SIGTERM".into())));
    let forced_at = r.forced_at.expect("forced_at is set");
    assert!(forced_at >= r.shutdown_started_at.expect("shutdown began"));
    let s = r.component("stubborn").expect("stubborn");
    assert_eq!(s.outcome, Outcome::Forced);
    assert_eq!(s.killed_by, Some(KillReason::SecondSignal));
    assert_eq!(s.signal.as_deref(), Some("SIGKILL"));
    assert!(s.stop_requested.expect("was asked first") <= s.killed_at.expect("killed"));
    // db waited for its dependent and was never asked gracefully before the force.
    let db = r.component("db").expect("db");
    assert_eq!(db.outcome, Outcome::Forced, "{db:?}");
    assert_eq!(db.killed_by, Some(KillReason::SecondSignal));
    assert_eq!(db.stop_requested, None);
    assert!(!sb.log_lines().iter().any(|l| l == "stop-begin db"));
    assert!(
        wait_dead(grandchild, Duration::from_secs(5)),
        "grandchild {grandchild} survived"
    );

    // The log says it once, then no phase takes its turn; each end is
    // measured from the kill, the kill from the request.
    let lines = sd.stderr_lines();
    let forced = lines
        .iter()
        .position(|l| {
            l.contains("forced (the second signal): killing everything still running: db, stubborn")
        })
        .unwrap_or_else(|| panic!("no forced line:\n{}", lines.join("\n")));
    let after = &lines[forced..];
    for l in after {
        assert!(
            !l.contains("phase 2/2"),
            "a phase announced after the force: {l}"
        );
        assert!(!l.contains("killing it"), "one line says it for all: {l}");
    }
    let has = |a: &str, b: &str| after.iter().any(|l| l.contains(a) && l.contains(b));
    assert!(
        has(
            "stubborn: killed by the second signal ",
            " after it was asked to stop; down "
        ),
        "{}",
        after.join("\n")
    );
    assert!(
        has(
            "db: killed by the second signal before its turn to stop; down ",
            " after the kill (killed by SIGKILL)"
        ),
        "{}",
        after.join("\n")
    );
}

#[test]
fn signal_during_startup_stops_what_started_and_skips_the_rest() {
    let sb = Sandbox::new();
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.service("a", "ready_after = \"3s\"\nstop_timeout = \"5s\"");
    toml += &sb.service("b", "ready_after = \"100ms\"\ndepends_on = [\"a\"]");
    sb.config(&toml);
    let mut sd = sb.run();
    sb.wait_for_log("start a");
    let sent = Instant::now();
    sd.signal(Signal::SIGTERM);
    let status = sd.wait_exit(Duration::from_millis(2500));
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", sd.stderr());
    assert!(took < Duration::from_millis(2500), "took {took:?}");

    let log = sb.log_lines();
    assert_eq!(log, ["start a", "stop-begin a", "stop-end a"]);

    let r = sb.report();
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.trigger, Some(Trigger::Signal("SIGTERM".into())));
    assert_eq!(r.all_ready_at, None);
    let a = r.component("a").expect("a");
    assert_eq!(a.outcome, Outcome::Stopped, "{a:?}");
    assert_eq!(a.ready_at, None);
    assert_eq!(a.exit_status, Some(0));
    assert!(a.pid.is_some());
    let b = r.component("b").expect("b");
    assert_eq!(b.outcome, Outcome::NeverStarted, "{b:?}");
    assert_eq!(b.pid, None);
    assert_eq!(b.start_requested, None);
    assert_eq!(b.stopped_at, None);
    r.assert_respects_graph();
}

#[test]
fn sigkill_of_the_supervisor_leaves_no_child_alive() {
    let sb = Sandbox::new();
    let mut toml = String::new();
    for (name, extra) in [
        ("one", ""),
        ("two", "depends_on = [\"one\"]"),
        ("three", "depends_on = [\"two\"]"),
    ] {
        let pidfile = sb.path(&format!("{name}.pid"));
        toml += &sb.shell(
            name,
            &format!("echo $$$$ > '{}'; exec sleep 1000", pidfile.display()),
            &format!("ready_after = \"100ms\"\n{extra}"),
        );
    }
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(3);
    let pids: Vec<i32> = ["one", "two", "three"]
        .iter()
        .map(|n| sb.pid_file(&format!("{n}.pid")))
        .collect();
    for &pid in &pids {
        assert!(
            is_alive(pid),
            "child {pid} should be running before the kill"
        );
        // The pid is the process itself once `exec sleep` has run.
        let deadline = Instant::now() + TIMEOUT;
        let cmdline = loop {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if cmdline.starts_with(b"sleep\0") || Instant::now() >= deadline {
                break cmdline;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(
            cmdline.starts_with(b"sleep\0"),
            "pid {pid} is the exec'ed sleep itself: {:?}",
            String::from_utf8_lossy(&cmdline)
        );
    }

    sd.signal(Signal::SIGKILL);
    let status = sd.wait_exit(Duration::from_secs(5));
    assert_eq!(status.signal(), Some(Signal::SIGKILL as i32));
    for &pid in &pids {
        assert!(
            wait_dead(pid, Duration::from_secs(5)),
            "child {pid} outlived its SIGKILLed supervisor"
        );
    }
    assert!(
        !sb.report_path().exists(),
        "a SIGKILLed supervisor writes no report"
    );
}

/// `web → db` plus an unrelated `metrics` that takes 600 ms to stop, all
/// three in phase 1 or 2; returns the report after a SIGTERM.
fn slow_sibling(strategy: &str) -> sundown::ShutdownReport {
    let sb = Sandbox::new();
    let mut toml =
        format!("[supervisor]\nshutdown_timeout = \"10s\"\nstrategy = \"{strategy}\"\n\n");
    toml += &sb.service("db", "ready_after = \"50ms\"\nstop_timeout = \"5s\"");
    toml += &sb.service(
        "web",
        "ready_after = \"50ms\"\nstop_timeout = \"5s\"\ndepends_on = [\"db\"]",
    );
    toml += &sb.service_with_delay(
        "metrics",
        "0.6",
        "ready_after = \"50ms\"\nstop_timeout = \"5s\"",
    );
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(3);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "stderr:\n{}", sd.stderr());
    let log = sb.log_lines();
    assert_stop_end_before_begin(&log, "web", "db");
    let r = sb.report();
    r.assert_respects_graph();
    assert_eq!(r.phases[0].members, ["metrics", "web"]);
    assert_eq!(r.phases[1].members, ["db"]);
    for c in &r.components {
        assert_eq!(c.outcome, Outcome::Stopped, "{c:?}");
    }
    r
}

#[test]
fn phased_waits_for_the_whole_phase_before_the_next() {
    let r = slow_sibling("phased");
    let metrics_down = r
        .component("metrics")
        .and_then(|c| c.stopped_at)
        .expect("metrics down");
    let db_asked = r
        .component("db")
        .and_then(|c| c.stop_requested)
        .expect("db asked");
    assert!(
        metrics_down <= db_asked,
        "phased: db (phase 2) asked at {db_asked} ms before metrics (phase 1) was down at {metrics_down} ms"
    );
}

#[test]
fn eager_stops_a_dependency_as_soon_as_its_dependents_are_down() {
    let r = slow_sibling("eager");
    let metrics_down = r
        .component("metrics")
        .and_then(|c| c.stopped_at)
        .expect("metrics down");
    let db = r.component("db").expect("db");
    let web_down = r
        .component("web")
        .and_then(|c| c.stopped_at)
        .expect("web down");
    let db_asked = db.stop_requested.expect("db asked");
    assert!(web_down <= db_asked);
    assert!(
        db.stopped_at.expect("db down") < metrics_down,
        "eager: db should not wait for the unrelated metrics (db asked at {db_asked} ms, metrics down at {metrics_down} ms)"
    );
}
