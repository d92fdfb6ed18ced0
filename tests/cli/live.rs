//! The live shutdown status of `sundown run`: a redrawn line on a terminal,
//! plain "waiting on" log lines elsewhere. Both must name the component the
//! shutdown waits for and the time left before it is killed.

use std::process::Command;
use std::time::Duration;

use crate::common::{BIN, Sandbox, Sundown};

/// A failure triggers the shutdown by itself, then `stuck` holds it up.
const STUCK: &str = r#"
[components.base]
kind = "sim"
stop_delay = "400ms"
[components.stuck]
kind = "sim"
depends_on = ["base"]
ignore_stop = true
stop_timeout = "STOP"
[components.crash]
kind = "sim"
fail_after = "100ms"
"#;

#[test]
fn on_a_terminal_a_status_line_is_redrawn_in_place() {
    let sb = Sandbox::new();
    let config = sb.config(&STUCK.replace("STOP", "1500ms"));
    // `script` gives the supervisor a pseudo-terminal as stdout and stderr.
    let out = Command::new("script")
        .args([
            "-q",
            "-e",
            "-c",
            &format!("{BIN} run --config {}", config.display()),
            "/dev/null",
        ])
        .env("NO_COLOR", "1")
        .output()
        .expect("run script(1)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failure ends the run with 1:\n{text}"
    );
    assert!(
        text.contains("\r\x1b[2Kphase 1/2: waiting on stuck (killed in 1."),
        "no live line:\n{text}"
    );
    assert!(text.contains("budget: 24."), "no budget countdown:\n{text}");
    // The line follows the shutdown into its next phase, not only on a timer.
    assert!(
        text.contains("\r\x1b[2Kphase 2/2: waiting on base (killed in "),
        "line never reached phase 2:\n{text}"
    );
    // The run ends with the status line erased, below the last log line.
    assert!(text.contains("all components down"), "{text}");
    assert!(
        text.ends_with("\r\x1b[2K"),
        "status line left on screen: {:?}",
        text.lines().last()
    );
}

#[test]
fn without_a_terminal_a_plain_line_says_what_the_stop_waits_on() {
    let sb = Sandbox::new();
    let config = sb.config(&STUCK.replace("STOP", "7s"));
    let mut sd = Sundown::spawn(&["run", "--config", config.to_str().unwrap_or_default()]);
    let line = sd.wait_for("waiting on stuck");
    assert!(
        line.contains("phase 1/2: waiting on stuck (killed in 2."),
        "{line}"
    );
    assert!(
        !line.contains('\x1b'),
        "no escape codes off a terminal: {line:?}"
    );
    assert_eq!(sd.wait_exit(Duration::from_secs(20)).code(), Some(1));
}
