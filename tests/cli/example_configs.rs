//! Every TOML config shipped in `examples/` (and the default
//! `supervisor.toml`) is `sundown check`-clean, runs, stops on SIGTERM with
//! the exit code its header promises (`# expect-exit: N`), and leaves a
//! report that `sundown verify` accepts.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use sundown::{Config, Outcome, ShutdownReport};

use crate::common::{Sundown, cli};

fn configs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("read examples/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files.push(root.join("supervisor.toml"));
    assert!(
        files.len() >= 6,
        "expected the example configs, found {files:?}"
    );
    files
}

fn expected_exit(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).expect("read config");
    text.lines()
        .find_map(|l| l.strip_prefix("# expect-exit: "))
        .map_or(0, |n| n.trim().parse().expect("expect-exit is a number"))
}

/// Runs a config until ready, sends SIGTERM, returns the exit code and the report.
fn run_and_stop(path: &Path) -> (i32, ShutdownReport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("r.json");
    let n = Config::load_with(path, &sundown_standins::kinds())
        .expect("valid config")
        .components
        .len();
    let mut sd = Sundown::spawn(&[
        "run",
        "--config",
        path.to_str().expect("utf-8 path"),
        "--report",
        report.to_str().expect("utf-8 path"),
    ]);
    sd.wait_ready(n);
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    let text = std::fs::read_to_string(&report).expect("the report is written");
    let parsed = ShutdownReport::from_json(&text).expect("the report parses");
    let verify = cli(&[
        "verify",
        report.to_str().expect("utf-8"),
        "--config",
        path.to_str().expect("utf-8"),
    ]);
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}: verify failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&verify.stdout)
    );
    (code, parsed)
}

#[test]
fn every_example_config_checks_clean() {
    for path in configs() {
        let out = cli(&["check", "--config", path.to_str().expect("utf-8 path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{}: {stderr}", path.display());
        // A lesson about a mistake may promise the warnings that point at it.
        let text = std::fs::read_to_string(&path).expect("read config");
        let warned = stderr.contains("warning");
        assert_eq!(
            warned,
            text.contains("\n# expect-warnings\n"),
            "{}: {stderr}",
            path.display()
        );
    }
}

#[test]
fn every_example_config_stops_with_its_promised_exit_code() {
    // A config that needs installed services is run by its own test.
    let paths = configs()
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).is_ok_and(|t| t.contains("\n# runs-in: ")));
    let handles: Vec<_> = paths
        .map(|path| {
            std::thread::spawn(move || {
                let (code, report) = run_and_stop(&path);
                assert_eq!(code, expected_exit(&path), "{}", path.display());
                assert_eq!(report.exit_code, code, "{}", path.display());
                report.assert_respects_graph();
                (path, report)
            })
        })
        .collect();
    for h in handles {
        let (path, report) = h.join().expect("a config run panicked");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match name {
            "escalation.toml" => {
                let stuck = report.component("stuck").expect("stuck");
                assert_eq!(stuck.outcome, Outcome::TimedOutKilled);
                report.assert_stopped_before("stuck", "db");
            }
            "eager.toml" => {
                // Eager: cache goes down long before slow search has finished.
                let cache = report.component("cache").expect("cache");
                let search = report.component("search").expect("search");
                assert!(cache.stopped_at < search.stopped_at, "{}", report.to_json());
            }
            "wrong-order.toml" => report.assert_stopped_before("postgres", "workers"),
            "oneshot.toml" => {
                // migrate ran to completion before app started, and was not
                // stopped; logship started without waiting for app to be ready.
                let migrate = report.component("migrate").expect("migrate");
                assert_eq!(migrate.outcome, Outcome::Completed, "{}", report.to_json());
                assert_eq!(migrate.exit_status, Some(0));
                assert_eq!(migrate.stop_requested, None);
                let app = report.component("app").expect("app");
                assert!(
                    app.start_requested >= migrate.stopped_at,
                    "{}",
                    report.to_json()
                );
                let logship = report.component("logship").expect("logship");
                assert!(
                    logship.start_requested < app.ready_at,
                    "{}",
                    report.to_json()
                );
                report.assert_stopped_before("app", "db");
            }
            "env.toml" => {
                report.assert_stopped_before("client", "front");
                report.assert_stopped_before("front", "cache");
            }
            "ordered.toml" | "supervisor.toml" => {
                report.assert_stopped_before("http", "workers");
                report.assert_stopped_before("workers", "postgres");
            }
            _ => {}
        }
    }
}
