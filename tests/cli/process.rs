//! The built `sundown` binary against real `process` components that
//! misbehave: one that ignores SIGTERM (killed at its deadline, grandchild
//! included), one that crashes (an ordered shutdown follows), and one that
//! prints and exits by itself (its output is forwarded, last line included).

use std::time::Duration;

use nix::sys::signal::Signal;
use sundown::{KillReason, Outcome, ShutdownReport, Trigger};

use crate::common::{Sandbox, assert_stop_end_before_begin, is_alive, wait_dead};

/// Runs `supervisor.toml` with `stubborn` in it until everything is ready,
/// sends SIGTERM, and returns the exit code and the report, after checking
/// that stubborn's grandchild was alive before and is dead after.
fn stop_a_stubborn_graph(sb: &Sandbox, components: usize) -> (i32, ShutdownReport) {
    let mut sd = sb.run();
    sd.wait_ready(components);
    let main = sb.pid_file("stubborn.pid");
    let grandchild = sb.pid_file("stubborn.gc.pid");
    assert!(is_alive(main) && is_alive(grandchild));
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    assert!(
        wait_dead(grandchild, Duration::from_secs(5)),
        "the grandchild {grandchild} outlived its killed parent"
    );
    assert!(!is_alive(main));
    let r = sb.report();
    assert_eq!(r.exit_code, code, "stderr:\n{}", sd.stderr());
    assert_eq!(r.trigger, Some(Trigger::Signal("SIGTERM".into())));
    let s = r.component("stubborn").expect("stubborn");
    assert_eq!(s.pid, Some(main as u32));
    assert_eq!(s.outcome, Outcome::TimedOutKilled, "{s:?}");
    assert_eq!(s.signal.as_deref(), Some("SIGKILL"), "{s:?}");
    (code, r)
}

/// The brief's case: the stubborn component alone in its phase, so its
/// `stop_timeout` is also the phase's timeout; its own timeout is the one
/// that kills it.
#[test]
fn stop_timeout_kills_a_child_that_ignores_sigterm_and_its_grandchild() {
    let sb = Sandbox::new();
    let toml = format!(
        "[supervisor]\nshutdown_timeout = \"10s\"\n\n{}",
        sb.stubborn(
            "stubborn",
            "ready_after = \"100ms\"\nstop_timeout = \"300ms\""
        )
    );
    sb.config(&toml);
    let (code, r) = stop_a_stubborn_graph(&sb, 1);
    assert_eq!(code, 3);
    let s = r.component("stubborn").expect("stubborn");
    let asked = s.stop_requested.expect("asked to stop first");
    let killed = s.killed_at.expect("killed");
    assert!(
        (295.0..1500.0).contains(&(killed - asked)),
        "killed {} ms after the request, stop_timeout is 300 ms",
        killed - asked
    );
    assert!(r.phases[0].timed_out);
    assert_eq!(
        s.killed_by,
        Some(KillReason::StopTimeout),
        "its own stop_timeout (300ms) expired; the phase timeout is only derived from it: {s:?}"
    );
}

/// Its own `stop_timeout` is shorter than its phase's (a sibling has a longer one).
#[test]
fn own_stop_timeout_wins_over_a_longer_phase_timeout() {
    let sb = Sandbox::new();
    let toml = format!(
        "[supervisor]\nshutdown_timeout = \"10s\"\n\n{}{}",
        sb.stubborn(
            "stubborn",
            "ready_after = \"100ms\"\nstop_timeout = \"300ms\""
        ),
        sb.service("patient", "ready_after = \"100ms\"\nstop_timeout = \"5s\"")
    );
    sb.config(&toml);
    let (code, r) = stop_a_stubborn_graph(&sb, 2);
    assert_eq!(code, 3);
    let s = r.component("stubborn").expect("stubborn");
    assert_eq!(s.killed_by, Some(KillReason::StopTimeout), "{s:?}");
    let killed_after = s.killed_at.expect("killed") - s.stop_requested.expect("asked");
    assert!((295.0..1500.0).contains(&killed_after), "{killed_after} ms");
    let p = r.component("patient").expect("patient");
    assert_eq!(p.outcome, Outcome::Stopped);
    assert_eq!(r.phases[0].members, ["patient", "stubborn"]);
    assert_eq!(r.phases[0].timeout_ms, 5000.0);
    assert!(r.phases[0].timed_out);
}

/// A `[phase_timeouts]` override shorter than the member's own stop_timeout kills it first.
#[test]
fn phase_timeout_override_kills_before_a_longer_stop_timeout() {
    let sb = Sandbox::new();
    let toml = format!(
        "[supervisor]\nshutdown_timeout = \"10s\"\n\n{}\n[phase_timeouts]\nstubborn = \"300ms\"\n",
        sb.stubborn("stubborn", "ready_after = \"100ms\"\nstop_timeout = \"5s\"")
    );
    sb.config(&toml);
    let (code, r) = stop_a_stubborn_graph(&sb, 1);
    assert_eq!(code, 3);
    let s = r.component("stubborn").expect("stubborn");
    assert_eq!(s.killed_by, Some(KillReason::PhaseTimeout), "{s:?}");
    let killed_after = s.killed_at.expect("killed") - s.stop_requested.expect("asked");
    assert!((295.0..1500.0).contains(&killed_after), "{killed_after} ms");
    assert_eq!(r.phases[0].timeout_ms, 300.0);
}

