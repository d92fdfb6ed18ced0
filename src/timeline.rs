//! Pictures of a teardown report, for `sundown report`: a timeline for the
//! terminal ([`render_terminal`]), the same timeline as a standalone SVG
//! ([`render_svg`]), and an HTML page embedding that SVG above tables of the
//! phases and components ([`render_html`]).
//!
//! Every renderer is a pure function of a [`ShutdownReport`]: no clock, no
//! environment, no terminal queries. The caller chooses the width and
//! whether to colour.
//!
//! The picture has one row per component, grouped by stop phase (phase 0,
//! which stops first, on top) and, within a phase, by start time; so the
//! stops read as a staircase going down and to the right. The time axis is
//! milliseconds since the supervisor started. A row shows the component
//! *starting* (launched → ready), *running* (ready → asked to stop) and
//! *stopping* (asked to stop, or killed first, → down), with a marker where
//! a kill was sent. Components killed at a deadline, forced, or failed are
//! flagged (`!`, red) with the reason.
//!
//! When the steady running between "all ready" and the shutdown lasted more
//! than twice as long as the startup and the shutdown together, that stretch
//! is drawn compressed and marked as an axis break (`≈`), so the report of a
//! run that lasted a week still shows its startup and its shutdown legibly.

use std::fmt::Write as _;

use crate::event::{KillReason, Outcome, Trigger};
use crate::report::{ComponentReport, PhaseReport, ShutdownReport};

// ------------------------------------------------------------------ shared

/// Share of the axis given to a compressed stretch of steady running.
const GAP_SHARE: f64 = 0.1;

/// The layout is computed for at least this many columns; narrower output
/// is truncated line by line.
const MIN_LAYOUT_WIDTH: usize = 40;

/// What a row draws for one component, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bars {
    starting: (f64, f64),
    running: Option<(f64, f64)>,
    stopping: Option<(f64, f64)>,
    kill: Option<f64>,
}

impl Bars {
    /// `None` for a component that never started.
    fn of(c: &ComponentReport, end: f64) -> Option<Bars> {
        let start = c.start_requested?;
        let down = c.stopped_at.unwrap_or(end).max(start);
        let stop_from = c.stop_requested.or(c.killed_at).map(|s| s.max(start));
        let starting_end = [c.ready_at, stop_from]
            .into_iter()
            .flatten()
            .fold(down, f64::min);
        Some(Bars {
            starting: (start, starting_end.max(start)),
            running: c
                .ready_at
                .map(|r| (r, stop_from.unwrap_or(down).max(r)))
                .filter(|(a, b)| b > a),
            stopping: stop_from.map(|s| (s, down.max(s))),
            kill: c.killed_at,
        })
    }
}

/// Killed at a deadline, forced, or failed: worth a look.
fn flagged(c: &ComponentReport) -> bool {
    matches!(
        c.outcome,
        Outcome::TimedOutKilled | Outcome::Forced | Outcome::Failed
    )
}

fn reason_name(r: KillReason) -> &'static str {
    match r {
        KillReason::StopTimeout => "stop_timeout",
        KillReason::PhaseTimeout => "phase_timeout",
        KillReason::ShutdownTimeout => "shutdown_timeout",
        KillReason::SecondSignal => "second_signal",
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Stopped => "stopped",
        Outcome::TimedOutKilled => "timed_out_killed",
        Outcome::Forced => "forced",
        Outcome::ExitedEarly => "exited_early",
        Outcome::Failed => "failed",
        Outcome::NeverStarted => "never_started",
    }
}

fn killed_by(c: &ComponentReport) -> &'static str {
    c.killed_by.map_or("a kill", reason_name)
}

fn trigger_text(t: Option<&Trigger>) -> String {
    t.map_or_else(|| "no shutdown".to_string(), Trigger::to_string)
}

fn exit_meaning(code: i32) -> &'static str {
    match code {
        0 => "clean",
        1 => "a component failed",
        2 => "usage error",
        3 => "stopped by force",
        4 => "second signal",
        _ => "unknown",
    }
}

/// `501`, `0.4`, `25000`: whole milliseconds, tenths below 10.
fn num(v: f64) -> String {
    if v.abs() < 10.0 && (v * 10.0).round() % 10.0 != 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// `501 ms`, `0.4 ms`, `25000 ms`.
fn ms(v: f64) -> String {
    format!("{} ms", num(v))
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), ms)
}

/// How the process ended: `status 0`, `signal SIGKILL`, `error: …`.
fn exit_text(c: &ComponentReport) -> String {
    let mut parts = Vec::new();
    if let Some(s) = c.exit_status {
        parts.push(format!("status {s}"));
    }
    if let Some(s) = &c.signal {
        parts.push(format!("signal {s}"));
    }
    if let Some(e) = &c.error {
        parts.push(format!("error: {e}"));
    }
    if parts.is_empty() {
        "-".to_string()
    } else {
        parts.join(", ")
    }
}

/// A few words for the end of a row.
fn short_note(c: &ComponentReport) -> String {
    match c.outcome {
        Outcome::Stopped => format!("stopped {}", opt_ms(c.stop_ms)),
        Outcome::TimedOutKilled => format!("killed: {}", killed_by(c)),
        Outcome::Forced => format!("forced: {}", killed_by(c)),
        Outcome::ExitedEarly => "exited early".to_string(),
        Outcome::Failed => "failed".to_string(),
        Outcome::NeverStarted => "never started".to_string(),
    }
}

/// One sentence about a flagged component.
fn long_note(c: &ComponentReport) -> String {
    let mut s = match c.outcome {
        Outcome::TimedOutKilled => format!(
            "timed out: asked to stop at {}, killed by {} at {}",
            opt_ms(c.stop_requested),
            killed_by(c),
            opt_ms(c.killed_at)
        ),
        Outcome::Forced => format!(
            "forced: killed by {} at {} without a graceful turn",
            killed_by(c),
            opt_ms(c.killed_at)
        ),
        Outcome::Failed => format!("failed at {}", opt_ms(c.stopped_at)),
        _ => short_note(c),
    };
    if let Some(d) = c.stop_ms {
        let _ = write!(s, ", down {} later", ms(d));
    }
    let exit = exit_text(c);
    if exit != "-" {
        let _ = write!(s, " ({exit})");
    }
    s
}

/// Components in display order: by stop phase, then start time, then name.
fn rows(r: &ShutdownReport) -> Vec<&ComponentReport> {
    let mut rows: Vec<&ComponentReport> = r.components.iter().collect();
    rows.sort_by(|a, b| {
        a.phase
            .cmp(&b.phase)
            .then(
                a.start_requested
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.start_requested.unwrap_or(f64::INFINITY)),
            )
            .then(a.name.cmp(&b.name))
    });
    rows
}

/// The latest time anything in the report happened, at least 1 ms.
fn span_end(r: &ShutdownReport) -> f64 {
    let mut end = r.ended_at;
    for c in &r.components {
        for t in [
            c.start_requested,
            c.ready_at,
            c.stop_requested,
            c.killed_at,
            c.stopped_at,
        ]
        .into_iter()
        .flatten()
        {
            end = end.max(t);
        }
    }
    for p in &r.phases {
        for t in [p.started_at, p.ended_at].into_iter().flatten() {
            end = end.max(t);
        }
    }
    for t in [r.all_ready_at, r.shutdown_started_at, r.forced_at]
        .into_iter()
        .flatten()
    {
        end = end.max(t);
    }
    end.max(1.0)
}

