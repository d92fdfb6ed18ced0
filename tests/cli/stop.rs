//! The stop sequence of a process, with the built binary: `stop_command`,
//! then `stop_signal`, then SIGKILL of the group, each step in the report
//! and the log; a stop command that hangs or fails only moves the sequence
//! on. And `user`/`group`, which real services (PostgreSQL) need.

use nix::sys::signal::Signal;
use std::time::Duration;
use sundown::{Outcome, ShutdownReport, StopStep};

use crate::common::{Sandbox, toml_array, wait_dead};
use crate::shared::TIMEOUT;

fn steps(r: &ShutdownReport, name: &str) -> Vec<(StopStep, String)> {
    r.component(name)
        .expect("the component")
        .stop_steps
        .iter()
        .map(|s| (s.step, s.detail.clone()))
        .collect()
}

fn kinds(r: &ShutdownReport, name: &str) -> Vec<StopStep> {
    steps(r, name).into_iter().map(|(step, _)| step).collect()
}

fn stop_it(sb: &Sandbox, n: usize) -> (i32, ShutdownReport, String) {
    let mut sd = sb.run();
    sd.wait_ready(n);
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    (code, sb.report(), sd.stderr())
}

fn argv(items: &[&str]) -> String {
    toml_array(&items.iter().map(ToString::to_string).collect::<Vec<_>>())
}

#[test]
fn a_stop_command_that_works_is_the_only_step() {
    let sb = Sandbox::new();
    let flag = sb.path("stop-now");
    // A program with its own way to be told to stop, and no signal handler.
    let script = format!(
        // It takes a moment to wind down after being told, as real
        // programs do, so the stop command's own exit is seen first.
        "trap '' TERM; while [ ! -f {f} ]; do sleep 0.02; done; sleep 0.2; echo 'bye from db'",
        f = flag.display()
    );
    let extra = format!(
        "ready_after = \"50ms\"\nstop_command = {}\nstop_command_timeout = \"5s\"",
        argv(&[
            "sh",
            "-c",
            &format!("echo asking db to stop; touch {}", flag.display())
        ])
    );
    sb.config(&sb.shell("db", &script, &extra));
    let (code, r, err) = stop_it(&sb, 1);
    assert_eq!(code, 0, "{err}");
    let s = steps(&r, "db");
    assert_eq!(s.len(), 2, "{s:?}");
    assert_eq!(s[0].0, StopStep::StopCommand);
    assert!(
        s[0].1.starts_with("`sh -c 'echo asking db to stop; touch "),
        "{s:?}"
    );
    assert_eq!(s[1], (StopStep::StopCommandEnded, "exit status 0".into()));
    let db = r.component("db").expect("db");
    assert_eq!((db.outcome, db.exit_status), (Outcome::Stopped, Some(0)));
    assert!(
        err.contains("db (stop command) | asking db to stop"),
        "{err}"
    );
    assert!(err.contains("db | bye from db"), "{err}");
    assert!(err.contains("db: stop command: `sh -c"), "{err}");
}

#[test]
fn a_stop_command_that_hangs_is_killed_and_the_signal_follows() {
    let sb = Sandbox::new();
    let hung = sb.path("hung.pid");
    let extra = format!(
        "ready_after = \"50ms\"\nstop_timeout = \"5s\"\nstop_command = {}\nstop_command_timeout = \"300ms\"",
        argv(&[
            "sh",
            "-c",
            &format!("echo $$$$ > {}; exec sleep 1000", hung.display())
        ])
    );
    sb.config(&sb.service("db", &extra));
    let (code, r, err) = stop_it(&sb, 1);
    assert_eq!(code, 0, "{err}");
    let s = steps(&r, "db");
    assert_eq!(
        kinds(&r, "db"),
        [
            StopStep::StopCommand,
            StopStep::StopCommandEnded,
            StopStep::Signal
        ],
        "{s:?}"
    );
    assert_eq!(s[1].1, "timed out after 300ms; killed it");
    assert!(s[2].1.starts_with("SIGTERM to process group "), "{s:?}");
    let at: Vec<f64> = r
        .component("db")
        .expect("db")
        .stop_steps
        .iter()
        .map(|s| s.at)
        .collect();
    // The times are when the engine heard of each step, so a busy engine
    // can shift one by a few ms (289.99 was seen under a loaded CI).
    assert!(at[1] - at[0] >= 250.0, "the command got its 300 ms: {at:?}");
    assert!(
        wait_dead(sb.pid_file("hung.pid"), Duration::from_secs(5)),
        "the hung stop command outlived its timeout"
    );
    let db = r.component("db").expect("db");
    assert_eq!(db.outcome, Outcome::Stopped, "{db:?}");
    // The service script logs its graceful stop: the signal did reach it.
    assert!(sb.log_lines().contains(&"stop-end db".to_string()));
}

