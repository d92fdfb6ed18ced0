//! Validation of `supervisor.toml`: every error class with its exact place,
//! the rendered message, warnings, and the defaults.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::*;
use crate::process::{Check, ProcessSpec};
use crate::sim::SimSpec;

const FILE: &str = "supervisor.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, FILE, Path::new("/base"))
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text) {
        Ok(config) => panic!("expected an error, got {config:#?}"),
        Err(e) => e,
    }
}

/// Asserts that `text` has exactly one problem, at `line:column`, whose
/// message is exactly `message`, and that it renders as
/// `supervisor.toml:LINE:COLUMN: error: MESSAGE`.
#[track_caller]
fn assert_one_error(text: &str, line: usize, column: usize, message: &str) {
    let e = err(text);
    assert_eq!(
        e.diagnostics,
        vec![Located {
            line,
            column,
            message: message.to_string()
        }],
        "rendered:\n{e}"
    );
    assert_eq!(e.file, FILE);
    assert_eq!(
        e.to_string(),
        format!("{FILE}:{line}:{column}: error: {message}")
    );
}

/// Asserts exactly one problem at `line:column` whose message starts with
/// `prefix` (for messages that quote a library's wording after it).
#[track_caller]
fn assert_one_error_starting(text: &str, line: usize, column: usize, prefix: &str) -> String {
    let e = err(text);
    assert_eq!(e.diagnostics.len(), 1, "rendered:\n{e}");
    let d = &e.diagnostics[0];
    assert_eq!((d.line, d.column), (line, column), "rendered:\n{e}");
    assert!(
        d.message.starts_with(prefix),
        "message {:?} does not start with {prefix:?}",
        d.message
    );
    let rendered = e.to_string();
    assert!(
        rendered.starts_with(&format!("{FILE}:{line}:{column}: error: {prefix}")),
        "rendered: {rendered}"
    );
    d.message.clone()
}

fn process(config: &Config, name: &str) -> ProcessSpec {
    let i = config.index_of(name).expect("the component exists");
    let kind = &config.components[i].kind;
    match kind.get::<ProcessSpec>() {
        Some(p) => p.clone(),
        None => panic!("`{name}` is kind {}, not process", kind.name()),
    }
}

fn sim(config: &Config, name: &str) -> SimSpec {
    let i = config.index_of(name).expect("the component exists");
    let kind = &config.components[i].kind;
    match kind.get::<SimSpec>() {
        Some(s) => s.clone(),
        None => panic!("`{name}` is kind {}, not sim", kind.name()),
    }
}

// ---------------------------------------------------------------- TOML and serde errors

#[test]
fn toml_syntax_error_in_a_component_names_it() {
    assert_one_error(
        r#"[components.redis]
kind = "sim"

[components.web]
kind = "sim"
stop_delay = 1s
"#,
        6,
        14,
        "component `web`: string values must be quoted, expected literal string",
    );
}

#[test]
fn toml_syntax_error_in_a_table_header() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[components.db\n",
        3,
        15,
        "unclosed table, expected `]`",
    );
}

#[test]
fn toml_duplicate_component_table() {
    assert_one_error(
        r#"[components.web]
kind = "sim"
[components.db]
kind = "sim"
[components.web]
kind = "sim"
"#,
        5,
        13,
        "component `web`: duplicate key",
    );
}

#[test]
fn unknown_key_in_supervisor() {
    let message = assert_one_error_starting(
        r#"[supervisor]
shutdown_timeout = "20s"
shutdown_timout = "5s"
"#,
        3,
        1,
        "unknown field `shutdown_timout`, expected one of ",
    );
    assert!(message.contains("`shutdown_timeout`"), "{message}");
}

#[test]
fn unknown_key_in_a_component_names_the_component() {
    let message = assert_one_error_starting(
        r#"[components.redis]
kind = "sim"

[components.web]
kind = "sim"
stop_delay = "1s"
stop_dealy = "2s"
"#,
        7,
        1,
        "component `web`: unknown field `stop_dealy`, expected one of ",
    );
    assert!(message.contains("`stop_delay`"), "{message}");
}

