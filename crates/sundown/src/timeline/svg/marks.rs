//! The labelled vertical lines of the SVG picture: when everything was
//! ready, when the shutdown began and when it was forced (each stop phase
//! is a band, numbered, with its words in the legend). Their labels sit
//! above the plot, staggered over as many text lines as it takes for no
//! label to overlap another or be crossed by a line.

use std::fmt::Write as _;

use super::{C_KILLED, C_MUTED, C_TEXT, CW11, LABEL_H, MARGIN};
use crate::report::ShutdownReport;
use crate::timeline::{cut, ms, trigger_text, xml_escape};

/// The most text lines the labels take: past it, a label goes on the last
/// line even if it overlaps another there (only a report with dozens of
/// phases starting together gets that far), so that laying out a report
/// with thousands of phases stays linear.
const MAX_LABEL_LINES: usize = 24;

/// One vertical line and its label.
struct Mark {
    x: f64,
    text: String,
    color: &'static str,
    tip: String,
    /// Stroke colour, dash pattern and width of its vertical line.
    line: (&'static str, &'static str, f64),
}

/// The marks of a report, laid out.
pub(super) struct Marks {
    /// Left to right.
    marks: Vec<Mark>,
    /// `(label x, text line)` per mark, from [`stagger`].
    placed: Vec<(f64, usize)>,
}

impl Marks {
    /// The marks of `r`, each at `x(time)`, for a picture `width` wide.
    pub(super) fn new(r: &ShutdownReport, x: impl Fn(f64) -> f64, width: f64) -> Marks {
        let mut marks: Vec<Mark> = Vec::new();
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
            CW11,
            width - MARGIN,
        );
        Marks { marks, placed }
    }

    /// How many text lines the labels take.
    pub(super) fn label_lines(&self) -> usize {
        self.placed.iter().map(|(_, l)| l + 1).max().unwrap_or(0)
    }

    /// Writes the lines and the labels: the labels' text lines start at
    /// `labels_top`, the lines end at `bottom`.
    pub(super) fn draw(&self, s: &mut String, labels_top: f64, bottom: f64) {
        // Each mark's line runs from its label down through the rows, so it
        // never crosses another label.
        for (m, (_, line)) in self.marks.iter().zip(&self.placed) {
            let (stroke, dash, w) = m.line;
            let _ = writeln!(
                s,
                r#"<line class="mark" x1="{x:.1}" y1="{top:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="{stroke}" stroke-width="{w}" stroke-dasharray="{dash}"/>"#,
                x = m.x,
                top = labels_top + *line as f64 * LABEL_H,
            );
        }

        // Labels above the plot.
        let _ = writeln!(s, r#"<g class="marks" font-size="11">"#);
        for (m, (lx, line)) in self.marks.iter().zip(&self.placed) {
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
    }
}

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
                .map_or(0, |k| k + 1)
                .min(MAX_LABEL_LINES - 1);
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
