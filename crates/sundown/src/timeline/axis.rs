//! The time axis every renderer draws on: where a time falls (with the
//! steady running between "all ready" and the shutdown compressed when it
//! would crowd out the rest), and which ticks it gets.

use crate::report::ShutdownReport;

/// Share of the axis given to a compressed stretch of steady running.
const GAP_SHARE: f64 = 0.1;

/// The most ticks an axis gets, however long the span: a report read from
/// a file may claim any times at all, and the ticks must stay few.
pub(super) const MAX_TICKS: usize = 20;

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
pub(super) struct Axis {
    pub(super) end: f64,
    /// `(from, to)` in ms: drawn compressed into [`GAP_SHARE`] of the axis.
    pub(super) gap: Option<(f64, f64)>,
    /// Axis fraction per ms outside the gap.
    k: f64,
}

impl Axis {
    pub(super) fn new(r: &ShutdownReport) -> Axis {
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
    pub(super) fn frac(&self, t: f64) -> f64 {
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
    pub(super) fn gap_frac(&self) -> Option<(f64, f64)> {
        self.gap.map(|(from, to)| (self.frac(from), self.frac(to)))
    }

    /// Tick times for an axis `length` units long whose labels take
    /// `char_w` units per character: the smallest 1-2-5 step (of at least
    /// 1 ms) whose labels do not crowd each other, and with which the axis
    /// gets at most [`MAX_TICKS`] ticks, however long its span.
    pub(super) fn ticks(&self, length: f64, char_w: f64) -> Vec<f64> {
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

pub(super) fn tick_label(t: f64) -> String {
    format!("{:.0}", t)
}