#[test]
fn unknown_key_in_an_inline_component_table_names_the_component() {
    assert_one_error_starting(
        "[components]\nweb = { kind = \"sim\", bogus = 1 }\n",
        2,
        23,
        "component `web`: unknown field `bogus`, expected one of ",
    );
}

#[test]
fn wrong_type_in_a_nested_table_names_the_component() {
    assert_one_error(
        r#"[components.web]
command = "x"
[components.db]
kind = "sim"
[components.web.env]
PORT = 8080
"#,
        6,
        8,
        "component `web`: invalid type: integer `8080`, expected a string",
    );
}

#[test]
fn wrong_type_outside_components_names_no_component() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[phase_timeouts]\nweb = 5\n",
        4,
        7,
        "invalid type: integer `5`, expected a string",
    );
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[supervisor]\nreport = 5\n",
        4,
        10,
        "invalid type: integer `5`, expected a string",
    );
}

#[test]
fn command_of_the_wrong_type() {
    assert_one_error(
        "[components.web]\ncommand = 5\n",
        2,
        11,
        "component `web`: `command` must be a string (\"prog --flag arg\") or an array of strings",
    );
}

#[test]
fn unknown_top_level_table() {
    assert_one_error_starting(
        "[components.web]\nkind = \"sim\"\n[bogus]\nx = 1\n",
        3,
        2,
        "unknown field `bogus`, expected one of `supervisor`, `components`, `phase_timeouts`",
    );
}

#[test]
fn unknown_strategy() {
    assert_one_error(
        "[supervisor]\nstrategy = \"eagr\"\n",
        2,
        12,
        "unknown variant `eagr`, expected one of `phased`, `eager`, `k8s-sidecars`",
    );
}

// ---------------------------------------------------------------- dependencies

#[test]
fn unknown_dependency_with_a_suggestion() {
    assert_one_error(
        r#"[components.redis]
kind = "sim"

[components.web]
kind = "sim"
depends_on = ["postgres", "redsi"]

[components.postgres]
kind = "sim"
"#,
        6,
        27,
        "component `web` depends on `redsi`, which is not a component (did you mean `redis`?)",
    );
}

#[test]
fn unknown_dependency_without_a_suggestion() {
    assert_one_error(
        r#"[components.redis]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["kafka"]
"#,
        5,
        15,
        "component `web` depends on `kafka`, which is not a component",
    );
}

#[test]
fn self_dependency_is_reported_once_and_not_as_a_cycle() {
    assert_one_error(
        r#"[components.web]
kind = "sim"
depends_on = ["web"]
"#,
        3,
        15,
        "component `web` depends on itself",
    );
}

#[test]
fn duplicate_edge() {
    assert_one_error(
        r#"[components.db]
kind = "sim"
[components.web]
kind = "sim"
depends_on = ["db", "db"]
"#,
        5,
        21,
        "component `web`: `db` is listed twice in depends_on",
    );
}

#[test]
fn three_cycle_names_the_full_path() {
    assert_one_error(
        r#"[components.a]
kind = "sim"
depends_on = ["b"]

[components.b]
kind = "sim"
depends_on = ["c"]

[components.c]
kind = "sim"
depends_on = ["a"]

[components.d]
kind = "sim"
depends_on = ["a"]
"#,
        3,
        15,
        "dependency cycle: a → b → c → a",
    );
}

