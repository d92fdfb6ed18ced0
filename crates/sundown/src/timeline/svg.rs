//! The timeline as a standalone SVG picture ([`render_svg`]): the same rows,
//! bars and axis as the terminal's, with the stop phases as shaded bands,
//! labelled marks above the plot, and a `<title>` tooltip on every element.
//! The palette is shared with the HTML page, which embeds the picture.

mod marks;

use std::fmt::Write as _;

use self::marks::Marks;
use super::{
    Axis, Bars, Segment, break_note, cut, exit_label, exit_text, flagged, killed_by, long_note,
    milestones, ms, name_width, opens_phase, opt_ms, rows, tick_label, trigger_text, xml_escape,
};
use crate::event::Outcome;
use crate::report::{ComponentReport, ShutdownReport};

pub(super) const FONT: &str = "DejaVu Sans Mono, Menlo, Consolas, Liberation Mono, monospace";
/// Character width of the monospace font at 12 px.
pub(super) const CW: f64 = 7.3;
const MARGIN: f64 = 20.0;
const ROW_H: f64 = 24.0;
const BAR_H: f64 = 12.0;
const PLOT_W: f64 = 700.0;
const LABEL_H: f64 = 16.0;

const C_STARTING: &str = "#f0b429";
const C_RUNNING: &str = "#8cc084";
pub(super) const C_STOPPING: &str = "#3f6fb5";
pub(super) const C_KILLED: &str = "#d1352b";
pub(super) const C_TEXT: &str = "#1f2328";
pub(super) const C_MUTED: &str = "#6a737d";

/// How a bar segment is drawn, in the rows and in the legend: its class,
/// fill and height.
fn look(segment: Segment) -> (&'static str, &'static str, f64) {
    match segment {
        Segment::Starting => ("starting", C_STARTING, BAR_H),
        Segment::Running => ("running", C_RUNNING, BAR_H * 0.5),
        Segment::Stopping => ("stopping", C_STOPPING, BAR_H),
        Segment::Killed => ("stopping killed", C_KILLED, BAR_H),
    }
}

/// The SVG note after a row.
fn svg_note(c: &ComponentReport) -> String {
    match c.outcome {
        Outcome::Stopped => format!("stopped in {}", opt_ms(c.stop_ms)),
        Outcome::TimedOutKilled => format!("timed out, killed by {}", killed_by(c)),
        Outcome::Forced => format!("forced by {}", killed_by(c)),
        Outcome::ExitedEarly => format!("exited early ({})", exit_text(c)),
        Outcome::Failed => format!("failed ({})", exit_text(c)),
        Outcome::NeverStarted => "never started".to_string(),
    }
}

/// Where things go, in px: computed once from the whole report, read by
/// every part of the picture.
struct Layout {
    axis: Axis,
    /// Width of the phase tag column.
    tag_w: f64,
    /// Longest name shown, in characters.
    name_chars: usize,
    /// The plot's left and right edges.
    x0: f64,
    x1: f64,
    note_x: f64,
    width: f64,
    /// Top of the mark labels above the plot.
    labels_top: f64,
    /// The plot's top and bottom edges.
    y0: f64,
    y1: f64,
    plot_h: f64,
    axis_y: f64,
    legend_y: f64,
}

impl Layout {
    /// The x of time `t` (ms).
    fn x(&self, t: f64) -> f64 {
        plot_x(&self.axis, self.x0, t)
    }
}

/// The x of time `t` (ms) on a plot whose left edge is at `x0`.
fn plot_x(axis: &Axis, x0: f64, t: f64) -> f64 {
    x0 + axis.frac(t) * PLOT_W
}

