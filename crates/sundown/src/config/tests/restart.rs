//! `restart` and its companions: defaults, values, and located errors.

use super::*;

const DB: &str = "[components.db]\nkind = \"sim\"\n";

fn restart_of(extra: &str) -> RestartSpec {
    ok(&format!("{DB}{extra}")).components[0].restart.clone()
}

#[test]
fn the_default_is_never_with_sane_limits() {
    let r = restart_of("");
    assert_eq!(r, RestartSpec::default());
    assert_eq!(r.policy, RestartPolicy::Never);
    assert_eq!((r.max_restarts, r.window), (5, Duration::from_secs(60)));
    assert_eq!(
        (r.backoff, r.backoff_max),
        (Duration::from_millis(200), Duration::from_secs(30))
    );
    assert!(!r.dependents);
}

#[test]
fn every_setting_is_read() {
    let r = restart_of(
        "restart = \"on-failure\"\nmax_restarts = 0\nrestart_window = \"5m\"\nrestart_backoff = \"1s\"\nrestart_backoff_max = \"4s\"\nrestart_dependents = true\n",
    );
    assert_eq!(
        r,
        RestartSpec {
            policy: RestartPolicy::OnFailure,
            max_restarts: 0,
            window: Duration::from_secs(300),
            backoff: Duration::from_secs(1),
            backoff_max: Duration::from_secs(4),
            dependents: true,
        }
    );
    assert_eq!(
        restart_of("restart = \"always\"").policy,
        RestartPolicy::Always
    );
}

#[test]
fn an_unknown_policy_suggests_the_closest() {
    assert_one_error(
        &format!("{DB}restart = \"on_failure\"\n"),
        3,
        11,
        "component `db`: restart: `on_failure` is not a policy (did you mean `on-failure`?); use \"never\", \"on-failure\" or \"always\"",
    );
}

#[test]
fn negative_max_restarts_is_located() {
    assert_one_error(
        &format!("{DB}restart = \"always\"\nmax_restarts = -1\n"),
        4,
        16,
        "component `db`: max_restarts must be between 0 and 4294967295",
    );
}

#[test]
fn zero_durations_are_refused() {
    assert_one_error(
        &format!("{DB}restart = \"always\"\nrestart_window = \"0s\"\n"),
        4,
        18,
        "component `db`: restart_window must be greater than zero",
    );
}

#[test]
fn a_cap_below_the_first_delay_is_an_error_at_the_cap() {
    assert_one_error(
        &format!(
            "{DB}restart = \"always\"\nrestart_backoff = \"2s\"\nrestart_backoff_max = \"1s\"\n"
        ),
        5,
        23,
        "component `db`: restart_backoff_max (1s) is shorter than restart_backoff (2s)",
    );
}

#[test]
fn companions_without_a_policy_warn() {
    let c = ok(&format!(
        "{DB}restart_dependents = true\nmax_restarts = 3\n"
    ));
    assert_eq!(
        c.warnings,
        vec![
            "supervisor.toml:3:22: warning: component `db`: restart_dependents: has no effect without `restart = \"on-failure\"` or `\"always\"`"
                .to_string()
        ]
    );
}
