//! The timeline for a terminal ([`render_terminal`]): lines of at most a
//! given number of characters, with optional ANSI colours, drawn with box
//! and block glyphs so the picture still reads without colour.

mod text;

use self::text::{Line, Style, fit, wrap_items, wrap_words};
use super::{
    Axis, Bars, Segment, break_note, cut, exit_label, flagged, long_note, milestones, ms,
    name_width, opens_phase, phase_took, rows, short_note, tick_label, trigger_text,
};
use crate::event::Outcome;
use crate::report::{PhaseReport, ShutdownReport};

/// The layout is computed for at least this many columns; narrower output
/// is truncated line by line.
const MIN_LAYOUT_WIDTH: usize = 40;

/// The widest output drawn, whatever width is asked for (`$COLUMNS` may
/// say anything): every line is built cell by cell, so a width of millions
/// would cost gigabytes.
pub(super) const MAX_WIDTH: usize = 1000;

// The glyphs: each means one thing, so the picture reads without colour.
pub(super) const GLYPH_STARTING: char = '░';
pub(super) const GLYPH_RUNNING: char = '─';
pub(super) const GLYPH_STOPPING: char = '█';
pub(super) const GLYPH_KILLED: char = '▓';
pub(super) const GLYPH_KILL: char = '✕';
pub(super) const GLYPH_PHASE: char = '┊';
pub(super) const GLYPH_GAP: char = '≈';

/// How a bar segment is drawn, in the rows and in the legend.
fn look(segment: Segment) -> (char, Style) {
    match segment {
        Segment::Starting => (GLYPH_STARTING, Style::Yellow),
        Segment::Running => (GLYPH_RUNNING, Style::Green),
        Segment::Stopping => (GLYPH_STOPPING, Style::Blue),
        Segment::Killed => (GLYPH_KILLED, Style::Red),
    }
}

/// Draws the report as a timeline for a terminal `width` columns wide
/// (every line has at most `width` characters, not counting colour
/// escapes), with ANSI colours when `color`. A `width` over 1000 is taken
/// as 1000.
///
/// From top to bottom: a header (trigger, strategy, exit code, shutdown
/// time against its budget, milestones); the phase marks (`P0`, `P1`, … where
/// each stop phase began, continued down the rows as `┊`); one row per
/// component with its stop phase, its name (after a `!` when it was killed
/// at a deadline, forced or failed), its bars (`░` starting, `─` running,
/// `█` stopping, `✕` kill sent) and a note (`stopped 501 ms`,
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

/// Column of time fraction `f` in an axis `n` cells wide.
pub(super) fn cell(f: f64, n: usize) -> usize {
    ((f * n as f64).floor() as usize).min(n.saturating_sub(1))
}

