//! The legends under the axis: a row of the stop phases (each with its
//! number, how long it took, its limit and who timed out), then a swatch
//! and a few words for each symbol of the picture. Both wrap to the
//! picture's width, item by item, their widths computed so that no two
//! labels overlap.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::ticks::{deadline_look, run_end_look, step_look};
use super::{C_KILLED, C_TEXT, CW11, MARGIN, look};
use crate::component::StopStep;
use crate::config::Strategy;
use crate::event::Outcome;
use crate::report::{RunEnd, ShutdownReport};
use crate::timeline::{DeadlineKind, Segment, cut, ms, phase_name, phase_took, xml_escape};

/// Height of one legend line.
pub(super) const LEGEND_LINE_H: f64 = 18.0;
/// Width of a swatch and the space after it.
const SWATCH_W: f64 = 22.0;
/// Space between two items on a line.
const ITEM_GAP: f64 = 18.0;

/// One legend item: its swatch (drawn at `(x, middle y)`), its words,
/// their colour, and a tooltip.
pub(super) struct Item {
    swatch: String,
    text: String,
    color: &'static str,
    tip: String,
}

impl Item {
    fn width(&self) -> f64 {
        SWATCH_W + self.text.chars().count() as f64 * CW11
    }
}

/// The items laid out on lines from `MARGIN` to `max_x`: `(x, line)` each.
pub(super) fn wrap(items: &[Item], max_x: f64) -> Vec<(f64, usize)> {
    let mut line = 0;
    let mut x = MARGIN;
    items
        .iter()
        .map(|item| {
            if x > MARGIN && x + item.width() > max_x {
                line += 1;
                x = MARGIN;
            }
            let at = (x, line);
            x += item.width() + ITEM_GAP;
            at
        })
        .collect()
}

/// How many lines `items` take.
pub(super) fn lines(placed: &[(f64, usize)]) -> usize {
    placed.last().map_or(0, |(_, l)| l + 1)
}

/// Fills the swatch's `{x}` and `{y}` (a template, drawn wherever the item lands).
fn place(swatch: &str, x: f64, y: f64) -> String {
    swatch
        .replace("{x}", &format!("{x:.1}"))
        .replace("{y}", &format!("{y:.1}"))
}

/// The row of stop phases: `phase 1: 400 ms (limit 5000 ms)`, red when a
/// member was killed at a deadline.
pub(super) fn phase_items(r: &ShutdownReport) -> Vec<Item> {
    let mut outcomes: HashMap<&str, Outcome> = HashMap::new();
    for c in &r.components {
        outcomes.entry(c.name.as_str()).or_insert(c.outcome);
    }
    r.phases
        .iter()
        .map(|p| {
            let mut text = format!("{}:", phase_name(p.index));
            match (phase_took(p), p.started_at) {
                (Some(t), _) => {
                    let _ = write!(text, " {}", ms(t));
                }
                (None, Some(_)) => text.push_str(" unfinished"),
                (None, None) => text.push_str(" not run"),
            }
            if r.strategy != Strategy::Eager {
                let _ = write!(text, " (limit {:.0})", p.timeout_ms);
            }
            if p.timed_out {
                let killed: Vec<&str> = p
                    .members
                    .iter()
                    .filter(|m| outcomes.get(m.as_str()) == Some(&Outcome::TimedOutKilled))
                    .map(String::as_str)
                    .collect();
                match killed.as_slice() {
                    [] => text.push_str(", timed out"),
                    [one] => {
                        let _ = write!(text, ", {} timed out", cut(one, 24));
                    }
                    [one, rest @ ..] => {
                        let _ = write!(text, ", {} +{} timed out", cut(one, 24), rest.len());
                    }
                }
            }
            let fill = super::plot::band_fill(p);
            Item {
                swatch: format!(
                    r##"<rect x="{{x}}" y="{{y}}" width="16" height="12" transform="translate(0,-6)" fill="{fill}" stroke="#7d8ca3" stroke-dasharray="3 2"/>"##
                ),
                text,
                color: if p.timed_out { C_KILLED } else { C_TEXT },
                tip: format!(
                    "stop {}: {}; timeout {}",
                    phase_name(p.index),
                    cut(&p.members.join(", "), 2000),
                    ms(p.timeout_ms)
                ),
            }
        })
        .collect()
}

/// A swatch and words for each symbol.
pub(super) fn symbol_items() -> Vec<Item> {
    let mut items: Vec<Item> = Segment::ALL
        .into_iter()
        .map(|segment| {
            let (_, fill, h) = look(segment);
            Item {
                swatch: format!(
                    r#"<rect x="{{x}}" y="{{y}}" width="16" height="{h:.1}" transform="translate(0,{:.1})" fill="{fill}"/>"#,
                    -h / 2.0
                ),
                text: segment.legend().to_string(),
                color: C_TEXT,
                tip: segment.legend().to_string(),
            }
        })
        .collect();
    let symbol = |swatch: String, text: &str| Item {
        swatch,
        text: text.to_string(),
        color: C_TEXT,
        tip: text.to_string(),
    };
    items.push(symbol(
        r##"<path d="M {x} {y} m 3 -5 l 10 10 m 0 -10 l -10 10" stroke="#7a0d07" stroke-width="2.5" fill="none"/>"##.to_string(),
        "kill sent",
    ));
    for end in [RunEnd::Restart, RunEnd::StopRequest] {
        let (shape, words) = run_end_look(end);
        items.push(symbol(
            format!(r#"<g transform="translate(8,2)">{shape}</g>"#),
            words,
        ));
    }
    items.push(symbol(
        format!(
            r#"<circle cx="{{x}}" cy="{{y}}" r="4" transform="translate(8,0)" fill="{C_KILLED}" stroke="white"/>"#
        ),
        "failed",
    ));
    for step in [StopStep::StopCommand, StopStep::Signal, StopStep::Kill] {
        let (color, words) = step_look(step);
        items.push(symbol(
            format!(r#"<path d="M {{x}} {{y}} m 8 -5 v 10" stroke="{color}" stroke-width="2"/>"#),
            words,
        ));
    }
    for kind in DeadlineKind::ALL {
        let (color, dash) = deadline_look(kind);
        items.push(symbol(
            format!(
                r#"<path d="M {{x}} {{y}} m 8 -7 v 14" stroke="{color}" stroke-width="1.5" stroke-dasharray="{dash}"/>"#
            ),
            &format!("{} deadline", kind.words()),
        ));
    }
    items.push(symbol(
        format!(
            r#"<path d="M {{x}} {{y}} m 8 -7 v 14" stroke="{C_TEXT}" stroke-width="1.5" stroke-dasharray="6 3"/>"#
        ),
        "shutdown begins",
    ));
    items
}

/// Draws `items` at `placed`, the first line's middle at `top`, in a group of `class`.
pub(super) fn draw(s: &mut String, class: &str, items: &[Item], placed: &[(f64, usize)], top: f64) {
    let _ = writeln!(s, r#"<g class="{class}" font-size="11">"#);
    for (item, &(x, line)) in items.iter().zip(placed) {
        let y = top + line as f64 * LEGEND_LINE_H;
        let _ = writeln!(
            s,
            r#"<g class="item"><title>{}</title>{}<text x="{:.1}" y="{:.1}" fill="{}">{}</text></g>"#,
            xml_escape(&item.tip),
            place(&item.swatch, x, y),
            x + SWATCH_W,
            y + 4.0,
            item.color,
            xml_escape(&item.text)
        );
    }
    let _ = writeln!(s, "</g>");
}
