//! The control socket of a running `sundown run`, driven by the built
//! binary's client commands (`status`, `shutdown`) and by raw bytes: what it
//! reports, what a stuck shutdown waits on, and who may use it.

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sundown::status::ComponentState;
use sundown::{State, Trigger};

use crate::common::{Sandbox, Sundown, cli, command, command_as};
use crate::shared::{Rng, TIMEOUT};

/// A process component (`db`, with a pid) and an in-process one that
/// ignores its stop request (`web`, killed at its 5 s stop timeout).
fn graph(sb: &Sandbox) {
    sb.config(&format!(
        "{}[components.web]\nkind = \"sim\"\ndepends_on = [\"db\"]\nignore_stop = true\nstop_timeout = \"5s\"\n",
        sb.service("db", "ready_after = \"50ms\"")
    ));
}

fn socket(sb: &Sandbox) -> PathBuf {
    // Tests run without XDG_RUNTIME_DIR (see `command()`): next to the config.
    sb.path(".sundown.supervisor.sock")
}

fn start(sb: &Sandbox) -> Sundown {
    graph(sb);
    let sd = sb.run();
    sd.wait_ready(2);
    sd
}

/// Ends a run quickly: web ignores its stop, so the second signal forces it.
fn force_stop(mut sd: Sundown) {
    sd.signal(Signal::SIGTERM);
    sd.wait_for("SIGTERM received");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 4, "{}", sd.stderr());
}

#[test]
fn status_lists_every_component_with_its_state_and_pid() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let v = sb.status();
    assert_eq!(
        (v.schema, v.state),
        (sundown::status::SCHEMA, State::Running)
    );
    let names: Vec<&str> = v.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["db", "web"]);
    assert!(
        v.components
            .iter()
            .all(|c| c.state == ComponentState::Ready)
    );
    assert_eq!(v.components[0].pid, Some(sb.pid_file("db.pid") as u32));
    assert_eq!(v.components[1].pid, None);
    assert!(v.shutdown.is_none());
    // The table says the same for people.
    let table = sb.client(&["status"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("db ") && l.contains("ready")),
        "{text}"
    );
    force_stop(sd);
}

#[test]
fn a_stuck_shutdown_names_what_it_waits_on_and_when_that_is_killed() {
    let sb = Sandbox::new();
    let mut sd = start(&sb);
    sd.signal(Signal::SIGTERM);
    let deadline = Instant::now() + TIMEOUT;
    let v = loop {
        let v = sb.status();
        if v.shutdown
            .as_ref()
            .is_some_and(|s| !s.waiting_on.is_empty())
        {
            break v;
        }
        assert!(Instant::now() < deadline, "never saw the shutdown: {v:?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(v.state, State::Stopping);
    let s = v.shutdown.expect("a shutdown");
    assert_eq!(s.trigger, Trigger::Signal("SIGTERM".into()));
    assert_eq!((s.phase, s.phases), (Some(1), 2));
    assert_eq!(s.waiting_on, ["web"]);
    let left = s.time_left_ms.expect("a kill is due");
    assert!(left > 0.0 && left <= 5000.0, "{left}");
    assert!(s.budget_left_ms > left, "{s:?}");
    let web = &v.components[1];
    assert_eq!(web.state, ComponentState::Stopping);
    assert_eq!(web.kill_in_ms, Some(left));
    // db waits its turn: still ready while web holds the first phase.
    assert_eq!(v.components[0].state, ComponentState::Ready);
    let text = String::from_utf8_lossy(&sb.client(&["status"]).stdout).to_string();
    assert!(text.contains("waiting on web, next kill in "), "{text}");
    // Finish quickly: the second signal forces it.
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 4);
    assert!(!socket(&sb).exists(), "the socket outlived its run");
    let after = sb.client(&["status"]);
    assert_eq!(after.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&after.stderr)
            .contains("no sundown is running with the control socket"),
        "{after:?}"
    );
}

