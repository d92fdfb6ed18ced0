//! The CI run mode with the built binary and real processes: `exit_with`
//! (in the config and as `run --exit-with`), its precedence over a forced
//! stop, its config errors, and `sundown wait`.

use nix::sys::signal::Signal;
use sundown::{Outcome, Trigger};

use crate::common::{Sandbox, assert_stop_end_before_begin, text};

/// db ← web ← tests, where tests runs `script` with `exit_with = true`.
fn stack(sb: &Sandbox, script: &str, tests_extra: &str) {
    sb.config(&format!(
        "{}{}{}",
        sb.service("db", ""),
        sb.service("web", "depends_on = [\"db\"]"),
        sb.shell(
            "tests",
            script,
            &format!("depends_on = [\"web\"]\n{tests_extra}")
        ),
    ));
}

#[test]
fn the_run_exits_with_the_tests_code_after_stopping_the_stack_in_order() {
    for code in [0, 7] {
        let sb = Sandbox::new();
        stack(&sb, &format!("sleep 0.2; exit {code}"), "exit_with = true");
        let mut sd = sb.run();
        assert_eq!(sd.exit_code(), code, "{}", sd.stderr());
        let r = sb.report();
        assert_eq!(r.trigger, Some(Trigger::ExitWith("tests".into())));
        assert_eq!(r.exit_code, code);
        let tests = r.component("tests").expect("tests in the report");
        assert_eq!(tests.exit_status, Some(code));
        let expected = if code == 0 {
            Outcome::ExitedEarly
        } else {
            Outcome::Failed
        };
        assert_eq!(tests.outcome, expected);
        // The rest was stopped in order, dependents first.
        assert_eq!(r.stop_order(), ["tests", "web", "db"]);
        for name in ["web", "db"] {
            assert_eq!(r.component(name).map(|c| c.outcome), Some(Outcome::Stopped));
        }
        assert_stop_end_before_begin(&sb.log_lines(), "web", "db");
        r.assert_respects_graph();
    }
}

#[test]
fn exit_with_on_the_command_line_picks_the_component() {
    let sb = Sandbox::new();
    stack(&sb, "exit 5", "");
    let mut args = sb.run_args();
    args.extend(["--exit-with".into(), "tests".into()]);
    let mut sd = crate::common::Sundown::spawn(&args);
    assert_eq!(sd.exit_code(), 5, "{}", sd.stderr());
    assert_eq!(sb.report().trigger, Some(Trigger::ExitWith("tests".into())));

    let mut args = sb.run_args();
    args.extend(["--exit-with".into(), "test".into()]);
    let out = crate::common::cli(&args);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--exit-with: there is no component `test` (did you mean `tests`?)"),
        "{err}"
    );
}

#[test]
fn the_tests_code_wins_over_a_shutdown_that_had_to_kill() {
    for code in [0, 7] {
        let sb = Sandbox::new();
        sb.config(&format!(
            "{}{}",
            sb.stubborn("db", "stop_timeout = \"300ms\""),
            sb.shell(
                "tests",
                &format!("exit {code}"),
                "depends_on = [\"db\"]\nexit_with = true"
            ),
        ));
        let mut sd = sb.run();
        assert_eq!(sd.exit_code(), code, "{}", sd.stderr());
        let r = sb.report();
        let db = r.component("db").expect("db in the report");
        assert_eq!(db.outcome, Outcome::TimedOutKilled);
        // Without exit_with, this run would have exited 3.
        assert_eq!(r.exit().code(), if code == 0 { 3 } else { 1 });
        assert_eq!(r.exit_code, code);
    }
}

#[test]
fn a_second_signal_still_exits_4() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.stubborn("db", "stop_timeout = \"30s\""),
        sb.shell("tests", "exit 7", "depends_on = [\"db\"]\nexit_with = true"),
    ));
    let mut sd = sb.run();
    sd.wait_for("exit_with: stopping the rest in order");
    sd.wait_for("stopping db");
    // The first signal joins the shutdown under way; the second forces it.
    sd.signal(Signal::SIGTERM);
    sd.wait_for("already shutting down");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 4, "{}", sd.stderr());
    assert_eq!(sb.report().exit_code, 4);
}

#[test]
fn bad_exit_with_settings_are_config_errors_with_their_place() {
    let sb = Sandbox::new();
    let cases = [
        (
            format!(
                "{}{}",
                sb.service("a", "exit_with = true"),
                sb.service("b", "exit_with = true")
            ),
            ":6:13: error: component `b`: exit_with: `a` already sets it",
        ),
        (
            sb.service("a", "exit_with = \"yes\""),
            ":3:13: error: component `a`: exit_with: ",
        ),
        (
            sb.service("a", "exit_with = true\nrestart = \"always\""),
            ":4:11: error: component `a`: restart = \"always\" cannot go with exit_with = true",
        ),
    ];
    for (toml, expected) in cases {
        let config = sb.config(&toml);
        let out = crate::common::cli(&["check".as_ref(), "--config".as_ref(), config.as_os_str()]);
        assert_eq!(out.status.code(), Some(2), "{toml}");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{expected}\n{err}");
    }
}