#[test]
fn two_independent_cycles_are_both_reported() {
    let e = err(r#"[components.a]
kind = "sim"
depends_on = ["b"]
[components.b]
kind = "sim"
depends_on = ["a"]
[components.ok]
kind = "sim"
depends_on = ["a"]
[components.x]
kind = "sim"
depends_on = ["y"]
[components.y]
kind = "sim"
depends_on = ["z"]
[components.z]
kind = "sim"
depends_on = ["x"]
"#);
    assert_eq!(
        e.diagnostics,
        vec![
            Located {
                line: 3,
                column: 15,
                message: "dependency cycle: a → b → a".into()
            },
            Located {
                line: 12,
                column: 15,
                message: "dependency cycle: x → y → z → x".into()
            },
        ],
        "rendered:\n{e}"
    );
    assert_eq!(
        e.to_string(),
        "supervisor.toml:3:15: error: dependency cycle: a → b → a\n\
         supervisor.toml:12:15: error: dependency cycle: x → y → z → x\n\
         2 errors in supervisor.toml"
    );
}

#[test]
fn overlapping_cycles_are_reported_once_by_the_shortest() {
    // ok → x → ok and x → y → x share x: one strongly connected component,
    // reported once, by its shortest cycle through its first name.
    let e = err(r#"[components.ok]
kind = "sim"
depends_on = ["x"]
[components.x]
kind = "sim"
depends_on = ["ok", "y"]
[components.y]
kind = "sim"
depends_on = ["x"]
"#);
    assert_eq!(
        e.diagnostics,
        vec![Located {
            line: 3,
            column: 15,
            message: "dependency cycle: ok → x → ok".into()
        }],
        "rendered:\n{e}"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(
        err("[components.web]\nkind = \"sim\"\ndepends_on = [\"café\", \"redsi\"]\n").diagnostics,
        vec![
            Located {
                line: 3,
                column: 15,
                message: "component `web` depends on `café`, which is not a component".into()
            },
            Located {
                line: 3,
                column: 23,
                message: "component `web` depends on `redsi`, which is not a component".into()
            },
        ]
    );
}

// ---------------------------------------------------------------- durations

#[test]
fn zero_duration() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\nstop_timeout = \"0s\"\n",
        3,
        16,
        "component `web`: stop_timeout must be greater than zero",
    );
    assert_one_error(
        "[supervisor]\nshutdown_timeout = \"0s\"\n",
        2,
        20,
        "[supervisor] shutdown_timeout must be greater than zero",
    );
}

#[test]
fn zero_is_allowed_for_delays() {
    let config =
        ok("[components.web]\nkind = \"sim\"\nstart_delay = \"0s\"\nstop_delay = \"0ms\"\n");
    assert_eq!(sim(&config, "web").start_delay, Duration::ZERO);
    assert_eq!(sim(&config, "web").stop_delay, Duration::ZERO);
}

#[test]
fn negative_duration() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\nstop_timeout = \"-5s\"\n",
        3,
        16,
        "component `web`: stop_timeout: `-5s` is negative",
    );
}

#[test]
fn unparseable_duration() {
    let message = assert_one_error_starting(
        "[components.web]\nkind = \"sim\"\nstop_delay = \"soon\"\n",
        3,
        14,
        "component `web`: stop_delay: `soon` is not a duration (",
    );
    assert!(
        message.ends_with("; write e.g. \"250ms\", \"30s\", \"1m30s\""),
        "{message}"
    );
}

#[test]
fn absurd_duration() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\nstop_timeout = \"30h\"\n",
        3,
        16,
        "component `web`: stop_timeout: `30h` is longer than 1day; is the unit right?",
    );
}

#[test]
fn exactly_the_maximum_duration_is_accepted() {
    let config = ok("[supervisor]\nshutdown_timeout = \"24h\"\n");
    assert_eq!(config.supervisor.shutdown_timeout, MAX_DURATION);
}

#[test]
fn phase_timeout_duration_is_checked() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[phase_timeouts]\nweb = \"0s\"\n",
        4,
        7,
        "[phase_timeouts] web must be greater than zero",
    );
}

// ---------------------------------------------------------------- commands and signals

#[test]
fn empty_command_array() {
    assert_one_error(
        "[components.web]\ncommand = []\n",
        2,
        11,
        "component `web`: command is empty",
    );
}

#[test]
fn empty_command_string() {
    assert_one_error(
        "[components.web]\ncommand = \"\"\n",
        2,
        11,
        "component `web`: command is empty",
    );
    assert_one_error(
        "[components.web]\ncommand = \"   \"\n",
        2,
        11,
        "component `web`: command is empty",
    );
    assert_one_error(
        "[components.web]\ncommand = [\"\", \"x\"]\n",
        2,
        11,
        "component `web`: command is empty",
    );
}