/// Maps times (ms) to a fraction of the axis, with an optional compressed
/// stretch of steady running.
#[derive(Debug, Clone, Copy)]
struct Axis {
    end: f64,
    /// `(from, to)` in ms: drawn compressed into [`GAP_SHARE`] of the axis.
    gap: Option<(f64, f64)>,
    /// Axis fraction per ms outside the gap.
    k: f64,
}

impl Axis {
    fn new(r: &ShutdownReport) -> Axis {
        let end = span_end(r);
        if let (Some(from), Some(to)) = (r.all_ready_at, r.shutdown_started_at) {
            let rest = from + (end - to);
            if to - from > 2.0 * rest && rest > 0.0 && from >= 0.0 && to <= end {
                return Axis {
                    end,
                    gap: Some((from, to)),
                    k: (1.0 - GAP_SHARE) / rest,
                };
            }
        }
        Axis {
            end,
            gap: None,
            k: 1.0 / end,
        }
    }

    /// 0.0 at the supervisor's start, 1.0 at the end.
    fn frac(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, self.end);
        let f = match self.gap {
            None => t * self.k,
            Some((from, _)) if t <= from => t * self.k,
            Some((from, to)) if t < to => from * self.k + (t - from) / (to - from) * GAP_SHARE,
            Some((from, to)) => from * self.k + GAP_SHARE + (t - to) * self.k,
        };
        f.clamp(0.0, 1.0)
    }

    /// The gap as a fraction range.
    fn gap_frac(&self) -> Option<(f64, f64)> {
        self.gap.map(|(from, to)| (self.frac(from), self.frac(to)))
    }

    /// Tick times for an axis `length` units long whose labels take
    /// `char_w` units per character: the smallest 1-2-5 step whose labels
    /// do not crowd each other.
    fn ticks(&self, length: f64, char_w: f64) -> Vec<f64> {
        let widest = tick_label(self.end).chars().count() as f64;
        let per_ms = self.k * length;
        let mut step = 1.0;
        'search: for exp in 0..12 {
            for m in [1.0, 2.0, 5.0] {
                step = m * 10f64.powi(exp);
                if step * per_ms >= (widest + 2.0) * char_w {
                    break 'search;
                }
            }
        }
        let mut ticks = Vec::new();
        let mut push_range = |from: f64, to: f64| {
            let mut n = (from / step).ceil();
            while n * step <= to + 1e-9 {
                ticks.push(n * step);
                n += 1.0;
            }
        };
        match self.gap {
            None => push_range(0.0, self.end),
            Some((from, to)) => {
                push_range(0.0, from);
                push_range(to, self.end);
            }
        }
        ticks
    }
}

fn tick_label(t: f64) -> String {
    format!("{:.0}", t)
}

// ---------------------------------------------------------------- terminal

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Bold,
    Dim,
    Red,
    RedBold,
    Yellow,
    Green,
    Blue,
}

impl Style {
    fn sgr(self) -> &'static str {
        match self {
            Style::Plain => "",
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Red => "31",
            Style::RedBold => "1;31",
            Style::Yellow => "33",
            Style::Green => "32",
            Style::Blue => "34",
        }
    }
}

/// A line of styled text, measured in characters.
#[derive(Debug, Clone, Default)]
struct Line {
    spans: Vec<(Style, String)>,
}

impl Line {
    fn new() -> Line {
        Line::default()
    }

    fn plain(text: impl Into<String>) -> Line {
        Line::new().with(Style::Plain, text)
    }

    fn with(mut self, style: Style, text: impl Into<String>) -> Line {
        self.push(style, text);
        self
    }

    fn push(&mut self, style: Style, text: impl Into<String>) {
        let text = text.into();
        if text.is_empty() {
            return;
        }
        match self.spans.last_mut() {
            Some((s, t)) if *s == style => t.push_str(&text),
            _ => self.spans.push((style, text)),
        }
    }

    fn append(&mut self, other: Line) {
        for (style, text) in other.spans {
            self.push(style, text);
        }
    }

    fn width(&self) -> usize {
        self.spans.iter().map(|(_, t)| t.chars().count()).sum()
    }

    /// At most `width` characters (the last one `…` when cut), trailing
    /// blanks removed, with ANSI colours when `color`.
    fn render(&self, width: usize, color: bool) -> String {
        let total = self.width();
        let budget = if total > width {
            width.saturating_sub(1)
        } else {
            width
        };
        let mut spans: Vec<(Style, String)> = Vec::new();
        let mut used = 0;
        for (style, text) in &self.spans {
            let take: String = text.chars().take(budget - used).collect();
            used += take.chars().count();
            spans.push((*style, take));
            if used == budget {
                break;
            }
        }
        if total > width && width > 0 {
            spans.push((Style::Plain, "…".to_string()));
        }
        // Trailing blanks.
        while let Some((_, t)) = spans.last_mut() {
            let trimmed = t.trim_end_matches(' ').len();
            t.truncate(trimmed);
            if t.is_empty() {
                spans.pop();
            } else {
                break;
            }
        }
        let mut out = String::new();
        for (style, text) in spans {
            if color && style != Style::Plain {
                let _ = write!(out, "\x1b[{}m{text}\x1b[0m", style.sgr());
            } else {
                out.push_str(&text);
            }
        }
        out
    }
}

/// Packs items into lines of at most `width` characters, `sep` between
/// items on one line.
fn wrap_items(items: Vec<Line>, sep: &str, width: usize) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut cur = Line::new();
    for item in items {
        if cur.width() > 0 && cur.width() + sep.chars().count() + item.width() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if cur.width() > 0 {
            cur.push(Style::Plain, sep);
        }
        cur.append(item);
    }
    if cur.width() > 0 {
        lines.push(cur);
    }
    lines
}

/// Word-wraps `text` into lines of at most `width` characters, the first
/// starting with `first`, the others indented as wide.
fn wrap_words(first: Line, text: &str, style: Style, width: usize) -> Vec<Line> {
    let indent = " ".repeat(first.width());
    let mut lines = Vec::new();
    let mut cur = first;
    let mut fresh = true;
    let mut words: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        // Keep `501 ms` together.
        match words.last_mut() {
            Some(prev) if word.starts_with("ms") => {
                prev.push(' ');
                prev.push_str(word);
            }
            _ => words.push(word.to_string()),
        }
    }
    for word in &words {
        if !fresh && cur.width() + 1 + word.chars().count() > width {
            lines.push(std::mem::replace(&mut cur, Line::plain(indent.clone())));
            fresh = true;
        }
        if !fresh {
            cur.push(style, " ");
        }
        cur.push(style, word);
        fresh = false;
    }
    lines.push(cur);
    lines
}

/// Pads or cuts `s` to exactly `w` characters (`…` marks a cut).
fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        format!("{s}{}", " ".repeat(w - n))
    } else if w == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(w - 1).collect();
        out.push('…');
        out
    }
}

const GLYPH_STARTING: char = '░';
const GLYPH_RUNNING: char = '─';
const GLYPH_STOPPING: char = '█';
const GLYPH_KILLED: char = '▓';
const GLYPH_KILL: char = '✕';
const GLYPH_PHASE: char = '┊';
const GLYPH_GAP: char = '≈';

