//! One-shot components (`oneshot = true`) and `depends_on` conditions with
//! real processes: the order is read from the shared log the scripts append
//! to, the outcome from the report. The engine's side, on a paused clock,
//! is in the library's `tests/sundown/oneshot.rs`.

use nix::sys::signal::Signal;
use sundown::Outcome;
use sundown::status::ComponentState;

use crate::common::{Sandbox, position, text};

/// A one-shot script: logs `NAME-begin`, takes `secs`, logs `NAME-end`, exits 0.
fn job(sb: &Sandbox, name: &str, secs: &str, extra: &str) -> String {
    let log = sb.log().display().to_string();
    sb.shell(
        name,
        &format!("echo {name}-begin >> {log}; sleep {secs}; echo {name}-end >> {log}"),
        &format!("oneshot = true\n{extra}"),
    )
}

const AFTER_MIGRATE: &str = r#"depends_on = [{ name = "migrate", condition = "completed" }]"#;

#[test]
fn a_migration_completes_before_the_app_starts_and_is_not_stopped() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}{}{}",
        sb.service("db", ""),
        job(&sb, "migrate", "0.3", "depends_on = [\"db\"]"),
        sb.service("app", AFTER_MIGRATE),
        // A plain name waits for the same: a one-shot is ready once completed.
        sb.service("web", "depends_on = [\"migrate\"]"),
    ));
    let mut sd = sb.run();
    sd.wait_ready(4);
    // Ready at once: the scripts may log their start just after.
    sb.wait_for_log("start app");
    sb.wait_for_log("start web");
    let log = sb.log_lines();
    let at = |l: &str| position(&log, l);
    assert!(at("start db") < at("migrate-begin"), "{log:?}");
    assert!(at("migrate-end") < at("start app"), "{log:?}");
    assert!(at("migrate-end") < at("start web"), "{log:?}");

    let out = sb.client(&["wait", "--completed", "migrate", "--timeout", "5s"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // status: completed, with its exit code and how long it took.
    let status = sb.status();
    let migrate = status
        .components
        .iter()
        .find(|c| c.name == "migrate")
        .expect("migrate");
    assert_eq!(migrate.state, ComponentState::Completed);
    let done = migrate.completed.expect("its completed run");
    assert_eq!(done.exit_code, 0);
    assert!(done.duration_ms >= 300.0, "{done:?}");
    let table = text(&sb.client(&["status"]).stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("migrate "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        row.contains("completed") && row.contains("completed: exit code 0 in 0."),
        "{table}"
    );

    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let r = sb.report();
    let migrate = r.component("migrate").expect("migrate");
    assert_eq!(migrate.outcome, Outcome::Completed, "{}", r.to_json());
    assert_eq!(migrate.exit_status, Some(0));
    assert_eq!(migrate.stop_requested, None, "not stopped at shutdown");
    assert!(r.component("app").expect("app").start_requested >= migrate.stopped_at);
    assert_eq!(r.totals.completed, 1);
    r.assert_stopped_before("app", "db");
}

#[test]
fn started_waits_for_the_start_and_ready_for_readiness() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}{}",
        sb.service("slow", "ready_after = \"700ms\""),
        sb.service(
            "early",
            r#"depends_on = [{ name = "slow", condition = "started" }]"#
        ),
        sb.service(
            "late",
            r#"depends_on = [{ name = "slow", condition = "ready" }]"#
        ),
    ));
    let mut sd = sb.run();
    sd.wait_ready(3);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let r = sb.report();
    let c = |n: &str| r.component(n).expect(n).clone();
    assert!(
        c("early").start_requested < c("slow").ready_at,
        "{}",
        r.to_json()
    );
    assert!(
        c("late").start_requested >= c("slow").ready_at,
        "{}",
        r.to_json()
    );
}

#[test]
fn a_failed_one_shot_keeps_its_dependent_from_starting_and_the_report_says_why() {
    let sb = Sandbox::new();
    let log = sb.log().display().to_string();
    sb.config(&format!(
        "{}{}",
        sb.shell(
            "migrate",
            &format!("echo migrate-begin >> {log}; exit 3"),
            "oneshot = true"
        ),
        sb.service("app", AFTER_MIGRATE),
    ));
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 1, "{}", sd.stderr());
    assert!(!sb.log_lines().iter().any(|l| l == "start app"));
    let r = sb.report();
    let migrate = r.component("migrate").expect("migrate");
    assert_eq!(migrate.outcome, Outcome::Failed);
    assert_eq!(migrate.exit_status, Some(3));
    let app = r.component("app").expect("app");
    assert_eq!(app.outcome, Outcome::NeverStarted);
    assert_eq!(
        app.reason.as_deref(),
        Some("waited for `migrate` to complete, which failed (exit status 3)")
    );
    assert!(
        sd.stderr()
            .contains("migrate: one-shot failed: exit status 3"),
        "{}",
        sd.stderr()
    );
}

