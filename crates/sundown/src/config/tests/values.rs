//! Values: durations, commands, signals and kinds.

use super::*;

#[test]
fn zero_duration() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\nstop_timeout = \"0s\"\n",
        3,
        16,
        "component `web`: stop_timeout must be greater than zero",
    );
    assert_one_error(
        "[supervisor]\nshutdown_timeout = \"0s\"\n",
        2,
        20,
        "[supervisor] shutdown_timeout must be greater than zero",
    );
}

#[test]
fn zero_is_allowed_for_delays() {
    let config =
        ok("[components.web]\nkind = \"sim\"\nstart_delay = \"0s\"\nstop_delay = \"0ms\"\n");
    assert_eq!(sim(&config, "web").start_delay, Duration::ZERO);
    assert_eq!(sim(&config, "web").stop_delay, Duration::ZERO);
}

#[test]
fn negative_duration() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\nstop_timeout = \"-5s\"\n",
        3,
        16,
        "component `web`: stop_timeout: `-5s` is negative",
    );
}

#[test]
fn unparseable_duration() {
    let message = assert_one_error_starting(
        "[components.web]\nkind = \"sim\"\nstop_delay = \"soon\"\n",
        3,
        14,
        "component `web`: stop_delay: `soon` is not a duration (",
    );
    assert!(
        message.ends_with("; write e.g. \"250ms\", \"30s\", \"1m30s\""),
        "{message}"
    );
}

#[test]
fn absurd_duration() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\nstop_timeout = \"30h\"\n",
        3,
        16,
        "component `web`: stop_timeout: `30h` is longer than 1day; is the unit right?",
    );
}

#[test]
fn exactly_the_maximum_duration_is_accepted() {
    let config = ok("[supervisor]\nshutdown_timeout = \"24h\"\n");
    assert_eq!(config.supervisor.shutdown_timeout, MAX_DURATION);
}

#[test]
fn phase_timeout_duration_is_checked() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\n[phase_timeouts]\nweb = \"0s\"\n",
        4,
        7,
        "[phase_timeouts] web must be greater than zero",
    );
}

// ---------------------------------------------------------------- commands and signals

#[test]
fn empty_command_array() {
    assert_one_error(
        "[components.web]\ncommand = []\n",
        2,
        11,
        "component `web`: command is empty",
    );
}

#[test]
fn empty_command_string() {
    assert_one_error(
        "[components.web]\ncommand = \"\"\n",
        2,
        11,
        "component `web`: command is empty",
    );
    assert_one_error(
        "[components.web]\ncommand = \"   \"\n",
        2,
        11,
        "component `web`: command is empty",
    );
    assert_one_error(
        "[components.web]\ncommand = [\"\", \"x\"]\n",
        2,
        11,
        "component `web`: command is empty",
    );
}

#[test]
fn command_string_is_split_shell_style() {
    let config = ok("[components.web]\ncommand = \"sh -c 'echo hi'\"\n");
    assert_eq!(process(&config, "web").argv, ["sh", "-c", "echo hi"]);
    let config = ok("[components.web]\ncommand = 'printf \"%s\\n\" a\\ b'\n");
    assert_eq!(process(&config, "web").argv, ["printf", "%s\\n", "a b"]);
}

#[test]
fn command_array_is_taken_verbatim() {
    let config = ok("[components.web]\ncommand = [\"sh\", \"-c\", \"echo 'hi there'\"]\n");
    assert_eq!(
        process(&config, "web").argv,
        ["sh", "-c", "echo 'hi there'"]
    );
}

#[test]
fn unterminated_quote_in_a_command_string() {
    assert_one_error(
        "[components.web]\ncommand = \"sh -c 'echo hi\"\n",
        2,
        11,
        "component `web`: command: cannot split `sh -c 'echo hi`: missing closing quote",
    );
}

#[test]
fn bad_stop_signal_name() {
    assert_one_error(
        "[components.web]\ncommand = \"nginx\"\nstop_signal = \"SIGTERMINATE\"\n",
        3,
        15,
        "component `web`: stop_signal: `SIGTERMINATE` is not a signal name (e.g. \"SIGTERM\", \"SIGINT\", \"SIGQUIT\")",
    );
}

#[test]
fn stop_signal_names_are_forgiving() {
    for (written, signal) in [
        ("int", Signal::SIGINT),
        ("INT", Signal::SIGINT),
        ("SIGINT", Signal::SIGINT),
        ("sigquit", Signal::SIGQUIT),
        (" HUP ", Signal::SIGHUP),
    ] {
        let config = ok(&format!(
            "[components.web]\ncommand = \"nginx\"\nstop_signal = \"{written}\"\n"
        ));
        assert_eq!(process(&config, "web").stop_signal, signal, "{written:?}");
    }
}

// ---------------------------------------------------------------- kinds

#[test]
fn unknown_kind_with_a_suggestion() {
    assert_one_error(
        "[components.web]\nkind = \"prosess\"\n",
        2,
        8,
        "component `web`: unknown kind `prosess` (did you mean `process`?); known kinds: process, sim",
    );
}

#[test]
fn unknown_kind_without_a_suggestion() {
    assert_one_error(
        "[components.web]\nkind = \"docker\"\n",
        2,
        8,
        "component `web`: unknown kind `docker`; known kinds: process, sim",
    );
}

#[test]
fn neither_command_nor_kind() {
    assert_one_error(
        "[components.db]\nkind = \"sim\"\n\n[components.web]\ndepends_on = [\"db\"]\n",
        4,
        13,
        "component `web` has neither `command` nor `kind`; set one of them",
    );
}

#[test]
fn process_kind_without_command() {
    assert_one_error(
        "[components.web]\nkind = \"process\"\n",
        1,
        13,
        "component `web` is kind `process` but has no `command`",
    );
}

#[test]
fn sim_setting_on_a_process_component() {
    assert_one_error(
        "[components.web]\ncommand = [\"nginx\"]\nstop_delay = \"1s\"\n",
        3,
        14,
        "component `web`: `stop_delay` is a setting of kind `sim`, but this component is kind `process`",
    );
}

#[test]
fn process_setting_on_a_sim_component() {
    assert_one_error(
        "[components.web]\nkind = \"sim\"\ncommand = \"nginx\"\n",
        3,
        11,
        "component `web`: `command` is a setting of kind `process`, but this component is kind `sim`",
    );
}