/// Draws the report as a timeline for a terminal `width` columns wide
/// (every line has at most `width` characters, not counting colour
/// escapes), with ANSI colours when `color`.
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
    let mut items = vec![
        Line::new().with(Style::Bold, "teardown"),
        Line::new()
            .with(Style::Plain, "trigger ")
            .with(Style::Bold, trigger_text(r.trigger.as_ref())),
        Line::new()
            .with(Style::Plain, "strategy ")
            .with(Style::Bold, r.strategy.to_string()),
        Line::new().with(
            code_style,
            format!("exit {} ({})", r.exit_code, exit_meaning(r.exit_code)),
        ),
        Line::new().with(Style::Bold, shutdown),
    ];
    let mut lines = wrap_items(std::mem::take(&mut items), " · ", width);
    let mut more = vec![Line::plain(format!("started {}", r.started_wall))];
    if let Some(t) = r.all_ready_at {
        more.push(Line::plain(format!("all ready at {}", ms(t))));
    }
    if let Some(t) = r.shutdown_started_at {
        more.push(Line::plain(format!("shutdown began at {}", ms(t))));
    }
    if let Some(t) = r.forced_at {
        more.push(Line::new().with(Style::RedBold, format!("forced at {}", ms(t))));
    }
    more.push(Line::plain(format!("last down at {}", ms(r.ended_at))));
    lines.extend(wrap_items(more, " · ", width));
    lines
}