#[test]
fn a_failing_one_shot_is_retried_by_restart_on_failure() {
    let sb = Sandbox::new();
    let (log, dir) = (
        sb.log().display().to_string(),
        sb.dir().display().to_string(),
    );
    // Fails on its first run, succeeds on its second.
    let script = format!(
        "n=$(cat {dir}/count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {dir}/count; echo migrate-$n >> {log}; [ $n -ge 2 ]"
    );
    sb.config(&format!(
        "{}{}",
        sb.shell(
            "migrate",
            &script,
            "oneshot = true\nrestart = \"on-failure\"\nrestart_backoff = \"100ms\""
        ),
        sb.service("app", AFTER_MIGRATE),
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    sb.wait_for_log("start app");
    let log = sb.log_lines();
    assert_eq!(
        log.iter().filter(|l| l.starts_with("migrate-")).count(),
        2,
        "{log:?}"
    );
    assert!(position(&log, "migrate-2") < position(&log, "start app"));
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let r = sb.report();
    let migrate = r.component("migrate").expect("migrate");
    assert_eq!(migrate.outcome, Outcome::Completed);
    assert_eq!(migrate.restart_count, 1);
    assert!(
        migrate.restarts[0].reason.contains("exit status 1"),
        "{migrate:?}"
    );
}

#[test]
fn a_one_shot_still_running_at_shutdown_is_stopped_in_its_phase() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}{}",
        sb.service("db", ""),
        sb.service_with_delay("backfill", "0.1", "oneshot = true\ndepends_on = [\"db\"]"),
        sb.service(
            "api",
            r#"depends_on = [{ name = "backfill", condition = "started" }]"#
        ),
    ));
    let mut sd = sb.run();
    sb.wait_for_log("start api");
    sb.wait_for_log("start backfill");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let r = sb.report();
    let backfill = r.component("backfill").expect("backfill");
    assert_eq!(backfill.outcome, Outcome::Stopped, "{}", r.to_json());
    assert_eq!(backfill.phase, 1);
    r.assert_stopped_before("api", "backfill");
    r.assert_stopped_before("backfill", "db");
    let log = sb.log_lines();
    assert!(position(&log, "stop-end backfill") < position(&log, "stop-begin db"));
}

#[test]
fn restart_and_start_run_a_completed_one_shot_again_with_its_dependents() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}{}",
        sb.service("db", ""),
        job(&sb, "migrate", "0.2", "depends_on = [\"db\"]"),
        sb.service("app", AFTER_MIGRATE),
    ));
    let mut sd = sb.run();
    sd.wait_ready(3);
    let out = sb.client(&["restart", "migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sb.wait_for_log_count("start app", 2);
    let log = sb.log_lines();
    let nth = |line: &str, n: usize| {
        log.iter()
            .enumerate()
            .filter(|(_, l)| *l == line)
            .nth(n)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("{line} #{n} in {log:?}"))
    };
    // app down first, then the job again, then app back.
    assert!(nth("stop-end app", 0) < nth("migrate-begin", 1), "{log:?}");
    assert!(nth("migrate-end", 1) < nth("start app", 1), "{log:?}");
    assert!(!log.iter().any(|l| l == "stop-begin db"), "db kept running");

    let out = sb.client(&["start", "migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    sb.wait_for_log_count("start app", 3);
    sb.wait_for_log_count("migrate-end", 3);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let r = sb.report();
    assert_eq!(
        r.component("migrate").expect("migrate").outcome,
        Outcome::Completed
    );
}

#[test]
fn bad_one_shot_settings_are_config_errors_with_their_place() {
    let sb = Sandbox::new();
    let cases = [
        (
            format!(
                "{}{}",
                sb.service("db", ""),
                sb.service(
                    "app",
                    r#"depends_on = [{ name = "db", condition = "completed" }]"#
                )
            ),
            ":6:42: error: component `app`: depends_on `db` with condition = \"completed\", but `db` is not a one-shot",
        ),
        (
            sb.service("migrate", "oneshot = true\nrestart = \"always\""),
            ":4:11: error: component `migrate`: restart = \"always\" cannot go with oneshot = true",
        ),
        (
            format!(
                "{}{}",
                job(&sb, "migrate", "0", ""),
                sb.service(
                    "app",
                    r#"depends_on = [{ name = "migrate", condition = "done" }]"#
                )
            ),
            ":7:47: error: component `app`: depends_on `migrate`: `done` is not a condition; use \"started\", \"ready\" or \"completed\"",
        ),
        (
            format!(
                "{}{}",
                job(&sb, "migrate", "0", ""),
                sb.service(
                    "app",
                    r#"depends_on = [{ name = "migrat", condition = "completed" }]"#
                )
            ),
            ":7:24: error: component `app` depends on `migrat`, which is not a component (did you mean `migrate`?)",
        ),
    ];
    for (toml, expected) in cases {
        let config = sb.config(&toml);
        let out = crate::common::cli(&["check".as_ref(), "--config".as_ref(), config.as_os_str()]);
        assert_eq!(out.status.code(), Some(2), "{toml}");
        let err = text(&out.stderr);
        assert!(err.contains(expected), "{expected}\n{err}\n{toml}");
    }
}

#[test]
fn plan_shows_the_one_shots_and_the_conditions() {
    let sb = Sandbox::new();
    let config = sb.config(&format!(
        "{}{}{}",
        job(&sb, "migrate", "0", ""),
        sb.service("app", AFTER_MIGRATE),
        sb.service(
            "logs",
            r#"depends_on = [{ name = "app", condition = "started" }]"#
        ),
    ));
    let out = crate::common::cli(&["plan".as_ref(), "--config".as_ref(), config.as_os_str()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plan = text(&out.stdout);
    assert!(
        plan.contains(
            "one-shots (run to completion, ready once completed, not stopped once ended): migrate"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("condition: `app` starts once `migrate` completed"),
        "{plan}"
    );
    assert!(
        plan.contains("condition: `logs` starts once `app` started"),
        "{plan}"
    );
}
