//! Readiness and liveness probes, with the built binary and real programs:
//! each probe kind gates its dependents' start, a probe that never passes
//! is a start failure naming the probe's last error, a process that dies
//! before it is ready fails with its own exit status, and a liveness probe
//! that keeps failing counts as a failure (and restarts the component).
//!
//! The programs that listen are sundown itself running an inner config
//! (a Redis stand-in, the HTTP front end) behind a `sim` start delay, so
//! nothing needs installing and the port opens only after a real wait.

use nix::sys::signal::Signal;
use sundown::{Outcome, ShutdownReport};

use crate::common::{BIN, Sandbox, is_alive, toml_array, toml_str};
use crate::shared::free_addr;

/// An inner sundown config: a `sim` that takes `delay` to start, then a
/// Redis stand-in on `redis` and, when `http` is given, the HTTP front end.
fn inner(
    sb: &Sandbox,
    delay: &str,
    redis: std::net::SocketAddr,
    http: Option<std::net::SocketAddr>,
) -> String {
    let mut toml = format!(
        "[components.boot]\nkind = \"sim\"\nstart_delay = {}\n\n[components.cache]\nkind = \"redis\"\nlisten = \"{redis}\"\ndepends_on = [\"boot\"]\n",
        toml_str(delay)
    );
    if let Some(http) = http {
        toml += &format!(
            "\n[components.front]\nkind = \"http\"\nlisten = \"{http}\"\nredis = \"redis://{redis}/\"\ndepends_on = [\"cache\"]\n"
        );
    }
    let path = sb.write("inner.toml", &toml);
    format!(
        "command = {}\n",
        toml_array(&[
            BIN.to_string(),
            "run".into(),
            "--config".into(),
            path.display().to_string()
        ])
    )
}

/// `ready`'s start came after `dependency` was ready, and the probe held
/// `dependency` back at least `min_ms`.
fn assert_gated(r: &ShutdownReport, dependency: &str, dependent: &str, min_ms: f64) {
    let d = r.component(dependency).expect("dependency");
    let ready = d.ready_at.expect("the dependency became ready");
    let started = d.start_requested.expect("started");
    assert!(
        ready - started >= min_ms,
        "{dependency} was ready {} ms after its start; the probe should have waited at least {min_ms} ms",
        ready - started
    );
    let w = r.component(dependent).expect("dependent");
    assert!(
        w.start_requested.expect("the dependent started") >= ready,
        "{dependent} started at {:?}, before {dependency} was ready at {ready}",
        w.start_requested
    );
}

/// `table` (the dependency's whole `[components.NAME]` table) with a
/// dependent `web` on it: run to SIGTERM and check the probe held `web`
/// back at least `min_ms`.
fn assert_probe_gates(sb: &Sandbox, table: String, dependency: &str, min_ms: f64) {
    let dependent = sb.service("web", &format!("depends_on = [\"{dependency}\"]"));
    sb.config(&format!("{table}\n{dependent}"));
    let r = run_to_sigterm(sb, 2);
    assert_gated(&r, dependency, "web", min_ms);
}

fn run_to_sigterm(sb: &Sandbox, components: usize) -> ShutdownReport {
    let mut sd = sb.run();
    sd.wait_ready(components);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "stderr:\n{}", sd.stderr());
    let r = sb.report();
    r.assert_respects_graph();
    r
}

#[test]
fn a_tcp_probe_holds_dependents_until_the_port_opens() {
    let sb = Sandbox::new();
    let addr = free_addr();
    let table = format!(
        "[components.db]\n{}ready = {{ tcp = \"{addr}\", interval = \"20ms\" }}\n",
        inner(&sb, "400ms", addr, None)
    );
    assert_probe_gates(&sb, table, "db", 400.0);
}

#[test]
fn an_http_probe_waits_for_the_wanted_status() {
    let sb = Sandbox::new();
    let (redis, http) = (free_addr(), free_addr());
    let table = format!(
        "[components.api]\n{}ready = {{ http = \"http://{http}/readyz\", status = 200, interval = \"20ms\" }}\n",
        inner(&sb, "300ms", redis, Some(http))
    );
    assert_probe_gates(&sb, table, "api", 300.0);
}

#[test]
fn an_exec_probe_passes_when_the_program_exits_zero() {
    let sb = Sandbox::new();
    let marker = sb.path("initialized");
    let script = format!("sleep 0.3; touch {}; exec sleep 1000", marker.display());
    let probe = format!(
        "ready = {{ exec = {}, interval = \"20ms\" }}",
        toml_array(&["test".into(), "-f".into(), marker.display().to_string()])
    );
    let table = sb.shell("db", &script, &probe);
    assert_probe_gates(&sb, table, "db", 300.0);
}

