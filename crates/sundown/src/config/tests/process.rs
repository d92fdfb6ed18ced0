//! `ready`, `liveness`, `stop_command`, `user` and `group` on a process:
//! defaults, values, and located errors.

use super::*;

const WEB: &str = "[components.web]\ncommand = \"srv\"\n";

fn web(extra: &str) -> ProcessSpec {
    process(&ok(&format!("{WEB}{extra}")), "web")
}

#[test]
fn a_tcp_readiness_probe_gets_the_defaults() {
    let p = web("ready = { tcp = \"127.0.0.1:6379\" }\n");
    let r = p.ready.expect("a probe");
    assert!(matches!(&r.check, Check::Tcp(a) if a == "127.0.0.1:6379"));
    assert_eq!(r.interval, Duration::from_millis(250));
    assert_eq!(r.timeout, Duration::from_secs(1));
    assert_eq!(r.start_period, Duration::ZERO);
    assert_eq!(r.ready_timeout, Duration::from_secs(60));
    assert!(p.liveness.is_none());
}

#[test]
fn every_probe_kind_and_setting_is_read() {
    let p = web(concat!(
        "ready = { http = \"http://127.0.0.1:8080/healthz\", status = 204, interval = \"100ms\", timeout = \"2s\", start_period = \"1s\", ready_timeout = \"30s\" }\n",
        "liveness = { exec = [\"pg_isready\", \"-h\", \"127.0.0.1\"], interval = \"10s\", failure_threshold = 5 }\n",
    ));
    let r = p.ready.expect("ready");
    assert!(
        matches!(&r.check, Check::Http { url, status: 204 } if url == "http://127.0.0.1:8080/healthz")
    );
    assert_eq!(
        (r.interval, r.timeout, r.start_period, r.ready_timeout),
        (
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(1),
            Duration::from_secs(30)
        )
    );
    let l = p.liveness.expect("liveness");
    assert!(matches!(&l.check, Check::Exec(a) if a == &["pg_isready", "-h", "127.0.0.1"]));
    assert_eq!(
        (l.interval, l.failure_threshold),
        (Duration::from_secs(10), 5)
    );
    assert_eq!(l.check.to_string(), "exec `pg_isready -h 127.0.0.1`");
}

#[test]
fn a_log_probe_is_a_regex_and_an_exec_may_be_one_line() {
    let p = web("ready = { log = \"ready to accept connections\" }\n");
    let Some(Check::Log(re)) = p.ready.map(|r| r.check) else {
        panic!("a log probe")
    };
    assert!(
        re.is_match("* Ready to accept connections tcp")
            || re.is_match("x ready to accept connections")
    );
    let p = web("ready = { exec = \"pg_isready -h 'a b'\" }\n");
    assert!(
        matches!(p.ready.map(|r| r.check), Some(Check::Exec(a)) if a == ["pg_isready", "-h", "a b"])
    );
}

#[test]
fn a_probe_needs_exactly_one_check() {
    assert_one_error(
        &format!("{WEB}ready = {{ interval = \"1s\" }}\n"),
        3,
        9,
        "component `web`: `ready` needs exactly one of `tcp`, `http`, `exec` or `log`",
    );
    assert_one_error(
        &format!("{WEB}liveness = {{ tcp = \"a:1\", exec = [\"x\"] }}\n"),
        3,
        12,
        "component `web`: `liveness` needs exactly one of `tcp`, `http`, `exec` or `log`",
    );
}

#[test]
fn probe_values_are_checked_where_they_are() {
    assert_one_error(
        &format!("{WEB}ready = {{ tcp = \"6379\" }}\n"),
        3,
        17,
        "component `web`: ready.tcp: `6379` is not host:port (e.g. \"127.0.0.1:6379\")",
    );
    assert_one_error(
        &format!("{WEB}ready = {{ http = \"https://x/healthz\" }}\n"),
        3,
        18,
        "component `web`: ready.http: https is not supported; probe the plain-HTTP health port, or use an `exec` probe with curl",
    );
    assert_one_error(
        &format!("{WEB}ready = {{ http = \"http://x/\", status = 999 }}\n"),
        3,
        40,
        "component `web`: ready.status: 999 is not an HTTP status (100-599)",
    );
    assert_one_error_starting(
        &format!("{WEB}ready = {{ log = \"(unclosed\" }}\n"),
        3,
        17,
        "component `web`: ready.log: not a regular expression:",
    );
    assert_one_error_starting(
        &format!("{WEB}ready = {{ tcp = \"a:1\", interval = \"soon\" }}\n"),
        3,
        35,
        "component `web`: ready.interval: `soon` is not a duration",
    );
    assert_one_error(
        &format!("{WEB}ready = {{ tcp = \"a:1\", status = 200 }}\n"),
        3,
        33,
        "component `web`: ready.status: only an `http` probe has a status",
    );
}

