//! Tests of the SVG picture, read back with an XML parser: its rows and
//! bars, the flagged components, and where phases, bars and labels sit.

use super::*;
use crate::timeline::svg::{C_KILLED, C_STOPPING, CW};

#[test]
fn svg_parses_with_one_bar_per_started_component() {
    let r = fixture();
    let svg = render_svg(&r);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let groups: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && class_is(n, "component"))
        .collect();
    assert_eq!(groups.len(), r.components.len());
    let mut bars: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && class_is(n, "bar"))
        .map(|n| n.attribute("data-name").expect("bar names its component"))
        .collect();
    bars.sort_unstable();
    assert_eq!(bars, ["cache", "postgres", "web<&>\"x'", "workers"]);
    // Each bar has its segments.
    for g in doc
        .descendants()
        .filter(|n| n.has_tag_name("g") && class_is(n, "bar"))
    {
        let classes: Vec<&str> = g
            .children()
            .filter(|c| c.has_tag_name("rect"))
            .filter_map(|c| c.attribute("class"))
            .collect();
        assert!(classes.contains(&"starting") && classes.contains(&"running"));
        if g.attribute("data-name") != Some("cache") {
            assert!(
                classes.iter().any(|c| c.starts_with("stopping")),
                "{classes:?}"
            );
        }
    }
    // Names are escaped in the source and intact once parsed.
    assert!(!svg.contains("web<&>"));
    assert!(svg.contains("web&lt;&amp;&gt;&quot;x&apos;"));
    assert!(
        doc.descendants()
            .any(|n| class_is(&n, "name") && n.text() == Some(WEB))
    );
    // A title line with the essentials, and a legend.
    let title = doc
        .descendants()
        .find(|n| n.has_tag_name("text") && n.attribute("font-weight") == Some("bold"))
        .and_then(|n| n.text())
        .expect("title");
    for needle in ["SIGTERM", "phased", "exit 3", "shutdown 3700 ms"] {
        assert!(title.contains(needle), "`{needle}` in `{title}`");
    }
    let legend: Vec<&str> = doc
        .descendants()
        .filter(|n| class_is(n, "legend"))
        .flat_map(|g| g.descendants().filter(|n| n.has_tag_name("text")))
        .filter_map(|n| n.text())
        .collect();
    for item in [
        "starting",
        "running",
        "stopping",
        "kill sent",
        "restart",
        "stopped on request",
        "failed",
        "stop signal",
        "stop timeout deadline",
        "phase cap deadline",
        "global budget deadline",
    ] {
        assert!(legend.contains(&item), "{item} in the legend {legend:?}");
    }
}