#[test]
fn check_plan_and_status_show_exit_with() {
    let sb = Sandbox::new();
    stack(&sb, "sleep 1000", "exit_with = true");
    for cmd in ["check", "plan"] {
        let out = sb.client(&[cmd]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("exit_with: `tests`: when it ends by itself"),
            "{}",
            text(&out.stdout)
        );
    }
    let mut sd = sb.run();
    sd.wait_ready(3);
    assert_eq!(sb.status().exit_with.as_deref(), Some("tests"));
    let table = text(&sb.client(&["status"]).stdout);
    assert!(
        table.contains("exit_with: the run exits with its exit code"),
        "{table}"
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0);
}

#[test]
fn wait_ready_returns_once_every_component_is_ready() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.service("web", "depends_on = [\"db\"]\nready_after = \"700ms\""),
    ));
    let mut sd = sb.run();
    // Started at once: it waits for the socket, then for the graph.
    let out = sb.client(&["wait", "--timeout", "20s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(sb.status().components.iter().all(|c| c.state.is_up()));
    let out = sb.client(&["wait", "--ready"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The probe: a yes says nothing.
    let out = sb.client(&["status", "--ready"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        (String::new(), String::new())
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0);
}

#[test]
fn wait_times_out_naming_what_is_not_ready() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.service("slow", "ready_after = \"1h\""),
    ));
    let mut sd = sb.run();
    sd.wait_for("control socket:");
    let t = std::time::Instant::now();
    let out = sb.client(&["wait", "--timeout", "200ms"]);
    assert!(t.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("timed out after 200ms: not ready: slow (starting)"),
        "{err}"
    );
    // The probe's no names the others on stderr, as the README says.
    let out = sb.client(&["status", "--ready"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        (String::new(), "not ready: slow\n".to_string())
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0);
}

#[test]
fn wait_completed_waits_for_a_successful_end() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.service("db", ""),
        sb.shell("migrate", "sleep 0.5; exit 0", "depends_on = [\"db\"]"),
    ));
    let mut sd = sb.run();
    let out = sb.client(&["wait", "--completed", "migrate", "--timeout", "20s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let status = sb.status();
    let migrate = status.components.iter().find(|c| c.name == "migrate");
    assert_eq!(migrate.map(|c| c.state.as_str()), Some("exited"));

    // A typo is a usage error with a suggestion; a running one has not completed.
    let out = sb.client(&["wait", "--completed", "migrat"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "error: there is no component `migrat` (did you mean `migrate`?)\n"
    );
    let out = sb.client(&["wait", "--completed", "db", "--timeout", "200ms"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("`db` has not completed: db (ready)"),
        "{}",
        text(&out.stderr)
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0);
}

#[test]
fn wait_fails_when_the_run_shuts_down_first() {
    let sb = Sandbox::new();
    sb.config(&sb.service("slow", "ready_after = \"1h\""));
    let mut sd = sb.run();
    sd.wait_for("control socket:");
    let waiting = std::thread::spawn({
        let config = sb.path("supervisor.toml");
        move || {
            crate::common::cli(&[
                "wait".as_ref(),
                "--timeout".as_ref(),
                "20s".as_ref(),
                "--config".as_ref(),
                config.as_os_str(),
            ])
        }
    });
    sd.wait_for("slow: starting");
    // Nothing says when the client has connected; a client that came after
    // the socket closed would wait for its timeout, so give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));
    sd.signal(Signal::SIGTERM);
    let out = waiting.join().expect("the client thread");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the run is shutting down (SIGTERM)"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(sd.exit_code(), 0);
}

#[test]
fn a_signal_ending_the_tests_is_128_plus_its_number() {
    let sb = Sandbox::new();
    stack(&sb, "kill -KILL $$$$", "exit_with = true");
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 128 + 9, "{}", sd.stderr());
    let r = sb.report();
    assert_eq!(
        r.component("tests").and_then(|c| c.signal.as_deref()),
        Some("SIGKILL")
    );
    assert_eq!(r.exit_code, 137);
}

/// `examples/ci.toml` does what its header says: exit 0, or 1 with
/// `FAIL=1`, the stack stopped in order after the tests either way.
#[test]
fn the_ci_example_exits_with_the_tests_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (fail, code) in [(None, 0), (Some("1"), 1)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("ci.toml");
        std::fs::copy(root.join("examples/ci.toml"), &config).expect("copy the example");
        let mut cmd = crate::common::command();
        cmd.args(["run", "--config"]).arg(&config);
        match fail {
            Some(v) => cmd.env("FAIL", v),
            None => cmd.env_remove("FAIL"),
        };
        let mut sd = crate::common::Sundown::spawn_command(cmd);
        assert_eq!(sd.exit_code(), code, "{}", sd.stderr());
        let text = std::fs::read_to_string(dir.path().join("ci-teardown.json")).expect("report");
        let r = sundown::ShutdownReport::from_json(&text).expect("parses");
        assert_eq!(r.stop_order(), ["tests", "web", "db"]);
        r.assert_respects_graph();
    }
}
