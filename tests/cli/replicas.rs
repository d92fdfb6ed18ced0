//! `replicas = N` and `sundown scale` with the built binary and real
//! processes: each instance's number and port, the edges the instances
//! share, scaling a running graph up and down, a reload with a new count,
//! `logs NAME.i`, and bad counts.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sundown::status::{ComponentState, StatusView};

use crate::common::{
    Sandbox, Sundown, assert_started_before, assert_stop_end_before_begin, cli, position, text,
    toml_str,
};

/// `replicas` instances of the service script, each named `worker.i` in the
/// log, printing its number and its port (`PORT_BASE` from an env file,
/// the number after it) on stdout first.
fn workers(sb: &Sandbox, name: &str, replicas: u32, extra: &str) -> String {
    sb.write(".env", "PORT_BASE=90\n");
    let script = format!(
        "echo \"replica $SUNDOWN_REPLICA port $PORT\"; exec /bin/sh {} {name}.$SUNDOWN_REPLICA {} {} 0.1",
        sb.path("service.sh").display(),
        sb.log().display(),
        sb.dir().display()
    );
    format!(
        "[components.{name}]\ncommand = [\"/bin/sh\", \"-c\", {}]\nreplicas = {replicas}\nenv_file = [\".env\"]\nenv = {{ PORT = \"${{PORT_BASE}}${{SUNDOWN_REPLICA}}\" }}\n{extra}\n",
        toml_str(&script)
    )
}

/// db ← worker (N instances) ← api.
fn graph(sb: &Sandbox, replicas: u32) -> String {
    format!(
        "{}{}{}",
        sb.service("db", "ready_after = \"100ms\""),
        workers(
            sb,
            "worker",
            replicas,
            "depends_on = [\"db\"]\nready_after = \"200ms\""
        ),
        sb.service("api", "depends_on = [\"worker\"]"),
    )
}

fn state(v: &StatusView, name: &str) -> (ComponentState, Option<u32>) {
    let c = v
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("`{name}` in {v:?}"));
    (c.state, c.pid)
}

fn names(v: &StatusView) -> Vec<String> {
    v.components.iter().map(|c| c.name.clone()).collect()
}

