//! `oneshot` and `depends_on` conditions: what they parse to, and each
//! mistake at its place.

use super::*;

#[test]
fn a_table_entry_sets_a_condition_and_a_plain_name_means_ready() {
    let c = ok(r#"[components.migrate]
command = "true"
oneshot = true
[components.cache]
kind = "sim"
[components.db]
kind = "sim"
[components.app]
kind = "sim"
depends_on = [
  "db",
  { name = "migrate", condition = "completed" },
  { name = "cache", condition = "started" },
]
[components.web]
kind = "sim"
depends_on = [{ name = "db", condition = "ready" }]
"#);
    let app = c.index_of("app").expect("app");
    assert_eq!(c.components[app].depends_on, ["cache", "db", "migrate"]);
    assert_eq!(c.condition(app, "migrate"), Condition::Completed);
    assert_eq!(c.condition(app, "cache"), Condition::Started);
    assert_eq!(c.condition(app, "db"), Condition::Ready);
    // Saying `ready` is the same as the plain name.
    let web = c.index_of("web").expect("web");
    assert!(c.components[web].conditions.is_empty());
    assert!(c.components[c.index_of("migrate").expect("m")].oneshot);
    assert!(!c.components[app].oneshot);
    assert_eq!(c.check().map_err(|e| e.to_string()), Ok(()));
}

#[test]
fn completed_on_a_component_that_is_not_a_one_shot() {
    assert_one_error(
        r#"[components.db]
kind = "sim"
[components.app]
kind = "sim"
depends_on = [{ name = "db", condition = "completed" }]
"#,
        5,
        42,
        "component `app`: depends_on `db` with condition = \"completed\", but `db` is not a one-shot, so it never completes; set `oneshot = true` on it or use \"ready\"",
    );
}

#[test]
fn a_one_shot_cannot_restart_always() {
    assert_one_error(
        r#"[components.migrate]
command = "true"
oneshot = true
restart = "always"
"#,
        4,
        11,
        "component `migrate`: restart = \"always\" cannot go with oneshot = true: it would run again each time it completes; use \"on-failure\" to retry it when it fails",
    );
}

#[test]
fn an_unknown_condition_with_a_suggestion() {
    assert_one_error(
        r#"[components.migrate]
kind = "sim"
oneshot = true
[components.app]
kind = "sim"
depends_on = [{ name = "migrate", condition = "complete" }]
"#,
        6,
        47,
        "component `app`: depends_on `migrate`: `complete` is not a condition (did you mean `completed`?); use \"started\", \"ready\" or \"completed\"",
    );
}

#[test]
fn an_unknown_name_in_a_table_entry_with_a_suggestion() {
    assert_one_error(
        r#"[components.migrate]
kind = "sim"
oneshot = true
[components.app]
kind = "sim"
depends_on = [{ name = "migrat", condition = "completed" }]
"#,
        6,
        24,
        "component `app` depends on `migrat`, which is not a component (did you mean `migrate`?)",
    );
}

#[test]
fn a_table_entry_without_a_name_or_with_an_unknown_key() {
    let e = err(r#"[components.db]
kind = "sim"
[components.app]
kind = "sim"
depends_on = [{ condition = "ready" }]
"#);
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    assert_eq!(e.diagnostics[0].line, 5, "{e}");
    assert!(
        e.diagnostics[0]
            .message
            .contains("component `app`: depends_on: missing field `name`"),
        "{e}"
    );
    let e = err(r#"[components.db]
kind = "sim"
[components.app]
kind = "sim"
depends_on = [{ name = "db", when = "ready" }]
"#);
    assert_eq!(e.diagnostics[0].line, 5, "{e}");
    assert!(
        e.diagnostics[0]
            .message
            .contains("depends_on: unknown key `when`; expected `name` or `condition`"),
        "{e}"
    );
}

#[test]
fn a_cycle_through_a_table_entry_is_found() {
    let e = err(r#"[components.a]
kind = "sim"
depends_on = [{ name = "b", condition = "started" }]
[components.b]
kind = "sim"
depends_on = ["a"]
"#);
    assert!(e.to_string().contains("dependency cycle"), "{e}");
}
