//! Reports no real run writes — a giant phase index, absurd, negative or
//! out-of-order times, a giant width — must still render, in bounded time
//! and size, and never panic: `sundown report` reads any file it is given.

use std::sync::mpsc;
use std::time::Duration;

use super::terminal::strip_ansi;
use super::*;
use crate::timeline::terminal::MAX_WIDTH;

/// More output than any report here may produce.
pub(super) const MAX_OUTPUT: usize = 1 << 20;

/// The result of `f`, run on a thread, if it finished within `secs`: a test
/// failure (not a hung test) if it did not, its panic if it panicked.
pub(super) fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {secs} s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("the worker ended without a result"),
        },
    }
}

/// Renders `r` every way (the terminal at `width`, plain and coloured; the
/// SVG; the HTML page) within 20 s, and checks that each output is under
/// [`MAX_OUTPUT`], that no terminal line is wider than asked (or than
/// [`MAX_WIDTH`]), that colour changes nothing but colour, and that the SVG
/// and the page are well-formed XML. Returns the plain terminal text, the
/// SVG and the page.
pub(super) fn renders_bounded(r: &ShutdownReport, width: usize) -> (String, String, String) {
    let r = r.clone();
    let (plain, colored, svg, html) = within(20, move || {
        (
            render_terminal(&r, width, false),
            render_terminal(&r, width, true),
            render_svg(&r),
            render_html(&r),
        )
    });
    for (what, out) in [
        ("terminal", &plain),
        ("coloured terminal", &colored),
        ("SVG", &svg),
        ("HTML", &html),
    ] {
        assert!(out.len() < MAX_OUTPUT, "{what}: {} bytes", out.len());
    }
    let limit = width.min(MAX_WIDTH);
    for line in plain.lines() {
        let n = line.chars().count();
        assert!(n <= limit, "{n} chars at width {width}: `{line}`");
    }
    assert_eq!(strip_ansi(&colored), plain, "at width {width}");
    if let Err(e) = roxmltree::Document::parse(&svg) {
        panic!("the SVG does not parse: {e}\n{svg}");
    }
    parse_html(&html);
    (plain, svg, html)
}

const GIANT: usize = 1_000_000_000_000_000_000;

#[test]
fn a_giant_phase_index_is_cut_to_the_row() {
    let mut r = fixture();
    r.phases[0].index = GIANT;
    r.phases[1].index = usize::MAX;
    for c in &mut r.components {
        if c.phase == 2 {
            c.phase = GIANT;
        }
    }
    for width in [1, 20, 30, 40, 60, 80, 132, 200] {
        renders_bounded(&r, width);
    }
    // At 40 columns the bars get 10 cells: `1000000000000000001` is cut
    // to them (and the other labels find no room).
    let (text, _, _) = renders_bounded(&r, 40);
    let marks = text
        .lines()
        .find(|l| l.starts_with("phases"))
        .unwrap_or_else(|| panic!("a phase marks line in:\n{text}"));
    assert!(
        marks.ends_with('…') && marks.contains(" 10000000"),
        "{marks}"
    );
    // The tables and the picture keep the whole number (counted from 1,
    // saturating at the largest).
    let (text, svg, html) = renders_bounded(&r, 60);
    assert!(text.contains("phase 1000000000000000001 "), "{text}");
    assert!(svg.contains("phase 1000000000000000001"));
    assert!(html.contains(&format!("<td>phase {}</td>", usize::MAX)));
}

/// The fixture with `ended_at` at 1e30 ms and times before the start and
/// out of order, as `sundown report` would read them from a file.
fn absurd() -> ShutdownReport {
    let mut v: serde_json::Value =
        serde_json::from_str(&fixture().to_json()).expect("the fixture's JSON");
    v["ended_at"] = 1e30.into();
    v["all_ready_at"] = (-5.0).into();
    v["shutdown_started_at"] = (-1e30).into();
    v["forced_at"] = 1e300.into();
    v["phases"][1]["started_at"] = (-300.0).into();
    v["phases"][1]["ended_at"] = (-1e20).into();
    v["phases"][2]["timeout_ms"] = f64::MAX.into();
    for c in v["components"].as_array_mut().expect("components") {
        match c["name"].as_str() {
            // Down before asked to stop, killed before it started.
            Some("workers") => {
                c["stop_requested"] = 3000.0.into();
                c["stopped_at"] = 100.0.into();
                c["killed_at"] = (-7.0).into();
            }
            Some("cache") => {
                c["start_requested"] = (-1e30).into();
                c["ready_at"] = 1e30.into();
                c["stop_ms"] = (-1e30).into();
            }
            Some("postgres") => c["start_requested"] = f64::MAX.into(),
            _ => {}
        }
    }
    ShutdownReport::from_json(&v.to_string()).expect("huge and negative times parse")
}

