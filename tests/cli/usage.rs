//! CPU and memory per component in `sundown status`: a process that burns
//! CPU and holds memory, measured each way its processes are tracked
//! (cgroup, or `/proc` when forced to scan), beside an in-process one; and
//! the JSON checked against `docs/status.schema.json` while running and
//! during a shutdown.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sundown::status::{ComponentView, SCHEMA, Usage};

use crate::common::{Sandbox, Sundown, command, text, toml_str};
use crate::shared::TIMEOUT;

/// `hog` holds 32 MiB in a shell variable, keeps a child, and burns CPU in
/// bursts; `web` runs inside sundown.
fn hog_graph(sb: &Sandbox) {
    let script = "x=$(head -c 33554432 /dev/zero | tr '\\0' a); sleep 1000 & \
                  while :; do i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; sleep 0.01; done";
    sb.config(&format!(
        "{}[components.web]\nkind = \"sim\"\n",
        sb.shell("hog", script, "ready_after = \"50ms\"")
    ));
}

fn row<'a>(v: &'a sundown::StatusView, name: &str) -> &'a ComponentView {
    v.components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {v:?}"))
}

/// `(cpu_seconds, memory_bytes, processes when counted)` of a measured row.
fn measured(c: &ComponentView) -> Option<(f64, u64, Option<u32>)> {
    match c.usage? {
        Usage::Cgroup {
            cpu_seconds,
            memory_bytes,
        } => Some((cpu_seconds, memory_bytes, None)),
        Usage::Processes {
            cpu_seconds,
            memory_bytes,
            count,
        } => Some((cpu_seconds, memory_bytes, Some(count))),
        Usage::Supervisor => None,
    }
}

/// Runs the hog graph with `SUNDOWN_DESCENDANTS=mode` (unset for `None`)
/// and checks what status says of it; returns the scope it was measured in.
fn hog_is_measured(mode: Option<&str>) -> &'static str {
    let sb = Sandbox::new();
    hog_graph(&sb);
    let mut cmd = command();
    cmd.args(sb.run_args());
    match mode {
        Some(m) => cmd.env("SUNDOWN_DESCENDANTS", m),
        None => cmd.env_remove("SUNDOWN_DESCENDANTS"),
    };
    let mut sd = Sundown::spawn_command(cmd);
    sd.wait_ready(2);
    // The 32 MiB are there once the shell has read them all, the
    // `$(head | tr)` that fed them has ended (until then its processes
    // count) and the shell has started its `sleep 1000` (until then it is alone).
    let deadline = Instant::now() + TIMEOUT;
    let (first, v) = loop {
        let v = sb.status();
        let m = measured(row(&v, "hog"));
        if let Some((_, mem, count)) = m
            && mem >= 32 << 20
            && count.is_none_or(|n| (2..=3).contains(&n))
        {
            break (m, v);
        }
        assert!(
            Instant::now() < deadline,
            "hog never held 32 MiB in 2 or 3 processes: {v:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let Some((cpu, memory, count)) = first else {
        unreachable!("measured above")
    };
    assert_eq!(v.schema, SCHEMA);
    assert!(
        memory < 1 << 30,
        "32 MiB and a few small programs: {memory}"
    );
    if let Some(n) = count {
        // sh and its `sleep 1000`, and at times the loop's `sleep 0.01`.
        assert!((2..=3).contains(&n), "{n} processes");
    }
    assert_eq!(row(&v, "web").usage, Some(Usage::Supervisor));
    let scope = match row(&v, "hog").usage {
        Some(Usage::Cgroup { .. }) => "cgroup",
        _ => "processes",
    };
    // CPU time grows while it burns.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let v = sb.status();
        let (later, _, _) = measured(row(&v, "hog")).expect("still measured");
        if later > cpu {
            break;
        }
        assert!(Instant::now() < deadline, "CPU stayed at {cpu}s: {v:?}");
    }
    // The table shows both.
    let table = text(&sb.client(&["status"]).stdout);
    let hog = table
        .lines()
        .find(|l| l.starts_with("hog "))
        .expect("hog's row");
    assert!(hog.contains(" MiB"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("web ") && l.contains("(in sundown)")),
        "{table}"
    );
    assert!(
        table.starts_with("NAME") && table.lines().next().is_some_and(|h| h.contains("CPU")),
        "{table}"
    );
    // A reload that keeps hog (another component is added) leaves its
    // run, and where its processes are, as they were: still measured.
    let config = std::fs::read_to_string(sb.path("supervisor.toml")).expect("the config");
    sb.config(&format!("{config}[components.more]\nkind = \"sim\"\n"));
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v = sb.status();
    assert_eq!(row(&v, "hog").restarts, 0, "{v:?}");
    let after = match row(&v, "hog").usage {
        Some(Usage::Cgroup { .. }) => "cgroup",
        Some(Usage::Processes { .. }) => "processes",
        other => panic!("hog no longer measured after the reload: {other:?}"),
    };
    assert_eq!(after, scope);
    assert_eq!(row(&v, "more").usage, Some(Usage::Supervisor));
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    scope
}