#[test]
fn each_probe_refuses_the_others_settings() {
    assert_one_error(
        &format!("{WEB}ready = {{ tcp = \"a:1\", failure_threshold = 2 }}\n"),
        3,
        44,
        "component `web`: ready.failure_threshold: a readiness probe keeps trying until `ready_timeout`; `failure_threshold` belongs in `liveness`",
    );
    assert_one_error(
        &format!("{WEB}liveness = {{ tcp = \"a:1\", ready_timeout = \"1s\" }}\n"),
        3,
        43,
        "component `web`: liveness.ready_timeout: a liveness probe runs for as long as the component does; `ready_timeout` belongs in `ready`",
    );
    assert_one_error(
        &format!("{WEB}liveness = {{ log = \"up\" }}\n"),
        3,
        20,
        "component `web`: liveness.log: a line that appeared once says nothing about now; use `tcp`, `http` or `exec` for liveness",
    );
    assert_one_error(
        &format!("{WEB}liveness = {{ tcp = \"a:1\", failure_threshold = 0 }}\n"),
        3,
        47,
        "component `web`: liveness.failure_threshold: must be at least 1",
    );
}

#[test]
fn an_unknown_probe_key_names_the_component() {
    let e = err(&format!(
        "{WEB}ready = {{ tcp = \"a:1\", every = \"1s\" }}\n"
    ));
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert!(
        e.diagnostics[0]
            .message
            .starts_with("component `web`: ready: unknown key `every`"),
        "{e}"
    );
    assert_eq!(e.diagnostics[0].line, 3);
}

#[test]
fn ready_after_and_a_ready_probe_exclude_each_other() {
    assert_one_error(
        &format!("{WEB}ready_after = \"1s\"\nready = {{ tcp = \"a:1\" }}\n"),
        3,
        15,
        "component `web`: ready_after: set either `ready_after` or a `ready` probe, not both",
    );
}

#[test]
fn probes_are_process_settings() {
    assert_one_error(
        "[components.db]\nkind = \"sim\"\nready = { tcp = \"a:1\" }\n",
        3,
        9,
        "component `db`: `ready` is a setting of kind `process`, but this component is kind `sim`",
    );
}

#[test]
fn a_stop_command_takes_half_the_stop_timeout_by_default() {
    let p = web("stop_timeout = \"20s\"\nstop_command = [\"redis-cli\", \"shutdown\"]\n");
    assert_eq!(
        p.stop_command.as_deref(),
        Some(&["redis-cli".to_string(), "shutdown".to_string()][..])
    );
    assert_eq!(p.stop_command_timeout, Duration::from_secs(10));
    assert_eq!(p.stop_timeout, Duration::from_secs(20));
    let p = web("stop_command = \"pg_ctl stop -m fast\"\nstop_command_timeout = \"3s\"\n");
    assert_eq!(p.stop_command.map(|c| c.len()), Some(4));
    assert_eq!(p.stop_command_timeout, Duration::from_secs(3));
}

#[test]
fn a_stop_command_that_outlasts_the_stop_timeout_is_a_warning() {
    let c = ok(&format!(
        "{WEB}stop_timeout = \"5s\"\nstop_command = [\"x\"]\nstop_command_timeout = \"5s\"\n"
    ));
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(
        c.warnings[0],
        "supervisor.toml:5:24: warning: component `web`: stop_command_timeout: the stop command may take 5s but stop_timeout is 5s: the process is killed before the stop signal is ever sent"
    );
}

#[test]
fn stop_command_mistakes_are_located() {
    assert_one_error(
        &format!("{WEB}stop_command = []\n"),
        3,
        16,
        "component `web`: stop_command is empty",
    );
    assert_one_error(
        &format!("{WEB}stop_command_timeout = \"1s\"\n"),
        3,
        24,
        "component `web`: stop_command_timeout: there is no `stop_command` to time",
    );
}

#[test]
fn user_and_group_are_read_and_may_not_be_empty() {
    let p = web("user = \"postgres\"\ngroup = \"ssl-cert\"\n");
    assert_eq!(
        (p.user.as_deref(), p.group.as_deref()),
        (Some("postgres"), Some("ssl-cert"))
    );
    assert_one_error(
        &format!("{WEB}user = \" \"\n"),
        3,
        8,
        "component `web`: user is empty",
    );
    assert_one_error(
        "[components.db]\nkind = \"sim\"\ngroup = \"x\"\n",
        3,
        9,
        "component `db`: `group` is a setting of kind `process`, but this component is kind `sim`",
    );
}
