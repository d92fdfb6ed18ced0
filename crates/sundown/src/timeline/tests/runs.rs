//! Reports of real runs of the library on tokio's paused clock, with what
//! the picture used to draw wrong: restarts (a crash and one by request),
//! a stop on request, a component added by a reload, a timeout kill and a
//! second signal; and a run with a long start-up before a long steady
//! stretch. The SVG is checked structurally: every run its own bar where
//! it happened, the marks with their reasons, the deadlines and stop steps,
//! the phase legend, and no two text labels overlapping.

use std::time::Duration;

use super::*;
use crate::{Change, Supervisor};

const BASE: &str = r#"
[supervisor]
shutdown_timeout = "20s"

[components.db]
kind = "sim"
start_delay = "30ms"
stop_delay = "40ms"

[components.redis]
kind = "sim"
start_delay = "5ms"
fail_after = "14200ms"
restart = "on-failure"
restart_backoff = "100ms"

[components.api]
kind = "sim"
depends_on = ["redis"]
start_delay = "20ms"
stop_delay = "30ms"

[components.http]
kind = "sim"
depends_on = ["db"]
start_delay = "10ms"
ignore_stop = true
stop_timeout = "500ms"

[components.workers]
kind = "sim"
depends_on = ["db"]
start_delay = "10ms"
ignore_stop = true
stop_timeout = "10s"
"#;

const CACHE: &str = r#"
[components.cache]
kind = "sim"
depends_on = ["db"]
start_delay = "15ms"
stop_delay = "20ms"
"#;

async fn sleep_until(t0: tokio::time::Instant, ms: u64) {
    tokio::time::sleep_until(t0 + Duration::from_millis(ms)).await;
}

/// redis crashes at ~14.2 s and restarts; api is stopped on request at
/// 16 s and started at 18 s; a reload adds cache at 21.1 s; api is
/// restarted by request at 22.3 s; SIGTERM at 30 s: http is killed at its
/// stop_timeout, and a second signal 1.8 s later forces workers and db.
pub(super) async fn restart_run() -> ShutdownReport {
    let t0 = tokio::time::Instant::now();
    let mut running = Supervisor::from_toml_str(BASE).expect("valid").spawn();
    assert!(running.ready().await);
    let h = running.handle();
    let done = |c: Change| {
        let h = h.clone();
        async move { h.change(c).await.expect("accepted").finished().await }
    };
    sleep_until(t0, 16_000).await;
    done(Change::Stop("api".into())).await.expect("stopped");
    sleep_until(t0, 18_000).await;
    done(Change::Start("api".into())).await.expect("started");
    sleep_until(t0, 21_100).await;
    let bigger = Supervisor::from_toml_str(&format!("{BASE}{CACHE}")).expect("valid");
    done(Change::reload(bigger)).await.expect("reloaded");
    sleep_until(t0, 22_300).await;
    done(Change::Restart("api".into()))
        .await
        .expect("restarted");
    sleep_until(t0, 30_000).await;
    h.shutdown(Trigger::Signal("SIGTERM".into()));
    sleep_until(t0, 31_800).await;
    h.force(Trigger::Signal("SIGTERM".into()));
    running.wait().await
}

/// redis ready at once, a python app 2.5 s later; 29 s of steady running.
pub(super) async fn long_startup_run() -> ShutdownReport {
    let t0 = tokio::time::Instant::now();
    let mut running = Supervisor::from_toml_str(
        r#"
[components.redis]
kind = "sim"
start_delay = "4ms"
stop_delay = "3ms"
[components.app]
kind = "sim"
depends_on = ["redis"]
start_delay = "2500ms"
stop_delay = "120ms"
"#,
    )
    .expect("valid")
    .spawn();
    assert!(running.ready().await);
    sleep_until(t0, 31_759).await;
    running.handle().shutdown(Trigger::Signal("SIGTERM".into()));
    running.wait().await
}

