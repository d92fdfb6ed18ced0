//! `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$$`: each form, the
//! `$` that stays as written, and errors at the `$` of their `${`.

use std::collections::BTreeMap;

use super::*;
use crate::config::interpolate::{Problem, Scope, interpolate};

/// sundown's environment in these tests: fixed, not the test runner's.
fn host(name: &str) -> Option<String> {
    match name {
        "HOST_ONLY" => Some("from-host".into()),
        "PORT" => Some("7000".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn expand(s: &str) -> Result<String, Problem> {
    let layer = BTreeMap::from([("NAME".to_string(), "web".to_string())]);
    let scope = Scope {
        layers: vec![&layer],
        host: &host,
    };
    interpolate(s, &scope).map(|c| c.into_owned())
}

fn expanded(s: &str) -> String {
    match expand(s) {
        Ok(v) => v,
        Err(p) => panic!("{s:?}: {p:?}"),
    }
}

fn problem(s: &str) -> Problem {
    match expand(s) {
        Ok(v) => panic!("{s:?} expanded to {v:?}, expected an error"),
        Err(p) => p,
    }
}

/// Parsed with [`host`] as sundown's environment.
fn parse_host(text: &str) -> Result<Config, ConfigError> {
    Config::parse_in(
        text,
        FILE,
        Path::new("/base"),
        &crate::kinds::builtin(),
        &host,
        &[],
    )
    .map(|(config, _)| config)
}

#[track_caller]
fn assert_error_at(text: &str, line: usize, column: usize, message: &str) {
    match parse_host(text) {
        Ok(c) => panic!("expected an error, got {c:#?}"),
        Err(e) => assert_eq!(
            e.diagnostics,
            vec![Located {
                file: None,
                line,
                column,
                message: message.into()
            }],
            "rendered:\n{e}"
        ),
    }
}

#[test]
fn every_form() {
    assert_eq!(expanded("no dollar"), "no dollar");
    assert_eq!(expanded("${NAME}:${PORT}"), "web:7000");
    assert_eq!(expanded("${UNSET:-8080}"), "8080");
    assert_eq!(expanded("${PORT:-8080}"), "7000");
    // `:-` as in the shell and Compose: empty counts as unset.
    assert_eq!(expanded("${EMPTY:-fallback}"), "fallback");
    assert_eq!(expanded("[${EMPTY}]"), "[]");
    assert_eq!(expanded("${UNSET:-}"), "");
    assert_eq!(expanded("${PORT:?the port is needed}"), "7000");
    assert_eq!(expanded("${HOST_ONLY}"), "from-host");
}

#[test]
fn a_doubled_dollar_is_one_dollar() {
    assert_eq!(expanded("$$"), "$");
    assert_eq!(expanded("echo $$$$ > pid"), "echo $$ > pid");
    assert_eq!(expanded("$${NAME}"), "${NAME}");
    assert_eq!(expanded("cost: 5$$"), "cost: 5$");
}

#[test]
fn a_dollar_not_followed_by_a_brace_stays() {
    // Shell scripts keep their own variables, `$!`, `$1`, `$(...)`.
    assert_eq!(
        expanded("echo $HOME $1 $! $(id -u) $((1+2)) $"),
        "echo $HOME $1 $! $(id -u) $((1+2)) $"
    );
    assert_eq!(expanded("^up$"), "^up$");
}

#[test]
fn defaults_nest() {
    assert_eq!(expanded("${UNSET:-${PORT}}"), "7000");
    assert_eq!(expanded("${UNSET:-${ALSO_UNSET:-x}}"), "x");
    assert_eq!(expanded("${UNSET:-a${NAME}b}-${NAME}"), "awebb-web");
    assert_eq!(expanded("${UNSET:-$$}"), "$");
    // A default that is not used need not resolve.
    assert_eq!(expanded("${PORT:-${ALSO_UNSET}}"), "7000");
}

#[test]
fn problems_point_at_their_dollar() {
    let p = problem("a ${NOPE} b");
    assert_eq!(p.at, 2);
    assert_eq!(
        p.message,
        "variable `NOPE` is not set; set it in an env_file or sundown's environment, or give a default: ${NOPE:-default}"
    );
    assert_eq!(problem("${UNSET:-${NOPE}}").at, 9);
    let p = problem("x${NOPE:?set NOPE in .env}");
    assert_eq!(
        (p.at, p.message.as_str()),
        (1, "variable `NOPE` is not set: set NOPE in .env")
    );
    assert_eq!(
        problem("${EMPTY:?}").message,
        "variable `EMPTY` is empty: it is required"
    );
    assert_eq!(problem("ab${NAME").message, "`${` is not closed by a `}`");
    assert_eq!(
        problem("${}").message,
        "`${}`: `${` must be followed by a variable name (letters, digits and `_`); write `$${` for a literal `${`"
    );
    assert_eq!(
        problem("${1}").message,
        "`${1}`: `${` must be followed by a variable name (letters, digits and `_`); write `$${` for a literal `${`"
    );
    assert_eq!(
        problem("${NAME-x}").message,
        "`${NAME-x}`: expected `}`, `:-default` or `:?message` after `${NAME`"
    );
}

#[test]
fn an_unset_variable_is_a_config_error_at_its_line_and_column() {
    assert_error_at(
        "[components.web]\ncommand = \"serve --port ${NOPE}\"\n",
        2,
        25,
        "component `web`: command: variable `NOPE` is not set; set it in an env_file or sundown's environment, or give a default: ${NOPE:-default}",
    );
    // Escapes before it do not move the column off the `$`.
    assert_error_at(
        "[components.web]\ncommand = [\"sh\", \"-c\", \"echo \\t\\\"${NOPE}\"]\n",
        2,
        34,
        "component `web`: command: variable `NOPE` is not set; set it in an env_file or sundown's environment, or give a default: ${NOPE:-default}",
    );
    assert_error_at(
        "[components.web]\ncommand = \"serve\"\nready = { tcp = \"127.0.0.1:${NOPE:?set NOPE}\" }\n",
        3,
        28,
        "component `web`: ready: variable `NOPE` is not set: set NOPE",
    );
    assert_error_at(
        "[supervisor]\nreport = '${NOPE}.json'\n",
        2,
        11,
        "[supervisor] report: variable `NOPE` is not set; set it in an env_file or sundown's environment, or give a default: ${NOPE:-default}",
    );
}

#[test]
fn every_problem_is_reported_and_nothing_else_then() {
    let e = parse_host(
        "[components.web]\ncommand = \"serve ${A}\"\nstop_timeout = \"${B}\"\n[components.db]\nkind = \"sim\"\nstop_delay = \"${C}\"\n",
    )
    .expect_err("three unset variables");
    let places: Vec<(usize, usize)> = e.diagnostics.iter().map(|d| (d.line, d.column)).collect();
    // The empty durations they would leave are not reported as well.
    assert_eq!(places, [(2, 18), (3, 17), (6, 15)], "{e}");
}

#[test]
fn every_string_setting_is_interpolated() {
    let config = parse_host(
        r#"
[supervisor]
shutdown_timeout = "${UNSET:-30s}"
report = "r-${PORT}.json"
metrics = { listen = "127.0.0.1:${PORT}" }

[components.web]
command = "serve --port=${PORT} $$HOME"
env = { ADDR = "127.0.0.1:${PORT}", SHELL_VAR = "$HOME" }
working_dir = "w${PORT}"
stop_timeout = "${UNSET:-3s}"
ready = { tcp = "127.0.0.1:${PORT}" }
stop_command = ["ctl", "--port", "${PORT}", "stop"]

[components.sim]
kind = "${UNSET:-sim}"
depends_on = ["${UNSET:-web}"]
stop_delay = "${UNSET:-1s}"

[phase_timeouts]
web = "${UNSET:-5s}"
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = &config.supervisor;
    assert_eq!(s.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(s.report.as_deref(), Some(Path::new("/base/r-7000.json")));
    assert_eq!(s.metrics.map(|m| m.port()), Some(7000));
    let web = process(&config, "web");
    assert_eq!(web.argv, ["serve", "--port=7000", "$HOME"]);
    assert_eq!(web.env["ADDR"], "127.0.0.1:7000");
    assert_eq!(web.env["SHELL_VAR"], "$HOME");
    assert_eq!(web.working_dir.as_deref(), Some(Path::new("/base/w7000")));
    assert_eq!(
        web.ready.map(|r| r.check.to_string()).as_deref(),
        Some("tcp 127.0.0.1:7000")
    );
    assert_eq!(
        web.stop_command.as_deref(),
        Some(&["ctl", "--port", "7000", "stop"].map(String::from)[..])
    );
    let i = config.index_of("web").expect("web");
    assert_eq!(config.components[i].stop_timeout, Duration::from_secs(3));
    assert_eq!(sim(&config, "sim").stop_delay, Duration::from_secs(1));
    let i = config.index_of("sim").expect("sim");
    assert_eq!(config.components[i].depends_on, ["web"]);
    assert_eq!(config.phase_timeouts["web"], Duration::from_secs(5));
}

#[test]
fn settings_see_env_and_env_sees_below_itself() {
    let config = parse_host(
        "[components.web]\ncommand = \"serve ${ADDR} ${PORT}\"\nenv = { ADDR = \"h:${PORT}\", PORT = \"9000\", SELF = \"${SELF:-none}\" }\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let web = process(&config, "web");
    // `env` comes first for the other settings; `env` values see sundown's
    // environment, not each other (no order among them, no self-reference).
    assert_eq!(web.argv, ["serve", "h:7000", "9000"]);
    assert_eq!(web.env["SELF"], "none");
}

#[test]
fn escaping_round_trips_and_leaves_lone_dollars_alone() {
    use crate::config::interpolate::escape;
    for s in [
        "",
        "plain",
        "$",
        "$HOME $! $1",
        "$$",
        "$$$",
        "${X}",
        "$${X}",
        "a$",
        "$$ > pid; ${",
        "€$${é}$",
    ] {
        let e = escape(s);
        assert_eq!(expanded(&e), s, "{s:?} escaped as {e:?}");
    }
    assert_eq!(escape("echo $$ $HOME ${X}"), "echo $$$$ $HOME $${X}");
}
