//! `sundown report` on a report written by a real run of the built binary:
//! three `sim` components, one of which ignores the stop request and is
//! killed at its `stop_timeout`; the timeline on stdout, the SVG and HTML
//! files, the width from `--width` and `$COLUMNS`, and errors.

use std::path::Path;

use nix::sys::signal::Signal;
use sundown::{KillReason, Outcome};

use crate::common::{Sandbox, cli, command, text};

const CONFIG: &str = r#"
[supervisor]
shutdown_timeout = "10s"

[components.db]
kind = "sim"
start_delay = "30ms"
stop_delay = "40ms"

[components.app]
kind = "sim"
depends_on = ["db"]
start_delay = "20ms"
stop_delay = "60ms"

[components.stuck]
kind = "sim"
depends_on = ["db"]
start_delay = "10ms"
ignore_stop = true
stop_timeout = "300ms"
"#;

/// Runs the config until everything is ready, sends SIGTERM, and returns
/// the sandbox holding the report.
fn real_report() -> Sandbox {
    let sb = Sandbox::new();
    sb.config(CONFIG);
    let mut sd = sb.run();
    sd.wait_ready(3);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 3, "stderr:\n{}", sd.stderr());
    let r = sb.report();
    let stuck = r.component("stuck").expect("stuck in the report");
    assert_eq!(stuck.outcome, Outcome::TimedOutKilled);
    assert_eq!(stuck.killed_by, Some(KillReason::StopTimeout));
    sb
}

fn arg(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

#[test]
fn report_draws_a_real_run_and_writes_svg_and_html() {
    let sb = real_report();
    let (svg, html) = (sb.path("t.svg"), sb.path("t.html"));
    let out = cli(&[
        "report".as_ref(),
        arg(&sb.report_path()),
        "--svg".as_ref(),
        arg(&svg),
        "--html".as_ref(),
        arg(&html),
        "--width".as_ref(),
        "80".as_ref(),
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    assert!(!stdout.contains('\u{1b}'), "no colour into a pipe");
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: `{line}`");
    }
    for needle in [
        "trigger SIGTERM",
        "strategy phased",
        "exit 3 (stopped by force)",
        "shutdown took",
        "! stuck: timed out",
        "killed by stop_timeout",
        "legend:",
    ] {
        assert!(stdout.contains(needle), "`{needle}` in:\n{stdout}");
    }
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.matches('│').count() == 2)
        .collect();
    assert_eq!(rows.len(), 3, "a row per component:\n{stdout}");
    let marks = stdout
        .lines()
        .take_while(|l| l.matches('│').count() != 2)
        .last()
        .expect("the phase marks above the rows");
    let (p0, p1) = (marks.find("P0"), marks.find("P1"));
    assert!(p0.is_some() && p1.is_some() && p0 < p1, "{stdout}");
    // Phase 0 (app, stuck) above phase 1 (db).
    assert!(
        rows[0].starts_with("P0 ") && rows[2].starts_with("P1 "),
        "{stdout}"
    );
    assert!(rows[2].contains(" db ") && rows[2].contains("stopped"));
    let stuck = rows
        .iter()
        .find(|l| l.contains("stuck"))
        .expect("stuck row");
    assert!(stuck.contains("!stuck") && stuck.contains("killed: stop_timeout"));
    assert!(stuck.contains('✕'), "{stuck}");
    let app = rows.iter().find(|l| l.contains("app")).expect("app row");
    assert!(!app.contains('!') && app.contains("stopped"), "{app}");
    let phases: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("phase  timeout"))
        .skip(1)
        .take(2)
        .collect();
    assert!(
        phases[0].starts_with("P0") && phases[0].contains("YES"),
        "{phases:?}"
    );
    assert!(phases[0].ends_with("app, stuck"), "{phases:?}");
    assert!(
        phases[1].starts_with("P1") && phases[1].contains("no"),
        "{phases:?}"
    );

    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("wrote") && stderr.contains("t.svg"),
        "{stderr}"
    );
    let svg = std::fs::read_to_string(&svg).expect("the SVG was written");
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut bars: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("bar"))
        .filter_map(|n| n.attribute("data-name"))
        .collect();
    bars.sort_unstable();
    assert_eq!(bars, ["app", "db", "stuck"]);
    assert!(svg.contains("timed out, killed by stop_timeout"));

    let html = std::fs::read_to_string(&html).expect("the HTML was written");
    assert!(html.starts_with("<!DOCTYPE html>"));
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(&html, opt).expect("the HTML is XML");
    assert!(doc.descendants().any(|n| n.has_tag_name("svg")));
    assert!(html.contains("timed_out_killed") && html.contains("stop_timeout at"));
}

#[test]
fn report_width_comes_from_columns_and_errors_are_usage_errors() {
    let sb = real_report();
    for columns in ["60", "132"] {
        let out = command()
            .env("COLUMNS", columns)
            .arg("report")
            .arg(sb.report_path())
            .output()
            .expect("run sundown report");
        assert_eq!(out.status.code(), Some(0));
        let stdout = text(&out.stdout);
        let widest = stdout.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        let limit: usize = columns.parse().unwrap();
        assert!(widest <= limit, "{widest} > {limit}:\n{stdout}");
        assert!(widest > limit - 15, "uses the width: {widest} of {limit}");
    }

    let missing = cli(&["report", "/nonexistent/report.json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("cannot read /nonexistent/report.json"));
    let not_json = sb.write("bad.json", "{\"schema\": 1}");
    let bad = cli(&["report".as_ref(), arg(&not_json)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("is not a sundown report"));
    let narrow = cli(&[
        "report".as_ref(),
        arg(&sb.report_path()),
        "--width".as_ref(),
        "5".as_ref(),
    ]);
    assert_eq!(narrow.status.code(), Some(2), "--width below 20 is refused");
}