fn terminal_chart(r: &ShutdownReport, width: usize) -> Vec<Line> {
    let rows = rows(r);
    let axis = Axis::new(r);
    let end = axis.end;

    let tag_w = rows
        .iter()
        .map(|c| format!("P{}", c.phase).len())
        .max()
        .unwrap_or(2);
    let name_w = name_width(&rows, (width / 5).max(8));
    let notes: Vec<String> = rows.iter().map(|c| short_note(c)).collect();
    let note_w = notes
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min((width * 3 / 10).max(12));
    // tag, space, mark, name, space, border, bars, border, space, note
    let lead = tag_w + 1 + 1 + name_w + 1;
    let n = width.saturating_sub(lead + 1 + 1 + 1 + note_w).max(10);

    let phase_cols: Vec<(usize, &PhaseReport)> = r
        .phases
        .iter()
        .filter_map(|p| p.started_at.map(|t| (cell(axis.frac(t), n), p)))
        .collect();
    // Whether a stop phase begins in each cell (looked up per row cell).
    let mut phase_starts = vec![false; n];
    for (col, _) in &phase_cols {
        phase_starts[*col] = true;
    }
    let gap_cells = axis
        .gap_frac()
        .map(|(a, b)| (cell(a, n), ((b * n as f64).ceil() as usize).min(n)));

    let mut lines = Vec::new();

    // Phase marks: a label that does not fit in the cells left is cut.
    let mut marks = vec![' '; n];
    let mut taken_to = 0;
    for (col, p) in &phase_cols {
        let label = format!("P{}", p.index);
        let at = (*col)
            .max(taken_to)
            .min(n.saturating_sub(label.chars().count()));
        if at < taken_to || at >= n {
            continue;
        }
        let label = cut(&label, n - at);
        let len = label.chars().count();
        for (x, ch) in marks[at..].iter_mut().zip(label.chars()) {
            *x = ch;
        }
        taken_to = at + len + 1;
    }
    if !phase_cols.is_empty() {
        let caption = ["stop phases", "phases", ""]
            .into_iter()
            .find(|c| c.len() < lead)
            .unwrap_or_default();
        let mut line = Line::plain(format!("{} ", fit(caption, lead)));
        line.push(Style::Dim, marks.iter().collect::<String>());
        lines.push(line);
    }

    // Rows.
    for (i, (c, note)) in rows.iter().zip(&notes).enumerate() {
        let flag = flagged(c);
        let mut cells: Vec<Option<(char, Style)>> = vec![None; n];
        let mut paint = |(a, b): (f64, f64), glyph: char, style: Style| {
            if b <= a {
                return;
            }
            let c0 = cell(axis.frac(a), n);
            let c1 = ((axis.frac(b) * n as f64).ceil() as usize)
                .min(n)
                .max(c0 + 1);
            for x in &mut cells[c0..c1] {
                *x = Some((glyph, style));
            }
        };
        if let Some(b) = Bars::of(c, end) {
            for (segment, (from, to)) in b.segments(flag) {
                let (glyph, style) = look(segment);
                let to = match segment {
                    // A stop that took no time at all still shows.
                    Segment::Stopping | Segment::Killed => to.max(from + 1e-9),
                    Segment::Starting | Segment::Running => to,
                };
                paint((from, to), glyph, style);
            }
            if let Some(k) = b.kill {
                cells[cell(axis.frac(k), n)] = Some((GLYPH_KILL, Style::RedBold));
            }
        }
        for (x, &starts) in cells.iter_mut().zip(&phase_starts) {
            if starts && x.is_none() {
                *x = Some((GLYPH_PHASE, Style::Dim));
            }
        }
        let tag = if opens_phase(&rows, i) {
            format!("P{}", c.phase)
        } else {
            String::new()
        };
        let mut line = Line::plain(format!("{} ", fit(&tag, tag_w)));
        if flag {
            line.push(Style::RedBold, "!");
            line.push(Style::RedBold, fit(&c.name, name_w));
        } else {
            line.push(Style::Plain, " ");
            line.push(Style::Plain, fit(&c.name, name_w));
        }
        line.push(Style::Plain, " │");
        for x in cells {
            match x {
                Some((ch, style)) => line.push(style, ch.to_string()),
                None => line.push(Style::Plain, " "),
            }
        }
        line.push(Style::Plain, "│ ");
        let note_style = if flag {
            Style::RedBold
        } else if c.outcome == Outcome::NeverStarted {
            Style::Dim
        } else {
            Style::Plain
        };
        line.push(note_style, fit(note, note_w));
        lines.push(line);
    }

    // Axis.
    let ticks = axis.ticks(n as f64, 1.0);
    let mut ruler = vec![GLYPH_RUNNING; n];
    if let Some((a, b)) = gap_cells {
        for x in &mut ruler[a..b.max(a + 1).min(n)] {
            *x = GLYPH_GAP;
        }
    }
    let mut labels = vec![' '; n + 2 + note_w];
    let mut label_end = 0;
    let mut placed_last = 0;
    for &t in &ticks {
        let col = cell(axis.frac(t), n);
        ruler[col] = '┬';
        let text: Vec<char> = tick_label(t).chars().collect();
        let at = col.saturating_sub((text.len().saturating_sub(1)) / 2);
        if (label_end > 0 && at <= label_end) || at + text.len() > labels.len() {
            continue;
        }
        labels[at..at + text.len()].copy_from_slice(&text);
        label_end = at + text.len();
        placed_last = label_end;
    }
    let unit: Vec<char> = " ms".chars().collect();
    if placed_last + unit.len() <= labels.len() {
        labels[placed_last..placed_last + unit.len()].copy_from_slice(&unit);
    }
    lines.push(
        Line::plain(" ".repeat(lead))
            .with(Style::Plain, "└")
            .with(Style::Plain, ruler.iter().collect::<String>())
            .with(Style::Plain, "┘"),
    );
    lines.push(Line::plain(format!(
        "{} {}",
        " ".repeat(lead),
        labels.iter().collect::<String>()
    )));
    if let Some(gap) = axis.gap {
        lines.extend(wrap_words(
            Line::plain(format!("{} {GLYPH_GAP} ", " ".repeat(lead))),
            &break_note(gap),
            Style::Dim,
            width,
        ));
    }
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
                format!("P{}", p.index),
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
            .with(Style::Dim, GLYPH_PHASE.to_string())
            .with(Style::Plain, " phase begins"),
        Line::new()
            .with(Style::RedBold, "!")
            .with(Style::Plain, " killed at a deadline, forced or failed"),
    ]);
    if Axis::new(r).gap.is_some() {
        items.push(Line::plain(format!("{GLYPH_GAP} axis break")));
    }
    wrap_items(items, "  ", width)
}
