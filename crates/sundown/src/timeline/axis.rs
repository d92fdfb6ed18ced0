//! The time axis every renderer draws on: where a time falls, and which
//! ticks it gets. Long stretches in which nothing happened (a day of steady
//! running, a wait for a slow start, the quiet before a restart) are drawn
//! compressed as axis breaks, and each busy stretch between them keeps at
//! least a share of the width, so the start-up, every restart and reload,
//! and the shutdown all stay legible however far apart they are.

use crate::report::ShutdownReport;

use super::moments::moments;

/// Share of the axis each break takes.
const BREAK_SHARE: f64 = 0.05;

/// The least share of the axis a busy stretch gets when there are breaks.
const MIN_SHARE: f64 = 0.12;

/// The most breaks an axis gets: each one more is harder to read.
const MAX_BREAKS: usize = 3;

/// A quiet stretch becomes a break when it is longer than this share of
/// what the rest of the axis would show at full scale.
const BREAK_WHEN: f64 = 0.5;

/// The most ticks an axis gets, however long the span: a report read from
/// a file may claim any times at all, and the ticks must stay few.
pub(super) const MAX_TICKS: usize = 20;

/// The times at which something happened, finite, in `0..=end`, sorted,
/// with `0` and `end` themselves.
fn busy_times(r: &ShutdownReport, end: f64) -> Vec<f64> {
    let mut times = vec![0.0, end];
    times.extend(
        moments(r)
            .into_iter()
            .filter(|t| t.is_finite() && (0.0..=end).contains(t)),
    );
    times.sort_by(f64::total_cmp);
    times.dedup();
    times
}

/// The stretches never drawn compressed, merged and sorted: the shutdown,
/// and every stop of every run (a wait for a stop is what the picture is
/// about, however quiet).
fn stopping(r: &ShutdownReport, end: f64) -> Vec<(f64, f64)> {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    if let Some(s) = r.shutdown_started_at {
        spans.push((s, end));
    }
    for c in &r.components {
        if let Some(from) = c.stop_requested.or(c.killed_at) {
            spans.push((from, c.stopped_at.unwrap_or(end)));
        }
        for run in &c.earlier_runs {
            if let Some(from) = run.stop_requested.or(run.killed_at) {
                spans.push((from, run.down_at));
            }
        }
    }
    spans.retain(|(a, b)| a.is_finite() && b.is_finite() && b > a);
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::new();
    for (a, b) in spans {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

/// The latest time anything in the report happened, at least 1 ms; always
/// finite (a report built in code may hold an infinity or a NaN, which are
/// left out).
fn span_end(r: &ShutdownReport) -> f64 {
    let end = moments(r)
        .into_iter()
        .chain([r.ended_at])
        .filter(|t| t.is_finite())
        .fold(f64::NEG_INFINITY, f64::max);
    if end.is_finite() { end.max(1.0) } else { 1.0 }
}

/// One stretch of the axis: times `t0..=t1` drawn at fractions `f0..=f1`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    t0: f64,
    t1: f64,
    f0: f64,
    f1: f64,
    broken: bool,
}

impl Piece {
    fn frac(&self, t: f64) -> f64 {
        if self.t1 <= self.t0 {
            (self.f0 + self.f1) / 2.0
        } else {
            self.f0 + (t - self.t0) / (self.t1 - self.t0) * (self.f1 - self.f0)
        }
    }
}

/// Maps times (ms) to a fraction of the axis, with compressed breaks.
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) end: f64,
    /// Left to right, covering `0..=end`.
    pieces: Vec<Piece>,
}

impl Axis {
    pub(super) fn new(r: &ShutdownReport) -> Axis {
        let end = span_end(r);
        let times = busy_times(r, end);
        let mut quiet: Vec<(f64, f64)> = times
            .windows(2)
            .map(|w| (w[0], w[1]))
            .filter(|(a, b)| b > a)
            .collect();
        quiet.sort_by(|a, b| (b.1 - b.0).total_cmp(&(a.1 - a.0)));
        let kept = stopping(r, end);
        let mut breaks: Vec<(f64, f64)> = Vec::new();
        let mut shown = end;
        let open = quiet.iter().filter(|&&(a, b)| {
            let i = kept.partition_point(|&(_, to)| to <= a);
            kept.get(i).is_none_or(|&(from, _)| from >= b)
        });
        for &(a, b) in open.take(MAX_BREAKS) {
            let d = b - a;
            if d <= BREAK_WHEN * (shown - d) {
                break;
            }
            breaks.push((a, b));
            shown -= d;
        }
        breaks.sort_by(|a, b| a.0.total_cmp(&b.0));
        // The busy stretches between the breaks.
        let mut busy: Vec<(f64, f64)> = Vec::new();
        let mut from = 0.0;
        for &(a, b) in &breaks {
            busy.push((from, a));
            from = b;
        }
        busy.push((from, end));
        let shares = shares(&busy, 1.0 - breaks.len() as f64 * BREAK_SHARE);
        let mut pieces = Vec::new();
        let mut f = 0.0;
        for (i, (&(t0, t1), share)) in busy.iter().zip(shares).enumerate() {
            pieces.push(Piece {
                t0,
                t1,
                f0: f,
                f1: f + share,
                broken: false,
            });
            f += share;
            if let Some(&(a, b)) = breaks.get(i) {
                pieces.push(Piece {
                    t0: a,
                    t1: b,
                    f0: f,
                    f1: f + BREAK_SHARE,
                    broken: true,
                });
                f += BREAK_SHARE;
            }
        }
        Axis { end, pieces }
    }

