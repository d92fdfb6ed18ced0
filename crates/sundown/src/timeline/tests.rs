//! Unit tests of the timeline: the report fixtures and helpers every
//! renderer's tests share, and the tests that check the renderers together.
//! Each renderer's own tests are in the submodule of the same name.

use super::terminal::{GLYPH_GAP, GLYPH_KILLED};
use super::*;
use crate::config::Strategy;

mod fuzz;
mod html;
mod robustness;
mod runs;
mod svg;
mod terminal;

#[allow(clippy::too_many_arguments)]
fn comp(
    name: &str,
    phase: usize,
    start: Option<f64>,
    ready: Option<f64>,
    stop: Option<f64>,
    kill: Option<(f64, KillReason)>,
    down: Option<f64>,
    outcome: Outcome,
) -> ComponentReport {
    let from = stop.or(kill.map(|k| k.0));
    ComponentReport {
        name: name.to_string(),
        kind: "sim".to_string(),
        depends_on: Vec::new(),
        phase,
        pid: None,
        start_requested: start,
        ready_at: ready,
        stop_requested: stop,
        killed_at: kill.map(|k| k.0),
        killed_by: kill.map(|k| k.1),
        stopped_at: down,
        stop_ms: down.zip(from).map(|(d, f)| d - f),
        outcome,
        exit_status: (outcome == Outcome::Stopped).then_some(0),
        signal: kill.map(|_| "SIGKILL".to_string()),
        error: None,
        reason: None,
        restart_count: 0,
        restarts: Vec::new(),
        stop_steps: Vec::new(),
        stop_timeout_ms: None,
        earlier_runs: Vec::new(),
    }
}

fn phase(index: usize, members: &[&str], timeout: f64, span: (f64, f64), t: bool) -> PhaseReport {
    PhaseReport {
        index,
        members: members.iter().map(|m| m.to_string()).collect(),
        timeout_ms: timeout,
        started_at: Some(span.0),
        ended_at: Some(span.1),
        timed_out: t,
    }
}

const WEB: &str = "web<&>\"x'";

/// Three phases; `workers` timed out (phase_timeout), `cache` forced
/// by the budget, `metrics` never started, a name needing escapes.
fn fixture() -> ShutdownReport {
    let mut web = comp(
        WEB,
        0,
        Some(380.0),
        Some(420.0),
        Some(1500.0),
        None,
        Some(1900.0),
        Outcome::Stopped,
    );
    web.depends_on = vec!["workers".into(), "cache".into()];
    ShutdownReport {
        schema: 1,
        sundown_version: "0.1.0".into(),
        started_wall: "2026-11-23T13:18:53.972Z".into(),
        trigger: Some(Trigger::Signal("SIGTERM".into())),
        strategy: Strategy::Phased,
        exit_code: 3,
        shutdown_timeout_ms: 4000.0,
        all_ready_at: Some(420.0),
        shutdown_started_at: Some(1500.0),
        forced_at: None,
        ended_at: 5200.0,
        totals: Default::default(),
        phases: vec![
            phase(0, &[WEB, "metrics"], 5000.0, (1500.0, 1900.0), false),
            phase(1, &["workers"], 2000.0, (1900.0, 3920.0), true),
            phase(2, &["cache", "postgres"], 5000.0, (3920.0, 5200.0), false),
        ],
        components: vec![
            comp(
                "cache",
                2,
                Some(0.2),
                Some(150.0),
                None,
                Some((5190.0, KillReason::ShutdownTimeout)),
                Some(5200.0),
                Outcome::Forced,
            ),
            comp(
                "metrics",
                0,
                None,
                None,
                None,
                None,
                None,
                Outcome::NeverStarted,
            ),
            comp(
                "postgres",
                2,
                Some(0.1),
                Some(300.0),
                Some(3920.0),
                None,
                Some(4120.0),
                Outcome::Stopped,
            ),
            web,
            comp(
                "workers",
                1,
                Some(300.0),
                Some(380.0),
                Some(1900.0),
                Some((3900.0, KillReason::PhaseTimeout)),
                Some(3920.0),
                Outcome::TimedOutKilled,
            ),
        ],
    }
}

/// The fixture after an hour of steady running.
fn long_run() -> ShutdownReport {
    let mut r = fixture();
    let shift = |t: &mut Option<f64>| {
        if let Some(v) = t
            && *v >= 1500.0
        {
            *v += 3_600_000.0;
        }
    };
    shift(&mut r.shutdown_started_at);
    r.ended_at += 3_600_000.0;
    for p in &mut r.phases {
        shift(&mut p.started_at);
        shift(&mut p.ended_at);
    }
    for c in &mut r.components {
        for t in [
            &mut c.start_requested,
            &mut c.ready_at,
            &mut c.stop_requested,
            &mut c.killed_at,
            &mut c.stopped_at,
        ] {
            shift(t);
        }
    }
    r
}

