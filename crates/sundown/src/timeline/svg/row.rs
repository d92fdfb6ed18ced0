//! One component's row of the SVG picture: its phase tag, its name (with
//! a tooltip of its kind and dependencies), the bars of each of its runs
//! with their kill marks, the row's other marks (`ticks`), and the note
//! after it.

use std::fmt::Write as _;

use super::ticks::draw_ticks;
use super::{BAR_H, C_KILLED, C_MUTED, C_TEXT, Layout, MARGIN, MIN_STOP_W, ROW_H, look};
use crate::report::{ComponentReport, ShutdownReport};
use crate::timeline::{
    Bars, Moments, Segment, cut, flagged, killed_by, long_note, ms, phase_name, xml_escape,
};

/// Row `i`, `c`'s: phase tag (`opens` its phase), name, bars and note.
pub(super) fn draw_row(
    s: &mut String,
    r: &ShutdownReport,
    l: &Layout,
    i: usize,
    c: &ComponentReport,
    note: &str,
    opens: bool,
) {
    let top = l.y0 + i as f64 * ROW_H;
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
            w = l.width - 2.0 * MARGIN,
        );
    }
    if opens {
        if i > 0 {
            let _ = writeln!(
                s,
                r##"<line x1="{MARGIN}" y1="{top:.1}" x2="{x1:.1}" y2="{top:.1}" stroke="#c9d1dc"/>"##,
                x1 = l.x1,
            );
        }
        let _ = writeln!(
            s,
            r#"<text class="tag" x="{MARGIN}" y="{ty:.1}" fill="{C_MUTED}">{}</text>"#,
            cut(&phase_name(c.phase), l.tag_chars),
            ty = mid + 4.0
        );
    }
    let name_color = if flag { C_KILLED } else { C_TEXT };
    let _ = writeln!(
        s,
        r#"<text class="name" x="{nx:.1}" y="{ty:.1}" fill="{name_color}"{bold}>{}<title>{}</title></text>"#,
        xml_escape(&cut(&c.name, l.name_chars)),
        xml_escape(&format!(
            "{} ({}), stop {}, depends on: {}",
            c.name,
            c.kind,
            phase_name(c.phase),
            if c.depends_on.is_empty() {
                "nothing".to_string()
            } else {
                c.depends_on.join(", ")
            }
        )),
        nx = MARGIN + l.tag_w + 8.0,
        ty = mid + 4.0,
        bold = if flag { r#" font-weight="bold""# } else { "" },
    );
    let runs = Bars::runs(c, l.axis.end);
    if !runs.is_empty() {
        let _ = writeln!(s, r#"<g class="bar" data-name="{}">"#, xml_escape(&c.name));
        let last = runs.len() - 1;
        for (k, bars) in runs.iter().enumerate() {
            // Only the last run's stop is the component's outcome.
            let why = (k == last).then(|| killed_by(c));
            draw_run(s, l, c, bars, k, (flag && k == last, why), mid);
        }
        let _ = writeln!(s, "</g>");
    }
    draw_ticks(s, l, c, &Moments::of(r, c), top);
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
        note_x = l.note_x,
        ty = mid + 4.0,
    );
    let _ = writeln!(s, "</g>");
}

/// Run `k` of `c`: its segments (each `data-run="k"`) and its kill mark.
fn draw_run(
    s: &mut String,
    l: &Layout,
    c: &ComponentReport,
    bars: &Bars,
    k: usize,
    (flag, why): (bool, Option<&str>),
    mid: f64,
) {
    for (segment, (a, b)) in bars.segments(flag) {
        if b < a {
            continue;
        }
        let (class, fill, h) = look(segment);
        let (xa, xb) = (l.x(a), l.x(b));
        let min_w = match segment {
            Segment::Stopping | Segment::Killed => MIN_STOP_W,
            Segment::Starting | Segment::Running => 2.0,
        };
        let _ = writeln!(
            s,
            r#"<rect class="{class}" data-run="{k}" x="{xa:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{}</title></rect>"#,
            xml_escape(&format!(
                "{}: run {}: {} {} → {} ({})",
                c.name,
                k + 1,
                segment.doing(),
                ms(a),
                ms(b),
                ms(b - a)
            )),
            y = mid - h / 2.0,
            w = (xb - xa).max(min_w),
        );
    }
    if let Some(kill) = bars.kill {
        let kx = l.x(kill);
        let d = BAR_H / 2.0 + 2.0;
        let why = why.map_or_else(String::new, |w| format!(" ({w})"));
        let _ = writeln!(
            s,
            r##"<g class="kill" stroke="#7a0d07" stroke-width="2.5"><title>{}</title><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/></g>"##,
            xml_escape(&format!("{}: kill sent at {}{why}", c.name, ms(kill))),
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
}