#[test]
fn a_crash_triggers_an_ordered_shutdown() {
    let sb = Sandbox::new();
    let log = sb.log();
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.service("db", "ready_after = \"50ms\"\nstop_timeout = \"5s\"");
    toml += &sb.service(
        "web",
        "ready_after = \"50ms\"\nstop_timeout = \"5s\"\ndepends_on = [\"db\"]",
    );
    // crash waits until web runs, so the others are up when it fails.
    toml += &sb.shell(
        "crash",
        &format!(
            "until grep -qx 'start web' '{}' 2>/dev/null; do sleep 0.02; done; sleep 0.3; exit 1",
            log.display()
        ),
        "ready_after = \"50ms\"",
    );
    sb.config(&toml);
    let mut sd = sb.run();
    let code = sd.exit_code();
    assert_eq!(code, 1, "stderr:\n{}", sd.stderr());

    let lines = sb.log_lines();
    assert_stop_end_before_begin(&lines, "web", "db");

    let r = sb.report();
    assert_eq!(r.exit_code, 1);
    assert_eq!(r.trigger, Some(Trigger::ComponentFailed("crash".into())));
    let crash = r.component("crash").expect("crash");
    assert_eq!(crash.outcome, Outcome::Failed, "{crash:?}");
    assert_eq!(crash.exit_status, Some(1));
    assert_eq!(crash.stop_requested, None, "nobody asked it to stop");
    assert_eq!(crash.killed_by, None);
    assert!(crash.ready_at.is_some());
    let crashed_at = crash.stopped_at.expect("crash ended");
    let began = r.shutdown_started_at.expect("shutdown began");
    assert!(
        (crashed_at..crashed_at + 100.0).contains(&began),
        "the shutdown began at {began} ms, right after the crash at {crashed_at} ms"
    );
    for name in ["web", "db"] {
        let c = r.component(name).expect("component");
        assert_eq!(c.outcome, Outcome::Stopped, "{c:?}");
        assert_eq!(c.exit_status, Some(0), "{c:?}");
        assert!(c.stop_requested.expect("asked") >= crashed_at);
    }
    r.assert_respects_graph();
    r.assert_stopped_before("web", "db");
    assert_eq!(r.stop_order(), ["crash", "web", "db"]);
}

#[test]
fn output_is_forwarded_line_by_line_including_an_unterminated_last_line() {
    let sb = Sandbox::new();
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.shell(
        "printer",
        "echo oops >&2; printf 'one\\ntwo'",
        "ready_after = \"0s\"",
    );
    toml += &sb.service("server", "ready_after = \"100ms\"");
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(2);
    sd.wait_for("printer | two");
    // The engine has recorded printer's end (its own log line) before the signal.
    sd.wait_for_line("printer's end", |l| {
        l.contains("finished") && l.contains("printer") && !l.contains(" | ")
    });
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    assert_eq!(code, 0, "stderr:\n{}", sd.stderr());

    let lines = sd.stderr_lines();
    let find = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("`{needle}` not in stderr:\n{}", lines.join("\n")))
    };
    let (one, two) = (find("printer | one"), find("printer | two"));
    assert!(one < two, "lines forwarded in order");
    find("printer | oops");
    // Each is a whole line of its own: the text ends right after the word.
    for (i, word) in [(one, "one"), (two, "two")] {
        let rest = lines[i]
            .split_once(&format!("printer | {word}"))
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        assert!(rest.is_empty() || rest.starts_with(' '), "{}", lines[i]);
    }
    assert_eq!(lines.iter().filter(|l| l.contains("printer | ")).count(), 3);

    let r = sb.report();
    assert_eq!(r.exit_code, 0);
    assert_eq!(r.trigger, Some(Trigger::Signal("SIGTERM".into())));
    let p = r.component("printer").expect("printer");
    assert_eq!(p.outcome, Outcome::ExitedEarly, "{p:?}");
    assert_eq!(p.exit_status, Some(0));
    assert_eq!(p.stop_requested, None);
    assert!(p.stopped_at.expect("ended") <= r.shutdown_started_at.expect("shutdown"));
    let s = r.component("server").expect("server");
    assert_eq!(s.outcome, Outcome::Stopped);
}

/// A descriptor sundown itself inherited without close-on-exec (here fd 9,
/// opened by the shell that starts it, as a CI runner's or a terminal's
/// would be) never reaches the programs it starts.
#[test]
fn descriptors_sundown_inherited_do_not_reach_its_programs() {
    let sb = Sandbox::new();
    let fds = sb.path("fds.txt");
    sb.config(&format!(
        "[components.lister]\ncommand = [\"sh\", \"-c\", \"ls /proc/self/fd > {0}.tmp; mv {0}.tmp {0}; exec sleep 30\"]\nready = {{ exec = \"test -s {0}\", interval = \"20ms\" }}\n",
        fds.display()
    ));
    // As `common::command()` runs the binary, but through a shell that
    // opens fd 9 first.
    let mut sh = std::process::Command::new("sh");
    sh.arg("-c")
        .arg("exec 9</dev/null; exec \"$0\" \"$@\"")
        .arg(crate::common::BIN)
        .args(sb.run_args())
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::null());
    let mut sd = crate::common::Sundown::spawn_command(sh);
    sd.wait_ready(1);
    let listed = std::fs::read_to_string(&fds).expect("the component listed its descriptors");
    let open: Vec<&str> = listed.lines().collect();
    // 0-2, and the directory ls reads (3).
    assert_eq!(open, ["0", "1", "2", "3"], "{listed}");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}
