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
//!
//! This module holds what the renderers share, so that they agree on what
//! they draw: the row order, the bars of a row, the time axis (with its
//! break and ticks), the wording of times, outcomes and notes, and XML
//! escaping. The renderers themselves are in `terminal`, `svg` and `html`
//! (the page embeds the SVG).

use std::fmt::Write as _;

use crate::event::{KillReason, Outcome, Trigger};
use crate::exit::ExitCode;
use crate::report::{ComponentReport, PhaseReport, ShutdownReport};

mod html;
mod svg;
mod terminal;
#[cfg(test)]
mod tests;

pub use html::render_html;
pub use svg::render_svg;
pub use terminal::render_terminal;

/// Share of the axis given to a compressed stretch of steady running.
const GAP_SHARE: f64 = 0.1;

/// The most ticks an axis gets, however long the span: a report read from
/// a file may claim any times at all, and the ticks must stay few.
const MAX_TICKS: usize = 20;

/// What a row draws for one component, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bars {
    starting: (f64, f64),
    running: Option<(f64, f64)>,
    stopping: Option<(f64, f64)>,
    kill: Option<f64>,
}

/// A kind of bar segment, as the legends list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Starting,
    Running,
    Stopping,
    /// The stop of a [`flagged`] component: killed at a deadline, forced or
    /// failed.
    Killed,
}

impl Segment {
    /// In legend order.
    const ALL: [Segment; 4] = [
        Segment::Starting,
        Segment::Running,
        Segment::Stopping,
        Segment::Killed,
    ];

    /// What the component was doing: a killed stop is still a stop.
    fn doing(self) -> &'static str {
        match self {
            Segment::Starting => "starting",
            Segment::Running => "running",
            Segment::Stopping | Segment::Killed => "stopping",
        }
    }

    /// The legend's words for it.
    fn legend(self) -> &'static str {
        match self {
            Segment::Killed => "stopping, then killed",
            other => other.doing(),
        }
    }
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

    /// The segments in drawing order, the stop as [`Segment::Killed`] when
    /// `flagged`. Where two meet, the later one covers the earlier (a shared
    /// cell, a rounded pixel): the long running goes first so the short
    /// starting and stopping stay visible.
    fn segments(&self, flagged: bool) -> impl Iterator<Item = (Segment, (f64, f64))> {
        let stop = if flagged {
            Segment::Killed
        } else {
            Segment::Stopping
        };
        [
            self.running.map(|s| (Segment::Running, s)),
            Some((Segment::Starting, self.starting)),
            self.stopping.map(|s| (stop, s)),
        ]
        .into_iter()
        .flatten()
    }
}

/// Killed at a deadline, forced, or failed: worth a look.
fn flagged(c: &ComponentReport) -> bool {
    matches!(
        c.outcome,
        Outcome::TimedOutKilled | Outcome::Forced | Outcome::Failed
    )
}

fn killed_by(c: &ComponentReport) -> &'static str {
    c.killed_by.map_or("a kill", KillReason::as_str)
}

fn trigger_text(t: Option<&Trigger>) -> String {
    t.map_or_else(|| "no shutdown".to_string(), Trigger::to_string)
}

/// `exit 3 (stopped by force)`.
fn exit_label(r: &ShutdownReport) -> String {
    let meaning = ExitCode::from_code(r.exit_code).map_or("unknown", ExitCode::meaning);
    format!("exit {} ({meaning})", r.exit_code)
}

/// The milestones of the run, in order, each with whether it is alarming
/// (a forced stop).
fn milestones(r: &ShutdownReport) -> Vec<(String, bool)> {
    let mut out = vec![(format!("started {}", r.started_wall), false)];
    if let Some(t) = r.all_ready_at {
        out.push((format!("all ready at {}", ms(t)), false));
    }
    if let Some(t) = r.shutdown_started_at {
        out.push((format!("shutdown began at {}", ms(t)), false));
    }
    if let Some(t) = r.forced_at {
        out.push((format!("forced at {}", ms(t)), true));
    }
    out.push((format!("last down at {}", ms(r.ended_at)), false));
    out
}

