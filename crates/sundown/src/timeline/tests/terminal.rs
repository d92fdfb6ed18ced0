//! Tests of the terminal timeline: rows, header, tables, notes, the axis,
//! widths and colours.

use super::*;
use crate::timeline::terminal::{
    GLYPH_KILL, GLYPH_PHASE, GLYPH_RUNNING, GLYPH_STARTING, GLYPH_STOPPING, cell,
};

pub(super) fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn terminal_has_one_row_per_component_grouped_by_phase() {
    let r = fixture();
    let text = render_terminal(&r, 100, false);
    let rows = chart_rows(&text);
    assert_eq!(rows.len(), r.components.len(), "{text}");
    let order: Vec<usize> = [WEB, "metrics", "workers", "postgres", "cache"]
        .iter()
        .map(|n| {
            rows.iter()
                .position(|l| l.contains(&format!("{n} ")))
                .unwrap_or_else(|| panic!("{n} has a row:\n{text}"))
        })
        .collect();
    assert_eq!(
        order,
        vec![0, 1, 2, 3, 4],
        "phase, then start time:\n{text}"
    );
    // A line naming each stop phase, counted from 1, leads its rows.
    let lines: Vec<&str> = text.lines().collect();
    let above = |row: &str| {
        let i = lines.iter().position(|l| *l == row).expect("the row");
        lines[i - 1]
    };
    assert_eq!(above(rows[0]), "phase 1", "{text}");
    assert_eq!(above(rows[1]), rows[0]);
    assert_eq!(above(rows[2]), "phase 2");
    assert_eq!(above(rows[3]), "phase 3");
    assert!(row_of(&text, "metrics").contains("never started"));
    assert!(row_of(&text, "postgres").contains("stopped 200 ms"));
    // Glyphs: postgres started, ran and stopped, in that order.
    let pg = row_of(&text, "postgres");
    let (s, run, stop) = (
        pg.find(GLYPH_STARTING).expect("starting"),
        pg.find(GLYPH_RUNNING).expect("running"),
        pg.find(GLYPH_STOPPING).expect("stopping"),
    );
    assert!(s < run && run < stop, "{pg}");
}

#[test]
fn terminal_header_and_phase_table() {
    let text = render_terminal(&fixture(), 100, false);
    for needle in [
        "trigger SIGTERM",
        "strategy phased",
        "exit 3 (stopped by force)",
        "shutdown took 3700 ms of 4000 ms budget",
        "all ready at 420 ms",
        "shutdown began at 1500 ms",
    ] {
        assert!(text.contains(needle), "`{needle}` in:\n{text}");
    }
    let marks = text
        .lines()
        .find(|l| l.starts_with("phases"))
        .expect("phase marks line");
    let p: Vec<usize> = ["1", "2", "3"]
        .iter()
        .map(|m| marks.find(m).expect("each phase marked"))
        .collect();
    assert!(p[0] < p[1] && p[1] < p[2], "{marks}");
    // The phase boundary continues down as ┊ where the rows are blank.
    assert!(row_of(&text, "metrics").contains(GLYPH_PHASE));

    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !(l.starts_with("phase ") && l.contains(" timeout ")))
        .take(4)
        .collect();
    assert_eq!(table.len(), 4, "{text}");
    let cols = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(
        cols(table[1]),
        [
            "phase", "1", "5000", "ms", "400", "ms", "no", WEB, "metrics"
        ]
        .map(|s| if s == WEB {
            format!("{WEB},")
        } else {
            s.to_string()
        })
    );
    assert_eq!(
        cols(table[2]),
        ["phase", "2", "2000", "ms", "2020", "ms", "YES", "workers"].map(String::from)
    );
    assert!(table[3].starts_with("phase 3 ") && table[3].ends_with("cache, postgres"));
}

#[test]
fn terminal_flags_the_killed_with_their_reason() {
    let text = render_terminal(&fixture(), 100, false);
    let workers = row_of(&text, "workers");
    assert!(workers.contains("!workers"), "{workers}");
    assert!(workers.contains("killed: phase_timeout"), "{workers}");
    assert!(workers.contains(GLYPH_KILL), "{workers}");
    assert!(workers.contains(GLYPH_KILLED), "{workers}");
    assert!(!workers.contains(GLYPH_STOPPING), "{workers}");
    let cache = row_of(&text, "cache");
    assert!(cache.contains("!cache") && cache.contains("forced: shutdown_timeout"));
    assert!(cache.contains(GLYPH_KILL), "{cache}");
    for fine in ["postgres", "metrics", WEB] {
        assert!(!row_of(&text, fine).contains('!'), "{fine} is not flagged");
    }
    assert!(
        text.contains(
            "! workers: timed out: asked to stop at 1900 ms, killed by phase_timeout at 3900 ms"
        ),
        "{text}"
    );
    assert!(
        text.contains("! cache: forced: killed by shutdown_timeout at 5190 ms"),
        "{text}"
    );
    assert!(text.contains("legend:"));
}

