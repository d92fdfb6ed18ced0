//! Changing a running `sundown run` from the shell: `stop`, `start`,
//! `restart` and `reload` (and SIGHUP) with the built binary and real
//! processes, checked against the processes' own log, their pids and the
//! final report.

use nix::sys::signal::Signal;
use sundown::status::{ComponentState, StatusView};

use crate::common::{Sandbox, Sundown, assert_stop_end_before_begin, is_alive, position, text};

/// db ← api ← web, and `other` beside them; every one a real process.
/// A dependency is ready 100 ms after its start, time for its script to log
/// `start NAME` before its dependent's does (a process without a probe is
/// ready once spawned, and two shells started together log in any order).
fn graph(sb: &Sandbox) -> String {
    format!(
        "{}{}{}{}",
        sb.service("db", "ready_after = \"100ms\""),
        sb.service("api", "depends_on = [\"db\"]\nready_after = \"100ms\""),
        sb.service("web", "depends_on = [\"api\"]"),
        sb.service("other", "")
    )
}

/// Runs the graph until every script has logged its start, so that each
/// has its trap installed and a stop is logged.
fn start(sb: &Sandbox) -> Sundown {
    sb.config(&graph(sb));
    let sd = sb.run();
    sd.wait_ready(4);
    for name in ["db", "api", "web", "other"] {
        sb.wait_for_log(&format!("start {name}"));
    }
    sd
}

fn state(v: &StatusView, name: &str) -> (ComponentState, Option<u32>) {
    let c = v
        .components
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("`{name}` in {v:?}"));
    (c.state, c.pid)
}

fn pid(sb: &Sandbox, name: &str) -> u32 {
    state(&sb.status(), name).1.expect("a pid")
}

/// Position of the `n`th (from 1) exact `line` in the log.
fn nth(log: &[String], line: &str, n: usize) -> usize {
    log.iter()
        .enumerate()
        .filter(|(_, l)| *l == line)
        .nth(n - 1)
        .map(|(i, _)| i)
        .unwrap_or_else(|| panic!("`{line}` not {n} time(s) in the log:\n{}", log.join("\n")))
}