/// How long a phase took, when it both began and ended.
fn phase_took(p: &PhaseReport) -> Option<f64> {
    p.started_at.zip(p.ended_at).map(|(a, b)| b - a)
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

/// Whether row `i` of [`rows`] is the first of its stop phase (and so
/// carries the phase's tag).
fn opens_phase(rows: &[&ComponentReport], i: usize) -> bool {
    i == 0 || rows[i - 1].phase != rows[i].phase
}

/// The width of the name column, in characters: the longest name, within
/// `4..=max`.
fn name_width(rows: &[&ComponentReport], max: usize) -> usize {
    rows.iter()
        .map(|c| c.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, max)
}

/// The latest time anything in the report happened, at least 1 ms; always
/// finite (a report built in code may hold an infinity or a NaN, which are
/// left out).
fn span_end(r: &ShutdownReport) -> f64 {
    let finite = |t: f64| if t.is_finite() { t } else { f64::NEG_INFINITY };
    let mut end = finite(r.ended_at);
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
            end = end.max(finite(t));
        }
    }
    for p in &r.phases {
        for t in [p.started_at, p.ended_at].into_iter().flatten() {
            end = end.max(finite(t));
        }
    }
    for t in [r.all_ready_at, r.shutdown_started_at, r.forced_at]
        .into_iter()
        .flatten()
    {
        end = end.max(finite(t));
    }
    if end.is_finite() { end.max(1.0) } else { 1.0 }
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
            // `rest` is finite and positive, so `k` is too; and times out
            // of order (`to` before `from`) get no break.
            if to - from > 2.0 * rest && rest > 0.0 && rest.is_finite() && from >= 0.0 && to <= end
            {
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

    /// 0.0 at the supervisor's start, 1.0 at the end; times before the
    /// start (or NaN) at 0.0, after the end at 1.0.
    fn frac(&self, t: f64) -> f64 {
        if t.is_nan() {
            return 0.0;
        }
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
    /// `char_w` units per character: the smallest 1-2-5 step (of at least
    /// 1 ms) whose labels do not crowd each other, and with which the axis
    /// gets at most [`MAX_TICKS`] ticks, however long its span.
    fn ticks(&self, length: f64, char_w: f64) -> Vec<f64> {
        let widest = tick_label(self.end).chars().count() as f64;
        let per_ms = self.k * length;
        // The ms drawn at full scale; each of the (at most two) ranges
        // below gets one tick more than its length over the step.
        let shown = match self.gap {
            None => self.end,
            Some((from, to)) => from + (self.end - to),
        };
        let uncrowded = (widest + 2.0) * char_w / per_ms;
        let few = shown / (MAX_TICKS - 2) as f64;
        let Some(step) = nice_step(uncrowded.max(few).max(1.0)) else {
            return vec![0.0];
        };
        let mut ticks: Vec<f64> = Vec::new();
        let mut push_range = |from: f64, to: f64| {
            let first = (from / step).ceil();
            // Counted, not `while t <= to`: far from zero, `first + 1.0`
            // may round back to `first`.
            for i in 0..MAX_TICKS {
                let t = (first + i as f64) * step;
                if ticks.len() >= MAX_TICKS || t.is_nan() || t > to + 1e-9 {
                    break;
                }
                if ticks.last().is_none_or(|&last| t > last) {
                    ticks.push(t);
                }
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

/// The smallest 1-2-5 step (1, 2, 5, 10, 20, …) of at least `min`, if
/// that is a finite number.
fn nice_step(min: f64) -> Option<f64> {
    if !min.is_finite() || min <= 0.0 {
        return None;
    }
    let exp = min.log10().floor() as i32;
    (exp - 1..=exp + 1)
        .flat_map(|e| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(e)))
        .find(|&step| step >= min)
        .filter(|step| step.is_finite())
}

fn tick_label(t: f64) -> String {
    format!("{:.0}", t)
}

/// What an axis break (the [`Axis`] gap, `(from, to)` in ms) stands for.
fn break_note((from, to): (f64, f64)) -> String {
    format!(
        "axis break: {} of steady running ({} → {}) drawn compressed",
        ms(to - from),
        ms(from),
        ms(to)
    )
}

/// Cuts `s` to at most `n` characters, `…` marking a cut.
fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else if n == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

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
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