#[test]
fn a_log_probe_waits_for_a_matching_line() {
    let sb = Sandbox::new();
    let script =
        "echo starting; sleep 0.3; echo 'db: Ready to accept connections' >&2; exec sleep 1000";
    let table = sb.shell(
        "db",
        script,
        "ready = { log = \"(?i)ready to accept connections\" }",
    );
    assert_probe_gates(&sb, table, "db", 300.0);
}

#[test]
fn readiness_that_never_comes_is_a_start_failure_with_the_probes_last_error() {
    let sb = Sandbox::new();
    let addr = free_addr();
    let toml = format!(
        "{}{}{}",
        sb.service("other", ""),
        sb.shell(
            "db",
            "echo $$$$ > db.pid; exec sleep 1000",
            &format!("working_dir = {}\nready = {{ tcp = \"{addr}\", interval = \"50ms\", ready_timeout = \"600ms\" }}", toml_str(&sb.dir().display().to_string()))
        ),
        sb.service("web", "depends_on = [\"db\"]")
    );
    sb.config(&toml);
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 1, "stderr:\n{}", sd.stderr());
    let r = sb.report();
    let db = r.component("db").expect("db");
    assert_eq!(db.outcome, Outcome::Failed);
    let error = db.error.as_deref().expect("an error");
    assert!(
        error.starts_with(&format!(
            "not ready within 600ms: readiness probe tcp {addr}: connect to {addr}: "
        )),
        "{error}"
    );
    assert!(error.contains("refused"), "{error}");
    assert!(
        !is_alive(sb.pid_file("db.pid")),
        "the unready process was left running"
    );
    assert_eq!(
        r.component("web").expect("web").outcome,
        Outcome::NeverStarted
    );
    // What had started is stopped in order, gracefully.
    assert_eq!(
        r.component("other").expect("other").outcome,
        Outcome::Stopped
    );
    assert!(
        sd.stderr()
            .contains(&format!("db: failed to start: {error}")),
        "stderr:\n{}",
        sd.stderr()
    );
}

#[test]
fn a_process_that_exits_before_it_is_ready_fails_with_its_status() {
    let sb = Sandbox::new();
    let addr = free_addr();
    let toml = format!(
        "{}{}",
        sb.shell(
            "db",
            "echo 'config file missing' >&2; exit 3",
            &format!("ready = {{ tcp = \"{addr}\" }}")
        ),
        sb.service("web", "depends_on = [\"db\"]")
    );
    sb.config(&toml);
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 1, "stderr:\n{}", sd.stderr());
    let r = sb.report();
    let db = r.component("db").expect("db");
    assert_eq!(
        (db.outcome, db.exit_status, db.ready_at),
        (Outcome::Failed, Some(3), None)
    );
    let err = sd.stderr();
    assert!(err.contains("db | config file missing"), "{err}");
    assert!(
        err.contains("db: failed to start: exited before it was ready (exit status 3)"),
        "{err}"
    );
    assert_eq!(
        r.component("web").expect("web").outcome,
        Outcome::NeverStarted
    );
}

#[test]
fn a_failing_liveness_probe_is_a_failure_that_restarts_the_component() {
    let sb = Sandbox::new();
    let healthy = sb.path("healthy");
    let runs = sb.path("runs");
    // Each run counts itself and declares itself healthy; the test takes
    // the first run's health away.
    let script = format!(
        "echo run >> {runs}; touch {healthy}; echo \"run db\" >> {log}; echo up; exec sleep 1000",
        runs = runs.display(),
        log = sb.log().display(),
        healthy = healthy.display()
    );
    let extra = format!(
        "ready = {{ log = \"^up$\" }}\nliveness = {{ exec = {}, interval = \"50ms\", failure_threshold = 2 }}\nrestart = \"on-failure\"\nrestart_backoff = \"50ms\"",
        toml_array(&["test".into(), "-f".into(), healthy.display().to_string()])
    );
    sb.config(&sb.shell("db", &script, &extra));
    let mut sd = sb.run();
    sd.wait_ready(1);
    sb.wait_for_log("run db");
    let count = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(count(), 1);
    std::fs::remove_file(&healthy).expect("take its health away");
    sd.wait_for("restarting in");
    sd.wait_for_nth("db: ready", 2);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "stderr:\n{}", sd.stderr());
    assert_eq!(count(), 2);
    let r = sb.report();
    let db = r.component("db").expect("db");
    assert_eq!(db.restarts.len(), 1, "{db:?}");
    let reason = &db.restarts[0].reason;
    assert!(
        reason.contains(&format!(
            "liveness probe exec `test -f {}` failed 2 time(s) in a row",
            healthy.display()
        )),
        "{reason}"
    );
    assert_eq!(db.outcome, Outcome::Stopped);
}
