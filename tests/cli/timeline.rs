//! `sundown report` on a report written by a real run of the built binary:
//! three `sim` components, one of which ignores the stop request and is
//! killed at its `stop_timeout`; the timeline on stdout, the SVG and HTML
//! files, the width from `--width` and `$COLUMNS`, and errors. Then a
//! stored report of a run with restarts, a stop on request, a reload, a
//! timeout and a second signal, drawn in the terminal and laid out by
//! headless Chromium, whose own measures of every label and bar are checked.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use sundown::{KillReason, Outcome};

use crate::common::{Sandbox, cli, command, text};
use crate::shared::REQUIRE_ENV;

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
        .find(|l| l.starts_with("phases "))
        .expect("the phase marks above the rows");
    let (p1, p2) = (marks.find('1'), marks.find('2'));
    assert!(p1.is_some() && p2.is_some() && p1 < p2, "{stdout}");
    // Phase 1 (app, stuck) above phase 2 (db), each under its name.
    let lines: Vec<&str> = stdout.lines().collect();
    let above = |row: &str| lines[lines.iter().position(|l| *l == row).expect("row") - 1];
    assert_eq!(above(rows[0]), "phase 1", "{stdout}");
    assert_eq!(above(rows[2]), "phase 2", "{stdout}");
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
        .skip_while(|l| !(l.starts_with("phase ") && l.contains(" timeout ")))
        .skip(1)
        .take(2)
        .collect();
    assert!(
        phases[0].starts_with("phase 1 ") && phases[0].contains("YES"),
        "{phases:?}"
    );
    assert!(phases[0].ends_with("app, stuck"), "{phases:?}");
    assert!(
        phases[1].starts_with("phase 2 ") && phases[1].contains("no"),
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

/// The stored report of a library run (paused clock) in which redis
/// crashed and restarted twice, api was stopped on request and later
/// restarted by request, a reload added cache at 21.1 s, http was killed
/// at its stop_timeout and a second signal forced the rest.
fn restarts_report() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/report-restarts.json")
}

#[test]
fn report_draws_every_run_in_the_terminal() {
    let out = cli(&[
        "report".as_ref(),
        restarts_report().as_os_str(),
        "--width".as_ref(),
        "100".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.matches('│').count() == 2 && l[1..].starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} row in:\n{stdout}"))
    };
    // redis: two restarts, each followed by a new run.
    let redis = row("redis");
    assert_eq!(redis.matches('↻').count(), 2, "{redis}");
    // api: stopped on request, a gap, started again, restarted by request.
    let api = row("api");
    let (parked, restart) = (api.find('∥').expect("∥"), api.find('↻').expect("↻"));
    assert!(parked < restart, "{api}");
    assert!(
        api[parked..restart].contains("  "),
        "a gap while it was stopped: {api}"
    );
    // cache, added by the reload at 21.1 s, starts right of the start-up.
    let cache = row("cache");
    let first_bar = |l: &str| l.chars().skip_while(|&c| c != '│').position(|c| c == '░');
    assert!(
        first_bar(cache) > first_bar(row("db")).map(|c| c + 20),
        "{stdout}"
    );
    assert!(
        stdout.contains("phase 1\n") && stdout.contains("phase 2\n"),
        "{stdout}"
    );
    assert!(!stdout.contains("P0"), "{stdout}");
}

/// `chromium-headless-shell` or `chromium`, or `None` after saying the
/// test is skipped (a failure under `SUNDOWN_REQUIRE_TOOLS`).
fn chromium() -> Option<PathBuf> {
    let found = ["chromium-headless-shell", "chromium"]
        .iter()
        .find_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH")?)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "neither chromium-headless-shell nor chromium is installed, and {REQUIRE_ENV} makes that a failure"
        );
        eprintln!(
            "skipped: no chromium-headless-shell or chromium (CI sets {REQUIRE_ENV} to require it)"
        );
    }
    found
}

#[test]
fn a_browser_lays_out_the_page_with_no_overlapping_labels() {
    let Some(chromium) = chromium() else { return };
    let sb = Sandbox::new();
    for (what, report) in [
        ("restarts", restarts_report()),
        ("real", real_run_report(&sb)),
    ] {
        let page = sb.path(&format!("{what}.html"));
        let out = cli(&[
            "report".as_ref(),
            report.as_os_str(),
            "--html".as_ref(),
            page.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
        let html = std::fs::read_to_string(&page).expect("the page");
        let script = include_str!("../data/timeline-layout.js");
        let html = html.replace("</body>", &format!("<script>{script}</script>\n</body>"));
        std::fs::write(&page, html).expect("write the page");
        let out = std::process::Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1400,1000",
                "--virtual-time-budget=5000",
                "--dump-dom",
            ])
            .arg(format!("file://{}", page.display()))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run chromium");
        let dom = text(&out.stdout);
        let verdict = dom
            .rsplit(r#"<pre id="verdict">"#)
            .next()
            .filter(|_| dom.contains(r#"<pre id="verdict">"#))
            .and_then(|v| v.split("</pre>").next())
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no verdict in the page; stderr:\n{}",
                    text(&out.stderr)
                )
            });
        assert!(verdict.starts_with("ok"), "{what}: {verdict}");
        eprintln!("{what}: {verdict}");
    }
}

/// A report of a real run of the binary (the first test's), in `sb`.
fn real_run_report(sb: &Sandbox) -> PathBuf {
    let real = real_report();
    let path = sb.path("real.json");
    std::fs::copy(real.report_path(), &path).expect("copy the report");
    path
}