fn end(mut sd: Sundown) {
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn stop_takes_dependents_down_first_and_start_brings_them_back_in_order() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let other = pid(&sb, "other");

    let out = sb.client(&["stop", "db"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "stopping (dependents first): web, api, db\ndone\n"
    );
    let log = sb.log_lines();
    assert_stop_end_before_begin(&log, "web", "api");
    assert_stop_end_before_begin(&log, "api", "db");
    assert!(!log.contains(&"stop-begin other".to_string()), "{log:?}");
    let v = sb.status();
    for n in ["db", "api", "web"] {
        assert_eq!(state(&v, n), (ComponentState::Stopped, None), "{n}");
    }
    assert_eq!(state(&v, "other"), (ComponentState::Ready, Some(other)));
    assert!(is_alive(other as i32));

    let out = sb.client(&["start", "db"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "starting (in order): db, api, web\ndone\n"
    );
    // `done` once they are ready: web logs its start a moment later.
    sb.wait_for_log_count("start web", 2);
    let log = sb.log_lines();
    assert!(nth(&log, "start db", 2) < nth(&log, "start api", 2));
    assert!(nth(&log, "start api", 2) < nth(&log, "start web", 2));
    let v = sb.status();
    assert!(
        v.components
            .iter()
            .all(|c| c.state == ComponentState::Ready),
        "{v:?}"
    );
    assert_eq!(state(&v, "other").1, Some(other), "other was never touched");
    assert_eq!(position(&log, "start other"), nth(&log, "start other", 1));

    end(sd);
    let report = sb.report();
    report.assert_respects_graph();
    assert!(
        report
            .component("other")
            .is_some_and(|c| c.restarts.is_empty())
    );
}

#[test]
fn restart_restarts_dependents_too_and_counts_it() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let (db, web) = (pid(&sb, "db"), pid(&sb, "web"));
    let out = sb.client(&["restart", "api"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "stopping (dependents first): web, api\nstarting (in order): api, web\ndone\n"
    );
    let v = sb.status();
    assert_eq!(state(&v, "db").1, Some(db));
    assert_ne!(state(&v, "web").1, Some(web));
    let restarts = |n: &str| {
        v.components
            .iter()
            .find(|c| c.name == n)
            .map(|c| c.restarts)
    };
    assert_eq!(
        (restarts("api"), restarts("web"), restarts("db")),
        (Some(1), Some(1), Some(0))
    );
    end(sd);
    sb.report().assert_respects_graph();
}

#[test]
fn an_unknown_name_is_refused_with_a_suggestion_and_exit_2() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let before = sb.status();
    for verb in ["stop", "start", "restart"] {
        let out = sb.client(&[verb, "api2"]);
        assert_eq!(out.status.code(), Some(2), "{verb}");
        // The supervisor's words alone: no socket path, no HTTP status.
        assert_eq!(
            text(&out.stderr),
            "error: there is no component `api2` (did you mean `api`?)\n"
        );
    }
    // Not a name at all: nothing is sent.
    let out = sb.client(&["stop", "web?x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("there is no component `web?x`"),
        "{}",
        text(&out.stderr)
    );
    let after = sb.status();
    for c in &before.components {
        assert_eq!(state(&after, &c.name), (c.state, c.pid), "{}", c.name);
    }
    end(sd);
}

/// A change the graph cannot take now is refused in sundown's words, exit 2.
#[test]
fn a_change_while_the_graph_starts_is_refused_in_words_with_exit_2() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", "ready_after = \"30s\""),
        sb.service("api", "depends_on = [\"db\"]")
    ));
    let mut sd = sb.run();
    sd.wait_for("db: starting");
    let out = sb.client(&["stop", "db"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert_eq!(
        text(&out.stderr),
        "error: the graph is still starting; ask again once every component is ready (a reload is taken now)\n"
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn reload_with_a_cycle_is_refused_with_the_cycle_and_nothing_restarts() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let before = sb.status();
    // db now depends on web: db → web → api → db.
    sb.config(&graph(&sb).replacen(
        "[components.db]\n",
        "[components.db]\ndepends_on = [\"web\"]\n",
        1,
    ));
    let out = sb.client(&["reload"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("supervisor.toml:"),
        "names the file and line: {err}"
    );
    assert!(err.contains("dependency cycle"), "{err}");
    assert!(
        err.starts_with(&format!("{}:", sb.path("supervisor.toml").display())),
        "the config's diagnostic as it is, no `error:` before it: {err}"
    );
    assert!(
        err.contains("db → web → api → db")
            || err.contains("api → db → web → api")
            || err.contains("web → api → db → web"),
        "{err}"
    );
    let after = sb.status();
    for c in &before.components {
        assert_eq!(state(&after, &c.name), (c.state, c.pid), "{}", c.name);
    }
    assert!(
        sd.stderr()
            .contains("reload refused, still running the old config")
    );
    end(sd);
}

#[test]
fn reload_adding_one_component_starts_only_that_one() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let before = sb.status();
    sb.config(&format!(
        "{}{}",
        graph(&sb),
        sb.service("cache", "depends_on = [\"db\"]")
    ));
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "added: cache\nunchanged, left running: api, db, other, web\nstarting (in order): cache\ndone\n"
    );
    let after = sb.status();
    for c in &before.components {
        assert_eq!(
            state(&after, &c.name),
            (ComponentState::Ready, c.pid),
            "{}",
            c.name
        );
    }
    assert_eq!(state(&after, "cache").0, ComponentState::Ready);
    sb.wait_for_log("start cache");
    let log = sb.log_lines();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("start ")).count(),
        5,
        "{log:?}"
    );
    end(sd);
    let report = sb.report();
    report.assert_respects_graph();
    report.assert_stopped_before("cache", "db");
}