#[test]
fn shutdown_asks_for_the_ordered_stop() {
    let sb = Sandbox::new();
    sb.config(&sb.service("db", "ready_after = \"50ms\""));
    let mut sd = sb.run();
    sd.wait_ready(1);
    let out = sb.client(&["shutdown"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert_eq!(sb.report().trigger, Some(Trigger::Requested));
}

#[test]
fn the_socket_is_private_and_a_second_run_of_the_same_config_is_refused() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let mode = std::fs::metadata(socket(&sb))
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let mut second = Sundown::spawn(&sb.run_args());
    assert_eq!(second.exit_code(), 2);
    assert!(
        second
            .stderr()
            .contains("another sundown is running with the control socket"),
        "{}",
        second.stderr()
    );
    assert!(
        !second.stderr().contains("starting"),
        "it started something: {}",
        second.stderr()
    );
    // The first one is untouched and still answers.
    assert_eq!(sb.status().state, State::Running);
    force_stop(sd);
}

#[test]
fn a_stale_socket_of_a_dead_run_is_replaced() {
    let sb = Sandbox::new();
    // A socket nobody listens on, as a SIGKILLed run leaves it.
    drop(std::os::unix::net::UnixListener::bind(socket(&sb)).expect("bind"));
    assert!(socket(&sb).exists());
    let sd = start(&sb);
    assert_eq!(sb.status().state, State::Running);
    force_stop(sd);
}

#[test]
fn garbage_on_the_socket_gets_an_error_and_the_daemon_keeps_answering() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let mut rng = Rng(0x5eed_c0de);
    for _ in 0..20 {
        let mut s = UnixStream::connect(socket(&sb)).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut junk = rng.some_bytes(512);
        junk.extend_from_slice(b"\r\n\r\n");
        let _ = s.write_all(&junk);
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply);
        // hyper answers what it cannot parse with 400 and hangs up.
        assert!(reply.starts_with("HTTP/1.1 400"), "{reply:?}");
    }
    // A well-formed request for something that is not there: a JSON error.
    let mut s = UnixStream::connect(socket(&sb)).expect("connect");
    s.write_all(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut reply = String::new();
    s.read_to_string(&mut reply).expect("read");
    assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
    assert!(
        reply.contains("\"error\":\"no endpoint GET /nope"),
        "{reply}"
    );
    assert_eq!(sb.status().state, State::Running);
    force_stop(sd);
}

