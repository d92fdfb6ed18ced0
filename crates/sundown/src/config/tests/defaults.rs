//! Defaults, and paths resolved against the config's directory.

use super::*;

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
