//! The legend of the SVG picture: a swatch and a few words for each kind
//! of bar segment, the kill mark, the stop phase band and the shutdown
//! line, in one line under the axis.

use std::fmt::Write as _;

use super::{C_TEXT, CW, Layout, MARGIN, look};
use crate::timeline::{Segment, xml_escape};

/// Draws a legend swatch at this x.
type Swatch = Box<dyn Fn(f64) -> String>;

/// The legend, in one line under the axis.
pub(super) fn draw_legend(s: &mut String, l: &Layout) {
    let _ = writeln!(s, r#"<g class="legend" font-size="11">"#);
    let ly = l.legend_y;
    let bar = |fill: &'static str, h: f64| {
        move |lx: f64| {
            format!(
                r#"<rect x="{lx:.1}" y="{:.1}" width="16" height="{h:.1}" fill="{fill}"/>"#,
                ly - h / 2.0
            )
        }
    };
    let mut swatches: Vec<(Swatch, &str)> = Segment::ALL
        .into_iter()
        .map(|segment| {
            let (_, fill, h) = look(segment);
            (Box::new(bar(fill, h)) as Swatch, segment.legend())
        })
        .collect();
    swatches.extend([
        (
            Box::new(move |lx: f64| {
                format!(
                    r##"<g stroke="#7a0d07" stroke-width="2.5"><line x1="{a:.1}" y1="{b:.1}" x2="{c:.1}" y2="{d:.1}"/><line x1="{a:.1}" y1="{d:.1}" x2="{c:.1}" y2="{b:.1}"/></g>"##,
                    a = lx + 3.0,
                    b = ly - 5.0,
                    c = lx + 13.0,
                    d = ly + 5.0
                )
            }) as Swatch,
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
    ]);
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
}