fn eager() -> ShutdownReport {
    let mut r = fixture();
    r.strategy = Strategy::Eager;
    r
}

fn empty() -> ShutdownReport {
    let mut r = fixture();
    r.components.clear();
    r.phases.clear();
    r.trigger = None;
    r.all_ready_at = None;
    r.shutdown_started_at = None;
    r.ended_at = 0.0;
    r.exit_code = 0;
    r
}

/// The chart rows: lines with a bar area between `│`s.
fn chart_rows(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.matches('│').count() == 2)
        .collect()
}

fn row_of<'a>(text: &'a str, name: &str) -> &'a str {
    let rows: Vec<&str> = chart_rows(text)
        .into_iter()
        .filter(|l| l.contains(&format!(" {name} ")) || l.contains(&format!("!{name} ")))
        .collect();
    assert_eq!(rows.len(), 1, "one row for {name} in:\n{text}");
    rows[0]
}

/// Parses the HTML page as XML (it has a `<!DOCTYPE html>`).
fn parse_html(html: &str) -> roxmltree::Document<'_> {
    let opt = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(html, opt).expect("the HTML is well-formed")
}

fn class_is(n: &roxmltree::Node, class: &str) -> bool {
    n.attribute("class")
        .is_some_and(|c| c.split(' ').any(|c| c == class))
}

#[test]
fn a_long_idle_run_is_drawn_with_an_axis_break() {
    let text = render_terminal(&long_run(), 80, false);
    let ruler = text.lines().find(|l| l.contains('└')).expect("ruler");
    assert!(ruler.contains(GLYPH_GAP), "{ruler}");
    assert!(
        text.contains("axis break: 3601080 ms in which nothing happened"),
        "{text}"
    );
    // The shutdown still gets most of the width.
    let killed = row_of(&text, "workers").matches(GLYPH_KILLED).count();
    assert!(killed >= 10, "{killed} cells for a 2 s stop:\n{text}");
    // A short run has no break.
    assert!(!render_terminal(&fixture(), 80, false).contains(GLYPH_GAP));
    let svg = render_svg(&long_run());
    assert!(svg.contains(r#"class="axis-break""#));
    assert!(!render_svg(&fixture()).contains(r#"class="axis-break""#));
}

#[test]
fn eager_reports_say_phase_timeouts_do_not_apply() {
    let text = render_terminal(&eager(), 100, false);
    assert!(text.contains("strategy eager"));
    assert!(text.contains("phase 1  n/a"), "{text}");
    assert!(text.contains("eager: phase timeouts do not apply"));
    assert!(!render_svg(&eager()).contains("(limit"));
}

#[test]
fn an_exit_with_run_names_whose_exit_code_it_is() {
    let mut r = fixture();
    r.trigger = Some(Trigger::ExitWith(WEB.into()));
    r.exit_code = 7;
    if let Some(web) = r.components.iter_mut().find(|c| c.name == WEB) {
        web.exit_status = Some(7);
    }
    let want = format!("exit 7 (`{WEB}`'s exit status (exit_with))");
    let text = render_terminal(&r, 100, false);
    assert!(text.contains(&want), "{text}");
    assert!(
        render_html(&r).contains("exit 7 ("),
        "the page says the code too"
    );
}

#[test]
fn an_empty_report_still_renders() {
    let r = empty();
    let text = render_terminal(&r, 80, false);
    assert!(text.contains("trigger no shutdown"), "{text}");
    assert!(text.contains("no stop phases"), "{text}");
    roxmltree::Document::parse(&render_svg(&r)).expect("SVG parses");
    parse_html(&render_html(&r));
}

#[test]
fn xml_escaping() {
    assert_eq!(xml_escape("a<b>&\"'c"), "a&lt;b&gt;&amp;&quot;&apos;c");
    assert_eq!(xml_escape("bell\u{7}"), "bell\u{fffd}");
}

#[test]
fn renders_a_report_read_from_json() {
    let r = ShutdownReport::from_json(&fixture().to_json()).expect("round trip");
    assert_eq!(
        render_terminal(&r, 80, false),
        render_terminal(&fixture(), 80, false)
    );
    assert_eq!(render_svg(&r), render_svg(&fixture()));
}