#[test]
fn command_string_is_split_shell_style() {
    let config = ok("[components.web]\ncommand = \"sh -c 'echo hi'\"\n");
    assert_eq!(process(&config, "web").argv, ["sh", "-c", "echo hi"]);
    let config = ok("[components.web]\ncommand = 'printf \"%s\\n\" a\\ b'\n");
    assert_eq!(process(&config, "web").argv, ["printf", "%s\\n", "a b"]);
}

#[test]
fn command_array_is_taken_verbatim() {
    let config = ok("[components.web]\ncommand = [\"sh\", \"-c\", \"echo 'hi there'\"]\n");
    assert_eq!(
        process(&config, "web").argv,
        ["sh", "-c", "echo 'hi there'"]
    );
}

#[test]
fn unterminated_quote_in_a_command_string() {
    assert_one_error(
        "[components.web]\ncommand = \"sh -c 'echo hi\"\n",
        2,
        11,
        "component `web`: command: cannot split `sh -c 'echo hi`: missing closing quote",
    );
}

#[test]
fn bad_stop_signal_name() {
    assert_one_error(
        "[components.web]\ncommand = \"nginx\"\nstop_signal = \"SIGTERMINATE\"\n",
        3,
        15,
        "component `web`: stop_signal: `SIGTERMINATE` is not a signal name (e.g. \"SIGTERM\", \"SIGINT\", \"SIGQUIT\")",
    );
}

#[test]
fn stop_signal_names_are_forgiving() {
    for (written, signal) in [
        ("int", Signal::SIGINT),
        ("INT", Signal::SIGINT),
        ("SIGINT", Signal::SIGINT),
        ("sigquit", Signal::SIGQUIT),
        (" HUP ", Signal::SIGHUP),
    ] {
        let config = ok(&format!(
            "[components.web]\ncommand = \"nginx\"\nstop_signal = \"{written}\"\n"
        ));
        assert_eq!(process(&config, "web").stop_signal, signal, "{written:?}");
    }
}

// ---------------------------------------------------------------- kinds

#[test]
fn unknown_kind_with_a_suggestion() {
    assert_one_error(
        "[components.web]\nkind = \"prosess\"\n",
        2,
        8,
        "component `web`: unknown kind `prosess` (did you mean `process`?); known kinds: process, sim",
    );
}

#[test]
fn unknown_kind_without_a_suggestion() {
    assert_one_error(
        "[components.web]\nkind = \"docker\"\n",
        2,
        8,
        "component `web`: unknown kind `docker`; known kinds: process, sim",
    );
}

#[test]
fn neither_command_nor_kind() {
    assert_one_error(
        "[components.db]\nkind = \"sim\"\n\n[components.web]\ndepends_on = [\"db\"]\n",
        4,
        13,
        "component `web` has neither `command` nor `kind`; set one of them",
    );
}

#[test]
fn process_kind_without_command() {
    assert_one_error(
        "[components.web]\nkind = \"process\"\n",
        1,
        13,
        "component `web` is kind `process` but has no `command`",
    );
}

#[test]
fn sim_setting_on_a_process_component() {
    assert_one_error(
        "[components.web]\ncommand = [\"nginx\"]\nstop_delay = \"1s\"\n",
        3,
        14,
        "component `web`: `stop_delay` is a setting of kind `sim`, but this component is kind `process`",
    );
}

#[test]
fn process_setting_on_a_sim_component() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\ncommand = \"nginx\"\n",
        3,
        11,
        "component `web`: `command` is a setting of kind `process`, but this component is kind `sim`",
    );
}

// ---------------------------------------------------------------- warnings, names, phase timeouts