    /// 0.0 at the supervisor's start, 1.0 at the end; times before the
    /// start (or NaN) at 0.0, after the end at 1.0.
    pub(super) fn frac(&self, t: f64) -> f64 {
        if t.is_nan() {
            return 0.0;
        }
        let t = t.clamp(0.0, self.end);
        let i = self.pieces.partition_point(|p| p.t1 < t);
        self.pieces
            .get(i)
            .map_or(1.0, |p| p.frac(t))
            .clamp(0.0, 1.0)
    }

    /// The breaks, `(from, to)` in ms, left to right.
    pub(super) fn breaks(&self) -> Vec<(f64, f64)> {
        self.pieces
            .iter()
            .filter(|p| p.broken)
            .map(|p| (p.t0, p.t1))
            .collect()
    }

    /// Tick times for an axis `length` units long whose labels take
    /// `char_w` units per character: in each busy stretch, the smallest
    /// 1-2-5 step (of at least 0.1 ms) whose labels do not crowd each
    /// other; at most [`MAX_TICKS`] in all, however long the span.
    pub(super) fn ticks(&self, length: f64, char_w: f64) -> Vec<f64> {
        let widest = tick_label(self.end).chars().count() as f64 + 2.0;
        let busy: Vec<&Piece> = self.pieces.iter().filter(|p| !p.broken).collect();
        let budget = (MAX_TICKS / busy.len().max(1)).max(2);
        let mut ticks: Vec<f64> = Vec::new();
        for p in busy {
            let span = p.t1 - p.t0;
            let per_ms = (p.f1 - p.f0) * length / span;
            if !(span > 0.0 && per_ms.is_finite() && per_ms > 0.0) {
                if ticks.len() < MAX_TICKS && ticks.last().is_none_or(|&l| p.t0 > l) {
                    ticks.push(p.t0);
                }
                continue;
            }
            let uncrowded = widest * char_w / per_ms;
            let few = span / (budget - 1) as f64;
            let Some(step) = nice_step(uncrowded.max(few).max(0.1)) else {
                continue;
            };
            let first = (p.t0 / step).ceil();
            // Counted, not `while t <= t1`: far from zero, `first + 1.0`
            // may round back to `first`.
            for i in 0..budget {
                let t = (first + i as f64) * step;
                if ticks.len() >= MAX_TICKS || t.is_nan() || t > p.t1 + 1e-9 {
                    break;
                }
                if ticks.last().is_none_or(|&last| t > last) {
                    ticks.push(t);
                }
            }
        }
        if ticks.is_empty() {
            ticks.push(0.0);
        }
        ticks
    }
}

/// How much of `total` each busy stretch gets: in proportion to its
/// length, but at least [`MIN_SHARE`] (less when there are too many).
fn shares(busy: &[(f64, f64)], total: f64) -> Vec<f64> {
    let n = busy.len().max(1);
    let min = MIN_SHARE.min(total / n as f64);
    let lens: Vec<f64> = busy.iter().map(|(a, b)| (b - a).max(0.0)).collect();
    let mut fixed = vec![false; busy.len()];
    loop {
        let free_len: f64 = (0..lens.len())
            .filter(|&i| !fixed[i])
            .map(|i| lens[i])
            .sum();
        let free_n = fixed.iter().filter(|f| !**f).count();
        let free_share = total - min * (busy.len() - free_n) as f64;
        let share = |i: usize| {
            if free_len > 0.0 {
                lens[i] / free_len * free_share
            } else {
                free_share / free_n.max(1) as f64
            }
        };
        let small: Vec<usize> = (0..lens.len())
            .filter(|&i| !fixed[i] && share(i) < min)
            .collect();
        if small.is_empty() || free_n == small.len() {
            return (0..lens.len())
                .map(|i| if fixed[i] { min } else { share(i).max(0.0) })
                .collect();
        }
        for i in small {
            fixed[i] = true;
        }
    }
}

/// The smallest 1-2-5 step (…, 0.1, 0.2, 0.5, 1, 2, 5, 10, …) of at least
/// `min`, if that is a finite number.
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

/// `0`, `9400`, `0.5`: whole ms, one decimal below a whole one.
pub(super) fn tick_label(t: f64) -> String {
    if (t - t.round()).abs() < 1e-6 || t.abs() >= 1e15 {
        format!("{t:.0}")
    } else {
        format!("{t:.1}")
    }
}
