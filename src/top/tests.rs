//! `top`'s screens drawn on ratatui's test backend from fixed snapshots,
//! compared with the text files in `snapshots/` (`UPDATE_SNAPSHOTS=1`
//! writes them anew), and its keys.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

use super::app::{App, Mode};
use super::fixtures::{self, a_second_before, running, stopping};
use super::keys::Effect;
use super::plan::Answer;
use super::plan::Verb;
use sundown::RunExit;
use sundown::control::client::Planned;

fn draw(app: &App) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(120, 28)).expect("a test terminal");
    terminal
        .draw(|f| super::view::render(f, app))
        .expect("drawn");
    terminal.backend().buffer().clone()
}

/// The screen as text, a line per row, trailing spaces cut.
pub(super) fn screen(app: &App) -> String {
    let buffer = draw(app);
    let width = usize::from(buffer.area.width);
    buffer
        .content
        .chunks(width)
        .map(|row| {
            let line: String = row.iter().map(|c| c.symbol()).collect();
            format!("{}\n", line.trim_end())
        })
        .collect()
}

fn matches_snapshot(name: &str, app: &App) -> String {
    let got = screen(app);
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("src/top/snapshots/{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &got).expect("write the snapshot");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        got,
        want,
        "{name}: the screen differs from {}",
        path.display()
    );
    got
}

fn key(app: &mut App, code: KeyCode) -> Effect {
    app.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn with_log(mut app: App) -> App {
    let generation = app.follow(app.selected.clone());
    app.log(
        generation,
        b"listening on :5432\nchecked 12 tables\npartial",
    );
    app
}

#[test]
fn running_lists_the_graph_dependencies_first_with_usage_and_the_log() {
    let app = with_log(fixtures::app(Some(a_second_before()), running()));
    let s = matches_snapshot("running", &app);
    let at = |name: &str| s.find(name).unwrap_or_else(|| panic!("{name} in\n{s}"));
    // Level 0 first, by name; workers under them, http under workers.
    assert!(at("postgres") < at("redis") && at("redis") < at("  workers"));
    assert!(at("  workers") < at("    http"), "{s}");
    for text in [
        "10.0%",
        "50.0%",
        "in sundown",
        "250 MiB",
        "exit status 1",
        "log: postgres (follows)",
        "checked 12 tables",
    ] {
        assert!(s.contains(text), "`{text}` in\n{s}");
    }
    assert!(
        !s.contains("partial"),
        "a line not ended yet is not shown:\n{s}"
    );
    // States are coloured: the first row's, in the STATE column.
    let buffer = draw(&app);
    let header = s.lines().nth(2).expect("a header row");
    let x = header[..header.find("STATE").expect("a STATE column")]
        .chars()
        .count();
    let (x, y) = (u16::try_from(x).expect("narrow"), 3);
    assert_eq!(buffer[(x, y)].symbol(), "r");
    assert_eq!(buffer[(x, y)].fg, Color::Green);
}

#[test]
fn typing_a_filter_narrows_the_list() {
    let mut app = fixtures::app(None, running());
    key(&mut app, KeyCode::Char('/'));
    for c in "work".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    assert_eq!(app.mode, Mode::Filter);
    assert_eq!(app.selected.as_deref(), Some("workers"));
    let s = matches_snapshot("filter", &app);
    assert!(!s.contains("postgres") && !s.contains("http"), "{s}");
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.rows().len(), 4);
}

fn plan(stop: &[&str], start: &[&str]) -> Planned {
    let names = |v: &[&str]| v.iter().map(|n| n.to_string()).collect();
    Planned {
        stop: names(stop),
        start: names(start),
        diff: None,
    }
}