/// The text labels of an SVG: `(x0, y0, x1, y1, text)`, from the font size
/// and anchor, at [`CW`](crate::timeline::svg::CW) per character at 12 px.
pub(super) fn label_boxes(doc: &roxmltree::Document) -> Vec<(f64, f64, f64, f64, String)> {
    use crate::timeline::svg::CW;
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| {
            let text: String = n
                .children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect();
            if text.trim().is_empty() {
                return None;
            }
            let size: f64 = n
                .ancestors()
                .find_map(|a| a.attribute("font-size"))
                .and_then(|s| s.parse().ok())
                .unwrap_or(12.0);
            let bold = n.attribute("font-weight") == Some("bold");
            let w = text.chars().count() as f64 * CW * size / 12.0 * if bold { 1.1 } else { 1.0 };
            let x: f64 = n.attribute("x")?.parse().ok()?;
            let y: f64 = n.attribute("y")?.parse().ok()?;
            let x0 = match n.attribute("text-anchor") {
                Some("middle") => x - w / 2.0,
                Some("end") => x - w,
                _ => x,
            };
            Some((x0, y - size * 0.8, x0 + w, y + size * 0.2, text))
        })
        .collect()
}

/// Asserts that no two text labels of `svg` overlap.
pub(super) fn assert_no_label_overlaps(svg: &str) {
    let doc = roxmltree::Document::parse(svg).expect("parses");
    let boxes = label_boxes(&doc);
    for (i, a) in boxes.iter().enumerate() {
        for b in &boxes[i + 1..] {
            let apart = a.2 <= b.0 || b.2 <= a.0 || a.3 <= b.1 || b.3 <= a.1;
            assert!(apart, "`{}` {a:?} overlaps `{}` {b:?}", a.4, b.4);
        }
    }
}

fn f(n: roxmltree::Node, a: &str) -> f64 {
    n.attribute(a).expect(a).parse().expect("a number")
}

/// The `(x, width, class, run)` of each bar segment of `name`.
fn segments(doc: &roxmltree::Document, name: &str) -> Vec<(f64, f64, String, usize)> {
    doc.descendants()
        .filter(|n| class_is(n, "bar") && n.attribute("data-name") == Some(name))
        .flat_map(|g| g.children().filter(|n| n.has_tag_name("rect")))
        .map(|n| {
            (
                f(n, "x"),
                f(n, "width"),
                n.attribute("class").unwrap_or_default().to_string(),
                n.attribute("data-run")
                    .and_then(|r| r.parse().ok())
                    .expect("data-run"),
            )
        })
        .collect()
}

