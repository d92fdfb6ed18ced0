//! The timeline as a standalone SVG picture ([`render_svg`]): the same rows,
//! bars and axis as the terminal's, with the stop phases as shaded bands,
//! labelled marks above the plot, and a `<title>` tooltip on every element.
//! The palette is shared with the HTML page, which embeds the picture.
//!
//! This file holds the picture's look (font, sizes, palette, how each
//! segment is drawn) and its [`Layout`]; the parts that draw with them are
//! `render` (the whole picture, top to bottom), `plot` (phase bands, grid
//! and time axis), `marks` (the labelled vertical lines), `row` (one
//! component's bars), `ticks` (the marks on a row: restarts, stop steps,
//! deadlines, failure) and `legend` (the phases' and the symbols', laid
//! out in rows that wrap).

mod legend;
mod marks;
mod plot;
mod render;
mod row;
mod ticks;

pub use self::render::render_svg;
#[cfg(test)]
pub(super) use self::render::x_for_test;

use super::{Axis, Segment};

pub(super) const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";
/// Character width of the monospace font at 12 px.
pub(super) const CW: f64 = 7.3;
const MARGIN: f64 = 20.0;
const ROW_H: f64 = 24.0;
const BAR_H: f64 = 12.0;
const PLOT_W: f64 = 700.0;
const LABEL_H: f64 = 16.0;
/// The strip above the rows where each phase's number sits.
const PHASE_STRIP_H: f64 = 14.0;
/// The narrowest a stop is drawn, however short it was.
pub(super) const MIN_STOP_W: f64 = 4.0;
/// Character width at 11 px (labels, legend, axis).
const CW11: f64 = CW * 11.0 / 12.0;

const C_STARTING: &str = "#f0b429";
const C_RUNNING: &str = "#8cc084";
pub(super) const C_STOPPING: &str = "#3f6fb5";
pub(super) const C_KILLED: &str = "#d1352b";
pub(super) const C_TEXT: &str = "#1f2328";
pub(super) const C_MUTED: &str = "#6a737d";

/// How a bar segment is drawn, in the rows and in the legend: its class,
/// fill and height.
fn look(segment: Segment) -> (&'static str, &'static str, f64) {
    match segment {
        Segment::Starting => ("starting", C_STARTING, BAR_H),
        Segment::Running => ("running", C_RUNNING, BAR_H * 0.5),
        Segment::Stopping => ("stopping", C_STOPPING, BAR_H),
        Segment::Killed => ("stopping killed", C_KILLED, BAR_H),
    }
}

/// Where things go, in px: computed once from the whole report, read by
/// every part of the picture.
struct Layout {
    axis: Axis,
    /// Width of the phase tag column, and the most characters in it.
    tag_w: f64,
    tag_chars: usize,
    /// Longest name shown, in characters.
    name_chars: usize,
    /// The plot's left and right edges.
    x0: f64,
    x1: f64,
    note_x: f64,
    width: f64,
    /// Baseline of the phase numbers, above the rows.
    strip_y: f64,
    /// The plot's top and bottom edges.
    y0: f64,
    y1: f64,
    plot_h: f64,
    axis_y: f64,
}

impl Layout {
    /// The x of time `t` (ms).
    fn x(&self, t: f64) -> f64 {
        plot_x(&self.axis, self.x0, t)
    }
}

/// The x of time `t` (ms) on a plot whose left edge is at `x0`.
fn plot_x(axis: &Axis, x0: f64, t: f64) -> f64 {
    x0 + axis.frac(t) * PLOT_W
}
