//! What a run leaves in the config's directory: what the user asked for
//! (the report, log files, the programs' own files) and nothing of
//! sundown's own. The control socket and its lock file (`.sundown.*.sock`,
//! `.sundown.*.sock.lock`, beside the config when there is no
//! `XDG_RUNTIME_DIR`) go at every end but a SIGKILL, after which the lock
//! file keeps the killed run's record for the next run of the config.

use std::collections::BTreeSet;

use nix::sys::signal::Signal;

use crate::common::Sandbox;

fn listing(sb: &Sandbox) -> BTreeSet<String> {
    std::fs::read_dir(sb.dir())
        .expect("read the sandbox")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn config(sb: &Sandbox) {
    sb.config(&format!(
        "{}{}",
        sb.service(
            "db",
            "ready_after = \"50ms\"\nlog_file = \"logs/{name}.log\""
        ),
        sb.service("web", "depends_on = [\"db\"]\nready_after = \"50ms\""),
    ));
}

/// The sandbox's own files, and what the user asked for or the scripts
/// write: the shared log, pid files, the report, the log file.
fn expected_after_a_run() -> BTreeSet<String> {
    names(&[
        "supervisor.toml",
        "service.sh",
        "stubborn.sh",
        "log",
        "db.pid",
        "web.pid",
        "report.json",
        "logs",
    ])
}

#[test]
fn a_clean_run_leaves_nothing_of_sundowns_own_in_the_config_directory() {
    let sb = Sandbox::new();
    config(&sb);
    let mut sd = sb.run();
    sd.wait_ready(2);
    let during = listing(&sb);
    assert!(during.contains(".sundown.supervisor.sock"), "{during:?}");
    assert!(
        during.contains(".sundown.supervisor.sock.lock"),
        "{during:?}"
    );
    // What a run does besides starting: changes through the socket.
    let out = sb.client(&["restart", "db"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sb.client(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert_eq!(listing(&sb), expected_after_a_run());
}

#[test]
fn a_killed_runs_lock_file_keeps_its_record_until_the_next_run_ends_cleanly() {
    let sb = Sandbox::new();
    config(&sb);
    let mut first = sb.run();
    first.wait_ready(2);
    let pid = first.pid();
    first.signal(Signal::SIGKILL);
    first.wait_exit(crate::shared::TIMEOUT);
    // Left on purpose: the record says which processes to look for.
    let lock = sb.path(".sundown.supervisor.sock.lock");
    let record = std::fs::read_to_string(&lock).expect("the lock file stays");
    assert!(record.contains(&format!("pid {pid}")), "{record}");

    let mut second = sb.run();
    second.wait_ready(2);
    second.wait_for(&format!(
        "the previous run of this config (pid {pid}) was killed"
    ));
    second.signal(Signal::SIGTERM);
    assert_eq!(second.exit_code(), 0, "{}", second.stderr());
    assert_eq!(listing(&sb), expected_after_a_run());
}
