//! TOML and serde errors: the first pass names the component and the place.

use super::*;

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
        "component `web`: stop_delay: string values must be quoted, expected literal string",
    );
}

#[test]
fn depends_on_written_as_a_string_names_the_key_and_shows_the_list() {
    assert_one_error(
        "[components.db]\nkind = \"sim\"\n[components.web]\nkind = \"sim\"\ndepends_on = \"db\"\n",
        5,
        14,
        "component `web`: depends_on: invalid type: string \"db\", expected a sequence; it is a list: depends_on = [\"db\"]",
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
        "[supervisor] unknown key `shutdown_timout` (did you mean `shutdown_timeout`?)",
    );
    assert!(
        !message.contains("`startup_timeout`"),
        "no list of keys: {message}"
    );
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
        "component `web`: unknown key `stop_dealy` (did you mean `stop_delay`?)",
    );
    assert!(
        !message.contains("`start_delay`"),
        "no list of keys: {message}"
    );
}

#[test]
fn unknown_key_in_an_inline_component_table_names_the_component() {
    assert_one_error_starting(
        "[components]\nweb = { kind = \"sim\", bogus = 1 }\n",
        2,
        23,
        "component `web`: unknown key `bogus`: neither a setting of kind `sim` nor one every component has",
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
fn wrong_type_outside_components_names_its_table() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[phase_timeouts]\nweb = 5\n",
        4,
        7,
        "[phase_timeouts] invalid type: integer `5`, expected a string",
    );
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[supervisor]\nreport = 5\n",
        4,
        10,
        "[supervisor] invalid type: integer `5`, expected a string",
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
        "unknown key `bogus`; expected one of `supervisor`, `components`, `phase_timeouts`, `include`",
    );
}

#[test]
fn unknown_strategy() {
    assert_one_error(
        "[supervisor]\nstrategy = \"eagr\"\n",
        2,
        12,
        "[supervisor] unknown variant `eagr`, expected one of `phased`, `eager`, `k8s-sidecars`",
    );
}
