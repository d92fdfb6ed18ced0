//! Descendants that leave the process group (`setsid` after a double fork,
//! as daemons do) are still killed when their component ends, tracked by
//! cgroup where sundown can make one and by scanning `/proc` elsewhere; and
//! the kill is recorded in the report as a `descendants` step.

use std::path::{Path, PathBuf};

use nix::sys::signal::Signal;
use sundown::{Outcome, StopStep};

use crate::common::{Sandbox, Sundown, command, command_as, is_alive};
use crate::shared::REQUIRE_ENV;

/// A component whose main process stays in its group while a double-forked,
/// `setsid` grandchild escapes it (pid in `escaped.pid`), and one that does
/// not escape but has an ordinary background child (`kept.pid`).
fn escaping_graph(sb: &Sandbox) {
    let dir = sb.dir().display();
    let daemon = format!(
        "( setsid sh -c 'echo $$$$ > {dir}/escaped.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 & )\n\
         while [ ! -s {dir}/escaped.pid ]; do sleep 0.01; done\n\
         echo started\n\
         exec sleep 1000"
    );
    let plain = format!("sleep 1000 & echo $! > {dir}/kept.pid; echo started; wait");
    sb.config(&format!(
        "{}{}",
        sb.shell("daemon", &daemon, "ready = { log = \"started\" }"),
        sb.shell(
            "plain",
            &plain,
            "ready = { log = \"started\" }\ndepends_on = [\"daemon\"]"
        ),
    ));
}

/// Runs the escaping graph with `SUNDOWN_DESCENDANTS=mode`, stops it, and
/// checks that the escaped grandchild died before sundown exited.
fn escaped_grandchild_dies_with_its_component(mode: &str) {
    let sb = Sandbox::new();
    escaping_graph(&sb);
    let mut cmd = command();
    cmd.args(sb.run_args()).env("SUNDOWN_DESCENDANTS", mode);
    stop_and_check(&sb, Sundown::spawn_command(cmd), mode);
}

/// Stops the escaping graph run by `sd` and checks that the escaped
/// grandchild died before sundown exited, tracked the `mode` way.
fn stop_and_check(sb: &Sandbox, mut sd: Sundown, mode: &str) {
    sd.wait_ready(2);
    let escaped = sb.pid_file("escaped.pid");
    assert!(is_alive(escaped));
    let pgid = nix::unistd::getpgid(Some(nix::unistd::Pid::from_raw(escaped))).expect("pgid");
    assert_eq!(pgid.as_raw(), escaped, "it leads a group of its own");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    // Not "soon after": the component's end waits for the kill to land.
    assert!(
        !is_alive(escaped),
        "the escaped grandchild {escaped} outlived sundown ({mode}); stderr:\n{}",
        sd.stderr()
    );

    let r = sb.report();
    let daemon = r.component("daemon").expect("daemon");
    assert_eq!(daemon.outcome, Outcome::Stopped, "{daemon:?}");
    let step = daemon
        .stop_steps
        .iter()
        .find(|s| s.step == StopStep::Descendants)
        .unwrap_or_else(|| panic!("no descendants step: {:?}", daemon.stop_steps));
    assert!(
        step.detail.contains(&format!("{escaped} (sleep)")) && step.detail.contains(mode),
        "{step:?}"
    );
    // The ordinary child went with the group, so nothing had escaped there.
    let plain = r.component("plain").expect("plain");
    assert!(!is_alive(sb.pid_file("kept.pid")));
    assert!(
        plain
            .stop_steps
            .iter()
            .all(|s| s.step != StopStep::Descendants),
        "{:?}",
        plain.stop_steps
    );
}