#[test]
fn svg_flags_the_timed_out_in_red_with_the_reason() {
    let svg = render_svg(&fixture());
    let doc = roxmltree::Document::parse(&svg).expect("parses");
    let group = |name: &str| {
        doc.descendants()
            .find(|n| class_is(n, "component") && n.attribute("data-name") == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    let note = |g: roxmltree::Node| {
        g.descendants()
            .find(|n| class_is(n, "note"))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_string()
    };
    let w = group("workers");
    assert!(class_is(&w, "flagged"));
    assert_eq!(note(w), "timed out, killed by phase_timeout");
    let stop = w
        .descendants()
        .find(|n| class_is(n, "stopping"))
        .expect("stopping bar");
    assert!(class_is(&stop, "killed"));
    assert_eq!(stop.attribute("fill"), Some(C_KILLED));
    assert!(w.descendants().any(|n| class_is(&n, "kill")));
    let name = w.descendants().find(|n| class_is(n, "name")).expect("name");
    assert_eq!(name.attribute("fill"), Some(C_KILLED));
    let c = group("cache");
    assert!(class_is(&c, "flagged"));
    assert_eq!(note(c), "forced by shutdown_timeout");
    let pg = group("postgres");
    assert!(!class_is(&pg, "flagged"));
    assert_eq!(note(pg), "stopped in 200 ms");
    assert_eq!(
        pg.descendants()
            .find(|n| class_is(n, "stopping"))
            .and_then(|n| n.attribute("fill")),
        Some(C_STOPPING)
    );
}

#[test]
fn svg_phases_and_bars_sit_on_the_axis() {
    let svg = render_svg(&fixture());
    let doc = roxmltree::Document::parse(&svg).expect("parses");
    let f = |n: roxmltree::Node, a: &str| -> f64 {
        n.attribute(a).expect(a).parse().expect("a number")
    };
    // Tick label x by value.
    let ticks: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| class_is(n, "axis"))
        .flat_map(|g| g.children().filter(|n| n.has_tag_name("text")))
        .filter_map(|n| Some((n.text()?.parse::<f64>().ok()?, f(n, "x"))))
        .collect();
    assert!(ticks.len() >= 5, "{ticks:?}");
    let (t0, x0) = ticks[0];
    let (t1, x1) = ticks[ticks.len() - 1];
    assert_eq!(t0, 0.0);
    let at = |x: f64| t0 + (x - x0) / (x1 - x0) * (t1 - t0);
    // Bars start at their times.
    let pg_stop = doc
        .descendants()
        .find(|n| {
            class_is(n, "stopping")
                && n.ancestors()
                    .any(|a| a.attribute("data-name") == Some("postgres"))
        })
        .expect("postgres stops");
    assert!((at(f(pg_stop, "x")) - 3920.0).abs() < 2.0);
    assert!((at(f(pg_stop, "x") + f(pg_stop, "width")) - 4120.0).abs() < 2.0);
    // Phase bands span their phases and have labels.
    let bands: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && class_is(n, "phase"))
        .map(|n| (at(f(n, "x")), at(f(n, "x") + f(n, "width"))))
        .collect();
    assert_eq!(bands.len(), 3);
    for (got, want) in bands
        .iter()
        .zip([(1500.0, 1900.0), (1900.0, 3920.0), (3920.0, 5200.0)])
    {
        assert!(
            (got.0 - want.0).abs() < 2.0 && (got.1 - want.1).abs() < 2.0,
            "{got:?}"
        );
    }
    let marks: Vec<&str> = doc
        .descendants()
        .filter(|n| class_is(n, "marks") || class_is(n, "phase-legend"))
        .flat_map(|g| g.descendants().filter(|n| n.has_tag_name("text")))
        .filter_map(|n| n.text())
        .collect();
    for label in [
        "phase 1: 400 ms (limit 5000)",
        "phase 2: 2020 ms (limit 2000), workers timed out",
        "phase 3: 1280 ms (limit 5000)",
        "shutdown: SIGTERM",
        "all ready",
    ] {
        assert!(marks.contains(&label), "{label} in {marks:?}");
    }
    // Each band is numbered from 1 above the rows.
    let numbers: Vec<&str> = doc
        .descendants()
        .filter(|n| class_is(n, "phase-number"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    super::runs::assert_no_label_overlaps(&svg);
    // Labels never overlap: same line (y) means disjoint x ranges.
    let spans: Vec<(f64, f64, f64)> = doc
        .descendants()
        .filter(|n| class_is(n, "marks"))
        .flat_map(|g| g.children().filter(|n| n.has_tag_name("text")))
        .map(|n| {
            let w = n.text().unwrap_or_default().chars().count() as f64 * CW * 11.0 / 12.0;
            (f(n, "y"), f(n, "x"), f(n, "x") + w)
        })
        .collect();
    for (i, a) in spans.iter().enumerate() {
        for b in &spans[i + 1..] {
            assert!(
                a.0 != b.0 || a.2 <= b.1 || b.2 <= a.1,
                "{a:?} overlaps {b:?}"
            );
        }
    }
    // No mark's line runs through a label.
    let lines: Vec<(f64, f64)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("line") && class_is(n, "mark"))
        .map(|n| (f(n, "x1"), f(n, "y1")))
        .collect();
    assert_eq!(lines.len(), 2, "all ready, shutdown (phases are bands)");
    for (x, top) in lines {
        for &(y, a, b) in &spans {
            assert!(
                y < top || x < a || x > b,
                "line at {x} from {top} crosses {a}..{b} at {y}"
            );
        }
    }
}
