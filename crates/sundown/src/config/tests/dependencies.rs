//! Dependencies: unknown names, duplicates, cycles and their paths.

use super::*;

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
                file: None,
                line: 3,
                column: 15,
                message: "dependency cycle: a → b → a".into()
            },
            Located {
                file: None,
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
            file: None,
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
                file: None,
                line: 3,
                column: 15,
                message: "component `web` depends on `café`, which is not a component".into()
            },
            Located {
                file: None,
                line: 3,
                column: 23,
                message: "component `web` depends on `redsi`, which is not a component".into()
            },
        ]
    );
}