#[test]
fn stop_timeout_longer_than_shutdown_timeout_is_a_warning() {
    let config = ok(r#"[supervisor]
shutdown_timeout = "20s"

[components.web]
kind = "sim"
stop_timeout = "30s"
"#);
    assert_eq!(
        config.warnings,
        [
            "supervisor.toml:6:16: warning: component `web`: stop_timeout 30s is longer than shutdown_timeout 20s; the global budget will cut it short"
        ]
    );
    assert_eq!(config.components[0].stop_timeout, Duration::from_secs(30));
}

#[test]
fn warnings_are_not_reported_as_errors() {
    // An error elsewhere: the warning is not among the diagnostics.
    let e = err(r#"[supervisor]
shutdown_timeout = "20s"
[components.web]
kind = "sim"
stop_timeout = "30s"
depends_on = ["nope"]
"#);
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert!(!e.to_string().contains("warning"), "{e}");
}

#[test]
fn phase_timeouts_naming_an_unknown_component() {
    let e = err(r#"[components.web]
kind = "sim"

[phase_timeouts]
wbe = "5s"
db = "5s"
"#);
    assert_eq!(
        e.diagnostics,
        vec![
            Located {
                line: 5,
                column: 1,
                message:
                    "[phase_timeouts] names `wbe`, which is not a component (did you mean `web`?)"
                        .into()
            },
            Located {
                line: 6,
                column: 1,
                message: "[phase_timeouts] names `db`, which is not a component".into()
            },
        ]
    );
    assert_eq!(
        e.to_string(),
        "supervisor.toml:5:1: error: [phase_timeouts] names `wbe`, which is not a component (did you mean `web`?)\n\
         supervisor.toml:6:1: error: [phase_timeouts] names `db`, which is not a component\n\
         2 errors in supervisor.toml"
    );
}

#[test]
fn phase_timeouts_with_eager_is_a_warning() {
    let config = ok(r#"[supervisor]
strategy = "eager"
[components.web]
kind = "sim"
[phase_timeouts]
web = "5s"
"#);
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0]
            .starts_with("supervisor.toml:6:1: warning: [phase_timeouts] only applies"),
        "{:?}",
        config.warnings
    );
    assert_eq!(config.phase_timeouts["web"], Duration::from_secs(5));
}

#[test]
fn bad_component_name_characters() {
    assert_one_error(
        "[components.\"my web\"]\nkind = \"sim\"\n",
        1,
        13,
        "component name `my web` may only use letters, digits, `-`, `_` and `.`",
    );
    assert_one_error(
        "[components.ok]\nkind = \"sim\"\n[components.\"a/b\"]\nkind = \"sim\"\n",
        3,
        13,
        "component name `a/b` may only use letters, digits, `-`, `_` and `.`",
    );
    assert_one_error(
        "[components.\"\"]\nkind = \"sim\"\n",
        1,
        13,
        "component name `` may only use letters, digits, `-`, `_` and `.`",
    );
}

#[test]
fn good_component_name_characters() {
    let config = ok("[components.\"web-1.a_B\"]\nkind = \"sim\"\n");
    assert_eq!(config.components[0].name, "web-1.a_B");
}

// ---------------------------------------------------------------- all at once

#[test]
fn several_problems_are_all_reported_in_one_pass_sorted_by_line() {
    let text = r#"[phase_timeouts]
ghost = "5s"

[supervisor]
shutdown_timeout = "0s"

[components.web]
kind = "sim"
depends_on = ["api", "redsi"]
stop_timeout = "-1s"

[components.api]
kind = "prosess"
depends_on = ["web"]

[components.redis]
command = ""
start_delay = "1s"
"#;
    let e = err(text);
    let expected = [
        (
            2,
            1,
            "[phase_timeouts] names `ghost`, which is not a component",
        ),
        (
            5,
            20,
            "[supervisor] shutdown_timeout must be greater than zero",
        ),
        (
            9,
            22,
            "component `web` depends on `redsi`, which is not a component (did you mean `redis`?)",
        ),
        (10, 16, "component `web`: stop_timeout: `-1s` is negative"),
        (
            13,
            8,
            "component `api`: unknown kind `prosess` (did you mean `process`?); known kinds: process, sim",
        ),
        (14, 15, "dependency cycle: api → web → api"),
        (17, 11, "component `redis`: command is empty"),
        (
            18,
            15,
            "component `redis`: `start_delay` is a setting of kind `sim`, but this component is kind `process`",
        ),
    ];
    let expected: Vec<Located> = expected
        .iter()
        .map(|&(line, column, message)| Located {
            line,
            column,
            message: message.to_string(),
        })
        .collect();
    assert_eq!(e.diagnostics, expected, "rendered:\n{e}");
    let mut lines: Vec<String> = expected
        .iter()
        .map(|d| format!("{FILE}:{}:{}: error: {}", d.line, d.column, d.message))
        .collect();
    lines.push(format!("8 errors in {FILE}"));
    assert_eq!(e.to_string(), lines.join("\n"));
}

// ---------------------------------------------------------------- defaults and paths

#[test]
fn defaults() {
    let config = ok(r#"[components.web]
command = "nginx -g 'daemon off;'"
depends_on = ["db"]
[components.db]
kind = "sim"
"#);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.supervisor.shutdown_timeout, Duration::from_secs(25));
    assert_eq!(config.supervisor.shutdown_timeout, DEFAULT_SHUTDOWN_TIMEOUT);
    assert_eq!(config.supervisor.startup_timeout, None);
    assert_eq!(config.supervisor.strategy, Strategy::Phased);
    assert_eq!(config.supervisor.report, None);
    assert!(config.phase_timeouts.is_empty());

    let names: Vec<&str> = config.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["db", "web"], "sorted by name");
    assert_eq!(config.index_of("web"), Some(1));
    assert_eq!(config.index_of("nope"), None);
    for c in &config.components {
        assert_eq!(c.stop_timeout, Duration::from_secs(10), "{}", c.name);
    }
    assert_eq!(config.components[1].kind.name(), "process");
    assert_eq!(config.components[1].depends_on, ["db"]);
    let web = process(&config, "web");
    assert_eq!(web.argv, ["nginx", "-g", "daemon off;"]);
    assert_eq!(web.stop_signal, Signal::SIGTERM);
    assert_eq!(web.ready_after, Duration::ZERO);
    assert!(web.env.is_empty());
    assert_eq!(web.working_dir, None);

    let db = sim(&config, "db");
    assert_eq!(db.start_delay, Duration::ZERO);
    assert_eq!(db.stop_delay, Duration::ZERO);
    assert_eq!(db.fail_after, None);
    assert_eq!(db.exit_after, None);
    assert!(!db.ignore_stop);
}

#[test]
fn empty_file_is_a_valid_empty_config() {
    let config = ok("");
    assert!(config.components.is_empty());
    assert_eq!(config.supervisor.strategy, Strategy::Phased);
}

#[test]
fn depends_on_is_sorted() {
    let config = ok(r#"[components.a]
kind = "sim"
[components.b]
kind = "sim"
[components.c]
kind = "sim"
depends_on = ["b", "a"]
"#);
    assert_eq!(config.components[2].depends_on, ["a", "b"]);
}

#[test]
fn env_and_working_dir() {
    let config = ok(r#"[components.web]
command = ["./server", "--port", "8080"]
working_dir = "srv/web"
env = { PORT = "8080", MODE = "prod" }

[components.abs]
command = "true"
working_dir = "/opt/abs"
ready_after = "250ms"
"#);
    let web = process(&config, "web");
    assert_eq!(web.working_dir, Some(PathBuf::from("/base/srv/web")));
    assert_eq!(
        web.env,
        BTreeMap::from([
            ("MODE".to_string(), "prod".to_string()),
            ("PORT".to_string(), "8080".to_string()),
        ])
    );
    let abs = process(&config, "abs");
    assert_eq!(abs.working_dir, Some(PathBuf::from("/opt/abs")));
    assert_eq!(abs.ready_after, Duration::from_millis(250));
}

#[test]
fn supervisor_settings_and_report_path() {
    let config = ok(r#"[supervisor]
shutdown_timeout = "1m30s"
startup_timeout = "30s"
strategy = "eager"
report = "out/teardown.json"
"#);
    let s = &config.supervisor;
    assert_eq!(s.shutdown_timeout, Duration::from_secs(90));
    assert_eq!(s.startup_timeout, Some(Duration::from_secs(30)));
    assert_eq!(s.strategy, Strategy::Eager);
    assert_eq!(s.report, Some(PathBuf::from("/base/out/teardown.json")));
}

#[test]
fn sim_settings() {
    let config = ok(r#"[components.db]
kind = "sim"
start_delay = "150ms"
stop_delay = "1s"
fail_after = "2s"
exit_after = "3s"
ignore_stop = true
stop_timeout = "5s"
"#);
    let db = sim(&config, "db");
    assert_eq!(db.start_delay, Duration::from_millis(150));
    assert_eq!(db.stop_delay, Duration::from_secs(1));
    assert_eq!(db.fail_after, Some(Duration::from_secs(2)));
    assert_eq!(db.exit_after, Some(Duration::from_secs(3)));
    assert!(db.ignore_stop);
    assert_eq!(config.components[0].stop_timeout, Duration::from_secs(5));
}

#[test]
fn unreadable_file_has_no_location() {
    let e = match Config::load(Path::new("/nonexistent/sundown/supervisor.toml")) {
        Ok(_) => panic!("loaded a file that does not exist"),
        Err(e) => e,
    };
    assert_eq!(e.diagnostics.len(), 1);
    assert_eq!((e.diagnostics[0].line, e.diagnostics[0].column), (0, 0));
    assert!(
        e.to_string()
            .starts_with("/nonexistent/sundown/supervisor.toml: error: cannot read the file: "),
        "{e}"
    );
}

#[test]
fn a_config_edited_in_code_is_checked_again_before_it_runs() {
    let valid = || {
        Config::parse(
            "[components.a]\nkind = \"sim\"\n[components.b]\nkind = \"sim\"\ndepends_on = [\"a\"]\n",
            "supervisor.toml",
            Path::new("/base"),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    assert!(valid().check().is_ok());

    let mut cyclic = valid();
    cyclic.components[0].depends_on.push("b".into());
    let err = crate::Supervisor::from_config(cyclic)
        .err()
        .expect("a cycle is refused");
    assert!(
        err.to_string().contains("dependency cycle: a → b → a"),
        "{err}"
    );

    let mut unsorted = valid();
    unsorted.components.swap(0, 1);
    let err = unsorted.check().expect_err("unsorted names are refused");
    assert!(err.to_string().contains("sorted by name"), "{err}");

    let mut dangling = valid();
    dangling.components[1].depends_on = vec!["nope".into()];
    let err = dangling
        .check()
        .expect_err("an unknown dependency is refused");
    assert!(
        err.to_string().contains("`nope`, which is not a component"),
        "{err}"
    );

    let mut empty = valid();
    empty.components[0].kind = KindSpec::new(
        "process",
        ProcessSpec {
            argv: Vec::new(),
            env: Default::default(),
            working_dir: None,
            stop_signal: nix::sys::signal::Signal::SIGTERM,
            ready_after: Duration::ZERO,
            ready: None,
            liveness: None,
            stop_command: None,
            stop_command_timeout: Duration::from_secs(5),
            stop_timeout: Duration::from_secs(10),
            user: None,
            group: None,
        },
    );
    let err = empty.check().expect_err("an empty command is refused");
    assert!(
        err.to_string().contains("component `a`: command is empty"),
        "{err}"
    );
}

#[test]
fn a_stop_signal_that_only_pauses_is_refused() {
    let err = parse("[components.web]\ncommand = \"x\"\nstop_signal = \"SIGSTOP\"\n")
        .expect_err("SIGSTOP is refused");
    assert_eq!(err.diagnostics[0].line, 3);
    assert!(
        err.to_string()
            .contains("SIGSTOP pauses or resumes a process"),
        "{err}"
    );
}

// ---------------------------------------------------------------- service kinds

mod process;
mod restart;