#[test]
fn a_failing_stop_command_does_not_stop_the_escalation() {
    let sb = Sandbox::new();
    let extra = format!(
        "ready_after = \"50ms\"\nstop_timeout = \"400ms\"\nstop_command = {}",
        argv(&[
            "sh",
            "-c",
            "echo 'ERR Errors trying to SHUTDOWN' >&2; exit 7"
        ])
    );
    sb.config(&format!(
        "[supervisor]\nshutdown_timeout = \"10s\"\n\n{}",
        sb.stubborn("db", &extra)
    ));
    let grandchild_file = "db.gc.pid";
    let mut sd = sb.run();
    sd.wait_ready(1);
    let grandchild = sb.pid_file(grandchild_file);
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    let err = sd.stderr();
    let r = sb.report();
    assert_eq!(code, 3, "a kill after a timeout is exit code 3:\n{err}");
    let s = steps(&r, "db");
    assert_eq!(
        kinds(&r, "db"),
        [
            StopStep::StopCommand,
            StopStep::StopCommandEnded,
            StopStep::Signal,
            StopStep::Kill
        ],
        "{s:?}"
    );
    assert_eq!(s[1].1, "failed: exit status: 7");
    assert!(s[3].1.starts_with("SIGKILL to process group "), "{s:?}");
    let db = r.component("db").expect("db");
    assert_eq!(db.outcome, Outcome::TimedOutKilled);
    assert_eq!(db.signal.as_deref(), Some("SIGKILL"));
    assert!(
        err.contains("db (stop command) | ERR Errors trying to SHUTDOWN"),
        "{err}"
    );
    assert!(
        err.contains("db: stop command ended: failed: exit status: 7"),
        "{err}"
    );
    assert!(
        wait_dead(grandchild, Duration::from_secs(5)),
        "the grandchild survived"
    );
}

#[test]
fn a_child_that_ignores_its_stop_signal_is_killed_at_stop_timeout() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "[supervisor]\nshutdown_timeout = \"10s\"\n\n{}",
        sb.stubborn("db", "ready_after = \"50ms\"\nstop_timeout = \"300ms\"")
    ));
    let (code, r, err) = stop_it(&sb, 1);
    assert_eq!(code, 3, "{err}");
    let s = r.component("db").expect("db");
    assert_eq!(kinds(&r, "db"), [StopStep::Signal, StopStep::Kill]);
    let gap = s.stop_steps[1].at - s.stop_steps[0].at;
    assert!(
        (295.0..2000.0).contains(&gap),
        "SIGKILL {gap} ms after SIGTERM, stop_timeout 300 ms"
    );
    assert_eq!(s.outcome, Outcome::TimedOutKilled);
}

/// Whether this test can switch users: only root can.
fn root() -> bool {
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        eprintln!("skipped: switching users needs root");
    }
    root
}

#[test]
fn user_and_group_run_the_process_unprivileged_with_its_groups() {
    if !root() {
        return;
    }
    let sb = Sandbox::new();
    let out = sb.path("id");
    // The sandbox is root's; let `nobody` write its answer.
    std::fs::set_permissions(
        sb.dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod the sandbox");
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("passwd")
        .expect("a `nobody` user");
    let script = format!(
        "echo \"$(id -u) $(id -g) $(id -G) $HOME $USER\" > {}; exec sleep 1000",
        out.display()
    );
    sb.config(&sb.shell("db", &script, "user = \"nobody\"\nready_after = \"50ms\""));
    let mut sd = sb.run();
    sd.wait_ready(1);
    let deadline = std::time::Instant::now() + TIMEOUT;
    let said = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.ends_with('\n') {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the process never wrote its ids"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let fields: Vec<&str> = said.split_whitespace().collect();
    assert_eq!(fields[0], nobody.uid.to_string(), "{said}");
    assert_eq!(fields[1], nobody.gid.to_string(), "{said}");
    // Root's supplementary groups (0) are gone.
    assert!(!fields[2..fields.len() - 2].contains(&"0"), "{said}");
    assert_eq!(fields[fields.len() - 1], "nobody", "{said}");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn the_stop_command_runs_as_the_components_user() {
    if !root() {
        return;
    }
    let sb = Sandbox::new();
    std::fs::set_permissions(
        sb.dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod the sandbox");
    let out = sb.path("stopper-id");
    let extra = format!(
        "user = \"nobody\"\nready_after = \"50ms\"\nstop_command = {}",
        argv(&["sh", "-c", &format!("id -u > {}", out.display())])
    );
    sb.config(&sb.service("db", &extra));
    let (code, _, err) = stop_it(&sb, 1);
    assert_eq!(code, 0, "{err}");
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("passwd")
        .expect("nobody");
    assert_eq!(
        std::fs::read_to_string(&out)
            .expect("the stop command ran")
            .trim(),
        nobody.uid.to_string()
    );
}

#[test]
fn an_unknown_user_is_a_start_failure_that_names_it() {
    let sb = Sandbox::new();
    sb.config(&sb.shell("db", "exec sleep 1000", "user = \"no-such-user-here\""));
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 1);
    let r = sb.report();
    let db = r.component("db").expect("db");
    assert_eq!(db.outcome, Outcome::Failed);
    assert_eq!(
        db.error.as_deref(),
        Some("there is no user `no-such-user-here` on this machine")
    );
    assert!(
        sd.stderr()
            .contains("db: failed to start: there is no user `no-such-user-here` on this machine"),
        "{}",
        sd.stderr()
    );
}
