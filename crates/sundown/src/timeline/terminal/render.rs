//! The terminal output, top to bottom: the header, the chart, the table of
//! the stop phases, a sentence for each flagged component, the legend.
//! Each section is wrapped to the width here; only the chart has a layout
//! of its own.

use super::chart::terminal_chart;
use super::text::{Line, Style, fit, wrap_items, wrap_words};
use super::{
    GLYPH_DEADLINE, GLYPH_FAILED, GLYPH_GAP, GLYPH_KILL, GLYPH_PARKED, GLYPH_PHASE, GLYPH_RESTART,
    MAX_WIDTH, look,
};
use crate::report::ShutdownReport;
use crate::timeline::{
    Axis, Segment, exit_label, flagged, long_note, milestones, ms, phase_name, phase_took, rows,
    trigger_text,
};

/// The layout is computed for at least this many columns; narrower output
/// is truncated line by line.
const MIN_LAYOUT_WIDTH: usize = 40;

/// Draws the report as a timeline for a terminal `width` columns wide
/// (every line has at most `width` characters, not counting colour
/// escapes), with ANSI colours when `color`. A `width` over 1000 is taken
/// as 1000.
///
/// From top to bottom: a header (trigger, strategy, exit code, shutdown
/// time against its budget, milestones); the phase marks (`1`, `2`, … where
/// each stop phase began, continued down the rows as `┊`); the rows of each
/// stop phase under a line naming it (`phase 1`), one per component with
/// its name (after a `!` when it was killed at a deadline, forced or
/// failed), the bars of each of its runs (`░` starting, `─` running, `█`
/// stopping, `✕` kill sent, `↻` restart, `∥` stopped on request, `●`
/// failed, `╎` a deadline of its last stop) and a note (`stopped 501 ms`,
/// `killed: stop_timeout`, …); the time axis in ms; a table of the phases
/// (index, timeout, duration, timed out, members); a sentence for every
/// flagged component; the legend. Without colour the glyphs alone carry the
/// meaning.
pub fn render_terminal(report: &ShutdownReport, width: usize, color: bool) -> String {
    let width = width.min(MAX_WIDTH);
    let mut lines: Vec<Line> = Vec::new();
    lines.extend(terminal_header(report, width));
    lines.push(Line::new());
    lines.extend(terminal_chart(report, width.max(MIN_LAYOUT_WIDTH)));
    lines.push(Line::new());
    lines.extend(terminal_phases(report, width));
    let notes = terminal_notes(report, width);
    if !notes.is_empty() {
        lines.push(Line::new());
        lines.extend(notes);
    }
    lines.push(Line::new());
    lines.extend(terminal_legend(report, width));
    let mut out = String::new();
    for line in &lines {
        out.push_str(&line.render(width, color));
        out.push('\n');
    }
    out
}

fn terminal_header(r: &ShutdownReport, width: usize) -> Vec<Line> {
    let code_style = if r.exit_code == 0 {
        Style::Bold
    } else {
        Style::RedBold
    };
    let shutdown = match r.shutdown_ms() {
        Some(d) => format!(
            "shutdown took {} of {} budget",
            ms(d),
            ms(r.shutdown_timeout_ms)
        ),
        None => "no shutdown".to_string(),
    };
    let items = vec![
        Line::new().with(Style::Bold, "teardown"),
        Line::new()
            .with(Style::Plain, "trigger ")
            .with(Style::Bold, trigger_text(r.trigger.as_ref())),
        Line::new()
            .with(Style::Plain, "strategy ")
            .with(Style::Bold, r.strategy.to_string()),
        Line::new().with(code_style, exit_label(r)),
        Line::new().with(Style::Bold, shutdown),
    ];
    let mut lines = wrap_items(items, " · ", width);
    let more = milestones(r)
        .into_iter()
        .map(|(text, alarm)| {
            if alarm {
                Line::new().with(Style::RedBold, text)
            } else {
                Line::plain(text)
            }
        })
        .collect();
    lines.extend(wrap_items(more, " · ", width));
    lines
}

fn terminal_phases(r: &ShutdownReport, width: usize) -> Vec<Line> {
    if r.phases.is_empty() {
        return vec![Line::plain("no stop phases")];
    }
    let eager = r.strategy == crate::config::Strategy::Eager;
    let header = ["phase", "timeout", "took", "timed out", "members"];
    let body: Vec<[String; 5]> = r
        .phases
        .iter()
        .map(|p| {
            [
                phase_name(p.index),
                if eager {
                    "n/a".to_string()
                } else {
                    ms(p.timeout_ms)
                },
                match (phase_took(p), p.started_at) {
                    (Some(took), _) => ms(took),
                    (None, Some(_)) => "unfinished".to_string(),
                    (None, None) => "not run".to_string(),
                },
                if p.timed_out { "YES" } else { "no" }.to_string(),
                p.members.join(", "),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &body {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut lines = Vec::new();
    let head = (0..4)
        .map(|i| fit(header[i], widths[i]))
        .collect::<Vec<_>>()
        .join("  ");
    lines.push(Line::new().with(Style::Bold, format!("{head}  {}", header[4])));
    for (p, row) in r.phases.iter().zip(&body) {
        let style = if p.timed_out {
            Style::RedBold
        } else {
            Style::Plain
        };
        let lead = (0..4)
            .map(|i| fit(&row[i], widths[i]))
            .collect::<Vec<_>>()
            .join("  ");
        lines.extend(wrap_words(
            Line::new().with(style, format!("{lead}  ")),
            &row[4],
            Style::Plain,
            width,
        ));
    }
    if eager {
        lines.push(Line::new().with(
            Style::Dim,
            "eager: phase timeouts do not apply; a phase spans its members' stops",
        ));
    }
    lines
}

fn terminal_notes(r: &ShutdownReport, width: usize) -> Vec<Line> {
    rows(r)
        .into_iter()
        .filter(|c| flagged(c))
        .flat_map(|c| {
            wrap_words(
                Line::new().with(Style::RedBold, format!("! {}: ", c.name)),
                &long_note(c),
                Style::Plain,
                width,
            )
        })
        .collect()
}

fn terminal_legend(r: &ShutdownReport, width: usize) -> Vec<Line> {
    let mut items = vec![Line::new().with(Style::Bold, "legend:")];
    for segment in Segment::ALL {
        let (glyph, style) = look(segment);
        items.push(
            Line::new()
                .with(style, glyph.to_string())
                .with(Style::Plain, format!(" {}", segment.legend())),
        );
    }
    items.extend([
        Line::new()
            .with(Style::RedBold, GLYPH_KILL.to_string())
            .with(Style::Plain, " kill sent"),
        Line::new()
            .with(Style::Bold, GLYPH_RESTART.to_string())
            .with(Style::Plain, " restart"),
        Line::new()
            .with(Style::Bold, GLYPH_PARKED.to_string())
            .with(Style::Plain, " stopped on request"),
        Line::new()
            .with(Style::RedBold, GLYPH_FAILED.to_string())
            .with(Style::Plain, " failed"),
        Line::new()
            .with(Style::Red, GLYPH_DEADLINE.to_string())
            .with(Style::Plain, " a deadline of its stop"),
        Line::new()
            .with(Style::Dim, GLYPH_PHASE.to_string())
            .with(Style::Plain, " phase begins"),
        Line::new()
            .with(Style::RedBold, "!")
            .with(Style::Plain, " killed at a deadline, forced or failed"),
    ]);
    if !Axis::new(r).breaks().is_empty() {
        items.push(Line::plain(format!("{GLYPH_GAP} axis break")));
    }
    wrap_items(items, "  ", width)
}