/// Column of time fraction `f` in an axis `n` cells wide.
fn cell(f: f64, n: usize) -> usize {
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
    let name_w = rows
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, (width / 5).max(8));
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
    let gap_cells = axis
        .gap_frac()
        .map(|(a, b)| (cell(a, n), ((b * n as f64).ceil() as usize).min(n)));

    let mut lines = Vec::new();

    // Phase marks.
    let mut marks = vec![' '; n];
    let mut taken_to = 0;
    for (col, p) in &phase_cols {
        let label: Vec<char> = format!("P{}", p.index).chars().collect();
        let at = (*col).max(taken_to).min(n.saturating_sub(label.len()));
        if at < taken_to {
            continue;
        }
        for (i, ch) in label.iter().enumerate() {
            marks[at + i] = *ch;
        }
        taken_to = at + label.len() + 1;
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
    let mut prev_phase = None;
    for (c, note) in rows.iter().zip(&notes) {
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
            if let Some(seg) = b.running {
                paint(seg, GLYPH_RUNNING, Style::Green);
            }
            paint(b.starting, GLYPH_STARTING, Style::Yellow);
            if let Some(seg) = b.stopping {
                let (glyph, style) = if flag {
                    (GLYPH_KILLED, Style::Red)
                } else {
                    (GLYPH_STOPPING, Style::Blue)
                };
                // A stop that took no time at all still shows.
                paint((seg.0, seg.1.max(seg.0 + 1e-9)), glyph, style);
            }
            if let Some(k) = b.kill {
                cells[cell(axis.frac(k), n)] = Some((GLYPH_KILL, Style::RedBold));
            }
        }
        for (col, _) in &phase_cols {
            if cells[*col].is_none() {
                cells[*col] = Some((GLYPH_PHASE, Style::Dim));
            }
        }
        let tag = if prev_phase == Some(c.phase) {
            String::new()
        } else {
            format!("P{}", c.phase)
        };
        prev_phase = Some(c.phase);
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
    if let Some((from, to)) = axis.gap {
        lines.extend(wrap_words(
            Line::plain(format!("{} {GLYPH_GAP} ", " ".repeat(lead))),
            &format!(
                "axis break: {} of steady running ({} → {}) drawn compressed",
                ms(to - from),
                ms(from),
                ms(to)
            ),
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
                match (p.started_at, p.ended_at) {
                    (Some(a), Some(b)) => ms(b - a),
                    (Some(_), None) => "unfinished".to_string(),
                    _ => "not run".to_string(),
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
    let mut items = vec![
        Line::new()
            .with(Style::Yellow, GLYPH_STARTING.to_string())
            .with(Style::Plain, " starting"),
        Line::new()
            .with(Style::Green, GLYPH_RUNNING.to_string())
            .with(Style::Plain, " running"),
        Line::new()
            .with(Style::Blue, GLYPH_STOPPING.to_string())
            .with(Style::Plain, " stopping"),
        Line::new()
            .with(Style::Red, GLYPH_KILLED.to_string())
            .with(Style::Plain, " stopping, then killed"),
        Line::new()
            .with(Style::RedBold, GLYPH_KILL.to_string())
            .with(Style::Plain, " kill sent"),
        Line::new()
            .with(Style::Dim, GLYPH_PHASE.to_string())
            .with(Style::Plain, " phase begins"),
        Line::new()
            .with(Style::RedBold, "!")
            .with(Style::Plain, " killed at a deadline, forced or failed"),
    ];
    if r.all_ready_at.is_some() && Axis::new(r).gap.is_some() {
        items.push(Line::plain(format!("{GLYPH_GAP} axis break")));
    }
    let mut first = vec![Line::new().with(Style::Bold, "legend:")];
    first.append(&mut items);
    wrap_items(first, "  ", width)
}

// --------------------------------------------------------------------- SVG

/// Escapes text for XML content and attribute values.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Not allowed in XML 1.0 at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `s` to at most `n` characters, `…` marking a cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";
/// Character width of the monospace font at 12 px.
const CW: f64 = 7.3;
const MARGIN: f64 = 20.0;
const ROW_H: f64 = 24.0;
const BAR_H: f64 = 12.0;
const PLOT_W: f64 = 700.0;
const LABEL_H: f64 = 16.0;

const C_STARTING: &str = "#f0b429";
const C_RUNNING: &str = "#8cc084";
const C_STOPPING: &str = "#3f6fb5";
const C_KILLED: &str = "#d1352b";
const C_TEXT: &str = "#1f2328";
const C_MUTED: &str = "#6a737d";

/// Lays out labels for vertical lines at `x` (each `(x, chars)`, sorted by
/// `x`): a label starts `pad` right of its line, on the first text line
/// where it overlaps no other label and from which its line, running down
/// to the plot, crosses no label below. Returns `(label x, line)` per label;
/// a label that would end past `max_x` moves left.
fn stagger(labels: &[(f64, usize)], pad: f64, char_w: f64, max_x: f64) -> Vec<(f64, usize)> {
    let mut ends: Vec<f64> = Vec::new();
    labels
        .iter()
        .map(|&(x, chars)| {
            let w = chars as f64 * char_w;
            let line = ends
                .iter()
                .rposition(|&e| e + char_w > x)
                .map_or(0, |k| k + 1);
            let lx = (x + pad).min(max_x - w);
            if line == ends.len() {
                ends.push(lx + w);
            } else {
                ends[line] = lx + w;
            }
            (lx, line)
        })
        .collect()
}

/// The SVG note after a row.
fn svg_note(c: &ComponentReport) -> String {
    match c.outcome {
        Outcome::Stopped => format!("stopped in {}", opt_ms(c.stop_ms)),
        Outcome::TimedOutKilled => format!("timed out, killed by {}", killed_by(c)),
        Outcome::Forced => format!("forced by {}", killed_by(c)),
        Outcome::ExitedEarly => format!("exited early ({})", exit_text(c)),
        Outcome::Failed => format!("failed ({})", exit_text(c)),
        Outcome::NeverStarted => "never started".to_string(),
    }
}

/// Draws the report as a standalone SVG picture: a title line (trigger,
/// strategy, exit code, shutdown time) and the milestones; one row per
/// component, grouped by stop phase, with its name and bars for starting,
/// running and stopping on a time axis in ms with tick labels; each stop
/// phase as a shaded band with a label (duration, timeout, whether it timed
/// out); the shutdown's start (and a forced stop) as vertical lines; a ✕
/// where a kill was sent; components killed at a deadline, forced or failed
/// in red with the reason; a legend.
///
/// Each started component's bar is one `<g class="bar">` element. Names
/// and every other text are XML-escaped; every element has a `<title>` for
/// a tooltip.
pub fn render_svg(report: &ShutdownReport) -> String {
    let r = report;
    let rows = rows(r);
    let axis = Axis::new(r);
    let end = axis.end;

    let name_chars = rows
        .iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 32);
    let notes: Vec<String> = rows.iter().map(|c| cut(&svg_note(c), 48)).collect();
    let note_chars = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let tag_w = 4.0 * CW;
    let x0 = MARGIN + tag_w + 8.0 + name_chars as f64 * CW + 14.0;
    let x1 = x0 + PLOT_W;
    let note_x = x1 + 16.0;
    let title = format!(
        "teardown · trigger {} · {} · exit {} ({}) · {}",
        trigger_text(r.trigger.as_ref()),
        r.strategy,
        r.exit_code,
        exit_meaning(r.exit_code),
        match r.shutdown_ms() {
            Some(d) => format!("shutdown {} of {} budget", ms(d), ms(r.shutdown_timeout_ms)),
            None => "no shutdown".to_string(),
        }
    );
    let mut sub = format!("started {}", r.started_wall);
    if let Some(t) = r.all_ready_at {
        let _ = write!(sub, " · all ready at {}", ms(t));
    }
    if let Some(t) = r.shutdown_started_at {
        let _ = write!(sub, " · shutdown began at {}", ms(t));
    }
    if let Some(t) = r.forced_at {
        let _ = write!(sub, " · forced at {}", ms(t));
    }
    let _ = write!(sub, " · last down at {}", ms(r.ended_at));
    let width = (note_x + note_chars as f64 * CW + MARGIN)
        .max(MARGIN * 2.0 + title.chars().count() as f64 * 8.6)
        .max(MARGIN * 2.0 + sub.chars().count() as f64 * CW)
        .ceil();
    let x = |t: f64| x0 + axis.frac(t) * PLOT_W;

    // Labels above the plot: phases, shutdown start, forced.
    struct Mark {
        x: f64,
        text: String,
        color: &'static str,
        tip: String,
        /// Stroke colour, dash pattern and width of its vertical line.
        line: (&'static str, &'static str, f64),
    }
    let mut marks: Vec<Mark> = Vec::new();
    for p in &r.phases {
        let Some(start) = p.started_at else { continue };
        let took = p.ended_at.map(|e| ms(e - start));
        let mut text = format!("P{}", p.index);
        if let Some(t) = &took {
            let _ = write!(text, " {t}");
        }
        if r.strategy == crate::config::Strategy::Phased {
            let _ = write!(text, " (limit {:.0})", p.timeout_ms);
        }
        if p.timed_out {
            // `timed_out` means a member was killed at a deadline: name it.
            let killed: Vec<&str> = p
                .members
                .iter()
                .filter(|m| {
                    r.component(m)
                        .is_some_and(|c| c.outcome == Outcome::TimedOutKilled)
                })
                .map(String::as_str)
                .collect();
            match killed.as_slice() {
                [] => text.push_str(" timed out"),
                [one] => {
                    let _ = write!(text, ": {} timed out", cut(one, 24));
                }
                [one, rest @ ..] => {
                    let _ = write!(text, ": {} +{} timed out", cut(one, 24), rest.len());
                }
            }
        }
        marks.push(Mark {
            x: x(start),
            tip: format!(
                "stop phase {}: {}; timeout {}; took {}{}",
                p.index,
                p.members.join(", "),
                ms(p.timeout_ms),
                took.unwrap_or_else(|| "-".to_string()),
                if p.timed_out { "; timed out" } else { "" }
            ),
            text,
            color: if p.timed_out { C_KILLED } else { C_TEXT },
            line: ("#7d8ca3", "3 2", 1.0),
        });
    }
    if let Some(t) = r.shutdown_started_at {
        marks.push(Mark {
            x: x(t),
            text: format!("shutdown: {}", cut(&trigger_text(r.trigger.as_ref()), 40)),
            color: C_TEXT,
            line: (C_TEXT, "6 3", 1.5),
            tip: format!(
                "shutdown began at {}: {}",
                ms(t),
                trigger_text(r.trigger.as_ref())
            ),
        });
    }
    if let Some(t) = r.all_ready_at {
        marks.push(Mark {
            x: x(t),
            text: "all ready".to_string(),
            color: C_MUTED,
            line: (C_MUTED, "2 3", 1.5),
            tip: format!("every component ready at {}", ms(t)),
        });
    }
    if let Some(t) = r.forced_at {
        marks.push(Mark {
            x: x(t),
            text: "forced".to_string(),
            color: C_KILLED,
            line: (C_KILLED, "6 3", 1.5),
            tip: format!("second signal forced the shutdown at {}", ms(t)),
        });
    }
    marks.sort_by(|a, b| a.x.total_cmp(&b.x));
    let placed = stagger(
        &marks
            .iter()
            .map(|m| (m.x, m.text.chars().count()))
            .collect::<Vec<_>>(),
        3.0,
        CW * 11.0 / 12.0,
        width - MARGIN,
    );
    let label_lines = placed.iter().map(|(_, l)| l + 1).max().unwrap_or(0);

    let title_y = MARGIN + 14.0;
    let sub_y = title_y + 20.0;
    let labels_top = sub_y + 14.0;
    let y0 = labels_top + label_lines as f64 * LABEL_H + 6.0;
    let plot_h = rows.len().max(1) as f64 * ROW_H;
    let y1 = y0 + plot_h;
    let axis_y = y1 + 4.0;
    let legend_y = axis_y + 44.0;
    let height = legend_y + 30.0;

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

    // Phase bands, behind everything.
    let _ = writeln!(s, r#"<g class="phases">"#);
    for p in &r.phases {
        let (Some(a), Some(b)) = (p.started_at, p.ended_at.or(Some(end))) else {
            continue;
        };
        let fill = if p.timed_out {
            "#fbe3e1"
        } else if p.index % 2 == 0 {
            "#e8eef8"
        } else {
            "#f1f4f9"
        };
        let (xa, xb) = (x(a), x(b).max(x(a) + 1.0));
        let _ = writeln!(
            s,
            r#"<rect class="phase" x="{xa:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{tip}</title></rect>"#,
            top = labels_top - 2.0,
            w = xb - xa,
            h = y1 - labels_top + 2.0,
            tip = xml_escape(&format!(
                "stop phase {}: {} → {}",
                p.index,
                ms(a),
                opt_ms(p.ended_at)
            )),
        );
    }
    let _ = writeln!(s, "</g>");

    // Grid lines at the ticks.
    let ticks = axis.ticks(PLOT_W, CW);
    let _ = writeln!(s, r##"<g class="grid" stroke="#e3e6ea">"##);
    for &t in &ticks {
        let xt = x(t);
        let _ = writeln!(
            s,
            r#"<line x1="{xt:.1}" y1="{y0:.1}" x2="{xt:.1}" y2="{y1:.1}"/>"#
        );
    }
    let _ = writeln!(s, "</g>");

    // Axis break.
    if let Some((from, to)) = axis.gap {
        let (xa, xb) = (x(from), x(to));
        let _ = writeln!(
            s,
            r##"<rect class="axis-break" x="{xa:.1}" y="{y0:.1}" width="{w:.1}" height="{plot_h:.1}" fill="#f6f6f6" opacity="0.8"><title>{tip}</title></rect>"##,
            w = xb - xa,
            tip = xml_escape(&format!(
                "axis break: {} of steady running ({} → {}) drawn compressed",
                ms(to - from),
                ms(from),
                ms(to)
            )),
        );
    }

    // Each mark's line runs from its label down through the rows, so it
    // never crosses another label.
    for (m, (_, line)) in marks.iter().zip(&placed) {
        let (stroke, dash, w) = m.line;
        let _ = writeln!(
            s,
            r#"<line class="mark" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{y1:.1}" stroke="{stroke}" stroke-width="{w}" stroke-dasharray="{dash}"/>"#,
            x = m.x,
            top = labels_top + *line as f64 * LABEL_H,
        );
    }

    // Labels above the plot.
    let _ = writeln!(s, r#"<g class="marks" font-size="11">"#);
    for (m, (lx, line)) in marks.iter().zip(&placed) {
        let ly = labels_top + 11.0 + *line as f64 * LABEL_H;
        let _ = writeln!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" fill="{}">{}<title>{}</title></text>"#,
            m.color,
            xml_escape(&m.text),
            xml_escape(&m.tip)
        );
    }
    let _ = writeln!(s, "</g>");

    // Rows.
    let mut prev_phase = None;
    for (i, (c, note)) in rows.iter().zip(&notes).enumerate() {
        let top = y0 + i as f64 * ROW_H;
        let mid = top + ROW_H / 2.0;
        let flag = flagged(c);
        let _ = writeln!(
            s,
            r#"<g class="component{}" data-name="{}">"#,
            if flag { " flagged" } else { "" },
            xml_escape(&c.name)
        );
        if flag {
            let _ = writeln!(
                s,
                r##"<rect x="{MARGIN}" y="{top:.1}" width="{w:.1}" height="{ROW_H}" fill="#fdeceb" opacity="0.85"/>"##,
                w = width - 2.0 * MARGIN,
            );
        }
        if prev_phase != Some(c.phase) {
            if prev_phase.is_some() {
                let _ = writeln!(
                    s,
                    r##"<line x1="{MARGIN}" y1="{top:.1}" x2="{x1:.1}" y2="{top:.1}" stroke="#c9d1dc"/>"##
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{MARGIN}" y="{ty:.1}" fill="{C_MUTED}">P{}</text>"#,
                c.phase,
                ty = mid + 4.0
            );
        }
        prev_phase = Some(c.phase);
        let name_color = if flag { C_KILLED } else { C_TEXT };
        let _ = writeln!(
            s,
            r#"<text class="name" x="{nx:.1}" y="{ty:.1}" fill="{name_color}"{bold}>{}<title>{}</title></text>"#,
            xml_escape(&cut(&c.name, name_chars)),
            xml_escape(&format!(
                "{} ({}), stop phase {}, depends on: {}",
                c.name,
                c.kind,
                c.phase,
                if c.depends_on.is_empty() {
                    "nothing".to_string()
                } else {
                    c.depends_on.join(", ")
                }
            )),
            nx = MARGIN + tag_w + 8.0,
            ty = mid + 4.0,
            bold = if flag { r#" font-weight="bold""# } else { "" },
        );
        if let Some(b) = Bars::of(c, end) {
            let _ = writeln!(s, r#"<g class="bar" data-name="{}">"#, xml_escape(&c.name));
            let mut seg = |(a, b): (f64, f64), class: &str, fill: &str, h: f64, what: &str| {
                if b < a {
                    return;
                }
                let (xa, xb) = (x(a), x(b));
                let _ = writeln!(
                    s,
                    r#"<rect class="{class}" x="{xa:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{}</title></rect>"#,
                    xml_escape(&format!(
                        "{}: {what} {} → {} ({})",
                        c.name,
                        ms(a),
                        ms(b),
                        ms(b - a)
                    )),
                    y = mid - h / 2.0,
                    w = (xb - xa).max(2.0),
                );
            };
            if let Some(run) = b.running {
                seg(run, "running", C_RUNNING, BAR_H * 0.5, "running");
            }
            seg(b.starting, "starting", C_STARTING, BAR_H, "starting");
            if let Some(stop) = b.stopping {
                let (class, fill) = if flag {
                    ("stopping killed", C_KILLED)
                } else {
                    ("stopping", C_STOPPING)
                };
                seg(stop, class, fill, BAR_H, "stopping");
            }
            if let Some(k) = b.kill {
                let kx = x(k);
                let d = BAR_H / 2.0 + 2.0;
                let _ = writeln!(
                    s,
                    r##"<g class="kill" stroke="#7a0d07" stroke-width="2.5"><title>{}</title><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/></g>"##,
                    xml_escape(&format!(
                        "{}: kill sent at {} ({})",
                        c.name,
                        ms(k),
                        killed_by(c)
                    )),
                    kx - d,
                    mid - d,
                    kx + d,
                    mid + d,
                    kx - d,
                    mid + d,
                    kx + d,
                    mid - d,
                );
            }
            let _ = writeln!(s, "</g>");
        }
        let (note_color, weight) = if flag {
            (C_KILLED, r#" font-weight="bold""#)
        } else {
            (C_MUTED, "")
        };
        let _ = writeln!(
            s,
            r#"<text class="note" x="{note_x:.1}" y="{ty:.1}" fill="{note_color}"{weight}>{}<title>{}</title></text>"#,
            xml_escape(note),
            xml_escape(&long_note(c)),
            ty = mid + 4.0,
        );
        let _ = writeln!(s, "</g>");
    }

    // Axis.
    let _ = writeln!(s, r#"<g class="axis">"#);
    let _ = writeln!(
        s,
        r#"<line x1="{x0:.1}" y1="{axis_y:.1}" x2="{x1:.1}" y2="{axis_y:.1}" stroke="{C_TEXT}"/>"#
    );
    let mut label_end = f64::NEG_INFINITY;
    for &t in &ticks {
        let xt = x(t);
        let text = tick_label(t);
        let w = text.chars().count() as f64 * CW * 11.0 / 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{xt:.1}" y1="{axis_y:.1}" x2="{xt:.1}" y2="{:.1}" stroke="{C_TEXT}"/>"#,
            axis_y + 5.0
        );
        if xt - w / 2.0 < label_end + CW {
            continue;
        }
        label_end = xt + w / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="{xt:.1}" y="{:.1}" font-size="11" text-anchor="middle">{text}</text>"#,
            axis_y + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{x1:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{C_MUTED}">ms since start</text>"#,
        axis_y + 32.0
    );
    if let Some((from, to)) = axis.gap {
        let (xa, xb) = (x(from), x(to));
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="8" fill="#ffffff"/>"##,
            xa + 2.0,
            axis_y - 4.0,
            (xb - xa - 4.0).max(1.0)
        );
        for bx in [xa + 2.0, xb - 2.0] {
            let _ = writeln!(
                s,
                r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{C_TEXT}"/>"#,
                bx - 3.0,
                axis_y + 5.0,
                bx + 3.0,
                axis_y - 5.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="{C_MUTED}">≈ {}</text>"#,
            (xa + xb) / 2.0,
            axis_y + 30.0,
            xml_escape(&ms(to - from))
        );
    }
    let _ = writeln!(s, "</g>");

    // Legend.
    let _ = writeln!(s, r#"<g class="legend" font-size="11">"#);
    let ly = legend_y;
    let bar = |fill: &'static str, h: f64| {
        move |lx: f64| {
            format!(
                r#"<rect x="{lx:.1}" y="{:.1}" width="16" height="{h:.1}" fill="{fill}"/>"#,
                ly - h / 2.0
            )
        }
    };
    /// Draws a legend swatch at this x.
    type Swatch = Box<dyn Fn(f64) -> String>;
    let swatches: Vec<(Swatch, &str)> = vec![
        (Box::new(bar(C_STARTING, BAR_H)), "starting"),
        (Box::new(bar(C_RUNNING, BAR_H * 0.5)), "running"),
        (Box::new(bar(C_STOPPING, BAR_H)), "stopping"),
        (Box::new(bar(C_KILLED, BAR_H)), "stopping, then killed"),
        (
            Box::new(move |lx: f64| {
                format!(
                    r##"<g stroke="#7a0d07" stroke-width="2.5"><line x1="{a:.1}" y1="{b:.1}" x2="{c:.1}" y2="{d:.1}"/><line x1="{a:.1}" y1="{d:.1}" x2="{c:.1}" y2="{b:.1}"/></g>"##,
                    a = lx + 3.0,
                    b = ly - 5.0,
                    c = lx + 13.0,
                    d = ly + 5.0
                )
            }),
            "kill sent",
        ),
        (
            Box::new(move |lx: f64| {
                format!(
                    r##"<rect x="{lx:.1}" y="{:.1}" width="16" height="12" fill="#e8eef8" stroke="#7d8ca3" stroke-dasharray="3 2"/>"##,
                    ly - 6.0
                )
            }),
            "stop phase",
        ),
        (
            Box::new(move |lx: f64| {
                format!(
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{C_TEXT}" stroke-width="1.5" stroke-dasharray="6 3"/>"#,
                    ly - 7.0,
                    ly + 7.0,
                    x = lx + 8.0,
                )
            }),
            "shutdown begins",
        ),
    ];
    let mut lx = MARGIN;
    for (swatch, label) in swatches {
        let _ = writeln!(s, "{}", swatch(lx));
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 22.0,
            ly + 4.0,
            xml_escape(label)
        );
        lx += 22.0 + label.chars().count() as f64 * CW * 11.0 / 12.0 + 18.0;
    }
    let _ = writeln!(s, "</g>");
    let _ = writeln!(s, "</svg>");
    s
}

// -------------------------------------------------------------------- HTML

/// An HTML page (well-formed XHTML syntax, so XML tools read it too) with a
/// heading, the [`render_svg`] picture inline, a table of the stop phases
/// (index, members, timeout, start, end, duration, timed out) and a table of
/// the components (name, kind, phase, depends on, outcome, times, stop_ms,
/// killed_by, exit status / signal / error); components killed at a
/// deadline, forced or failed, and phases that timed out, are highlighted
/// in red.
pub fn render_html(report: &ShutdownReport) -> String {
    let r = report;
    let e = |s: &str| xml_escape(s);
    let n = |v: Option<f64>| v.map_or_else(|| "-".to_string(), num);
    let mut h = String::new();
    let title = format!(
        "sundown teardown: {}, exit {} ({})",
        trigger_text(r.trigger.as_ref()),
        r.exit_code,
        exit_meaning(r.exit_code)
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
        let took = match (p.started_at, p.ended_at) {
            (Some(a), Some(b)) => num(b - a),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            h,
            r#"<tr{}><td>P{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td></tr>"#,
            if p.timed_out {
                r#" class="flagged""#
            } else {
                ""
            },
            p.index,
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
        "<table class=\"components\">\n<tr><th>name</th><th>kind</th><th>phase</th><th>depends on</th><th>outcome</th><th>started</th><th>ready</th><th>asked to stop</th><th>down</th><th>stop_ms</th><th>killed_by</th><th>exit</th></tr>"
    );
    for c in rows(r) {
        let killed = match (c.killed_by, c.killed_at) {
            (Some(why), Some(at)) => format!("{} at {}", reason_name(why), ms(at)),
            (Some(why), None) => reason_name(why).to_string(),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            h,
            r#"<tr{}><td><code>{}</code></td><td>{}</td><td>P{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            if flagged(c) {
                r#" class="flagged""#
            } else {
                ""
            },
            e(&c.name),
            e(&c.kind),
            c.phase,
            e(&if c.depends_on.is_empty() {
                "-".to_string()
            } else {
                c.depends_on.join(", ")
            }),
            outcome_name(c.outcome),
            n(c.start_requested),
            n(c.ready_at),
            n(c.stop_requested),
            n(c.stopped_at),
            n(c.stop_ms),
            e(&killed),
            e(&exit_text(c)),
        );
    }
    let _ = writeln!(h, "</table>");
    let _ = writeln!(h, "</body>");
    let _ = writeln!(h, "</html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Strategy;

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
        }
    }

    fn phase(
        index: usize,
        members: &[&str],
        timeout: f64,
        span: (f64, f64),
        t: bool,
    ) -> PhaseReport {
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

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
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

    #[test]
    fn terminal_has_one_row_per_component_grouped_by_phase() {
        let r = fixture();
        let text = render_terminal(&r, 100, false);
        let rows = chart_rows(&text);
        assert_eq!(rows.len(), r.components.len(), "{text}");
        let order: Vec<usize> = [WEB, "metrics", "workers", "postgres", "cache"]
            .iter()
            .map(|n| {
                rows.iter()
                    .position(|l| l.contains(&format!("{n} ")))
                    .unwrap_or_else(|| panic!("{n} has a row:\n{text}"))
            })
            .collect();
        assert_eq!(
            order,
            vec![0, 1, 2, 3, 4],
            "phase, then start time:\n{text}"
        );
        // The phase tag leads the first row of each phase only.
        assert!(rows[0].starts_with("P0 "), "{}", rows[0]);
        assert!(rows[1].starts_with("   "), "{}", rows[1]);
        assert!(rows[2].starts_with("P1 "), "{}", rows[2]);
        assert!(rows[3].starts_with("P2 "), "{}", rows[3]);
        assert!(row_of(&text, "metrics").contains("never started"));
        assert!(row_of(&text, "postgres").contains("stopped 200 ms"));
        // Glyphs: postgres started, ran and stopped, in that order.
        let pg = row_of(&text, "postgres");
        let (s, run, stop) = (
            pg.find(GLYPH_STARTING).expect("starting"),
            pg.find(GLYPH_RUNNING).expect("running"),
            pg.find(GLYPH_STOPPING).expect("stopping"),
        );
        assert!(s < run && run < stop, "{pg}");
    }

    #[test]
    fn terminal_header_and_phase_table() {
        let text = render_terminal(&fixture(), 100, false);
        for needle in [
            "trigger SIGTERM",
            "strategy phased",
            "exit 3 (stopped by force)",
            "shutdown took 3700 ms of 4000 ms budget",
            "all ready at 420 ms",
            "shutdown began at 1500 ms",
        ] {
            assert!(text.contains(needle), "`{needle}` in:\n{text}");
        }
        let marks = text
            .lines()
            .find(|l| l.starts_with("stop phases"))
            .expect("phase marks line");
        let p: Vec<usize> = ["P0", "P1", "P2"]
            .iter()
            .map(|m| marks.find(m).expect("each phase marked"))
            .collect();
        assert!(p[0] < p[1] && p[1] < p[2], "{marks}");
        // The phase boundary continues down as ┊ where the rows are blank.
        assert!(row_of(&text, "metrics").contains(GLYPH_PHASE));

        let table: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.starts_with("phase  timeout"))
            .take(4)
            .collect();
        assert_eq!(table.len(), 4, "{text}");
        let cols = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(
            cols(table[1]),
            ["P0", "5000", "ms", "400", "ms", "no", WEB, "metrics"].map(|s| if s == WEB {
                format!("{WEB},")
            } else {
                s.to_string()
            })
        );
        assert_eq!(
            cols(table[2]),
            ["P1", "2000", "ms", "2020", "ms", "YES", "workers"].map(String::from)
        );
        assert!(table[3].starts_with("P2 ") && table[3].ends_with("cache, postgres"));
    }

    #[test]
    fn terminal_flags_the_killed_with_their_reason() {
        let text = render_terminal(&fixture(), 100, false);
        let workers = row_of(&text, "workers");
        assert!(workers.contains("!workers"), "{workers}");
        assert!(workers.contains("killed: phase_timeout"), "{workers}");
        assert!(workers.contains(GLYPH_KILL), "{workers}");
        assert!(workers.contains(GLYPH_KILLED), "{workers}");
        assert!(!workers.contains(GLYPH_STOPPING), "{workers}");
        let cache = row_of(&text, "cache");
        assert!(cache.contains("!cache") && cache.contains("forced: shutdown_timeout"));
        assert!(cache.contains(GLYPH_KILL), "{cache}");
        for fine in ["postgres", "metrics", WEB] {
            assert!(!row_of(&text, fine).contains('!'), "{fine} is not flagged");
        }
        assert!(
            text.contains(
                "! workers: timed out: asked to stop at 1900 ms, killed by phase_timeout at 3900 ms"
            ),
            "{text}"
        );
        assert!(
            text.contains("! cache: forced: killed by shutdown_timeout at 5190 ms"),
            "{text}"
        );
        assert!(text.contains("legend:"));
    }

    #[test]
    fn kill_marker_and_ticks_line_up_with_the_axis() {
        let text = render_terminal(&fixture(), 100, false);
        let chars = |l: &str| l.chars().collect::<Vec<char>>();
        let ruler = chars(text.lines().find(|l| l.contains('└')).expect("ruler"));
        let origin = ruler.iter().position(|&c| c == '└').expect("corner") + 1;
        let right = ruler.iter().position(|&c| c == '┘').expect("corner");
        let n = right - origin;
        let labels = chars(
            text.lines()
                .skip_while(|l| !l.contains('└'))
                .nth(1)
                .expect("labels"),
        );
        // Every tick label sits on a ┬, and says the time of that column.
        let mut seen = 0;
        let mut i = 0;
        while i < labels.len() {
            if labels[i].is_ascii_digit() {
                let j = (i..labels.len())
                    .find(|&j| !labels[j].is_ascii_digit())
                    .unwrap_or(labels.len());
                let t: f64 = labels[i..j].iter().collect::<String>().parse().unwrap();
                let col = (i..j).find(|&c| ruler[c] == '┬').expect("label on a tick");
                assert_eq!(col - origin, cell(t / 5200.0, n), "tick {t}");
                seen += 1;
                i = j;
            } else {
                i += 1;
            }
        }
        assert!(seen >= 5, "{seen} tick labels:\n{text}");
        assert!(labels.iter().collect::<String>().trim_end().ends_with("ms"));
        // The workers kill at 3900 ms is drawn in that column.
        let row = chars(row_of(&text, "workers"));
        let kill = row.iter().position(|&c| c == GLYPH_KILL).expect("kill");
        assert_eq!(kill - origin, cell(3900.0 / 5200.0, n));
        // Bars begin at their start: postgres at 0.1 ms, in the first column.
        assert_eq!(chars(row_of(&text, "postgres"))[origin], GLYPH_STARTING);
    }

    #[test]
    fn no_line_is_wider_than_asked_with_or_without_colour() {
        for (what, r) in [
            ("fixture", fixture()),
            ("long run", long_run()),
            ("eager", eager()),
            ("empty", empty()),
        ] {
            for width in [1, 10, 20, 30, 40, 60, 80, 100, 132, 200] {
                let plain = render_terminal(&r, width, false);
                assert!(!plain.contains('\u{1b}'), "no escapes without colour");
                for line in plain.lines() {
                    assert!(
                        line.chars().count() <= width,
                        "{what} at {width}: {} chars: `{line}`",
                        line.chars().count()
                    );
                }
                let colored = render_terminal(&r, width, true);
                assert_eq!(strip_ansi(&colored), plain, "{what} at {width}");
            }
        }
        // And 80 columns keep every row, the whole axis and the notes.
        let text = render_terminal(&fixture(), 80, false);
        assert_eq!(chart_rows(&text).len(), 5);
        assert!(row_of(&text, "workers").ends_with("killed: phase_timeout"));
        assert!(text.contains("5000 ms"), "{text}");
    }

    #[test]
    fn colour_marks_the_flagged_in_red() {
        let text = render_terminal(&fixture(), 100, true);
        let workers = text
            .lines()
            .find(|l| l.contains("workers") && l.contains('│'))
            .expect("workers row");
        assert!(workers.contains("\x1b[1;31m!workers"), "{workers:?}");
        assert!(
            workers.contains("\x1b[1;31mkilled: phase_timeout"),
            "{workers:?}"
        );
        assert!(
            workers.contains(&format!("\x1b[31m{GLYPH_KILLED}")),
            "{workers:?}"
        );
        let pg = text
            .lines()
            .find(|l| l.contains("postgres") && l.contains('│'))
            .expect("postgres row");
        assert!(
            !pg.contains("\x1b[1;31m") && !pg.contains("\x1b[31m"),
            "{pg:?}"
        );
        assert!(pg.contains(&format!("\x1b[34m{GLYPH_STOPPING}")), "{pg:?}");
    }

    #[test]
    fn a_long_idle_run_is_drawn_with_an_axis_break() {
        let text = render_terminal(&long_run(), 80, false);
        let ruler = text.lines().find(|l| l.contains('└')).expect("ruler");
        assert!(ruler.contains(GLYPH_GAP), "{ruler}");
        assert!(
            text.contains("axis break: 3601080 ms of steady running"),
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
        assert!(text.contains("P0     n/a"), "{text}");
        assert!(text.contains("eager: phase timeouts do not apply"));
        assert!(!render_svg(&eager()).contains("(limit"));
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
    fn svg_parses_with_one_bar_per_started_component() {
        let r = fixture();
        let svg = render_svg(&r);
        let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let groups: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && class_is(n, "component"))
            .collect();
        assert_eq!(groups.len(), r.components.len());
        let mut bars: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && class_is(n, "bar"))
            .map(|n| n.attribute("data-name").expect("bar names its component"))
            .collect();
        bars.sort_unstable();
        assert_eq!(bars, ["cache", "postgres", "web<&>\"x'", "workers"]);
        // Each bar has its segments.
        for g in doc
            .descendants()
            .filter(|n| n.has_tag_name("g") && class_is(n, "bar"))
        {
            let classes: Vec<&str> = g
                .children()
                .filter(|c| c.has_tag_name("rect"))
                .filter_map(|c| c.attribute("class"))
                .collect();
            assert!(classes.contains(&"starting") && classes.contains(&"running"));
            if g.attribute("data-name") != Some("cache") {
                assert!(
                    classes.iter().any(|c| c.starts_with("stopping")),
                    "{classes:?}"
                );
            }
        }
        // Names are escaped in the source and intact once parsed.
        assert!(!svg.contains("web<&>"));
        assert!(svg.contains("web&lt;&amp;&gt;&quot;x&apos;"));
        assert!(
            doc.descendants()
                .any(|n| class_is(&n, "name") && n.text() == Some(WEB))
        );
        // A title line with the essentials, and a legend.
        let title = doc
            .descendants()
            .find(|n| n.has_tag_name("text") && n.attribute("font-weight") == Some("bold"))
            .and_then(|n| n.text())
            .expect("title");
        for needle in ["SIGTERM", "phased", "exit 3", "shutdown 3700 ms"] {
            assert!(title.contains(needle), "`{needle}` in `{title}`");
        }
        let legend: Vec<&str> = doc
            .descendants()
            .filter(|n| class_is(n, "legend"))
            .flat_map(|g| g.descendants().filter_map(|n| n.text()))
            .collect();
        for item in ["starting", "running", "stopping", "kill sent", "stop phase"] {
            assert!(legend.contains(&item), "{item} in the legend {legend:?}");
        }
    }

    #[test]
    fn svg_flags_the_timed_out_in_red_with_the_reason() {
        let svg = render_svg(&fixture());
        let doc = roxmltree::Document::parse(&svg).expect("parses");
        let group = |name: &str| {
            doc.descendants()
                .find(|n| class_is(n, "component") && n.attribute("data-name") == Some(name))
                .unwrap_or_else(|| panic!("{name}"))
        };
        let note = |g: roxmltree::Node| {
            g.descendants()
                .find(|n| class_is(n, "note"))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_string()
        };
        let w = group("workers");
        assert!(class_is(&w, "flagged"));
        assert_eq!(note(w), "timed out, killed by phase_timeout");
        let stop = w
            .descendants()
            .find(|n| class_is(n, "stopping"))
            .expect("stopping bar");
        assert!(class_is(&stop, "killed"));
        assert_eq!(stop.attribute("fill"), Some(C_KILLED));
        assert!(w.descendants().any(|n| class_is(&n, "kill")));
        let name = w.descendants().find(|n| class_is(n, "name")).expect("name");
        assert_eq!(name.attribute("fill"), Some(C_KILLED));
        let c = group("cache");
        assert!(class_is(&c, "flagged"));
        assert_eq!(note(c), "forced by shutdown_timeout");
        let pg = group("postgres");
        assert!(!class_is(&pg, "flagged"));
        assert_eq!(note(pg), "stopped in 200 ms");
        assert_eq!(
            pg.descendants()
                .find(|n| class_is(n, "stopping"))
                .and_then(|n| n.attribute("fill")),
            Some(C_STOPPING)
        );
    }

    #[test]
    fn svg_phases_and_bars_sit_on_the_axis() {
        let svg = render_svg(&fixture());
        let doc = roxmltree::Document::parse(&svg).expect("parses");
        let f = |n: roxmltree::Node, a: &str| -> f64 {
            n.attribute(a).expect(a).parse().expect("a number")
        };
        // Tick label x by value.
        let ticks: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| class_is(n, "axis"))
            .flat_map(|g| g.children().filter(|n| n.has_tag_name("text")))
            .filter_map(|n| Some((n.text()?.parse::<f64>().ok()?, f(n, "x"))))
            .collect();
        assert!(ticks.len() >= 5, "{ticks:?}");
        let (t0, x0) = ticks[0];
        let (t1, x1) = ticks[ticks.len() - 1];
        assert_eq!(t0, 0.0);
        let at = |x: f64| t0 + (x - x0) / (x1 - x0) * (t1 - t0);
        // Bars start at their times.
        let pg_stop = doc
            .descendants()
            .find(|n| {
                class_is(n, "stopping")
                    && n.ancestors()
                        .any(|a| a.attribute("data-name") == Some("postgres"))
            })
            .expect("postgres stops");
        assert!((at(f(pg_stop, "x")) - 3920.0).abs() < 2.0);
        assert!((at(f(pg_stop, "x") + f(pg_stop, "width")) - 4120.0).abs() < 2.0);
        // Phase bands span their phases and have labels.
        let bands: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && class_is(n, "phase"))
            .map(|n| (at(f(n, "x")), at(f(n, "x") + f(n, "width"))))
            .collect();
        assert_eq!(bands.len(), 3);
        for (got, want) in bands
            .iter()
            .zip([(1500.0, 1900.0), (1900.0, 3920.0), (3920.0, 5200.0)])
        {
            assert!(
                (got.0 - want.0).abs() < 2.0 && (got.1 - want.1).abs() < 2.0,
                "{got:?}"
            );
        }
        let marks: Vec<&str> = doc
            .descendants()
            .filter(|n| class_is(n, "marks"))
            .flat_map(|g| g.children().filter_map(|n| n.text()))
            .collect();
        for label in [
            "P0 400 ms (limit 5000)",
            "P1 2020 ms (limit 2000): workers timed out",
            "P2 1280 ms (limit 5000)",
            "shutdown: SIGTERM",
            "all ready",
        ] {
            assert!(marks.contains(&label), "{label} in {marks:?}");
        }
        // Labels never overlap: same line (y) means disjoint x ranges.
        let spans: Vec<(f64, f64, f64)> = doc
            .descendants()
            .filter(|n| class_is(n, "marks"))
            .flat_map(|g| g.children().filter(|n| n.has_tag_name("text")))
            .map(|n| {
                let w = n.text().unwrap_or_default().chars().count() as f64 * CW * 11.0 / 12.0;
                (f(n, "y"), f(n, "x"), f(n, "x") + w)
            })
            .collect();
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                assert!(
                    a.0 != b.0 || a.2 <= b.1 || b.2 <= a.1,
                    "{a:?} overlaps {b:?}"
                );
            }
        }
        // No mark's line runs through a label.
        let lines: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("line") && class_is(n, "mark"))
            .map(|n| (f(n, "x1"), f(n, "y1")))
            .collect();
        assert_eq!(lines.len(), 5, "3 phases, all ready, shutdown");
        for (x, top) in lines {
            for &(y, a, b) in &spans {
                assert!(
                    y < top || x < a || x > b,
                    "line at {x} from {top} crosses {a}..{b} at {y}"
                );
            }
        }
    }

    #[test]
    fn html_embeds_the_svg_and_tables() {
        let r = fixture();
        let html = render_html(&r);
        assert!(html.starts_with("<!DOCTYPE html>"));
        let doc = parse_html(&html);
        assert!(doc.descendants().any(|n| n.has_tag_name("svg")));
        let table = doc
            .descendants()
            .find(|n| n.has_tag_name("table") && class_is(n, "components"))
            .expect("components table");
        let rows: Vec<Vec<String>> = table
            .children()
            .filter(|n| n.has_tag_name("tr"))
            .map(|tr| {
                tr.children()
                    .filter(|n| n.is_element())
                    .map(|td| {
                        td.descendants()
                            .filter(|t| t.is_text())
                            .filter_map(|t| t.text())
                            .collect()
                    })
                    .collect()
            })
            .collect();
        assert_eq!(rows.len(), 1 + r.components.len());
        assert_eq!(
            rows[0],
            [
                "name",
                "kind",
                "phase",
                "depends on",
                "outcome",
                "started",
                "ready",
                "asked to stop",
                "down",
                "stop_ms",
                "killed_by",
                "exit"
            ]
        );
        let row = |name: &str| rows.iter().find(|r| r[0] == name).expect(name);
        assert_eq!(row(WEB)[3], "workers, cache");
        let w = row("workers");
        assert_eq!(
            [&w[1], &w[2], &w[4], &w[9], &w[10], &w[11]],
            [
                "sim",
                "P1",
                "timed_out_killed",
                "2020",
                "phase_timeout at 3900 ms",
                "signal SIGKILL"
            ]
        );
        assert_eq!(row("postgres")[11], "status 0");
        assert_eq!(row("metrics")[4], "never_started");
        let flagged: Vec<String> = table
            .children()
            .filter(|n| class_is(n, "flagged"))
            .filter_map(|tr| tr.descendants().find_map(|n| n.text()).map(String::from))
            .collect();
        assert_eq!(flagged, ["workers", "cache"]);
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("table") && class_is(&n, "phases"))
        );
        assert!(html.contains("web&lt;&amp;&gt;&quot;x&apos;"));
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
}