fn end(mut sd: Sundown) {
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn three_replicas_have_their_number_and_port_and_share_the_edges() {
    let sb = Sandbox::new();
    sb.config(&graph(&sb, 3));
    let sd = sb.run();
    sd.wait_ready(5);
    sb.wait_for_log("start api");
    let log = sb.log_lines();
    for i in 1..=3 {
        assert_started_before(&log, "db", &format!("worker.{i}"));
        assert_started_before(&log, &format!("worker.{i}"), "api");
    }
    let v = sb.status();
    assert_eq!(names(&v), ["api", "db", "worker.1", "worker.2", "worker.3"]);
    for i in 1..=3 {
        // What the instance printed, as `sundown logs worker.i` shows it.
        let out = sb.client(&["logs", &format!("worker.{i}")]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let shown = text(&out.stdout);
        assert!(
            shown.contains(&format!("replica {i} port 90{i}")),
            "logs worker.{i}: {shown}"
        );
    }
    let out = sb.client(&["logs", "worker"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    end(sd);
    let log = sb.log_lines();
    let report = sb.report();
    report.assert_respects_graph();
    for i in 1..=3 {
        let w = format!("worker.{i}");
        assert_stop_end_before_begin(&log, "api", &w);
        assert_stop_end_before_begin(&log, &w, "db");
        report.assert_stopped_before("api", &w);
        report.assert_stopped_before(&w, "db");
    }
}

#[test]
fn plan_and_check_show_the_instances() {
    let sb = Sandbox::new();
    sb.config(&graph(&sb, 2));
    let config = sb.path("supervisor.toml");
    let out = cli(&["plan", "--config", config.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    // Every instance starts together and stops in the component's phase.
    assert!(plan.contains("  level 1: worker.1, worker.2\n"), "{plan}");
    assert!(
        plan.contains(": worker.1 (10s), worker.2 (10s)\n"),
        "{plan}"
    );
    assert!(
        plan.contains("replicas: `worker` runs as 2 instance(s), worker.1 … worker.2\n"),
        "{plan}"
    );
    let out = cli(&["check", "--config", config.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("replicas: `worker` runs as 2 instance(s)"));
}

#[test]
fn scale_up_starts_new_instances_and_scale_down_stops_them_leaving_the_rest() {
    let sb = Sandbox::new();
    sb.config(&graph(&sb, 2));
    let sd = sb.run();
    sd.wait_ready(4);
    sb.wait_for_log("start api");
    let before = sb.status();
    let kept = ["db", "worker.1", "worker.2", "api"];

    let out = sb.client(&["scale", "worker", "5"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("added: worker.3, worker.4, worker.5\n"),
        "{said}"
    );
    assert!(
        said.contains("starting (in order): worker.3, worker.4, worker.5\n"),
        "{said}"
    );
    assert!(!said.contains("stopping"), "nothing is stopped: {said}");
    let v = sb.status();
    assert_eq!(v.components.len(), 7);
    for n in kept {
        assert_eq!(state(&v, n), state(&before, n), "{n} keeps running");
    }
    for i in 3..=5 {
        assert_eq!(state(&v, &format!("worker.{i}")).0, ComponentState::Ready);
    }
    let out = sb.client(&["logs", "worker.4"]);
    assert!(text(&out.stdout).contains("replica 4 port 904"));

    let out = sb.client(&["scale", "worker", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("removed: worker.3, worker.4, worker.5\n"),
        "{said}"
    );
    assert!(
        said.contains("stopping (dependents first): worker.3, worker.4, worker.5\n"),
        "{said}"
    );
    let log = sb.log_lines();
    for i in 3..=5 {
        position(&log, &format!("stop-end worker.{i}"));
    }
    assert!(!log.iter().any(|l| l == "stop-begin api"), "{log:?}");
    let v = sb.status();
    assert_eq!(names(&v), ["api", "db", "worker.1", "worker.2"]);
    for n in kept {
        assert_eq!(state(&v, n), state(&before, n), "{n} keeps running");
    }

    // Bad requests change nothing.
    let out = sb.client(&["scale", "wroker", "3"]);
    assert_eq!(out.status.code(), Some(2));
    // The config's own diagnostic, as `check` words it: no `error:` twice.
    assert_eq!(
        text(&out.stderr),
        format!(
            "{}: error: there is no component `wroker` (did you mean `worker`?)\n",
            sb.path("supervisor.toml").display()
        )
    );
    let out = sb.client(&["scale", "worker", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("a count is 1 to 1000"));
    end(sd);
    sb.report().assert_respects_graph();
}

#[test]
fn a_reload_runs_the_files_count() {
    let sb = Sandbox::new();
    sb.config(&graph(&sb, 1));
    let sd = sb.run();
    sd.wait_ready(3);
    let out = sb.client(&["scale", "worker", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let before = sb.status();
    // `scale` changed no file: a reload runs the file's count, here 2.
    sb.config(&graph(&sb, 2));
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("removed: worker.3\n"), "{said}");
    let v = sb.status();
    assert_eq!(names(&v), ["api", "db", "worker.1", "worker.2"]);
    for n in ["db", "worker.1", "worker.2", "api"] {
        assert_eq!(state(&v, n), state(&before, n), "{n} keeps running");
    }
    sb.config(&graph(&sb, 4));
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("added: worker.3, worker.4\n"));
    assert_eq!(sb.status().components.len(), 6);
    end(sd);
    sb.report().assert_respects_graph();
}

#[test]
fn bad_counts_are_config_errors_at_their_place() {
    let sb = Sandbox::new();
    for (count, message) in [
        ("0", "replicas = 0: a count is 1 to 1000"),
        ("-1", "replicas = -1: a count is 1 to 1000"),
        ("5000", "replicas = 5000: a count is 1 to 1000"),
    ] {
        sb.config(&format!(
            "[components.w]\ncommand = \"true\"\nreplicas = {count}\n"
        ));
        let config = sb.path("supervisor.toml");
        let out = cli(&["check", "--config", config.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(2));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!(
                "supervisor.toml:3:12: error: component `w`: {message}"
            )),
            "{err}"
        );
    }
}

/// The figure the README quotes: `scale w 10` from 1, until all are ready.
#[test]
fn scaling_up_to_ten_instances_is_quick() {
    let sb = Sandbox::new();
    sb.config(&workers(&sb, "w", 1, ""));
    let sd = sb.run();
    sd.wait_ready(1);
    let began = Instant::now();
    let out = sb.client(&["scale", "w", "10"]);
    let took = began.elapsed();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = sb.status();
    assert_eq!(v.components.len(), 10);
    assert!(
        v.components
            .iter()
            .all(|c| c.state == ComponentState::Ready)
    );
    eprintln!("scale w 10 from 1: {took:?} until every instance was ready");
    assert!(took < Duration::from_secs(10), "{took:?}");
    end(sd);
}

/// A scale of one component keeps the counts other scales set (Compose's
/// `scale`), until a plain reload runs the file's counts again.
#[test]
fn a_scale_keeps_the_counts_of_earlier_scales() {
    let sb = Sandbox::new();
    sb.config(&graph(&sb, 2));
    let sd = sb.run();
    sd.wait_ready(4);
    let out = sb.client(&["scale", "worker", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = sb.client(&["scale", "api", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("unchanged, left running: db, worker.1, worker.2, worker.3\n"),
        "worker keeps its 3: {said}"
    );
    let v = sb.status();
    assert_eq!(
        names(&v),
        ["api.1", "api.2", "db", "worker.1", "worker.2", "worker.3"]
    );
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(names(&sb.status()), ["api", "db", "worker.1", "worker.2"]);
    end(sd);
}

/// A dependent still waiting for an instance that a scale takes away is
/// started once nothing it waits for is left (it used to wait forever).
#[test]
fn a_dependent_waiting_for_a_removed_instance_starts() {
    let sb = Sandbox::new();
    // worker.3 never becomes ready; the others do at once.
    let script =
        "if [ \"$SUNDOWN_REPLICA\" = 3 ]; then exec sleep 1000; fi; echo up; exec sleep 1000";
    sb.config(&format!(
        "[components.worker]\ncommand = [\"/bin/sh\", \"-c\", {}]\nreplicas = 3\nready = {{ log = \"up\" }}\n\n{}",
        toml_str(script),
        sb.service("api", "depends_on = [\"worker\"]"),
    ));
    let sd = sb.run();
    sd.wait_for("worker.2: ready");
    let out = sb.client(&["scale", "worker", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sd.wait_ready(3);
    sb.wait_for_log("start api");
    end(sd);
}
