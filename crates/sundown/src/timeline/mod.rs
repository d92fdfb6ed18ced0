//! Pictures of a teardown report, for `sundown report`: a timeline for the
//! terminal ([`render_terminal`]), the same timeline as a standalone SVG
//! ([`render_svg`]), and an HTML page embedding that SVG above tables of the
//! phases and components ([`render_html`]).
//!
//! Every renderer is a pure function of a [`ShutdownReport`]: no clock, no
//! environment, no terminal queries. The caller chooses the width and
//! whether to colour.
//!
//! The picture has one row per component, grouped by stop phase (phase 1,
//! which stops first, on top: people count phases from 1, the JSON keeps
//! 0-based indices) and, within a phase, by start time; so the stops read
//! as a staircase going down and to the right. The time axis is
//! milliseconds since the supervisor started. A row shows each run of the
//! component (its earlier runs from `earlier_runs`, its last from its own
//! fields), each *starting* (launched → ready), *running* (ready → asked to
//! stop) and *stopping* (asked to stop, or killed first, → down), with a
//! marker where a kill was sent, a gap while it was down, a mark where it
//! went down to restart (with the reason) or was stopped on request; and
//! the steps and the deadlines of its last stop, and the moment it failed
//! (`moments`). Components killed at a deadline, forced, or failed are
//! flagged (`!`, red) with the reason.
//!
//! Wherever nothing happened for long (a day of steady running, a slow
//! start, the quiet before a restart), the axis is broken (`≈`) and that
//! stretch drawn compressed, never inside the shutdown or any stop; each
//! busy stretch keeps a share of the width, so the report of a run that
//! lasted a week still shows its start-up, its restarts and reloads, and
//! its shutdown legibly.
//!
//! This module holds what the renderers share, so that they agree on what
//! they draw: the row order and the wording of times, outcomes and notes
//! (here), the bars of each run (`bars`), the marks of a row (`moments`),
//! the time axis with its breaks and ticks (`axis`), and XML escaping. The
//! renderers themselves are in
//! `terminal`, `svg` and `html` (the page embeds the SVG).

use std::fmt::Write as _;

use crate::event::{KillReason, Outcome, Trigger};
use crate::report::{ComponentReport, PhaseReport, ShutdownReport};

mod axis;
mod bars;
mod html;
mod moments;
mod svg;
mod terminal;
#[cfg(test)]
mod tests;

pub use html::render_html;
pub use svg::render_svg;
pub use terminal::render_terminal;

// The renderers take the axis and the bars from here, with the rest of
// what they share.
use self::axis::{Axis, tick_label};
use self::bars::{Bars, Segment};
use self::moments::{DeadlineKind, Moments};
// The tests check that no axis gets more ticks than this.
#[cfg(test)]
use self::axis::MAX_TICKS;

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

/// `exit 3 (stopped by force)`, in the final status's words (an
/// `exit_with` component's own code is said to be its).
fn exit_label(r: &ShutdownReport) -> String {
    let exit = r.run_exit();
    format!("exit {} ({})", exit.code, exit.meaning)
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

/// `phase 1` for the phase at index 0: people count phases from 1 (the
/// report's JSON keeps the 0-based index).
fn phase_name(index: usize) -> String {
    format!("phase {}", index.saturating_add(1))
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
        Outcome::Completed => "completed".to_string(),
        Outcome::Failed => "failed".to_string(),
        Outcome::NeverStarted => "never started".to_string(),
    }
}

/// One sentence about a flagged component: each time measured from the
/// event it names (the request, the kill), never a kill's end from the
/// request.
fn long_note(c: &ComponentReport) -> String {
    // "the second signal" reads as words; the deadlines keep their config names.
    let by = match c.killed_by {
        Some(KillReason::SecondSignal) => KillReason::SecondSignal.phrase(),
        _ => killed_by(c),
    };
    let mut s = match (c.outcome, c.stop_requested) {
        (Outcome::TimedOutKilled | Outcome::Forced, Some(asked)) => format!(
            "{}: asked to stop at {}, killed by {by} at {}",
            if c.outcome == Outcome::Forced {
                "forced"
            } else {
                "timed out"
            },
            ms(asked),
            opt_ms(c.killed_at)
        ),
        (Outcome::TimedOutKilled | Outcome::Forced, None) => format!(
            "forced: killed by {by} at {} before its turn to stop",
            opt_ms(c.killed_at)
        ),
        (Outcome::Failed, _) => format!("failed at {}", opt_ms(c.stopped_at)),
        _ => short_note(c),
    };
    match (c.killed_at, c.stopped_at, c.stop_ms) {
        (Some(kill), Some(down), _) => {
            let _ = write!(s, ", down {} after the kill", ms(down - kill));
        }
        (None, _, Some(d)) => {
            let _ = write!(s, ", down {} after it was asked to stop", ms(d));
        }
        _ => {}
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

/// What an axis break (the [`Axis`] gap, `(from, to)` in ms) stands for.
fn break_note((from, to): (f64, f64)) -> String {
    format!(
        "axis break: {} in which nothing happened ({} → {}) drawn compressed",
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
