//! One component's row of the SVG picture: its phase tag, its name (with
//! a tooltip of its kind and dependencies), its bars and kill mark, and the
//! note after it.

use std::fmt::Write as _;

use super::{BAR_H, C_KILLED, C_MUTED, C_TEXT, Layout, MARGIN, ROW_H, look};
use crate::report::ComponentReport;
use crate::timeline::{Bars, cut, flagged, killed_by, long_note, ms, xml_escape};

/// Row `i`, `c`'s: phase tag (`opens` its phase), name, bars and note.
pub(super) fn draw_row(
    s: &mut String,
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
            r#"<text x="{MARGIN}" y="{ty:.1}" fill="{C_MUTED}">P{}</text>"#,
            c.phase,
            ty = mid + 4.0
        );
    }
    let name_color = if flag { C_KILLED } else { C_TEXT };
    let _ = writeln!(
        s,
        r#"<text class="name" x="{nx:.1}" y="{ty:.1}" fill="{name_color}"{bold}>{}<title>{}</title></text>"#,
        xml_escape(&cut(&c.name, l.name_chars)),
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
        nx = MARGIN + l.tag_w + 8.0,
        ty = mid + 4.0,
        bold = if flag { r#" font-weight="bold""# } else { "" },
    );
    if let Some(bars) = Bars::of(c, l.axis.end) {
        let _ = writeln!(s, r#"<g class="bar" data-name="{}">"#, xml_escape(&c.name));
        for (segment, (a, b)) in bars.segments(flag) {
            if b < a {
                continue;
            }
            let (class, fill, h) = look(segment);
            let (xa, xb) = (l.x(a), l.x(b));
            let _ = writeln!(
                s,
                r#"<rect class="{class}" x="{xa:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{}</title></rect>"#,
                xml_escape(&format!(
                    "{}: {} {} → {} ({})",
                    c.name,
                    segment.doing(),
                    ms(a),
                    ms(b),
                    ms(b - a)
                )),
                y = mid - h / 2.0,
                w = (xb - xa).max(2.0),
            );
        }
        if let Some(k) = bars.kill {
            let kx = l.x(k);
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
        note_x = l.note_x,
        ty = mid + 4.0,
    );
    let _ = writeln!(s, "</g>");
}
