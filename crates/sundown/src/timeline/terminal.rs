//! The timeline for a terminal ([`render_terminal`]): lines of at most a
//! given number of characters, with optional ANSI colours, drawn with box
//! and block glyphs so the picture still reads without colour.
//!
//! This file holds what the picture's glyphs mean and where a time falls
//! in the columns; `render` assembles the output top to bottom (header,
//! chart, phase table, notes, legend), `chart` draws the rows and the axis,
//! and `text` is the styled lines they are made of.

mod chart;
mod render;
mod text;

pub use self::render::render_terminal;

use self::text::Style;
use super::Segment;

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
pub(super) const GLYPH_RESTART: char = '↻';
pub(super) const GLYPH_PARKED: char = '∥';
pub(super) const GLYPH_DEADLINE: char = '╎';
pub(super) const GLYPH_FAILED: char = '●';

/// How a bar segment is drawn, in the rows and in the legend.
fn look(segment: Segment) -> (char, Style) {
    match segment {
        Segment::Starting => (GLYPH_STARTING, Style::Yellow),
        Segment::Running => (GLYPH_RUNNING, Style::Green),
        Segment::Stopping => (GLYPH_STOPPING, Style::Blue),
        Segment::Killed => (GLYPH_KILLED, Style::Red),
    }
}

/// Column of time fraction `f` in an axis `n` cells wide.
pub(super) fn cell(f: f64, n: usize) -> usize {
    ((f * n as f64).floor() as usize).min(n.saturating_sub(1))
}
