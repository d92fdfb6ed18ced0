//! Robustness at the edges of the built binary, each test a defect found in
//! review and fixed: a stalled stderr reader, and output that outlives its
//! process. `/bin/sh` children and real signals; the library's side (a
//! panicking component, repeated signals, the report in odd shutdowns) is
//! in the library's tests.

use std::io::Read as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sundown::Outcome;

use crate::common::{Sandbox, command, is_alive};
use crate::shared::TIMEOUT;

/// The budget holds even when nobody reads sundown's stderr: with a chatty
/// child and a stalled pipe, logs are dropped rather than blocking the one
/// runtime thread, so SIGTERM and the deadlines are still processed.
#[test]
fn a_stalled_stderr_does_not_stop_the_shutdown() {
    let sb = Sandbox::new();
    let marker = sb.path("chatty.started");
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"2s\"\n\n");
    toml += &sb.shell(
        "chatty",
        &format!(
            "echo > '{}'; exec yes 'a chatty line of output'",
            marker.display()
        ),
        "stop_timeout = \"1s\"",
    );
    sb.config(&toml);
    let mut child = command()
        .args(["run", "--config"])
        .arg(sb.path("supervisor.toml"))
        .arg("--report")
        .arg(sb.report_path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sundown");
    // Hold the read end open but never read it: a stalled log pipeline.
    let mut stderr = child.stderr.take().expect("piped");
    let deadline = Instant::now() + TIMEOUT;
    while !marker.exists() {
        assert!(Instant::now() < deadline, "chatty never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    kill(pid, Signal::SIGTERM).expect("SIGTERM");
    let limit = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break Some(status);
        }
        if Instant::now() >= limit {
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if status.is_none() {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let _ = kill(pid, Signal::SIGINT);
        std::thread::sleep(Duration::from_millis(500));
        let forced = child.try_wait().ok().flatten().is_some();
        let _ = child.kill();
        let _ = child.wait();
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
        panic!(
            "sundown did not exit 10 s after SIGTERM with a 2 s budget (blocked in `{wchan}`); \
             a second signal forced it: {forced}"
        );
    }
    drop(stderr);
}

/// A process that exits at once on SIGTERM but left a descendant outside
/// its group holding stdout/stderr is `stopped` when its main process is
/// reaped; draining the pipes continues in the background instead of
/// running into its `stop_timeout` (no false `timed_out_killed`, exit 0).
#[test]
fn a_prompt_graceful_stop_is_not_reported_as_killed_while_output_drains() {
    let sb = Sandbox::new();
    let escaped = sb.path("escaped.pid");
    let mut toml = String::from("[supervisor]\nshutdown_timeout = \"10s\"\n\n");
    toml += &sb.shell(
        "web",
        &format!(
            "setsid sleep 30 & echo $! > '{}'; trap 'exit 0' TERM; while :; do sleep 0.05; done",
            escaped.display()
        ),
        "ready_after = \"100ms\"\nstop_timeout = \"500ms\"",
    );
    sb.config(&toml);
    let mut sd = sb.run();
    sd.wait_ready(1);
    let escaped_pid = sb.pid_file("escaped.pid");
    sd.signal(Signal::SIGTERM);
    let code = sd.exit_code();
    if is_alive(escaped_pid) {
        let _ = kill(Pid::from_raw(escaped_pid), Signal::SIGKILL);
    }
    let r = sb.report();
    let web = r.component("web").expect("web");
    assert_eq!(web.exit_status, Some(0), "{web:?}");
    assert_eq!(web.outcome, Outcome::Stopped, "{web:?}");
    assert!(
        web.stop_ms.is_some_and(|ms| ms < 500.0),
        "web exited right after SIGTERM: {web:?}"
    );
    assert_eq!(code, 0, "stderr:\n{}", sd.stderr());
}

/// Blocking work an in-process kind leaves behind does not keep the process
/// alive once the report is written: the budget holds for every kind. (A
/// stopped Redis stand-in whose AOF replay ran on kept sundown alive 14 s
/// after its report, deaf to a second signal.)
#[test]
fn blocking_work_left_behind_does_not_delay_the_exit() {
    let sb = Sandbox::new();
    sb.config(
        "[supervisor]\nshutdown_timeout = \"2s\"\n\n\
         [components.cache]\nkind = \"sim\"\nleaves_blocking = \"60s\"\n",
    );
    let mut sd = sb.run();
    sd.wait_ready(1);
    let asked = Instant::now();
    sd.signal(Signal::SIGTERM);
    let status = sd.wait_exit(TIMEOUT);
    let took = asked.elapsed();
    assert_eq!(status.code(), Some(0), "stderr:\n{}", sd.stderr());
    // Far below the 60 s left behind; the bound is the budget, 2 s.
    assert!(
        took < Duration::from_secs(10),
        "exited {took:?} after SIGTERM"
    );
    assert_eq!(sb.report().components[0].outcome, Outcome::Stopped);
}
