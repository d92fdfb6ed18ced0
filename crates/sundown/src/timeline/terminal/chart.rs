//! The chart of the terminal timeline: the phase marks, one row per
//! component under a line naming its stop phase (name, the bars of each
//! run painted cell by cell with its restarts, deadlines and failure, then
//! a note), and the time axis with its tick labels and its breaks.

use super::text::{Line, Style, fit, wrap_words};
use super::{
    GLYPH_DEADLINE, GLYPH_FAILED, GLYPH_GAP, GLYPH_KILL, GLYPH_PARKED, GLYPH_PHASE, GLYPH_RESTART,
    GLYPH_RUNNING, cell, look,
};
use crate::event::Outcome;
use crate::report::{ComponentReport, PhaseReport, RunEnd, ShutdownReport};
use crate::timeline::{
    Axis, Bars, Moments, Segment, break_note, cut, flagged, name_width, opens_phase, phase_name,
    rows, short_note, tick_label,
};

/// A row's cells: a glyph and its style, or nothing.
type Cells = Vec<Option<(char, Style)>>;

/// Paints `c`'s runs and marks into `n` cells.
fn paint_row(r: &ShutdownReport, c: &ComponentReport, axis: &Axis, n: usize) -> Cells {
    let flag = flagged(c);
    let mut cells: Cells = vec![None; n];
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
    let runs = Bars::runs(c, axis.end);
    let last = runs.len().saturating_sub(1);
    for (k, b) in runs.iter().enumerate() {
        for (segment, (from, to)) in b.segments(flag && k == last) {
            let (glyph, style) = look(segment);
            let to = match segment {
                // A stop that took no time at all still shows.
                Segment::Stopping | Segment::Killed => to.max(from + 1e-9),
                Segment::Starting | Segment::Running => to,
            };
            paint((from, to), glyph, style);
        }
    }
    let m = Moments::of(r, c);
    for d in &m.deadlines {
        if d.at <= axis.end {
            let x = &mut cells[cell(axis.frac(d.at), n)];
            if x.is_none() {
                *x = Some((GLYPH_DEADLINE, Style::Red));
            }
        }
    }
    for b in &runs {
        if let Some(k) = b.kill {
            cells[cell(axis.frac(k), n)] = Some((GLYPH_KILL, Style::RedBold));
        }
    }
    for mark in &m.run_ends {
        let glyph = match mark.end {
            RunEnd::Restart => GLYPH_RESTART,
            RunEnd::StopRequest => GLYPH_PARKED,
        };
        cells[cell(axis.frac(mark.at), n)] = Some((glyph, Style::Bold));
    }
    if let Some(at) = m.failed {
        cells[cell(axis.frac(at), n)] = Some((GLYPH_FAILED, Style::RedBold));
    }
    cells
}

pub(super) fn terminal_chart(r: &ShutdownReport, width: usize) -> Vec<Line> {
    let rows = rows(r);
    let axis = Axis::new(r);

    let name_w = name_width(&rows, (width / 5).max(8));
    let notes: Vec<String> = rows.iter().map(|c| short_note(c)).collect();
    let note_w = notes
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .min((width * 3 / 10).max(12));
    // mark, name, space, border, bars, border, space, note
    let lead = 1 + name_w + 1;
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
    let break_cells: Vec<(usize, usize)> = axis
        .breaks()
        .into_iter()
        .map(|(a, b)| {
            let (a, b) = (axis.frac(a), axis.frac(b));
            (cell(a, n), ((b * n as f64).ceil() as usize).min(n))
        })
        .collect();

    let mut lines = Vec::new();

    // Phase marks: a label that does not fit in the cells left is cut.
    let mut marks = vec![' '; n];
    let mut taken_to = 0;
    for (col, p) in &phase_cols {
        let label = p.index.saturating_add(1).to_string();
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
        let caption = ["phases", ""]
            .into_iter()
            .find(|c| c.len() < lead)
            .unwrap_or_default();
        let mut line = Line::plain(format!("{} ", fit(caption, lead)));
        line.push(Style::Dim, marks.iter().collect::<String>());
        lines.push(line);
    }

    // Rows, under a line naming each stop phase.
    for (i, (c, note)) in rows.iter().zip(&notes).enumerate() {
        let flag = flagged(c);
        let mut cells = paint_row(r, c, &axis, n);
        for (x, &starts) in cells.iter_mut().zip(&phase_starts) {
            if starts && x.is_none() {
                *x = Some((GLYPH_PHASE, Style::Dim));
            }
        }
        if opens_phase(&rows, i) {
            lines.push(Line::new().with(Style::Dim, phase_name(c.phase)));
        }
        let mut line = Line::new();
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
    for &(a, b) in &break_cells {
        for x in &mut ruler[a.min(n - 1)..b.max(a + 1).min(n)] {
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
    for gap in axis.breaks() {
        lines.extend(wrap_words(
            Line::plain(format!("{} {GLYPH_GAP} ", " ".repeat(lead))),
            &break_note(gap),
            Style::Dim,
            width,
        ));
    }
    lines
}