#[test]
fn a_busy_process_is_measured_over_its_processes_when_scanning() {
    assert_eq!(hog_is_measured(Some("scan")), "processes");
}

#[test]
fn a_busy_process_is_measured_over_its_cgroup_when_it_has_one() {
    // Whichever way this machine allows; over a cgroup when it can be made.
    let scope = hog_is_measured(None);
    let cgroups = std::fs::read_to_string("/proc/self/mountinfo")
        .is_ok_and(|m| m.lines().any(|l| l.contains(" - cgroup2 ")));
    if !cgroups {
        assert_eq!(scope, "processes");
    }
}

/// Checks `instance` against `docs/status.schema.json`.
fn assert_valid(instance: &serde_json::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/status.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the schema")).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema itself is valid");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "status does not match the schema:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

fn status_json(sb: &Sandbox) -> serde_json::Value {
    let out = sb.client(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn live_status_json_matches_its_schema_running_and_stopping() {
    let sb = Sandbox::new();
    let log = sb.path("db.log");
    // A process, a completed one-shot, and an in-process one that holds up
    // the shutdown; `db` keeps a log file.
    sb.config(&format!(
        "{}{}[components.web]\nkind = \"sim\"\ndepends_on = [\"db\"]\nignore_stop = true\nstop_timeout = \"10s\"\n",
        sb.service(
            "db",
            &format!(
                "ready_after = \"50ms\"\nlog_file = {}",
                toml_str(&log.display().to_string())
            )
        ),
        sb.shell("seed", "exit 0", "oneshot = true"),
    ));
    let mut sd = sb.run();
    sd.wait_ready(3);
    let deadline = Instant::now() + TIMEOUT;
    let running = loop {
        let v = status_json(&sb);
        if v["components"][1]["state"] == "completed" {
            break v;
        }
        assert!(Instant::now() < deadline, "seed never completed: {v:#}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_valid(&running);
    assert_eq!(running["schema"], 2);
    assert!(
        running["components"][0]["usage"]["cpu_seconds"].is_number(),
        "{running:#}"
    );
    assert_eq!(running["components"][1]["usage"], serde_json::Value::Null);
    assert_eq!(running["components"][2]["usage"]["scope"], "supervisor");

    sd.signal(Signal::SIGTERM);
    let deadline = Instant::now() + TIMEOUT;
    let stopping = loop {
        let v = status_json(&sb);
        if v["shutdown"]["waiting_on"] == serde_json::json!(["web"]) {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "the shutdown never waited on web: {v:#}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_valid(&stopping);
    assert_eq!(stopping["shutdown"]["phase"], 1);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 4, "{}", sd.stderr());
}
