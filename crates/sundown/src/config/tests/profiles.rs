//! `profiles`: which components run with which profiles enabled, and the
//! mistakes, each at its place.

use super::*;

/// Parsed with `SUNDOWN_PROFILES` set to `enabled` (and nothing else).
fn with(text: &str, enabled: &str) -> Result<Config, ConfigError> {
    let host = |name: &str| (name == PROFILES_ENV).then(|| enabled.to_string());
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

fn names(c: &Config) -> Vec<&str> {
    c.components.iter().map(|c| c.name.as_str()).collect()
}

const STACK: &str = r#"[components.db]
kind = "sim"

[components.web]
kind = "sim"
depends_on = ["db"]

[components.debugger]
kind = "sim"
depends_on = ["web"]
profiles = ["debug", "dev"]

[components.seed]
kind = "sim"
depends_on = ["db"]
profiles = ["seed"]

[phase_timeouts]
debugger = "1s"
"#;

#[test]
fn components_run_when_one_of_their_profiles_is_enabled() {
    let none = with(STACK, "").expect("valid");
    assert_eq!(names(&none), ["db", "web"]);
    assert_eq!(
        none.skipped.get("debugger").map(Vec::as_slice),
        Some(["debug".to_string(), "dev".to_string()].as_slice())
    );
    assert!(
        none.phase_timeouts.is_empty(),
        "no cap for what does not run"
    );
    let dev = with(STACK, "dev").expect("valid");
    assert_eq!(names(&dev), ["db", "debugger", "web"]);
    assert_eq!(dev.components[1].profiles, ["debug", "dev"]);
    assert!(dev.phase_timeouts.contains_key("debugger"));
    // Commas or spaces, and names no component uses, are fine.
    let both = with(STACK, "seed, dev other").expect("valid");
    assert_eq!(names(&both), ["db", "debugger", "seed", "web"]);
    assert!(both.skipped.is_empty());
}

#[test]
fn depending_on_a_component_that_is_off_is_an_error_naming_its_profile() {
    let text = format!("{STACK}\n[components.api]\nkind = \"sim\"\ndepends_on = [\"seed\"]\n");
    let e = with(&text, "").expect_err("api needs seed");
    assert_eq!(
        e.diagnostics,
        vec![Located {
            file: None,
            line: 23,
            column: 15,
            message: "component `api` depends on `seed`, which runs only with profile `seed`, which is not enabled (--profile seed, or SUNDOWN_PROFILES=seed)".into(),
        }]
    );
    assert_eq!(
        names(&with(&text, "seed").expect("valid with seed")),
        ["api", "db", "seed", "web"]
    );
    // Two components that are both off may depend on each other.
    let pair = "[components.a]\nkind = \"sim\"\nprofiles = [\"x\"]\n[components.b]\nkind = \"sim\"\nprofiles = [\"x\"]\ndepends_on = [\"a\"]\n";
    assert!(with(pair, "").expect("valid").components.is_empty());
}

#[test]
fn profile_mistakes_are_errors_at_their_place_whatever_is_enabled() {
    let empty = "[components.a]\nkind = \"sim\"\nprofiles = []\n";
    let e = with(empty, "").expect_err("empty");
    assert_eq!((e.diagnostics[0].line, e.diagnostics[0].column), (3, 12));
    assert!(
        e.diagnostics[0]
            .message
            .contains("profiles = [] would never run it"),
        "{e}"
    );
    let bad = "[components.a]\nkind = \"sim\"\nprofiles = [\"ok\", \"Not OK\"]\n";
    let e = with(bad, "ok").expect_err("bad name");
    assert_eq!((e.diagnostics[0].line, e.diagnostics[0].column), (3, 19));
    assert!(
        e.diagnostics[0]
            .message
            .starts_with("component `a`: profile `Not OK` is not allowed"),
        "{e}"
    );
    let string = "[components.a]\nkind = \"sim\"\nprofiles = \"debug\"\n";
    let e = with(string, "").expect_err("not a list");
    assert_eq!(e.diagnostics[0].line, 3, "{e}");
    assert!(e.diagnostics[0].message.contains("profiles"), "{e}");
    // A component that is off is still checked.
    let off = "[components.a]\nkind = \"sim\"\nprofiles = [\"x\"]\nstop_timeout = \"soon\"\n";
    let e = with(off, "").expect_err("checked while off");
    assert_eq!(e.diagnostics[0].line, 4, "{e}");
}