#[test]
fn absurd_spans_and_times_render_in_bounded_time_and_size() {
    // serde_json refuses what is not a finite number, so those never reach
    // a renderer from a file.
    let json = fixture().to_json();
    for bad in ["NaN", "Infinity", "-Infinity", "1e400"] {
        let text = json.replace("\"ended_at\": 5200.0", &format!("\"ended_at\": {bad}"));
        assert!(ShutdownReport::from_json(&text).is_err(), "{bad} parses");
    }
    // Only `ended_at` absurd: the case that once looped for ever.
    let mut r = fixture();
    r.ended_at = 1e30;
    for width in [20, 80, 200, 300_000_000] {
        renders_bounded(&r, width);
    }
    let r = absurd();
    assert_eq!(r.ended_at, 1e30);
    for width in [1, 20, 80, 200, 300_000_000] {
        renders_bounded(&r, width);
    }
    let (text, _, _) = renders_bounded(&r, 100);
    assert!(text.contains("last down at 1000000000000000019884624838656 ms"));
    assert_eq!(chart_rows(&text).len(), r.components.len(), "{text}");
}

#[test]
fn ticks_stay_few_however_long_the_span() {
    let mut r = fixture();
    let check = |r: &ShutdownReport| {
        let axis = Axis::new(r);
        for (length, char_w) in [(10.0, 1.0), (1000.0, 1.0), (700.0, 7.3), (1e6, 0.01)] {
            let ticks = axis.ticks(length, char_w);
            assert!(
                !ticks.is_empty() && ticks.len() <= MAX_TICKS,
                "{} ticks for {axis:?}",
                ticks.len()
            );
            assert!(ticks.windows(2).all(|w| w[0] < w[1]), "{ticks:?}");
            assert!(ticks.iter().all(|&t| (0.0..=axis.end).contains(&t)));
        }
    };
    check(&r);
    check(&long_run());
    for end in [1e12, 1e30, 1e300, f64::MAX] {
        r.ended_at = end;
        check(&r);
    }
    // A break whose far side is 1e30 ms from the start.
    r.all_ready_at = Some(100.0);
    r.shutdown_started_at = Some(1e30);
    r.ended_at = 1e30 + 1e16;
    assert!(!Axis::new(&r).breaks().is_empty());
    check(&r);
    // The usual spans keep their ticks.
    let ticks = Axis::new(&fixture()).ticks(700.0, 7.3);
    assert_eq!(ticks.first(), Some(&0.0));
    assert!(ticks.windows(2).all(|w| w[1] - w[0] >= 200.0), "{ticks:?}");
}

#[test]
fn a_giant_width_is_clamped() {
    for width in [300_000_000, usize::MAX] {
        let (text, _, _) = renders_bounded(&fixture(), width);
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0);
        assert!(widest <= MAX_WIDTH, "{widest}");
        assert!(widest > MAX_WIDTH - 20, "uses the width: {widest}");
    }
    assert_eq!(
        render_terminal(&fixture(), 300_000_000, true),
        render_terminal(&fixture(), MAX_WIDTH, true)
    );
}

#[test]
fn huge_names_and_many_phases_stay_linear() {
    let mut r = fixture();
    let long = "n".repeat(50_000);
    r.components[0].name = long.clone();
    r.components[0].error = Some("e ".repeat(50));
    r.components[0].outcome = Outcome::Failed;
    let (text, _, _) = renders_bounded(&r, 80);
    assert!(text.len() < 64 * 1024, "{} bytes", text.len());

    // Thousands of phases starting together, naming every component.
    let mut r = fixture();
    let members: Vec<String> = (0..3000).map(|i| format!("c{i}")).collect();
    r.components = (0..3000)
        .map(|i| {
            let mut c = r.components[4].clone();
            c.name = format!("c{i}");
            c.phase = i;
            c
        })
        .collect();
    r.phases = (0..3000)
        .map(|i| {
            let mut p = r.phases[1].clone();
            p.index = i;
            p.members = if i == 0 { members.clone() } else { Vec::new() };
            p
        })
        .collect();
    let r2 = r.clone();
    within(20, move || {
        assert!(render_terminal(&r2, 100, false).len() < 4 * MAX_OUTPUT);
        assert!(render_html(&r2).len() < 16 * MAX_OUTPUT);
    });
}

#[test]
fn control_characters_in_names_cannot_drive_the_terminal() {
    let mut r = fixture();
    r.components[0].name = "evil\u{1b}[2J\nrow\u{7}".to_string();
    r.components[0].error = Some("\u{1b}]0;title\u{7}".to_string());
    r.components[0].outcome = Outcome::Failed;
    let (text, _, _) = renders_bounded(&r, 100);
    assert!(!text.contains(['\u{1b}', '\u{7}']), "{text}");
    assert!(
        text.contains("!evil\u{fffd}[2J\u{fffd}row\u{fffd}"),
        "{text}"
    );
    assert_eq!(chart_rows(&text).len(), r.components.len(), "{text}");
}

#[test]
fn cut_never_grows_a_string() {
    assert_eq!(cut("abc", 0), "");
    assert_eq!(cut("abc", 1), "…");
    assert_eq!(cut("abc", 2), "a…");
    assert_eq!(cut("abc", 3), "abc");
    assert_eq!(xml_escape("\u{fffe}\u{ffff}"), "\u{fffd}\u{fffd}");
}
