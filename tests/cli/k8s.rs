//! Running on Kubernetes: the stop Kubernetes would give the pod that
//! `export k8s --mode sidecars` writes (simulated in-process as the
//! `k8s-sidecars` strategy, on tokio's paused clock) next to sundown's own
//! phased and eager stops, and `plan --as k8s-sidecars`.

use std::fmt::Write as _;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sundown::{ShutdownReport, Supervisor};

use crate::common::{BIN, Sandbox, Sundown, cli};

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
    let sb = Sandbox::new();
    let config = sb.config(
        &layered("phased")
            .replace("20ms", "1s")
            .replace("stop_delay", "stop_timeout"),
    );
    let out = cli(&[
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
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.service("web", "depends_on = [\"db\"]")
    ));
    let mut args = sb.run_args();
    let socket = sb.path("ctl/control.sock");
    args.extend([
        "--only".into(),
        "web".into(),
        "--socket".into(),
        socket.clone().into(),
    ]);
    let mut sd = Sundown::spawn(&args);
    sd.wait_ready(1);
    // On the socket it was given, ready: the probe `export k8s --mode single` uses.
    let ready = cli(&[
        "status".as_ref(),
        "--ready".as_ref(),
        "--socket".as_ref(),
        socket.as_os_str(),
    ]);
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    sd.wait_for("--only web: not starting its dependencies (db)");
    // Once it logs, its stop is handled.
    sb.wait_for_log("start web");
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
    let out = cli(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--only: there is no component `wbe` (did you mean `web`?)"),
        "{err}"
    );
}

/// `export k8s ARGS` of `config` (relative to the crate), compared with
/// `tests/data/k8s/GOLDEN`; `UPDATE_GOLDEN=1` rewrites the file instead.
fn golden(config: &str, args: &[&str], golden: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = vec!["export", "k8s", "--config", config];
    all.extend_from_slice(args);
    let out = std::process::Command::new(BIN)
        .args(&all)
        .current_dir(root)
        .output()
        .expect("run sundown");
    let yaml = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = root.join("tests/data/k8s").join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &yaml).expect("write the golden file");
    }
    let want = std::fs::read_to_string(&path).expect("the golden file (UPDATE_GOLDEN=1 makes it)");
    assert_eq!(yaml, want, "export differs from {}", path.display());
    yaml
}

fn deployment(yaml: &str) -> k8s_openapi::api::core::v1::PodSpec {
    let doc = yaml
        .split("\n---\n")
        .find(|d| d.contains("kind: Deployment"))
        .expect("a Deployment");
    let d: k8s_openapi::api::apps::v1::Deployment = serde_yaml_ng::from_str(doc).expect("parses");
    d.spec.and_then(|s| s.template.spec).expect("a pod spec")
}

