//! `exit_with`: read, at most one, never with a restart policy, and
//! `--exit-with NAME` applied to a parsed config.

use super::*;

const STACK: &str =
    "[components.db]\nkind = \"sim\"\n[components.tests]\nkind = \"sim\"\ndepends_on = [\"db\"]\n";

#[test]
fn it_is_read_and_off_by_default() {
    assert_eq!(ok(STACK).exit_with(), None);
    let config = ok(&format!("{STACK}exit_with = true\n"));
    assert_eq!(config.exit_with(), Some("tests"));
    assert!(!config.components[0].exit_with);
    assert_eq!(ok(&format!("{STACK}exit_with = false\n")).exit_with(), None);
}

#[test]
fn two_components_with_it_is_an_error_at_the_second() {
    assert_one_error(
        "[components.a]\nkind = \"sim\"\nexit_with = true\n[components.b]\nkind = \"sim\"\nexit_with = true\n",
        6,
        13,
        "component `b`: exit_with: `a` already sets it; only one component can decide the run's exit code",
    );
}

#[test]
fn a_value_that_is_not_a_bool_is_located() {
    let message = assert_one_error_starting(
        &format!("{STACK}exit_with = \"yes\"\n"),
        6,
        13,
        "component `tests`: exit_with: ",
    );
    assert!(message.contains("bool"), "{message}");
}

#[test]
fn a_restart_policy_is_an_error_at_the_policy() {
    assert_one_error(
        &format!("{STACK}exit_with = true\nrestart = \"on-failure\"\n"),
        7,
        11,
        "component `tests`: restart = \"on-failure\" cannot go with exit_with = true: the run ends when `tests` ends, so it is never restarted; remove `restart`",
    );
    assert_eq!(
        ok(&format!("{STACK}exit_with = true\nrestart = \"never\"\n")).exit_with(),
        Some("tests")
    );
}

#[test]
fn the_command_line_choice_replaces_the_configs() {
    let mut config = ok(&format!("{STACK}exit_with = true\n"));
    config.set_exit_with("db").expect("db exists");
    assert_eq!(config.exit_with(), Some("db"));
    assert_eq!(config.components.iter().filter(|c| c.exit_with).count(), 1);
    assert!(config.check().is_ok());
}

#[test]
fn the_command_line_choice_is_refused_for_an_unknown_or_restarting_component() {
    let mut config = ok(STACK);
    let e = config.set_exit_with("test").expect_err("no such component");
    assert_eq!(
        e.to_string(),
        "there is no component `test` (did you mean `tests`?)"
    );
    let mut config = ok(&format!("{STACK}restart = \"always\"\n"));
    let e = config.set_exit_with("tests").expect_err("it restarts");
    assert!(matches!(e, ExitWithError::Restarts { .. }), "{e}");
    assert_eq!(config.exit_with(), None);
}

#[test]
fn check_refuses_two_made_in_code() {
    let mut config = ok(STACK);
    for c in &mut config.components {
        c.exit_with = true;
    }
    let e = config.check().expect_err("two exit_with");
    assert!(
        e.to_string()
            .contains("only one component can set exit_with, and db, tests do"),
        "{e}"
    );
}