/// Draws the report as a standalone SVG picture: a title line (trigger,
/// strategy, exit code, shutdown time) and the milestones; one row per
/// component, grouped by stop phase, with its name and bars for starting,
/// running and stopping on a time axis in ms with tick labels; each stop
/// phase as a shaded band with a label (duration, timeout, whether it timed
/// out); the shutdown's start (and a forced stop) as vertical lines; a ✕
/// where a kill was sent; components killed at a deadline, forced or failed
/// in red with the reason; a legend.
///
/// Each started component's bar is one `<g class="bar">` element. Names
/// and every other text are XML-escaped; every element has a `<title>` for
/// a tooltip.
pub fn render_svg(report: &ShutdownReport) -> String {
    let r = report;
    let rows = rows(r);
    let axis = Axis::new(r);

    let name_chars = name_width(&rows, 32);
    let notes: Vec<String> = rows.iter().map(|c| cut(&svg_note(c), 48)).collect();
    let note_chars = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let tag_w = 4.0 * CW;
    let x0 = MARGIN + tag_w + 8.0 + name_chars as f64 * CW + 14.0;
    let x1 = x0 + PLOT_W;
    let note_x = x1 + 16.0;
    let title = format!(
        "teardown · trigger {} · {} · {} · {}",
        trigger_text(r.trigger.as_ref()),
        r.strategy,
        exit_label(r),
        match r.shutdown_ms() {
            Some(d) => format!("shutdown {} of {} budget", ms(d), ms(r.shutdown_timeout_ms)),
            None => "no shutdown".to_string(),
        }
    );
    let sub = milestones(r)
        .into_iter()
        .map(|(text, _)| text)
        .collect::<Vec<_>>()
        .join(" · ");
    let width = (note_x + note_chars as f64 * CW + MARGIN)
        .max(MARGIN * 2.0 + title.chars().count() as f64 * 8.6)
        .max(MARGIN * 2.0 + sub.chars().count() as f64 * CW)
        .ceil();
    let marks = Marks::new(r, |t| plot_x(&axis, x0, t), width);

    let title_y = MARGIN + 14.0;
    let sub_y = title_y + 20.0;
    let labels_top = sub_y + 14.0;
    let y0 = labels_top + marks.label_lines() as f64 * LABEL_H + 6.0;
    let plot_h = rows.len().max(1) as f64 * ROW_H;
    let y1 = y0 + plot_h;
    let axis_y = y1 + 4.0;
    let legend_y = axis_y + 44.0;
    let height = legend_y + 30.0;
    let l = Layout {
        axis,
        tag_w,
        name_chars,
        x0,
        x1,
        note_x,
        width,
        labels_top,
        y0,
        y1,
        plot_h,
        axis_y,
        legend_y,
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12" fill="{C_TEXT}">"#
    );
    let _ = writeln!(s, "<title>sundown teardown: {}</title>", xml_escape(&title));
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="{title_y}" font-size="14" font-weight="bold">{}</text>"#,
        xml_escape(&title)
    );
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN}" y="{sub_y}" fill="{C_MUTED}">{}</text>"#,
        xml_escape(&sub)
    );
    draw_phase_bands(&mut s, r, &l);
    let ticks = axis.ticks(PLOT_W, CW);
    draw_grid(&mut s, &l, &ticks);
    marks.draw(&mut s, labels_top, y1);
    for (i, (c, note)) in rows.iter().zip(&notes).enumerate() {
        draw_row(&mut s, &l, i, c, note, opens_phase(&rows, i));
    }
    draw_axis(&mut s, &l, &ticks);
    draw_legend(&mut s, &l);
    let _ = writeln!(s, "</svg>");
    s
}

/// The stop phases as shaded bands, behind everything.
fn draw_phase_bands(s: &mut String, r: &ShutdownReport, l: &Layout) {
    let _ = writeln!(s, r#"<g class="phases">"#);
    for p in &r.phases {
        let (Some(a), Some(b)) = (p.started_at, p.ended_at.or(Some(l.axis.end))) else {
            continue;
        };
        let fill = if p.timed_out {
            "#fbe3e1"
        } else if p.index % 2 == 0 {
            "#e8eef8"
        } else {
            "#f1f4f9"
        };
        let (xa, xb) = (l.x(a), l.x(b).max(l.x(a) + 1.0));
        let _ = writeln!(
            s,
            r#"<rect class="phase" x="{xa:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}"><title>{tip}</title></rect>"#,
            top = l.labels_top - 2.0,
            w = xb - xa,
            h = l.y1 - l.labels_top + 2.0,
            tip = xml_escape(&format!(
                "stop phase {}: {} → {}",
                p.index,
                ms(a),
                opt_ms(p.ended_at)
            )),
        );
    }
    let _ = writeln!(s, "</g>");
}

/// Grid lines at the ticks, and the axis break's shading over the plot.
fn draw_grid(s: &mut String, l: &Layout, ticks: &[f64]) {
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

    if let Some((from, to)) = l.axis.gap {
        let (xa, xb) = (l.x(from), l.x(to));
        let _ = writeln!(
            s,
            r##"<rect class="axis-break" x="{xa:.1}" y="{y0:.1}" width="{w:.1}" height="{plot_h:.1}" fill="#f6f6f6" opacity="0.8"><title>{tip}</title></rect>"##,
            w = xb - xa,
            tip = xml_escape(&break_note((from, to))),
        );
    }
}

/// Row `i`, `c`'s: phase tag (`opens` its phase), name, bars and note.
fn draw_row(s: &mut String, l: &Layout, i: usize, c: &ComponentReport, note: &str, opens: bool) {
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

/// The time axis under the plot: ticks, labels that do not crowd, the unit,
/// and the axis break drawn as a cut in the line.
fn draw_axis(s: &mut String, l: &Layout, ticks: &[f64]) {
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
        let w = text.chars().count() as f64 * CW * 11.0 / 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{xt:.1}" y1="{axis_y:.1}" x2="{xt:.1}" y2="{:.1}" stroke="{C_TEXT}"/>"#,
            axis_y + 5.0
        );
        if xt - w / 2.0 < label_end + CW {
            continue;
        }
        label_end = xt + w / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="{xt:.1}" y="{:.1}" font-size="11" text-anchor="middle">{text}</text>"#,
            axis_y + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{x1:.1}" y="{:.1}" font-size="11" text-anchor="end" fill="{C_MUTED}">ms since start</text>"#,
        axis_y + 32.0
    );
    if let Some((from, to)) = l.axis.gap {
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
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle" fill="{C_MUTED}">≈ {}</text>"#,
            (xa + xb) / 2.0,
            axis_y + 30.0,
            xml_escape(&ms(to - from))
        );
    }
    let _ = writeln!(s, "</g>");
}

/// Draws a legend swatch at this x.
type Swatch = Box<dyn Fn(f64) -> String>;

/// The legend, in one line under the axis.
fn draw_legend(s: &mut String, l: &Layout) {
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