fn names(cs: &[k8s_openapi::api::core::v1::Container]) -> Vec<&str> {
    cs.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn the_diamond_exports_as_sidecars_in_dependency_order() {
    let yaml = golden(
        "tests/data/k8s/diamond.toml",
        &["--name", "shop"],
        "diamond-sidecars.yaml",
    );
    let pod = deployment(&yaml);
    let init = pod.init_containers.as_deref().unwrap_or_default();
    assert_eq!(names(init), ["db", "api", "cache"]);
    assert!(
        init.iter()
            .all(|c| c.restart_policy.as_deref() == Some("Always"))
    );
    // No stop action in a sidecar's preStop: it would run at once.
    assert!(init.iter().all(|c| c.lifecycle.is_none()));
    assert_eq!(names(&pod.containers), ["web"]);
    // 15 s for web, then cache 5 + api 10 + db 20 one after another.
    assert_eq!(pod.termination_grace_period_seconds, Some(50));
    assert!(yaml.contains("#   = preStop drain 0s + longest main container stop 15s + every sidecar's stop in turn 35s"));
    // Probes: exec, tcp, http (with liveness), and a note for log.
    let probe = |i: usize| init[i].startup_probe.clone().expect("a startup probe");
    assert!(probe(0).exec.is_some_and(
        |e| e.command == Some(vec!["pg_isready".into(), "-h".into(), "127.0.0.1".into()])
    ));
    assert_eq!(probe(0).failure_threshold, Some(30), "60 s at 2 s");
    assert!(
        probe(1)
            .http_get
            .is_some_and(|h| h.path.as_deref() == Some("/healthz"))
    );
    assert!(init[1].liveness_probe.is_some());
    assert!(probe(2).tcp_socket.is_some());
    // web's log probe has no equivalent: a tcp probe of the port its
    // liveness probe checks stands in.
    let web = pod.containers[0]
        .readiness_probe
        .clone()
        .expect("a stand-in probe");
    assert_eq!(web.tcp_socket.map(|t| t.port), Some(IntOrString::Int(8000)));
    assert!(yaml.contains("# note: web: its log probe (/listening on/) has no Kubernetes equivalent; a tcp probe of port 8000 stands in for it"));
    // env and working_dir carry over.
    let api = &init[1];
    assert_eq!(api.working_dir.as_deref(), Some("/srv/api"));
    let env: Vec<&str> = api.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert_eq!(env, ["DATABASE_URL", "RUST_LOG"]);
    assert_eq!(
        api.command.as_deref().map(|c| c.join(" ")),
        Some("sundown run --only api --config /etc/sundown/diamond.toml --socket /tmp/sundown/control.sock".into())
    );
}

#[test]
fn one_shots_export_as_init_containers_that_must_complete_in_dependency_order() {
    let yaml = golden(
        "tests/data/k8s/oneshot.toml",
        &["--name", "jobs"],
        "oneshot-sidecars.yaml",
    );
    let pod = deployment(&yaml);
    let init = pod.init_containers.as_deref().unwrap_or_default();
    // Dependencies first: db's sidecar, then migrate, then seed, which
    // needs migrate completed; warm (nothing needs it) among the first level.
    assert_eq!(names(init), ["db", "warm", "migrate", "seed"]);
    for job in &init[1..] {
        // A plain init container: Kubernetes runs it to exit 0 before the next.
        assert_eq!(job.restart_policy, None, "{}", job.name);
        assert!(
            job.readiness_probe.is_none()
                && job.liveness_probe.is_none()
                && job.startup_probe.is_none(),
            "{}",
            job.name
        );
    }
    assert_eq!(init[0].restart_policy.as_deref(), Some("Always"));
    assert_eq!(names(&pod.containers), ["api"]);
    // One-shots have ended before the pod stops: only db's stop counts.
    assert!(yaml.contains("(sidecars, last first: db 20s;"), "{yaml}");
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    assert!(yaml.contains("# note: warm: a one-shot nothing depends on"));
}

#[test]
fn replicas_export_as_one_container_each_in_the_pod() {
    let yaml = golden(
        "tests/data/k8s/replicas.toml",
        &["--name", "pool"],
        "replicas-sidecars.yaml",
    );
    let pod = deployment(&yaml);
    let init = pod.init_containers.as_deref().unwrap_or_default();
    assert_eq!(names(init), ["db", "worker-1", "worker-2", "worker-3"]);
    assert_eq!(names(&pod.containers), ["api"]);
    for (i, c) in init[1..].iter().enumerate() {
        let env: Vec<(String, String)> = c
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        let n = i + 1;
        assert!(
            env.contains(&("SUNDOWN_REPLICA".into(), n.to_string())),
            "{env:?}"
        );
        assert!(env.contains(&("PORT".into(), format!("810{n}"))), "{env:?}");
        assert!(
            c.command
                .as_deref()
                .is_some_and(|c| c.join(" ").contains(&format!("--only worker.{n} "))),
            "{:?}",
            c.command
        );
    }
    assert!(yaml.contains(
        "# note: `worker` (replicas = 3) is 3 containers worker-1 … worker-3 in the pod"
    ));
}

#[test]
fn the_diamond_exports_as_one_container_keeping_the_dag() {
    let yaml = golden(
        "tests/data/k8s/diamond.toml",
        &["--name", "shop", "--mode", "single"],
        "diamond-single.yaml",
    );
    let pod = deployment(&yaml);
    assert!(pod.init_containers.is_none());
    assert_eq!(names(&pod.containers), ["sundown"]);
    // Phased: web 15 s, then api and cache together (10 s), then db 20 s = 45 s,
    // within shutdown_timeout 40 s, plus a 5 s margin.
    assert_eq!(pod.termination_grace_period_seconds, Some(45));
}

#[test]
fn the_default_config_exports_with_the_front_end_draining_first() {
    let yaml = golden("supervisor.toml", &[], "default-sidecars.yaml");
    let pod = deployment(&yaml);
    assert_eq!(
        names(pod.init_containers.as_deref().unwrap_or_default()),
        ["postgres", "redis", "workers"]
    );
    assert_eq!(names(&pod.containers), ["http"]);
    let sleep = pod.containers[0]
        .lifecycle
        .as_ref()
        .and_then(|l| l.pre_stop.as_ref())
        .and_then(|p| p.sleep.as_ref())
        .map(|s| s.seconds);
    assert_eq!(sleep, Some(1), "drain_delay");
    assert_eq!(pod.termination_grace_period_seconds, Some(26));
    assert!(yaml.contains("kind: Service"));
    let single = golden(
        "supervisor.toml",
        &["--mode", "single", "--kind", "pod"],
        "default-single-pod.yaml",
    );
    // -o writes the same to a file.
    let sb = Sandbox::new();
    let file = sb.path("pod.yaml");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(BIN)
        .args([
            "export",
            "k8s",
            "--config",
            "supervisor.toml",
            "--mode",
            "single",
            "--kind",
            "pod",
            "-o",
        ])
        .arg(&file)
        .current_dir(root)
        .output()
        .expect("run sundown");
    assert!(out.status.success() && out.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&file).ok(), Some(single));
    // What will not work in a pod is said on stderr.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: redis: listens on 127.0.0.1:6380"),
        "{err}"
    );
    assert!(
        err.contains("warning: redis: aof is relative to the config"),
        "{err}"
    );
}

#[test]
fn every_exported_manifest_validates_against_the_kubernetes_schema() {
    // As a module: a console script may be missing from PATH (pyenv shims).
    let python = || {
        let mut c = std::process::Command::new("python3");
        c.args(["-m", "kubernetes_validate"]);
        c
    };
    if !python()
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        assert!(
            std::env::var_os("SUNDOWN_REQUIRE_TOOLS").is_none(),
            "kubernetes-validate is not installed, and SUNDOWN_REQUIRE_TOOLS makes that a failure"
        );
        eprintln!(
            "skipped: kubernetes-validate is not installed (pip install kubernetes-validate)"
        );
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/k8s");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");
    for version in ["1.30.0", "1.33.0"] {
        let out = python()
            .args(["--strict", "-k", version])
            .args(&files)
            .output()
            .expect("run kubernetes-validate");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{version}: {text}");
        assert_eq!(
            text.matches(" passed for resource ").count(),
            18,
            "{version}: {text}"
        );
    }
}
