//! The HTML page ([`render_html`]): the SVG picture inline, above tables of
//! the stop phases and the components with every number in the report, for
//! a browser (or, being well-formed XHTML syntax, any XML tool).

use std::fmt::Write as _;

use super::svg::{C_KILLED, C_MUTED, C_TEXT, FONT};
use super::{
    exit_label, exit_text, flagged, ms, num, phase_name, phase_took, render_svg, rows,
    trigger_text, xml_escape,
};
use crate::report::{ComponentReport, RunEnd, ShutdownReport};

/// The restarts column: how many, and the last few with their reasons and
/// the stops on request.
fn restarts_cell(c: &ComponentReport) -> String {
    if c.restart_count == 0 && c.earlier_runs.is_empty() {
        return "0".to_string();
    }
    let mut parts = vec![c.restart_count.to_string()];
    for x in c.restarts.iter().rev().take(3).rev() {
        parts.push(format!("at {}: {}", ms(x.at), x.reason));
    }
    if c.restarts.len() > 3 {
        parts.insert(1, format!("(last 3 of {})", c.restarts.len()));
    }
    for run in c
        .earlier_runs
        .iter()
        .filter(|r| r.ended == RunEnd::StopRequest)
    {
        parts.push(format!(
            "stopped on request at {} ({})",
            ms(run.down_at),
            run.reason
        ));
    }
    parts.join("; ")
}

/// An HTML page (well-formed XHTML syntax, so XML tools read it too) with a
/// heading, the [`render_svg`] picture inline, a table of the stop phases
/// (numbered from 1; members, timeout, start, end, duration, timed out) and
/// a table of the components (name, kind, phase, depends on, outcome, times
/// of its last run, stop_ms, killed_by, exit status / signal / error,
/// restarts with their reasons); components killed at a
/// deadline, forced or failed, and phases that timed out, are highlighted
/// in red.
pub fn render_html(report: &ShutdownReport) -> String {
    let r = report;
    let e = |s: &str| xml_escape(s);
    let n = |v: Option<f64>| v.map_or_else(|| "-".to_string(), num);
    let mut h = String::new();
    let title = format!(
        "sundown teardown: {}, {}",
        trigger_text(r.trigger.as_ref()),
        exit_label(r)
    );
    let _ = writeln!(h, "<!DOCTYPE html>");
    let _ = writeln!(
        h,
        r#"<html xmlns="http://www.w3.org/1999/xhtml" lang="en">"#
    );
    let _ = writeln!(h, "<head>");
    let _ = writeln!(h, r#"<meta charset="utf-8"/>"#);
    let _ = writeln!(h, "<title>{}</title>", e(&title));
    let _ = writeln!(
        h,
        "<style>
body {{ font-family: system-ui, sans-serif; color: {C_TEXT}; margin: 24px; }}
h1 {{ font-size: 20px; margin: 0 0 6px; }}
h2 {{ font-size: 16px; margin: 24px 0 8px; }}
p.meta {{ color: {C_MUTED}; margin: 0 0 12px; }}
figure {{ margin: 0; overflow-x: auto; }}
figure svg {{ max-width: 100%; height: auto; border: 1px solid #e3e6ea; }}
table {{ border-collapse: collapse; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #e3e6ea; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fa; white-space: nowrap; }}
td.phase {{ white-space: nowrap; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
tr.flagged td {{ background: #fdeceb; color: {C_KILLED}; font-weight: bold; }}
code {{ font-family: {FONT}; }}
</style>"
    );
    let _ = writeln!(h, "</head>");
    let _ = writeln!(h, "<body>");
    let _ = writeln!(h, "<h1>{}</h1>", e(&title));
    let _ = writeln!(
        h,
        r#"<p class="meta">started {} · report schema {} written by sundown {} · times in ms since the supervisor started</p>"#,
        e(&r.started_wall),
        r.schema,
        e(&r.sundown_version),
    );
    let _ = writeln!(h, "<figure>");
    h.push_str(&render_svg(r));
    let _ = writeln!(h, "</figure>");

    let _ = writeln!(h, "<h2>Stop phases</h2>");
    let _ = writeln!(
        h,
        "<table class=\"phases\">\n<tr><th>phase</th><th>members</th><th>timeout (ms)</th><th>began</th><th>ended</th><th>took (ms)</th><th>timed out</th></tr>"
    );
    for p in &r.phases {
        let took = phase_took(p).map_or_else(|| "-".to_string(), num);
        let _ = writeln!(
            h,
            r#"<tr{}><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            if p.timed_out {
                r#" class="flagged""#
            } else {
                ""
            },
            phase_name(p.index),
            e(&p.members.join(", ")),
            num(p.timeout_ms),
            n(p.started_at),
            n(p.ended_at),
            took,
            if p.timed_out { "yes" } else { "no" },
        );
    }
    let _ = writeln!(h, "</table>");

    let _ = writeln!(h, "<h2>Components</h2>");
    let _ = writeln!(
        h,
        "<table class=\"components\">\n<tr><th>name</th><th>kind</th><th>phase</th><th>depends on</th><th>outcome</th><th>started</th><th>ready</th><th>asked to stop</th><th>down</th><th>stop_ms</th><th>killed_by</th><th>exit</th><th>restarts</th></tr>"
    );
    for c in rows(r) {
        let killed = match (c.killed_by, c.killed_at) {
            (Some(why), Some(at)) => format!("{} at {}", why.as_str(), ms(at)),
            (Some(why), None) => why.as_str().to_string(),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            h,
            r#"<tr{}><td><code>{}</code></td><td>{}</td><td class="phase">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td><td class="restarts">{}</td></tr>"#,
            if flagged(c) {
                r#" class="flagged""#
            } else {
                ""
            },
            e(&c.name),
            e(&c.kind),
            phase_name(c.phase),
            e(&if c.depends_on.is_empty() {
                "-".to_string()
            } else {
                c.depends_on.join(", ")
            }),
            c.outcome.as_str(),
            n(c.start_requested),
            n(c.ready_at),
            n(c.stop_requested),
            n(c.stopped_at),
            n(c.stop_ms),
            e(&killed),
            e(&exit_text(c)),
            e(&restarts_cell(c)),
        );
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(h, "</body>");
    let _ = writeln!(h, "</html>");
    h
}