#[test]
fn sighup_reloads_a_changed_component_with_its_dependents() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let (db, api, other) = (pid(&sb, "db"), pid(&sb, "api"), pid(&sb, "other"));
    // api's definition changes; web depends on it and comes along.
    sb.config(&graph(&sb).replacen(
        "depends_on = [\"db\"]",
        "depends_on = [\"db\"]\nenv = { API_MODE = \"new\" }",
        1,
    ));
    sd.signal(Signal::SIGHUP);
    sd.wait_for("reload: done");
    let v = sb.status();
    assert_eq!(state(&v, "db").1, Some(db));
    assert_eq!(state(&v, "other").1, Some(other));
    assert_ne!(state(&v, "api").1, Some(api));
    assert!(
        v.components
            .iter()
            .all(|c| c.state == ComponentState::Ready),
        "{v:?}"
    );
    let log = sb.log_lines();
    assert_stop_end_before_begin(&log, "web", "api");
    assert!(
        sd.stderr()
            .contains("reload: changed: api; restarted with them: web"),
        "{}",
        sd.stderr()
    );
    end(sd);
    sb.report().assert_respects_graph();
}

/// `sundown run` and `sundown reload` with the default, relative
/// `--config` (from the config's directory): reloading the unchanged file
/// changes nothing, because paths in it resolve to the same place however
/// the file was named. (Before, a relative run read again by its absolute
/// name saw every path "changed" and restarted the whole graph.)
#[test]
fn reloading_an_unchanged_config_named_relatively_changes_nothing() {
    let sb = Sandbox::new();
    let config = format!(
        "[supervisor]\nreport = \"r.json\"\n{}",
        sb.service("db", "ready_after = \"100ms\"\nworking_dir = \".\"")
    );
    sb.config(&config);
    let mut run = crate::common::command();
    run.current_dir(sb.dir())
        .args(["run", "--config", "supervisor.toml"]);
    let sd = Sundown::spawn_command(run);
    sd.wait_ready(1);
    sb.wait_for_log("start db");
    let before = pid(&sb, "db");
    let reload = crate::common::command()
        .current_dir(sb.dir())
        .args(["reload", "--config", "supervisor.toml"])
        .output()
        .expect("sundown reload");
    let said = text(&reload.stdout);
    assert!(reload.status.success(), "{said}{}", text(&reload.stderr));
    assert!(said.contains("no component changed"), "{said}");
    assert_eq!(pid(&sb, "db"), before, "db was not restarted");
    end(sd);
}

/// A reload that changes only `stop_timeout` leaves the process running
/// (same pid, no restart), says so, and the next stop uses the new value:
/// web ignores SIGTERM and is killed 300 ms after its stop request, not 20 s.
#[test]
fn reload_of_a_stop_timeout_updates_the_running_process_in_place() {
    let sb = Sandbox::new();
    let config = |timeout: &str| {
        format!(
            "{}{}",
            sb.service("db", "ready_after = \"100ms\""),
            sb.stubborn(
                "web",
                &format!("depends_on = [\"db\"]\nstop_timeout = \"{timeout}\"")
            )
        )
    };
    sb.config(&config("20s"));
    let mut sd = sb.run();
    sd.wait_ready(2);
    sb.wait_for_log("start web");
    let before = pid(&sb, "web");
    sb.config(&config("300ms"));
    let out = sb.client(&["reload"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "updated in place: web (stop_timeout)\nunchanged, left running: db\ndone\n"
    );
    let after = sb.status();
    assert_eq!(state(&after, "web"), (ComponentState::Ready, Some(before)));
    let web = after
        .components
        .iter()
        .find(|c| c.name == "web")
        .expect("web");
    assert_eq!(web.restarts, 0);

    sd.signal(Signal::SIGTERM);
    sd.wait_exit(crate::shared::TIMEOUT);
    let report = sb.report();
    let web = report.component("web").expect("web");
    assert_eq!(web.pid, Some(before));
    assert!(web.restarts.is_empty(), "{:?}", web.restarts);
    assert_eq!(web.killed_by, Some(sundown::event::KillReason::StopTimeout));
    let waited = web.killed_at.expect("killed") - web.stop_requested.expect("asked");
    assert!(
        (300.0..1000.0).contains(&waited),
        "killed {waited} ms after the stop request"
    );
}
