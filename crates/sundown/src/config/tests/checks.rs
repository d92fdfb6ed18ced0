//! Warnings, names, phase timeouts, and every problem of a file at once.

use super::*;

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
                file: None,
                line: 5,
                column: 1,
                message:
                    "[phase_timeouts] names `wbe`, which is not a component (did you mean `web`?)"
                        .into()
            },
            Located {
                file: None,
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
    const RULE: &str = "is not allowed: a name is 1 to 63 lowercase letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit";
    assert_one_error(
        "[components.\"my web\"]\nkind = \"sim\"\n",
        1,
        13,
        &format!("component name `my web` {RULE}"),
    );
    assert_one_error(
        "[components.ok]\nkind = \"sim\"\n[components.\"a/b\"]\nkind = \"sim\"\n",
        3,
        13,
        &format!("component name `a/b` {RULE}"),
    );
    assert_one_error(
        "[components.\"\"]\nkind = \"sim\"\n",
        1,
        13,
        &format!("component name `` {RULE}"),
    );
    // Names become paths, labels and container names.
    for bad in ["..", ".hidden", "web.", "-x", "Web", "db_"] {
        assert_one_error(
            &format!("[components.\"{bad}\"]\nkind = \"sim\"\n"),
            1,
            13,
            &format!("component name `{bad}` {RULE}"),
        );
    }
    let long = "a".repeat(10_000);
    let e = err(&format!("[components.{long}]\nkind = \"sim\"\n"));
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let message = &e.diagnostics[0].message;
    assert!(
        message.starts_with(&format!("component name `{}…` ", "a".repeat(64))),
        "{message}"
    );
    assert!(message.len() < 300, "the name is not repeated in full");
    assert!(
        err(&format!(
            "[components.{}]\nkind = \"sim\"\n",
            "a".repeat(64)
        ))
        .to_string()
        .contains(RULE)
    );
}

#[test]
fn good_component_name_characters() {
    let config = ok("[components.\"web-1.a_b\"]\nkind = \"sim\"\n");
    assert_eq!(config.components[0].name, "web-1.a_b");
    let config = ok(&format!(
        "[components.{}]\nkind = \"sim\"\n",
        "a".repeat(63)
    ));
    assert_eq!(config.components[0].name.len(), 63);
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
            file: None,
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
