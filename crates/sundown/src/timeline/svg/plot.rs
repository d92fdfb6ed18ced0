//! The plot's frame, behind and under the rows: the stop phases as shaded
//! bands with their numbers, grid lines at the ticks, the axis breaks'
//! shading, and the time axis beneath with its labels and its breaks.

use std::fmt::Write as _;

use super::{C_MUTED, C_TEXT, CW11, Layout};
use crate::report::{PhaseReport, ShutdownReport};
use crate::timeline::{break_note, ms, opt_ms, phase_name, tick_label, xml_escape};

/// A phase band's fill: red when a member timed out, else alternating blues.
pub(super) fn band_fill(p: &PhaseReport) -> &'static str {
    if p.timed_out {
        "#fbe3e1"
    } else if p.index.is_multiple_of(2) {
        "#e8eef8"
    } else {
        "#f1f4f9"
    }
}

/// The stop phases as shaded bands, behind everything, each numbered in
/// the strip above the rows when its number fits in it without touching
/// the previous one.
pub(super) fn draw_phase_bands(s: &mut String, r: &ShutdownReport, l: &Layout) {
    let _ = writeln!(s, r#"<g class="phases">"#);
    let mut label_end = f64::NEG_INFINITY;
    for p in &r.phases {
        let (Some(a), Some(b)) = (p.started_at, p.ended_at.or(Some(l.axis.end))) else {
            continue;
        };
        let fill = band_fill(p);
        let (xa, xb) = (l.x(a), l.x(b).max(l.x(a) + 1.0));
        let _ = writeln!(
            s,
            r#"<rect class="phase" x="{xa:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{tip}</title></rect>"#,
            top = l.strip_y - 11.0,
            w = xb - xa,
            h = l.y1 - l.strip_y + 11.0,
            tip = xml_escape(&format!(
                "stop {}: {} → {}",
                phase_name(p.index),
                ms(a),
                opt_ms(p.ended_at)
            )),
        );
        let number = p.index.saturating_add(1).to_string();
        let w = number.chars().count() as f64 * CW11;
        if xa + 2.0 > label_end + CW11 && xa + 2.0 + w <= l.x1 {
            label_end = xa + 2.0 + w;
            let _ = writeln!(
                s,
                r#"<text class="phase-number" x="{:.1}" y="{:.1}" font-size="11" fill="{C_MUTED}">{number}</text>"#,
                xa + 2.0,
                l.strip_y,
            );
        }
    }
    let _ = writeln!(s, "</g>");
}

/// Grid lines at the ticks, and the axis break's shading over the plot.
pub(super) fn draw_grid(s: &mut String, l: &Layout, ticks: &[f64]) {
    let (y0, y1, plot_h) = (l.y0, l.y1, l.plot_h);
    let _ = writeln!(s, r##"<g class="grid" stroke="#e3e6ea">"##);
    for &t in ticks {
        let xt = l.x(t);
        let _ = writeln!(
            s,
            r#"<line x1="{xt:.1}" y1="{y0:.1}" x2="{xt:.1}" y2="{y1:.1}"/>"#
        );
    }
    let _ = writeln!(s, "</g>");

    for (from, to) in l.axis.breaks() {
        let (xa, xb) = (l.x(from), l.x(to));
        let _ = writeln!(
            s,
            r##"<rect class="axis-break" x="{xa:.1}" y="{y0:.1}" width="{w:.1}" height="{plot_h:.1}" fill="#f6f6f6" opacity="0.8"><title>{tip}</title></rect>"##,
            w = xb - xa,
            tip = xml_escape(&break_note((from, to))),
        );
    }
}

/// The time axis under the plot: ticks, labels that do not crowd, the unit,
/// and the axis break drawn as a cut in the line.
pub(super) fn draw_axis(s: &mut String, l: &Layout, ticks: &[f64]) {
    let (x0, x1, axis_y) = (l.x0, l.x1, l.axis_y);
    let _ = writeln!(s, r#"<g class="axis">"#);
    let _ = writeln!(
        s,
        r#"<line x1="{x0:.1}" y1="{axis_y:.1}" x2="{x1:.1}" y2="{axis_y:.1}" stroke="{C_TEXT}"/>"#
    );
    let mut label_end = f64::NEG_INFINITY;
    for &t in ticks {
        let xt = l.x(t);
        let text = tick_label(t);
        let w = text.chars().count() as f64 * CW11;
        let _ = writeln!(
            s,
            r#"<line x1="{xt:.1}" y1="{axis_y:.1}" x2="{xt:.1}" y2="{:.1}" stroke="{C_TEXT}"/>"#,
            axis_y + 5.0
        );
        if xt - w / 2.0 < label_end + CW11 {
            continue;
        }
        label_end = xt + w / 2.0;
        let _ = writeln!(
            s,
            r#"<text class="tick" x="{xt:.1}" y="{:.1}" font-size="11" text-anchor="middle">{text}</text>"#,
            axis_y + 18.0
        );
    }
    // Left of the plot, under the names: clear of every tick and break label.
    let _ = writeln!(
        s,
        r#"<text class="unit" x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{C_MUTED}">ms since start</text>"#,
        x0 - 14.0,
        axis_y + 18.0
    );
    let mut label_end = f64::NEG_INFINITY;
    for (from, to) in l.axis.breaks() {
        let (xa, xb) = (l.x(from), l.x(to));
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
        let text = format!("≈ {}", ms(to - from));
        let w = text.chars().count() as f64 * CW11;
        if w > x1 - x0 {
            continue;
        }
        let mid = ((xa + xb) / 2.0).clamp(x0 + w / 2.0, x1 - w / 2.0);
        if mid - w / 2.0 < label_end + CW11 {
            continue;
        }
        label_end = mid + w / 2.0;
        let _ = writeln!(
            s,
            r#"<text class="break-label" x="{mid:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="{C_MUTED}">{}<title>{}</title></text>"#,
            axis_y + 32.0,
            xml_escape(&text),
            xml_escape(&break_note((from, to))),
        );
    }
    let _ = writeln!(s, "</g>");
}
