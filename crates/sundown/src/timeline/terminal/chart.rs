//! The chart of the terminal timeline: the phase marks, one row per
//! component (phase tag, name, bars painted cell by cell, note), and the
//! time axis with its tick labels and its break.

use super::text::{Line, Style, fit, wrap_words};
use super::{GLYPH_GAP, GLYPH_KILL, GLYPH_PHASE, GLYPH_RUNNING, cell, look};
use crate::event::Outcome;
use crate::report::{PhaseReport, ShutdownReport};
use crate::timeline::{
    Axis, Bars, Segment, break_note, cut, flagged, name_width, opens_phase, rows, short_note,
    tick_label,
};

pub(super) fn terminal_chart(r: &ShutdownReport, width: usize) -> Vec<Line> {
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