#[test]
fn restart_asks_sundown_shows_its_plan_and_waits_for_yes() {
    let mut app = fixtures::app(None, running());
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.selected.as_deref(), Some("workers"));
    // The key asks the supervisor what it would do; the question waits.
    assert_eq!(
        key(&mut app, KeyCode::Char('r')),
        Effect::Preview(Verb::Restart, Some("workers".into()))
    );
    let s = matches_snapshot("confirm_asking", &app);
    assert!(
        s.contains("restart workers?") && s.contains("asking sundown…"),
        "{s}"
    );
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        Effect::Nothing,
        "no yes before the plan"
    );
    // An answer to another question is not this one's.
    app.previewed(Verb::Stop, Some("workers"), Ok(plan(&["x"], &[])));
    assert!(matches!(&app.mode, Mode::Confirm(p) if p.plan == Answer::Asking));
    app.previewed(
        Verb::Restart,
        Some("workers"),
        Ok(plan(&["http", "workers"], &["workers", "http"])),
    );
    let s = matches_snapshot("confirm", &app);
    assert!(s.contains("restart workers?"), "{s}");
    assert!(
        s.contains("stopping (dependents first): http, workers"),
        "{s}"
    );
    assert!(s.contains("starting (in order): workers, http"), "{s}");
    assert!(s.contains("y go ahead"), "{s}");
    assert_eq!(
        key(&mut app, KeyCode::Char('y')),
        Effect::Send(Verb::Restart, Some("workers".into()))
    );
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char('s'));
    assert_eq!(key(&mut app, KeyCode::Char('n')), Effect::Nothing);
    assert_eq!(app.mode, Mode::Normal);
    // Closed before the answer came: the answer opens nothing.
    app.previewed(
        Verb::Stop,
        Some("workers"),
        Ok(plan(&["http", "workers"], &[])),
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn a_change_sundown_would_refuse_says_why_and_cannot_be_sent() {
    let mut app = fixtures::app(None, running());
    assert_eq!(
        key(&mut app, KeyCode::Char('R')),
        Effect::Preview(Verb::Reload, None)
    );
    app.previewed(
        Verb::Reload,
        None,
        Err("another change is under way (stop redis); ask again once it is done".into()),
    );
    let s = matches_snapshot("confirm_refused", &app);
    assert!(
        s.contains("sundown would refuse it: another change is under way"),
        "{s}"
    );
    assert!(s.contains("n close") && !s.contains("go ahead"), "{s}");
    assert_eq!(key(&mut app, KeyCode::Enter), Effect::Nothing);
    assert_eq!(key(&mut app, KeyCode::Esc), Effect::Nothing);
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn a_shutdown_shows_its_phase_what_it_waits_on_and_countdowns() {
    let app = fixtures::app(Some(running()), stopping());
    let s = matches_snapshot("shutdown", &app);
    for text in [
        "SIGTERM · phase 2/3 · waiting on workers",
        "workers  killed in 4.6s (3 jobs in flight)",
        "budget   29.5s left",
    ] {
        assert!(s.contains(text), "`{text}` in\n{s}");
    }
}

#[test]
fn a_forced_shutdown_drops_the_phase_and_the_countdowns() {
    let mut forced = stopping();
    if let Some(s) = forced.shutdown.as_mut() {
        s.forced = Some(sundown::KillReason::SecondSignal);
        s.time_left_ms = None;
    }
    for c in &mut forced.components {
        c.kill_in_ms = None;
    }
    let app = fixtures::app(Some(running()), forced);
    let s = matches_snapshot("shutdown_forced", &app);
    assert!(
        s.contains(
            "SIGTERM · forced: killing everything (the second signal) · waiting on workers to end"
        ),
        "{s}"
    );
    assert!(s.contains("workers  being killed"), "{s}");
    assert!(s.contains("budget   no longer waited on"), "{s}");
    assert!(!s.contains("phase 2/3") && !s.contains("killed in"), "{s}");
}

#[test]
fn once_the_supervisor_is_gone_it_says_how_the_run_ended_in_its_own_word() {
    let mut app = fixtures::app(Some(running()), stopping());
    key(&mut app, KeyCode::Char('?'));
    // The word comes before the socket closes; the view ends with it.
    app.heard_end(Ok(RunExit {
        code: 3,
        meaning: "stopped by force".into(),
    }));
    app.gone("its control socket closed");
    assert_eq!(app.mode, Mode::Normal, "the help is closed");
    let s = matches_snapshot("ended", &app);
    assert!(
        s.contains("sundown exited with code 3 (stopped by force)"),
        "{s}"
    );
    assert!(
        s.contains("last status, at 65.4s: it was shutting down (SIGTERM)"),
        "{s}"
    );
    assert_eq!(key(&mut app, KeyCode::Char('r')), Effect::Nothing);
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::Quit);
}

#[test]
fn a_supervisor_gone_without_a_word_leaves_the_end_unknown() {
    // The socket closed first, then the long poll broke: killed.
    let mut app = fixtures::app(None, stopping());
    app.gone("its control socket closed");
    assert!(app.ended.is_none(), "its word may still be on its way");
    app.heard_end(Err("the supervisor ended before answering".into()));
    let lines = app.ended.clone().expect("ended");
    assert!(
        lines[0].starts_with("how sundown ended is unknown"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "(the supervisor ended before answering)");
    // The other way round: the long poll broke while the status still read.
    let mut app = fixtures::app(None, running());
    app.heard_end(Err("connection reset".into()));
    assert!(app.ended.is_none());
    app.gone("its control socket closed");
    let lines = app.ended.clone().expect("ended");
    assert!(
        lines[0].starts_with("how sundown ended is unknown"),
        "{lines:?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("last status, at 65.4s: no shutdown had begun")
    );
    // The word wins over what was seen, whatever the order.
    let mut app = fixtures::app(None, running());
    app.gone("its control socket closed");
    app.heard_end(Ok(RunExit {
        code: 4,
        meaning: "second signal".into(),
    }));
    assert_eq!(
        app.ended.expect("ended")[0],
        "sundown exited with code 4 (second signal)"
    );
}

#[test]
fn help_lists_the_keys_and_any_key_closes_it() {
    let mut app = fixtures::app(None, running());
    key(&mut app, KeyCode::Char('?'));
    let s = matches_snapshot("help", &app);
    assert!(
        s.contains("restart it and its dependents (asks first)"),
        "{s}"
    );
    key(&mut app, KeyCode::Char('x'));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn q_and_ctrl_c_quit() {
    let mut app = fixtures::app(None, running());
    assert_eq!(key(&mut app, KeyCode::Char('q')), Effect::Quit);
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.key(ctrl_c), Effect::Quit);
}

#[test]
fn a_log_line_split_inside_a_character_arrives_whole() {
    let mut app = fixtures::app(None, running());
    let redis = app.follow(Some("redis".into()));
    let http = app.follow(Some("http".into()));
    app.log(http, "caf".as_bytes());
    app.log(http, &[0xc3]);
    app.log(http, &[0xa9, b'\n']);
    app.log(redis, b"not followed\n");
    assert_eq!(app.logs.lines, ["café"]);
}

#[test]
fn without_the_running_graph_the_list_is_by_name() {
    let mut app = App::new("/tmp/s.sock".into(), None);
    app.status(running());
    let rows: Vec<(&str, usize)> = app
        .rows()
        .iter()
        .map(|r| (r.c.name.as_str(), r.level))
        .collect();
    assert_eq!(
        rows,
        [("http", 0), ("postgres", 0), ("redis", 0), ("workers", 0)]
    );
    // A graph whose names are not the running ones (a reload since) is not used.
    let mut other = fixtures::running();
    other.components.retain(|c| c.name != "http");
    let mut app = fixtures::app(None, other);
    assert_eq!(
        app.rows().first().map(|r| r.c.name.as_str()),
        Some("postgres")
    );
    assert!(app.rows().iter().all(|r| r.level == 0));
    // The plan comes from the supervisor, graph or not.
    assert_eq!(
        app.ask(Verb::Restart),
        Some((Verb::Restart, Some("postgres".into())))
    );
}
