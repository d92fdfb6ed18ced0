//! `log_file` and its companions: defaults, `{name}`, sizes, the backups'
//! bounds and one file per component, each error at its place.

use super::*;

const A: &str = "[components.a]\nkind = \"sim\"\n";

#[test]
fn no_file_by_default_and_output_on_stderr() {
    let config = ok(A);
    assert_eq!(config.components[0].log, LogSettings::default());
    assert!(config.components[0].log.stderr);
}

#[test]
fn the_file_takes_the_name_and_the_config_directory() {
    let config = ok(&format!(
        "{A}log_file = \"logs/{{name}}.log\"\nlog_max_size = \"1MiB\"\nlog_backups = 0\nlog_stderr = false\n"
    ));
    let log = &config.components[0].log;
    assert_eq!(
        log.file,
        Some(LogFileSpec {
            path: "/base/logs/a.log".into(),
            max_size: 1 << 20,
            backups: 0
        })
    );
    assert!(!log.stderr);
    let config = ok(&format!("{A}log_file = \"/var/log/x.log\"\n"));
    let file = config.components[0].log.file.clone().expect("file");
    assert_eq!(file.path, Path::new("/var/log/x.log"));
    assert_eq!(
        (file.max_size, file.backups),
        (DEFAULT_LOG_MAX_SIZE, DEFAULT_LOG_BACKUPS)
    );
}

#[test]
fn a_bad_size_is_located() {
    assert_one_error(
        &format!("{A}log_file = \"a.log\"\nlog_max_size = \"10 parsecs\"\n"),
        4,
        16,
        "component `a`: log_max_size: `10 parsecs` is not a size like \"10MB\", \"512KiB\" or \"1000\" (bytes), above zero",
    );
    assert_one_error_starting(
        &format!("{A}log_file = \"a.log\"\nlog_max_size = \"0MB\"\n"),
        4,
        16,
        "component `a`: log_max_size: `0MB`",
    );
}

#[test]
fn backups_are_bounded() {
    for (value, col) in [("-1", 15), ("101", 15)] {
        assert_one_error(
            &format!("{A}log_file = \"a.log\"\nlog_backups = {value}\n"),
            4,
            col,
            &format!("component `a`: log_backups: {value} is not between 0 and 100"),
        );
    }
    ok(&format!("{A}log_file = \"a.log\"\nlog_backups = 100\n"));
}

#[test]
fn two_components_on_one_file_is_an_error_at_the_second() {
    assert_one_error(
        "[components.a]\nkind = \"sim\"\nlog_file = \"all.log\"\n[components.b]\nkind = \"sim\"\nlog_file = \"all.log\"\n",
        6,
        12,
        "component `b`: log_file /base/all.log is also `a`'s; two writers on one file would rotate it under each other (put `{name}` in the path)",
    );
    ok(
        "[components.a]\nkind = \"sim\"\nlog_file = \"{name}.log\"\n[components.b]\nkind = \"sim\"\nlog_file = \"{name}.log\"\n",
    );
}

#[test]
fn sizes_without_a_file_are_a_warning() {
    let config = ok(&format!("{A}log_backups = 3\n"));
    assert_eq!(config.components[0].log.file, None);
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("log_backups has no effect without log_file")),
        "{:?}",
        config.warnings
    );
}

#[test]
fn a_log_key_change_is_a_changed_component() {
    let old = ok(&format!("{A}log_file = \"a.log\"\n"));
    let new = ok(&format!("{A}log_file = \"a.log\"\nlog_backups = 2\n"));
    assert_ne!(old.components[0], new.components[0]);
}
