//! `include`: components from several files, validated as one, every
//! problem at its own file's `line:col`.

use super::*;

/// A directory holding `files` (name, text); the config is `main.toml`.
fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).expect("write");
    }
    d
}

fn load(d: &tempfile::TempDir) -> Result<Config, ConfigError> {
    Config::load(&d.path().join("main.toml"))
}

const BASE: &str = "[components.db]\nkind = \"sim\"\n\n[components.cache]\nkind = \"sim\"\n";

#[test]
fn components_come_from_every_file_and_depend_across_them() {
    let d = dir(&[
        (
            "main.toml",
            "include = [\"base.toml\", \"apps/web.toml\"]\n\n[supervisor]\nshutdown_timeout = \"9s\"\n",
        ),
        ("base.toml", BASE),
    ]);
    std::fs::create_dir(d.path().join("apps")).expect("mkdir");
    std::fs::write(
        d.path().join("apps/web.toml"),
        "[components.web]\nkind = \"sim\"\ndepends_on = [\"db\", \"cache\"]\n\n[phase_timeouts]\nweb = \"2s\"\n",
    )
    .expect("write");
    let c = load(&d).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = c.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["cache", "db", "web"]);
    assert_eq!(c.components[2].depends_on, ["cache", "db"]);
    assert_eq!(c.supervisor.shutdown_timeout, Duration::from_secs(9));
    assert_eq!(c.phase_timeouts["web"], Duration::from_secs(2));
}

#[test]
fn a_problem_in_an_included_file_is_told_at_its_own_place() {
    let d = dir(&[
        (
            "main.toml",
            "include = [\"base.toml\"]\n\n[components.web]\nkind = \"sim\"\ndepends_on = [\"db\"]\n",
        ),
        (
            "base.toml",
            "# the data tier\n[components.db]\nkind = \"sim\"\nstop_timeout = \"soon\"\n",
        ),
    ]);
    let e = load(&d).expect_err("a bad duration");
    let base = d.path().join("base.toml").display().to_string();
    assert_eq!(e.diagnostics.len(), 1, "{e}");
    let l = &e.diagnostics[0];
    assert_eq!(
        (l.file.as_deref(), l.line, l.column),
        (Some(base.as_str()), 4, 16),
        "{e}"
    );
    assert!(
        e.to_string().starts_with(&format!("{base}:4:16: error: ")),
        "{e}"
    );
    // A warning there is told there too.
    std::fs::write(
        d.path().join("base.toml"),
        "[components.db]\nkind = \"sim\"\nstop_timeout = \"99s\"\n",
    )
    .expect("write");
    let c = load(&d).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        c.warnings[0].starts_with(&format!("{base}:3:16: warning: ")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn a_component_defined_twice_names_both_places() {
    let d = dir(&[
        (
            "main.toml",
            "include = [\"base.toml\"]\n\n[components.db]\nkind = \"sim\"\n",
        ),
        ("base.toml", BASE),
    ]);
    let e = load(&d).expect_err("db twice");
    let main = d.path().join("main.toml").display().to_string();
    let base = d.path().join("base.toml").display().to_string();
    assert_eq!(
        e.to_string(),
        format!("{base}:1:13: error: component `db` is defined twice: here and at {main}:3:13")
    );
}

#[test]
fn what_an_included_file_cannot_hold_or_be() {
    let d = dir(&[
        ("main.toml", "include = [\"base.toml\", \"gone.toml\"]\n"),
        (
            "base.toml",
            "include = [\"more.toml\"]\n[supervisor]\nstrategy = \"eager\"\n[components.db]\nkind = \"sim\"\n",
        ),
    ]);
    let e = load(&d).expect_err("three problems");
    let text = e.to_string();
    let base = d.path().join("base.toml").display().to_string();
    let main = d.path().join("main.toml").display().to_string();
    assert!(
        text.contains(&format!(
            "{base}:1:1: error: an included file cannot include others"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{base}:2:2: error: `supervisor` cannot be in an included file"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("{main}:1:25: error: include: cannot read ")),
        "{text}"
    );
    // Syntax errors in an included file are its own.
    std::fs::write(d.path().join("main.toml"), "include = [\"bad.toml\"]\n").expect("write");
    std::fs::write(d.path().join("bad.toml"), "[components.x]\nkind = \n").expect("write");
    let e = load(&d).expect_err("syntax");
    let bad = d.path().join("bad.toml").display().to_string();
    assert!(e.to_string().starts_with(&format!("{bad}:2:")), "{e}");
    // The key's own shape.
    std::fs::write(d.path().join("main.toml"), "include = \"base.toml\"\n").expect("write");
    let e = load(&d).expect_err("not a list");
    assert_eq!(e.diagnostics[0].line, 1, "{e}");
}

#[test]
fn an_included_file_begins_with_a_table_header() {
    let d = dir(&[
        (
            "main.toml",
            "include = [\"base.toml\"]\n\n[components.web]\nkind = \"sim\"\n",
        ),
        (
            "base.toml",
            "# the data tier\ncomponents.db.kind = \"sim\"\n",
        ),
    ]);
    let e = load(&d).expect_err("a dotted key would land in web's table");
    let base = d.path().join("base.toml").display().to_string();
    assert!(
        e.to_string().starts_with(&format!(
            "{base}:2:1: error: an included file begins with a table header"
        )),
        "{e}"
    );
}
