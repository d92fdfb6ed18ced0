//! The marks on a component's row besides its bars, each with a tooltip:
//! a triangle above the bar where a run went down to restart (its reason in
//! the tooltip) or was stopped on request; ticks under the bar for the
//! steps of its last stop; dashed lines across the row at the deadlines of
//! that stop (a deadline after the end of the picture as an arrow at its
//! right edge); a red dot where it failed.

use std::fmt::Write as _;

use super::{BAR_H, C_KILLED, C_MUTED, Layout, ROW_H};
use crate::component::StopStep;
use crate::report::{ComponentReport, RunEnd};
use crate::timeline::{DeadlineKind, Moments, ms, xml_escape};

/// The shape (a template over `{x}` and `{y}`, its tip at that point) and
/// the legend's words for a run's end.
pub(super) fn run_end_look(end: RunEnd) -> (&'static str, &'static str) {
    match end {
        RunEnd::Restart => (
            r##"<path d="M {x} {y} l -5 -8 h 10 z" fill="#8250df"/>"##,
            "restart",
        ),
        RunEnd::StopRequest => (
            r##"<path d="M {x} {y} l -5 -8 h 10 z" fill="#ffffff" stroke="#57606a" stroke-width="1.5"/>"##,
            "stopped on request",
        ),
    }
}

/// Colour and the legend's words for a stop step.
pub(super) fn step_look(step: StopStep) -> (&'static str, &'static str) {
    match step {
        StopStep::StopCommand | StopStep::StopCommandEnded => ("#1a7f37", "stop command"),
        StopStep::Signal => ("#0969da", "stop signal"),
        StopStep::Kill | StopStep::Descendants => ("#7a0d07", "SIGKILL"),
    }
}

/// Colour and dash pattern of a deadline's line.
pub(super) fn deadline_look(kind: DeadlineKind) -> (&'static str, &'static str) {
    match kind {
        DeadlineKind::StopTimeout => ("#bf8700", "4 2"),
        DeadlineKind::PhaseCap => ("#8250df", "2 2"),
        DeadlineKind::Budget => (C_KILLED, "1 2"),
    }
}

fn class_of(step: StopStep) -> &'static str {
    step.as_str()
}

/// Draws `c`'s row marks on the row whose top is `top`.
pub(super) fn draw_ticks(s: &mut String, l: &Layout, c: &ComponentReport, m: &Moments, top: f64) {
    let mid = top + ROW_H / 2.0;
    let name = &c.name;
    for d in &m.deadlines {
        let (color, dash) = deadline_look(d.kind);
        let what = format!("{name}: {} deadline at {}", d.kind.words(), ms(d.at));
        if d.at <= l.axis.end {
            let x = l.x(d.at);
            let _ = writeln!(
                s,
                r#"<line class="deadline {kind}" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"><title>{}</title></line>"#,
                top + 1.0,
                top + ROW_H - 1.0,
                xml_escape(&what),
                kind = kind_class(d.kind),
            );
        } else {
            // Past the end: an arrow at the plot's edge says "later".
            let _ = writeln!(
                s,
                r#"<path class="deadline later {kind}" d="M {:.1} {:.1} l 4 3 l -4 3 z" fill="{color}" opacity="0.5"><title>{}</title></path>"#,
                l.x1 + 2.0,
                mid - 3.0,
                xml_escape(&format!("{what}, after everything was down")),
                kind = kind_class(d.kind),
            );
        }
    }
    for (at, step, detail) in &m.steps {
        let (color, words) = step_look(*step);
        let x = l.x(*at);
        let y = mid + BAR_H / 2.0;
        let _ = writeln!(
            s,
            r#"<line class="step {}" x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"><title>{}</title></line>"#,
            class_of(*step),
            y + 5.0,
            xml_escape(&format!("{name}: {words} at {}: {detail}", ms(*at))),
        );
    }
    for mark in &m.run_ends {
        let (shape, words) = run_end_look(mark.end);
        let class = match mark.end {
            RunEnd::Restart => "restart",
            RunEnd::StopRequest => "parked",
        };
        let shape = shape
            .replace("{x}", &format!("{:.1}", l.x(mark.at)))
            .replace("{y}", &format!("{:.1}", mid - BAR_H / 2.0 - 1.0));
        let _ = writeln!(
            s,
            r#"<g class="{class}"><title>{}</title>{shape}</g>"#,
            xml_escape(&format!("{name}: {words} at {}: {}", ms(mark.at), mark.why)),
        );
    }
    if let Some(at) = m.failed {
        let _ = writeln!(
            s,
            r#"<circle class="failure" cx="{:.1}" cy="{mid:.1}" r="4" fill="{C_KILLED}" stroke="{C_MUTED}"><title>{}</title></circle>"#,
            l.x(at),
            xml_escape(&format!("{name}: failed at {}", ms(at))),
        );
    }
}

fn kind_class(kind: DeadlineKind) -> &'static str {
    match kind {
        DeadlineKind::StopTimeout => "stop_timeout",
        DeadlineKind::PhaseCap => "phase_cap",
        DeadlineKind::Budget => "budget",
    }
}