#[test]
fn another_user_is_refused_even_when_the_socket_mode_is_loosened() {
    // CI makes a user of its own for this (SUNDOWN_OTHER_USER); elsewhere `nobody`.
    let other = std::env::var("SUNDOWN_OTHER_USER").unwrap_or_else(|_| "nobody".into());
    if command_as(&other).is_none() {
        return;
    }
    let sb = Sandbox::new();
    let sd = start(&sb);
    // Open the way to the socket as far as file modes go.
    std::fs::set_permissions(sb.dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    std::fs::set_permissions(socket(&sb), std::fs::Permissions::from_mode(0o777))
        .expect("chmod socket");
    let uid = nix::unistd::User::from_name(&other)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no user `{other}`"))
        .uid;
    let sock = socket(&sb);
    let requests: [&[&str]; 5] = [
        &["status"],
        &["shutdown"],
        &["stop", "db"],
        &["restart", "web"],
        &["reload"],
    ];
    for request in requests {
        let out = command_as(&other)
            .expect("checked above")
            .args(request)
            .arg("--socket")
            .arg(&sock)
            .output()
            .expect("run the client as nobody");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(
            err,
            format!(
                "error: uid {uid} may not use this socket; it belongs to uid {}\n",
                nix::unistd::getuid()
            )
        );
    }
    sd.wait_for(&format!(
        "control socket: refused a client running as uid {uid}"
    ));
    // Its shutdown and stop did nothing; the owner is still served.
    let v = sb.status();
    assert_eq!(v.state, State::Running);
    assert!(
        v.components
            .iter()
            .all(|c| c.state == ComponentState::Ready && c.restarts == 0),
        "{v:?}"
    );
    force_stop(sd);
}

#[test]
fn a_client_with_nothing_to_talk_to_says_so() {
    let sb = Sandbox::new();
    let path = sb.path("none.sock");
    let out = cli(&["status", "--socket", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // A connection that failed is where the path helps: it names it.
    assert!(
        err.starts_with(&format!(
            "error: no sundown is running with the control socket {} (",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn logs_shows_a_components_recent_output_and_follows_new_lines() {
    let sb = Sandbox::new();
    sb.config(&sb.shell(
        "db",
        "echo one; echo two >&2; trap 'echo pinged' USR1; while :; do sleep 1000 & wait $!; done",
        "ready_after = \"50ms\"",
    ));
    let sd = sb.run();
    sd.wait_ready(1);
    sd.wait_for("db | two");
    let out = sb.client(&["logs", "db"]);
    assert!(out.status.success(), "{out:?}");
    // The output as the program wrote it; sundown's messages about the
    // component ("[info] ready") are marked with their level.
    let output = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with('['))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(output(&shown), "one\ntwo\n");
    assert!(shown.contains("[info] ready\n"), "{shown}");
    // Following: the kept lines, then a new one (the component prints it
    // when sundown forwards SIGUSR1), then the end when the run ends.
    let config = sb.path("supervisor.toml");
    let mut follow = command()
        .args(["logs", "db", "--follow", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("follow");
    let mut stdout = follow.stdout.take().expect("stdout");
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains("two\n") {
        let n = stdout.read(&mut buf).expect("read");
        assert!(n > 0, "ended early: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    sd.signal(Signal::SIGUSR1);
    while !seen.contains("pinged\n") {
        let n = stdout.read(&mut buf).expect("read");
        assert!(n > 0, "ended before the new line: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(output(&seen), "one\ntwo\npinged\n");
    let mut sd = sd;
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    let status = follow.wait().expect("the follower ends with the run");
    assert!(status.success(), "{status:?}");
    // An unknown component is a usage error, with a suggestion.
    let sd2 = sb.run();
    sd2.wait_ready(1);
    let out = sb.client(&["logs", "dv"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: there is no component `dv` (did you mean `db`?)\n"
    );
    let mut sd2 = sd2;
    sd2.signal(Signal::SIGTERM);
    assert_eq!(sd2.exit_code(), 0);
}

/// A reload that changes `control_socket` moves the socket there: a client
/// that reads the new config finds the running daemon, and the old socket
/// is gone (nobody listens there any more).
#[test]
fn a_reload_that_changes_control_socket_moves_the_socket() {
    let sb = Sandbox::new();
    let sd = start(&sb);
    let old = socket(&sb);
    assert!(old.exists());
    let before = sb.status();
    // The new place, in a directory of its own.
    std::fs::create_dir(sb.path("run")).expect("mkdir");
    let text = std::fs::read_to_string(sb.path("supervisor.toml")).expect("config");
    sb.config(&format!(
        "[supervisor]\ncontrol_socket = \"run/ctl.sock\"\n{text}"
    ));
    sd.signal(Signal::SIGHUP);
    sd.wait_for("control socket moved");
    assert!(sb.path("run/ctl.sock").exists());
    assert!(!old.exists(), "the old socket is removed");
    // The client reads the new config and finds the same run, components untouched.
    let after = sb.status();
    assert_eq!(after.components[0].pid, before.components[0].pid);
    // `reload` through the moved socket works too, and keeps it there.
    let out = sb.client(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(sb.path("run/ctl.sock").exists());
    force_stop(sd);
    assert!(!sb.path("run/ctl.sock").exists(), "removed at the end");
}

/// `run --only NAME` serves a socket of its own; a client finds it with the
/// same `--only NAME`, by the same rule.
#[test]
fn a_client_finds_a_run_of_one_component_with_only() {
    let sb = Sandbox::new();
    graph(&sb);
    let config = sb.path("supervisor.toml");
    let mut sd = Sundown::spawn(&[
        "run".as_ref(),
        "--config".as_ref(),
        config.as_os_str(),
        "--only".as_ref(),
        "db".as_ref(),
    ]);
    sd.wait_ready(1);
    assert!(sb.path(".sundown.supervisor.db.sock").exists());
    let out = sb.client(&["status", "--json", "--only", "db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: sundown::status::StatusView =
        serde_json::from_slice(&out.stdout).expect("status parses");
    let names: Vec<&str> = v.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["db"]);
    // Without --only the client looks for the graph's run, which is not there.
    let out = sb.client(&["status"]);
    assert!(!out.status.success());
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

/// The control socket's lock file is never opened through a symbolic link
/// (one planted there would make sundown create or lock its target), and
/// a run leaves neither socket nor lock file behind in the config's
/// directory.
#[test]
fn the_lock_file_is_not_followed_through_a_symlink_and_not_left_behind() {
    let sb = Sandbox::new();
    graph(&sb);
    let lock = sb.path(".sundown.supervisor.sock.lock");
    let target = sb.path("planted");
    std::os::unix::fs::symlink(&target, &lock).expect("symlink");
    let mut sd = sb.run();
    assert_eq!(sd.exit_code(), 2, "{}", sd.stderr());
    assert!(sd.stderr().contains("symbolic link"), "{}", sd.stderr());
    assert!(!target.exists(), "the symlink's target was created");

    std::fs::remove_file(&lock).expect("remove the symlink");
    let sd = start(&sb);
    assert!(lock.exists(), "held while the run lives");
    force_stop(sd);
    assert!(!socket(&sb).exists());
    assert!(!lock.exists(), "the lock file is removed at the end");
}

/// Idle connections cannot keep a client out: with every slot held by
/// connections that never send a request, a new client takes the slot of
/// the one that waited longest, so `status` answers at once. (Before, 200
/// idle clients held the 32 slots 5 s at a time: status waited over 10 s.)
/// A client that has asked keeps its slot however many connect after it.
#[test]
fn idle_connections_do_not_keep_status_waiting() {
    let sb = Sandbox::new();
    sb.config("[components.web]\nkind = \"sim\"\n");
    let mut sd = sb.run();
    sd.wait_ready(1);
    // Asked before the flood: a followed log, answered until the run ends.
    let mut follower = UnixStream::connect(socket(&sb)).expect("connect");
    follower
        .write_all(b"GET /logs/web?follow=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("ask");
    follower.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut head = [0u8; 12];
    follower.read_exact(&mut head).expect("answered");
    assert_eq!(&head, b"HTTP/1.1 200");

    let idle: Vec<UnixStream> = (0..200)
        .map(|_| UnixStream::connect(socket(&sb)).expect("connect"))
        .collect();
    let asked = Instant::now();
    let out = sb.client(&["status"]);
    let took = asked.elapsed();
    assert!(out.status.success(), "{}", crate::common::text(&out.stderr));
    assert!(
        took < Duration::from_secs(3),
        "status took {took:?} behind 200 idle connections"
    );
    // The oldest idle connection was closed to make room: it reads the end.
    let mut first = &idle[0];
    // Under the 2 s request deadline: closed for the newcomer, not by it.
    first
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    let mut buf = [0u8; 1];
    assert_eq!(first.read(&mut buf).expect("read"), 0, "closed by sundown");
    drop(idle);

    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    // The follower was never cut off: its stream ended properly, with the
    // last (empty) chunk, when the run did.
    let mut rest = Vec::new();
    follower.read_to_end(&mut rest).expect("read the rest");
    assert!(
        rest.ends_with(b"0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
}
