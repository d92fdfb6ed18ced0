//! Every problem of a file in one pass: a misspelled key, a value of the
//! wrong type or an unknown key outside the components does not hide the
//! others, and an unknown key gets the closest key of its component's kind,
//! never the list of them all.

use super::*;

fn found(e: &ConfigError) -> Vec<(usize, usize, &str)> {
    e.diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.message.as_str()))
        .collect()
}

#[test]
fn a_misspelled_key_is_reported_with_every_other_error_of_the_file() {
    let e = err(r#"[supervisor]
shutdown_timeout = "5x"

[components.web]
command = ["sleep", "100"]
stop_timout = "3s"
depends_on = ["nope"]

[components.db]
command = ["sleep", "100"]
stop_timeout = "banana"
restart = "sometimes"
"#);
    assert_eq!(
        found(&e),
        [
            (
                2,
                20,
                "[supervisor] shutdown_timeout: `5x` is not a duration (unknown time unit \"x\", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)); write e.g. \"250ms\", \"30s\", \"1m30s\""
            ),
            (
                6,
                1,
                "component `web`: unknown key `stop_timout` (did you mean `stop_timeout`?)"
            ),
            (
                7,
                15,
                "component `web` depends on `nope`, which is not a component"
            ),
            (
                11,
                16,
                "component `db`: stop_timeout: `banana` is not a duration (expected number at 0); write e.g. \"250ms\", \"30s\", \"1m30s\""
            ),
            (
                12,
                11,
                "component `db`: restart: `sometimes` is not a policy; use \"never\", \"on-failure\" or \"always\""
            ),
        ],
        "rendered:\n{e}"
    );
    assert!(
        e.to_string().ends_with("\n5 errors in supervisor.toml"),
        "{e}"
    );
}

#[test]
fn values_of_the_wrong_type_do_not_hide_each_other_nor_the_rest() {
    let e = err(r#"[supervisor]
shutdown_timout = "3s"
log_lines = "many"

[components.web]
kind = "sim"
stop_timout = "3s"
oneshot = "yes"
depends_on = "db"

[components.db]
kind = "sim"
stop_timeout = 5
max_restarts = "x"
start_delay = 7
stop_delay = 8
"#);
    assert_eq!(
        found(&e),
        [
            (
                2,
                1,
                "[supervisor] unknown key `shutdown_timout` (did you mean `shutdown_timeout`?)"
            ),
            (
                3,
                13,
                "[supervisor] invalid type: string \"many\", expected usize"
            ),
            (
                7,
                1,
                "component `web`: unknown key `stop_timout` (did you mean `stop_timeout`?)"
            ),
            (
                8,
                11,
                "component `web`: oneshot: invalid type: string \"yes\", expected a boolean"
            ),
            (
                9,
                14,
                "component `web`: depends_on: invalid type: string \"db\", expected a sequence; it is a list: depends_on = [\"db\"]"
            ),
            (
                13,
                16,
                "component `db`: stop_timeout: invalid type: integer `5`, expected a string"
            ),
            (
                14,
                16,
                "component `db`: max_restarts: invalid type: string \"x\", expected i64"
            ),
            (
                15,
                15,
                "component `db`: start_delay: invalid type: integer `7`, expected a string"
            ),
            (
                16,
                14,
                "component `db`: stop_delay: invalid type: integer `8`, expected a string"
            ),
        ],
        "rendered:\n{e}"
    );
}

#[test]
fn the_suggestion_comes_from_the_components_own_kind() {
    // `stop_delay` is a sim key and `stop_signal` a process key: each
    // component is offered the one of its own kind.
    let e = err(r#"[components.a]
kind = "sim"
stop_dela = "1s"

[components.b]
command = "sleep 100"
stop_signl = "INT"
stop_dela = "1s"
"#);
    assert_eq!(
        found(&e),
        [
            (
                3,
                1,
                "component `a`: unknown key `stop_dela` (did you mean `stop_delay`?)"
            ),
            (
                7,
                1,
                "component `b`: unknown key `stop_signl` (did you mean `stop_signal`?)"
            ),
            (
                8,
                1,
                "component `b`: unknown key `stop_dela`; `stop_delay` is a setting of kind `sim`, but this component is kind `process`"
            ),
        ],
        "rendered:\n{e}"
    );
}

#[test]
fn a_common_key_is_suggested_to_every_kind_and_no_list_is_dumped() {
    for kind in ["kind = \"sim\"", "command = \"sleep 1\""] {
        let e = err(&format!(
            "[components.a]\n{kind}\nrestart_backof = \"1s\"\nzzzz = 1\n"
        ));
        assert_eq!(
            found(&e)[0],
            (
                3,
                1,
                "component `a`: unknown key `restart_backof` (did you mean `restart_backoff`?)"
            ),
            "rendered:\n{e}"
        );
        let kind_name = if kind.starts_with("kind") {
            "sim"
        } else {
            "process"
        };
        assert_eq!(
            found(&e)[1].2,
            format!(
                "component `a`: unknown key `zzzz`: neither a setting of kind `{kind_name}` nor one every component has"
            ),
        );
        assert!(!e.to_string().contains("expected one of"), "{e}");
    }
}

#[test]
fn a_required_key_of_the_wrong_type_is_one_error() {
    let e = err("[supervisor.metrics]\nlisten = 9464\n[components.a]\nkind = \"sim\"\n");
    assert_eq!(
        found(&e),
        [(
            2,
            10,
            "[supervisor.metrics] invalid type: integer `9464`, expected a string"
        )],
        "rendered:\n{e}"
    );
}