fn titles_of(doc: &roxmltree::Document, name: &str, class: &str) -> Vec<String> {
    doc.descendants()
        .filter(|n| class_is(n, "component") && n.attribute("data-name") == Some(name))
        .flat_map(|g| g.descendants().filter(|n| class_is(n, class)))
        .filter_map(|n| {
            n.descendants()
                .find(|t| t.has_tag_name("title"))
                .and_then(|t| t.text())
                .map(String::from)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_report_keeps_every_run() {
    let r = restart_run().await;
    let c = |n: &str| r.component(n).unwrap_or_else(|| panic!("{n}"));
    let api = c("api");
    assert_eq!(api.earlier_runs.len(), 2, "{:?}", api.earlier_runs);
    assert_eq!(
        api.earlier_runs[0].ended,
        crate::report::RunEnd::StopRequest
    );
    assert!((api.earlier_runs[0].down_at - 16_030.0).abs() < 1.0);
    assert_eq!(api.earlier_runs[1].ended, crate::report::RunEnd::Restart);
    assert!(api.earlier_runs[1].started_at >= 18_000.0);
    assert!(api.start_requested.expect("started") >= 22_300.0);
    let redis = c("redis");
    // It crashed at 14.2 s and again 14.2 s after its restart.
    assert_eq!(redis.restarts.len(), 2, "{:?}", redis.restarts);
    assert_eq!(redis.earlier_runs.len(), 2);
    assert_eq!(redis.earlier_runs[0].started_at, 0.0);
    assert!(c("cache").start_requested.expect("started") >= 21_100.0);
    assert_eq!(c("http").killed_by, Some(KillReason::StopTimeout));
    assert_eq!(c("workers").killed_by, Some(KillReason::SecondSignal));
    assert_eq!(c("http").stop_timeout_ms, Some(500.0));
    assert!(r.forced_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn every_run_is_its_own_bar_where_it_happened() {
    let r = restart_run().await;
    let svg = render_svg(&r);
    let doc = roxmltree::Document::parse(&svg).expect("parses");
    let axis = Axis::new(&r);
    let x_of = |t: f64| crate::timeline::svg::x_for_test(&r, t);
    let _ = axis;
    // api: three runs, in order, with gaps between them.
    let api = segments(&doc, "api");
    let runs: std::collections::BTreeSet<usize> = api.iter().map(|s| s.3).collect();
    assert_eq!(runs.into_iter().collect::<Vec<_>>(), [0, 1, 2]);
    let start_of = |k: usize| {
        api.iter()
            .filter(|s| s.3 == k)
            .map(|s| s.0)
            .fold(f64::INFINITY, f64::min)
    };
    let end_of = |k: usize| {
        api.iter()
            .filter(|s| s.3 == k)
            .map(|s| s.0 + s.1)
            .fold(f64::NEG_INFINITY, f64::max)
    };
    assert!(
        end_of(0) < start_of(1) && end_of(1) <= start_of(2) + 4.0,
        "{api:?}"
    );
    let api_r = r.component("api").expect("api");
    let second = api_r.earlier_runs[1].started_at;
    assert!((start_of(1) - x_of(second)).abs() < 0.2, "{api:?}");
    // cache, added by the reload, starts where it started: far right of
    // the start-up, at its own x.
    let cache = segments(&doc, "cache");
    let cache_start = cache.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
    let started = r
        .component("cache")
        .and_then(|c| c.start_requested)
        .expect("started");
    assert!((cache_start - x_of(started)).abs() < 0.2);
    let all_ready = x_of(r.all_ready_at.expect("ready"));
    assert!(
        cache_start > all_ready + 100.0,
        "{cache_start} vs {all_ready}"
    );
    // Every segment has a visible width inside the plot; stops at least MIN_STOP_W.
    for name in ["db", "redis", "api", "http", "workers", "cache"] {
        for (x, w, class, _) in segments(&doc, name) {
            assert!(w >= 2.0, "{name} {class} {w}");
            if class.starts_with("stopping") {
                assert!(w >= crate::timeline::svg::MIN_STOP_W, "{name} {class} {w}");
            }
            assert!(
                x >= x_of(0.0) - 0.1 && x + w <= x_of(axis_end(&r)) + 4.1,
                "{name}"
            );
        }
    }
    // Restart marks carry their reasons; the stop on request its own mark.
    let restarts = titles_of(&doc, "redis", "restart");
    assert_eq!(restarts.len(), 2);
    assert!(
        restarts[0].contains("exited unexpectedly") && restarts[0].contains("started again after"),
        "{restarts:?}"
    );
    let api_restart = titles_of(&doc, "api", "restart");
    assert!(api_restart[0].contains("by request"), "{api_restart:?}");
    let parked = titles_of(&doc, "api", "parked");
    assert_eq!(parked.len(), 1);
    assert!(parked[0].contains("stopped on request"), "{parked:?}");
    assert_no_label_overlaps(&svg);
}

fn axis_end(r: &ShutdownReport) -> f64 {
    Axis::new(r).end
}

#[tokio::test(start_paused = true)]
async fn deadlines_kills_and_the_phase_legend_are_drawn() {
    let r = restart_run().await;
    let svg = render_svg(&r);
    let doc = roxmltree::Document::parse(&svg).expect("parses");
    // http: its own stop timeout is the deadline that killed it.
    let http = titles_of(&doc, "http", "deadline");
    assert!(
        http.iter()
            .any(|t| t.contains("stop timeout deadline at 30500 ms")),
        "{http:?}"
    );
    assert!(
        http.iter()
            .any(|t| t.contains("global budget deadline at 50000 ms")),
        "{http:?}"
    );
    // workers: killed by the second signal before any of its deadlines.
    let kills = titles_of(&doc, "workers", "kill");
    assert!(kills[0].contains("second_signal"), "{kills:?}");
    let later = titles_of(&doc, "workers", "later");
    assert!(!later.is_empty(), "deadlines after the end: {later:?}");
    // Phases in a legend row, counted from 1.
    let phases: Vec<&str> = doc
        .descendants()
        .filter(|n| class_is(n, "phase-legend"))
        .flat_map(|g| g.descendants().filter(|n| n.has_tag_name("text")))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(phases.len(), r.phases.len());
    assert!(phases[0].starts_with("phase 1:"), "{phases:?}");
    assert!(!svg.contains(">P0"), "no 0-based phase labels");
}

#[tokio::test(start_paused = true)]
async fn a_long_start_up_and_steady_run_stay_legible() {
    let r = long_startup_run().await;
    let svg = render_svg(&r);
    assert_no_label_overlaps(&svg);
    let doc = roxmltree::Document::parse(&svg).expect("parses");
    // The shutdown gets a fair share of the plot, and so does the start-up.
    let x_of = |t: f64| crate::timeline::svg::x_for_test(&r, t);
    let plot = x_of(r.ended_at) - x_of(0.0);
    let shutdown = x_of(r.ended_at) - x_of(r.shutdown_started_at.expect("shutdown"));
    assert!(shutdown > plot * 0.1, "{shutdown} of {plot}");
    let redis_ready = r
        .component("redis")
        .and_then(|c| c.ready_at)
        .expect("ready");
    assert!(x_of(redis_ready) - x_of(0.0) > 2.0);
    assert!(doc.descendants().any(|n| class_is(&n, "axis-break")));
}

/// Writes these runs' reports and pictures into `$SUNDOWN_PICTURES`, to
/// look at (`cargo test -p sundown --lib write_pictures -- --ignored`);
/// `tests/data/report-restarts.json` is the restart run's report.
#[tokio::test(start_paused = true)]
#[ignore = "writes files to look at"]
async fn write_pictures() {
    let Some(dir) = std::env::var_os("SUNDOWN_PICTURES") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    for (name, r) in [
        ("plain", fixture()),
        ("restarts", restart_run().await),
        ("long-startup", long_startup_run().await),
    ] {
        std::fs::write(dir.join(format!("{name}.json")), r.to_json()).expect("write");
        std::fs::write(dir.join(format!("{name}.svg")), render_svg(&r)).expect("write");
        std::fs::write(dir.join(format!("{name}.html")), render_html(&r)).expect("write");
        std::fs::write(
            dir.join(format!("{name}.txt")),
            render_terminal(&r, 100, false),
        )
        .expect("write");
    }
}

#[test]
fn stop_steps_and_a_failure_are_ticks_on_their_rows() {
    use crate::component::StopStep;
    use crate::report::StopStepReport;
    let mut r = fixture();
    let step = |at: f64, step: StopStep, detail: &str| StopStepReport {
        at,
        step,
        detail: detail.to_string(),
    };
    // workers: a stop command, then its stop signal, then the kill.
    let workers = r
        .components
        .iter_mut()
        .find(|c| c.name == "workers")
        .expect("workers");
    workers.stop_timeout_ms = Some(1500.0);
    workers.stop_steps = vec![
        step(1900.0, StopStep::StopCommand, "`drain` started"),
        step(2400.0, StopStep::Signal, "SIGTERM to the group"),
        step(3900.0, StopStep::Kill, "SIGKILL to the group"),
    ];
    let pg = r
        .components
        .iter_mut()
        .find(|c| c.name == "postgres")
        .expect("postgres");
    pg.outcome = Outcome::Failed;
    let svg = render_svg(&r);
    let doc = roxmltree::Document::parse(&svg).expect("parses");
    let steps = titles_of(&doc, "workers", "step");
    assert_eq!(steps.len(), 3, "{steps:?}");
    assert!(
        steps[0].contains("stop command at 1900 ms: `drain` started"),
        "{steps:?}"
    );
    assert!(steps[1].contains("stop signal at 2400 ms"), "{steps:?}");
    assert!(steps[2].contains("SIGKILL at 3900 ms"), "{steps:?}");
    let deadlines = titles_of(&doc, "workers", "deadline");
    for want in [
        "stop timeout deadline at 3400 ms",
        "phase cap deadline at 3900 ms",
        "global budget deadline at 5500 ms",
    ] {
        assert!(
            deadlines.iter().any(|d| d.contains(want)),
            "{want} in {deadlines:?}"
        );
    }
    let failed = titles_of(&doc, "postgres", "failure");
    assert_eq!(failed, ["postgres: failed at 4120 ms"]);
    assert_no_label_overlaps(&svg);
}