#[test]
fn kill_marker_and_ticks_line_up_with_the_axis() {
    let text = render_terminal(&fixture(), 100, false);
    let chars = |l: &str| l.chars().collect::<Vec<char>>();
    let ruler = chars(text.lines().find(|l| l.contains('└')).expect("ruler"));
    let origin = ruler.iter().position(|&c| c == '└').expect("corner") + 1;
    let right = ruler.iter().position(|&c| c == '┘').expect("corner");
    let n = right - origin;
    let labels = chars(
        text.lines()
            .skip_while(|l| !l.contains('└'))
            .nth(1)
            .expect("labels"),
    );
    // Every tick label sits on a ┬, and says the time of that column.
    let mut seen = 0;
    let mut i = 0;
    while i < labels.len() {
        if labels[i].is_ascii_digit() {
            let j = (i..labels.len())
                .find(|&j| !labels[j].is_ascii_digit())
                .unwrap_or(labels.len());
            let t: f64 = labels[i..j].iter().collect::<String>().parse().unwrap();
            let col = (i..j).find(|&c| ruler[c] == '┬').expect("label on a tick");
            assert_eq!(col - origin, cell(t / 5200.0, n), "tick {t}");
            seen += 1;
            i = j;
        } else {
            i += 1;
        }
    }
    assert!(seen >= 5, "{seen} tick labels:\n{text}");
    assert!(labels.iter().collect::<String>().trim_end().ends_with("ms"));
    // The workers kill at 3900 ms is drawn in that column.
    let row = chars(row_of(&text, "workers"));
    let kill = row.iter().position(|&c| c == GLYPH_KILL).expect("kill");
    assert_eq!(kill - origin, cell(3900.0 / 5200.0, n));
    // Bars begin at their start: postgres at 0.1 ms, in the first column.
    assert_eq!(chars(row_of(&text, "postgres"))[origin], GLYPH_STARTING);
}

#[test]
fn no_line_is_wider_than_asked_with_or_without_colour() {
    for (what, r) in [
        ("fixture", fixture()),
        ("long run", long_run()),
        ("eager", eager()),
        ("empty", empty()),
    ] {
        for width in [1, 10, 20, 30, 40, 60, 80, 100, 132, 200] {
            let plain = render_terminal(&r, width, false);
            assert!(!plain.contains('\u{1b}'), "no escapes without colour");
            for line in plain.lines() {
                assert!(
                    line.chars().count() <= width,
                    "{what} at {width}: {} chars: `{line}`",
                    line.chars().count()
                );
            }
            let colored = render_terminal(&r, width, true);
            assert_eq!(strip_ansi(&colored), plain, "{what} at {width}");
        }
    }
    // And 80 columns keep every row, the whole axis and the notes.
    let text = render_terminal(&fixture(), 80, false);
    assert_eq!(chart_rows(&text).len(), 5);
    assert!(row_of(&text, "workers").ends_with("killed: phase_timeout"));
    assert!(text.contains("5000 ms"), "{text}");
}

#[test]
fn colour_marks_the_flagged_in_red() {
    let text = render_terminal(&fixture(), 100, true);
    let workers = text
        .lines()
        .find(|l| l.contains("workers") && l.contains('│'))
        .expect("workers row");
    assert!(workers.contains("\x1b[1;31m!workers"), "{workers:?}");
    assert!(
        workers.contains("\x1b[1;31mkilled: phase_timeout"),
        "{workers:?}"
    );
    assert!(
        workers.contains(&format!("\x1b[31m{GLYPH_KILLED}")),
        "{workers:?}"
    );
    let pg = text
        .lines()
        .find(|l| l.contains("postgres") && l.contains('│'))
        .expect("postgres row");
    assert!(
        !pg.contains("\x1b[1;31m") && !pg.contains("\x1b[31m"),
        "{pg:?}"
    );
    assert!(pg.contains(&format!("\x1b[34m{GLYPH_STOPPING}")), "{pg:?}");
}