/// Whether this process could give a component a cgroup: a cgroup v2
/// hierarchy is mounted and our own cgroup takes a subdirectory. Returns
/// our own cgroup's directory.
fn cgroup_writable() -> Result<PathBuf, String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| e.to_string())?;
    let path = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let mount = mounts
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            right
                .starts_with("cgroup2 ")
                .then(|| left.split(' ').nth(4))
                .flatten()
        })
        .ok_or("no cgroup2 mount")?;
    let own = Path::new(mount).join(path.trim_start_matches('/'));
    let probe = own.join(format!("sundown-test-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(|e| format!("cannot create {}: {e}", probe.display()))?;
    std::fs::remove_dir(&probe).map_err(|e| e.to_string())?;
    Ok(own)
}

/// Skips (printed) where cgroups are not writable; CI requires them.
fn require_cgroups() -> Option<PathBuf> {
    match cgroup_writable() {
        Ok(own) => Some(own),
        Err(why) => {
            // CI runs as root on a machine with a writable cgroup v2 hierarchy.
            assert!(
                std::env::var_os(REQUIRE_ENV).is_none(),
                "cgroups are required under {REQUIRE_ENV}, but {why}"
            );
            eprintln!("skipped: cgroup v2 is not writable here ({why})");
            None
        }
    }
}

#[test]
fn an_escaped_grandchild_is_killed_through_the_components_cgroup() {
    if require_cgroups().is_some() {
        escaped_grandchild_dies_with_its_component("cgroup");
    }
}

#[test]
fn empty_cgroups_a_killed_sundown_left_behind_are_removed() {
    let Some(own) = require_cgroups() else { return };
    // As a SIGKILLed run leaves them: named like sundown's, empty.
    let stale = own.join("sundown.999999-0badf00d.0.gone");
    std::fs::create_dir(&stale).expect("make a stale cgroup");
    let sb = Sandbox::new();
    sb.config(&sb.shell("one", "exec sleep 1000", "ready_after = \"0s\""));
    let mut sd = sb.run();
    sd.wait_ready(1);
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert!(!stale.exists(), "{} is still there", stale.display());
}

#[test]
fn an_escaped_grandchild_is_killed_by_scanning_for_its_marker() {
    escaped_grandchild_dies_with_its_component("scan");
}

#[test]
fn an_unprivileged_sundown_falls_back_to_scanning_by_itself() {
    // Where sundown may not write to cgroups (here: as `nobody`), the
    // automatic choice is the scan, and the grandchild still dies.
    let Some(mut cmd) = command_as("nobody") else {
        return;
    };
    let sb = Sandbox::new();
    escaping_graph(&sb);
    std::fs::set_permissions(
        sb.dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("open the sandbox to nobody");
    cmd.args(sb.run_args()).env_remove("SUNDOWN_DESCENDANTS");
    stop_and_check(&sb, Sundown::spawn_command(cmd), "scan");
}

/// `db` and `web` (which depends on it) each leave two processes a
/// SIGKILLed supervisor does not take with it: a background child in the
/// component's group (`NAME.kept.pid`) and a daemon that escaped the group
/// (`NAME.escaped.pid`). `PR_SET_PDEATHSIG` only reaches the main process.
fn leaving_graph(sb: &Sandbox, metrics: std::net::SocketAddr) {
    let dir = sb.dir().display();
    let script = |name: &str| {
        format!(
            "rm -f {dir}/{name}.escaped.pid\n\
             ( setsid sh -c 'echo $$$$ > {dir}/{name}.escaped.pid; exec sleep 1000' </dev/null >/dev/null 2>&1 & )\n\
             sleep 1000 & echo $! > {dir}/{name}.kept.pid\n\
             while [ ! -s {dir}/{name}.escaped.pid ]; do sleep 0.01; done\n\
             echo started\n\
             exec sleep 1000"
        )
    };
    sb.config(&format!(
        "[supervisor.metrics]\nlisten = \"{metrics}\"\n\n{}{}",
        sb.shell("db", &script("db"), "ready = { log = \"started\" }"),
        sb.shell(
            "web",
            &script("web"),
            "ready = { log = \"started\" }\ndepends_on = [\"db\"]"
        ),
    ));
}

/// A SIGKILLed supervisor leaves descendants behind; the next run of the
/// same config finds them (by cgroup or by marker, `mode`), kills them in
/// reverse dependency order before starting anything, and says so.
fn leftovers_of_a_killed_run_are_killed_by_the_next(mode: &str) {
    let sb = Sandbox::new();
    let metrics = crate::shared::free_addr();
    leaving_graph(&sb, metrics);
    let spawn = || {
        let mut cmd = command();
        cmd.args(sb.run_args()).env("SUNDOWN_DESCENDANTS", mode);
        Sundown::spawn_command(cmd)
    };
    let mut first = spawn();
    first.wait_ready(2);
    let left: Vec<(String, i32)> = ["db.kept", "db.escaped", "web.kept", "web.escaped"]
        .iter()
        .map(|f| (f.to_string(), sb.pid_file(&format!("{f}.pid"))))
        .collect();
    first.signal(Signal::SIGKILL);
    first.wait_exit(crate::shared::TIMEOUT);
    // The fault, reproduced: all four outlive their supervisor.
    std::thread::sleep(std::time::Duration::from_millis(200));
    for (what, pid) in &left {
        assert!(
            is_alive(*pid),
            "{what} ({pid}) should have been left behind"
        );
    }

    // A run that fails before it gets to clean up (its metrics port is
    // taken) leaves the killed run's record for the next one.
    let taken = std::net::TcpListener::bind(metrics).expect("take the metrics port");
    let mut failed = spawn();
    assert_eq!(failed.exit_code(), 2, "{}", failed.stderr());
    drop(taken);
    for (what, pid) in &left {
        assert!(
            is_alive(*pid),
            "{what} ({pid}) was killed by a run that failed"
        );
    }

    let mut second = spawn();
    second.wait_ready(2);
    for (what, pid) in &left {
        assert!(
            !is_alive(*pid),
            "{what} ({pid}) of the killed run is still alive ({mode}); stderr:\n{}",
            second.stderr()
        );
    }
    let said = |name: &str| {
        let needle = format!("was killed and left {name} running: killed ");
        let line = second.wait_for(&needle);
        second
            .stderr_lines()
            .iter()
            .position(|l| *l == line)
            .map(|at| (at, line))
            .expect("the line")
    };
    let (web_at, web) = said("web");
    let (db_at, db) = said("db");
    assert!(web_at < db_at, "web (the dependent) first:\n{web}\n{db}");
    for (what, pid) in &left {
        let line = if what.starts_with("web") { &web } else { &db };
        assert!(line.contains(&format!("{pid} (sleep)")), "{what}: {line}");
    }
    second.signal(Signal::SIGTERM);
    assert_eq!(second.exit_code(), 0, "{}", second.stderr());
    // A clean end leaves no record: a third run finds nothing to say.
    let mut third = spawn();
    third.wait_ready(2);
    third.signal(Signal::SIGTERM);
    assert_eq!(third.exit_code(), 0);
    assert!(
        !third.stderr().contains("previous run"),
        "{}",
        third.stderr()
    );
}

#[test]
fn leftovers_of_a_killed_run_are_found_by_marker_and_killed_by_the_next() {
    leftovers_of_a_killed_run_are_killed_by_the_next("scan");
}

#[test]
fn leftovers_of_a_killed_run_are_found_by_cgroup_and_killed_by_the_next() {
    if require_cgroups().is_some() {
        leftovers_of_a_killed_run_are_killed_by_the_next("cgroup");
    }
}
