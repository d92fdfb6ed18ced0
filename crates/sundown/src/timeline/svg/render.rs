//! The whole SVG picture, top to bottom: the title and milestones, the
//! plot with its marks and rows, the axis and the legend. The layout is
//! computed here, once, from the whole report.

use std::fmt::Write as _;

use super::legend::{self, LEGEND_LINE_H};
use super::marks::Marks;
use super::plot::{draw_axis, draw_grid, draw_phase_bands};
use super::row::draw_row;
use super::{
    C_MUTED, C_TEXT, CW, FONT, LABEL_H, Layout, MARGIN, PHASE_STRIP_H, PLOT_W, ROW_H, plot_x,
};
use crate::event::Outcome;
use crate::report::{ComponentReport, ShutdownReport};
use crate::timeline::{
    Axis, cut, exit_label, exit_text, killed_by, milestones, ms, name_width, opens_phase, opt_ms,
    phase_name, rows, trigger_text, xml_escape,
};

/// The SVG note after a row.
fn svg_note(c: &ComponentReport) -> String {
    match c.outcome {
        Outcome::Stopped => format!("stopped in {}", opt_ms(c.stop_ms)),
        Outcome::TimedOutKilled => format!("timed out, killed by {}", killed_by(c)),
        Outcome::Forced => format!("forced by {}", killed_by(c)),
        Outcome::ExitedEarly => format!("exited early ({})", exit_text(c)),
        Outcome::Completed => format!("completed ({})", exit_text(c)),
        Outcome::Failed => format!("failed ({})", exit_text(c)),
        Outcome::NeverStarted => "never started".to_string(),
    }
}

/// The most characters of the phase tags, and the plot's left edge.
fn plot_left(rows: &[&ComponentReport], name_chars: usize) -> (usize, f64) {
    let tag_chars = rows
        .iter()
        .map(|c| phase_name(c.phase).chars().count())
        .max()
        .unwrap_or(7)
        .min(12);
    let x0 = MARGIN + tag_chars as f64 * CW + 8.0 + name_chars as f64 * CW + 14.0;
    (tag_chars, x0)
}

/// The x of time `t` in [`render_svg`]'s picture of `r`.
#[cfg(test)]
pub(in crate::timeline) fn x_for_test(r: &ShutdownReport, t: f64) -> f64 {
    let rows = rows(r);
    let (_, x0) = plot_left(&rows, name_width(&rows, 32));
    plot_x(&Axis::new(r), x0, t)
}

/// Draws the report as a standalone SVG picture: a title line (trigger,
/// strategy, exit code, shutdown time) and the milestones; one row per
/// component, grouped by stop phase, with its name and, for each of its
/// runs, bars for starting, running and stopping on a time axis in ms with
/// tick labels and breaks where nothing happened for long; a triangle
/// where a run went down to restart (the reason in its tooltip) or was
/// stopped on request; ticks for the steps of its last stop, dashed lines
/// at that stop's deadlines, a ✕ where a kill was sent and a dot where it
/// failed; each stop phase as a shaded band, numbered from 1, with its
/// words (duration, timeout, who timed out) in a legend row; the shutdown's
/// start (and a forced stop) as vertical lines; components killed at a
/// deadline, forced or failed in red with the reason; a legend.
///
/// Each started component's bars are one `<g class="bar">` element, each
/// segment with its run's number in `data-run`. Names and every other text
/// are XML-escaped; every element has a `<title>` for a tooltip.
pub fn render_svg(report: &ShutdownReport) -> String {
    let r = report;
    let rows = rows(r);
    let axis = Axis::new(r);

    let name_chars = name_width(&rows, 32);
    let notes: Vec<String> = rows.iter().map(|c| cut(&svg_note(c), 48)).collect();
    let note_chars = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let (tag_chars, x0) = plot_left(&rows, name_chars);
    let tag_w = tag_chars as f64 * CW;
    let x1 = x0 + PLOT_W;
    let note_x = x1 + 16.0;
    let title = format!(
        "teardown · trigger {} · {} · {} · {}",
        trigger_text(r.trigger.as_ref()),
        r.strategy,
        exit_label(r),
        match r.shutdown_ms() {
            Some(d) => format!("shutdown {} of {} budget", ms(d), ms(r.shutdown_timeout_ms)),
            None => "no shutdown".to_string(),
        }
    );
    let sub = milestones(r)
        .into_iter()
        .map(|(text, _)| text)
        .collect::<Vec<_>>()
        .join(" · ");
    let width = (note_x + note_chars as f64 * CW + MARGIN)
        .max(MARGIN * 2.0 + title.chars().count() as f64 * 8.6)
        .max(MARGIN * 2.0 + sub.chars().count() as f64 * CW)
        .ceil();
    let marks = Marks::new(r, |t| plot_x(&axis, x0, t), width);

    let title_y = MARGIN + 14.0;
    let sub_y = title_y + 20.0;
    let labels_top = sub_y + 14.0;
    let strip_y = labels_top + marks.label_lines() as f64 * LABEL_H + 12.0;
    let y0 = strip_y - 11.0 + PHASE_STRIP_H;
    let plot_h = rows.len().max(1) as f64 * ROW_H;
    let y1 = y0 + plot_h;
    let axis_y = y1 + 4.0;
    let legend_y = axis_y + 56.0;
    let phase_items = legend::phase_items(r);
    let phase_placed = legend::wrap(&phase_items, width - MARGIN);
    let symbols_y = legend_y + legend::lines(&phase_placed) as f64 * LEGEND_LINE_H + 6.0;
    let symbol_items = legend::symbol_items();
    let symbol_placed = legend::wrap(&symbol_items, width - MARGIN);
    let height = (symbols_y + legend::lines(&symbol_placed) as f64 * LEGEND_LINE_H + 12.0).ceil();
    let l = Layout {
        axis,
        tag_w,
        tag_chars,
        name_chars,
        x0,
        x1,
        note_x,
        width,
        strip_y,
        y0,
        y1,
        plot_h,
        axis_y,
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" fill="{C_TEXT}">"#
    );
    let _ = writeln!(s, "<title>sundown teardown: {}</title>", xml_escape(&title));
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="{title_y}" font-size="14" font-weight="bold">{}</text>"#,
        xml_escape(&title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="{sub_y}" fill="{C_MUTED}">{}</text>"#,
        xml_escape(&sub)
    );
    draw_phase_bands(&mut s, r, &l);
    let ticks = l.axis.ticks(PLOT_W, CW);
    draw_grid(&mut s, &l, &ticks);
    marks.draw(&mut s, labels_top, y1);
    for (i, (c, note)) in rows.iter().zip(&notes).enumerate() {
        draw_row(&mut s, r, &l, i, c, note, opens_phase(&rows, i));
    }
    draw_axis(&mut s, &l, &ticks);
    legend::draw(
        &mut s,
        "phase-legend",
        &phase_items,
        &phase_placed,
        legend_y,
    );
    legend::draw(&mut s, "legend", &symbol_items, &symbol_placed, symbols_y);
    let _ = writeln!(s, "</svg>");
    s
}
