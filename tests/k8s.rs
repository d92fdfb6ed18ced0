//! Running on Kubernetes: the stop Kubernetes would give the pod that
//! `export k8s --mode sidecars` writes (simulated in-process as the
//! `k8s-sidecars` strategy, on tokio's paused clock) next to sundown's own
//! phased and eager stops, and `plan --as k8s-sidecars`.

mod common;

use std::fmt::Write as _;

use sundown::{ShutdownReport, Supervisor};

/// Three levels of three, each depending on every component of the level
/// below, 20 ms to stop: the bench's `layered` graph, smaller.
fn layered(strategy: &str) -> String {
    let mut s = format!("[supervisor]\nstrategy = \"{strategy}\"\n");
    for level in 0..3 {
        for k in 0..3 {
            let deps: Vec<String> = if level == 0 {
                Vec::new()
            } else {
                (0..3).map(|j| format!("\"d{}x{j}\"", level - 1)).collect()
            };
            let _ = write!(
                s,
                "[components.d{level}x{k}]\nkind = \"sim\"\nstop_delay = \"20ms\"\ndepends_on = [{}]\n",
                deps.join(", ")
            );
        }
    }
    s
}

fn run(toml: &str) -> ShutdownReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let running = Supervisor::from_toml_str(toml)
            .expect("valid")
            .start()
            .await
            .expect("starts");
        running.shutdown().await
    })
}

#[test]
fn kubernetes_stops_the_sidecars_one_at_a_time_where_sundown_stops_levels() {
    let phased = run(&layered("phased"));
    let eager = run(&layered("eager"));
    let k8s = run(&layered("k8s-sidecars"));
    for r in [&phased, &eager, &k8s] {
        r.assert_respects_graph();
        assert_eq!(r.exit_code, 0);
    }
    // Three levels of 20 ms.
    assert_eq!(phased.shutdown_ms(), Some(60.0));
    assert_eq!(eager.shutdown_ms(), Some(60.0));
    // The three mains together, then six sidecars in a line.
    assert_eq!(k8s.shutdown_ms(), Some(20.0 + 6.0 * 20.0));
    assert_eq!(k8s.phases.len(), 7);
    assert_eq!(k8s.phases[0].members, ["d2x0", "d2x1", "d2x2"]);
    // Last listed first: the sidecars are listed level by level, by name.
    let order: Vec<&str> = k8s.phases[1..]
        .iter()
        .map(|p| p.members[0].as_str())
        .collect();
    assert_eq!(order, ["d1x2", "d1x1", "d1x0", "d0x2", "d0x1", "d0x0"]);
}

#[test]
fn plan_as_k8s_sidecars_compares_the_strategies_and_names_what_it_serialises() {
    let sb = common::Sandbox::new();
    let config = sb.config(
        &layered("phased")
            .replace("20ms", "1s")
            .replace("stop_delay", "stop_timeout"),
    );
    let out = common::cli(&[
        "plan".as_ref(),
        "--as".as_ref(),
        "k8s-sidecars".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("stop: strategy k8s-sidecars, 7 phase(s)"),
        "{text}"
    );
    assert!(text.contains("  phased        3s (3 phases)"), "{text}");
    assert!(text.contains("  eager         3s"), "{text}");
    assert!(
        text.contains("  k8s-sidecars  7s (the main containers, then 6 sidecar(s) one at a time)"),
        "{text}"
    );
    // Within a level nothing depends on anything: 2 pairs per level of 3.
    let serialised: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("serialised without a dependency"))
        .collect();
    assert_eq!(serialised.len(), 4, "{text}");
    assert!(serialised[0].contains("`d1x1` waits for `d1x2`"), "{text}");
}

#[test]
fn run_only_runs_one_component_and_stops_it_on_sigterm() {
    let sb = common::Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.service("web", "depends_on = [\"db\"]")
    ));
    let mut args = sb.run_args();
    args.extend(["--only".into(), "web".into()]);
    let mut sd = common::Sundown::spawn(&args);
    sd.wait_ready(1);
    sd.wait_for("--only web: not starting its dependencies (db)");
    sd.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let log = sb.log_lines();
    assert_eq!(
        log,
        ["start web", "stop-begin web", "stop-end web"],
        "db never ran"
    );
    let report = sb.report();
    let names: Vec<&str> = report.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["web"]);

    let mut args = sb.run_args();
    args.extend(["--only".into(), "wbe".into()]);
    let out = common::cli(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--only: there is no component `wbe` (did you mean `web`?)"),
        "{err}"
    );
}
