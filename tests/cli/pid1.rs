//! sundown as an init: PID 1 of a PID namespace (`unshare --pid --fork
//! --mount-proc`, as in a container) and `run --subreaper` adopt orphans
//! and reap them, so no zombie is left; the graph's exit code is the
//! process's. Signals meant for the programs are forwarded to them, and a
//! systemd `Type=notify` service manager hears READY=1 and STOPPING=1.

use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::common::{BIN, Sandbox, Sundown, command};
use crate::shared::{REQUIRE_ENV, TIMEOUT, tool};

/// Starts three orphans (their parent exits at once, so the kernel hands
/// them to the nearest subreaper), checks they were handed to the script's
/// parent (sundown), and waits until they are gone entirely; a zombie nobody
/// reaps stays in /proc. Prints `adopted N` and then `orphans reaped` or
/// `zombies left: PIDS`, then sleeps until stopped. It goes into the config,
/// where `$$$$` is how the shell's `$$` is written.
const ORPHANS: &str = r#"
sup=$PPID
pids=""
adopted=0
for i in 1 2 3; do
    set -- $(sh -c 'sleep 1 </dev/null >/dev/null 2>&1 & echo $$$$ $!')
    pids="$pids $2"
    # Until the kernel has moved it away from its exiting parent.
    while [ "$(awk '/^PPid:/ {print $2}' /proc/$2/status 2>/dev/null)" = "$1" ]; do sleep 0.01; done
    [ "$(awk '/^PPid:/ {print $2}' /proc/$2/status 2>/dev/null)" = "$sup" ] && adopted=$((adopted+1))
done
echo "adopted $adopted"
n=0
while [ $n -lt 500 ]; do
    left=""
    for p in $pids; do [ -e /proc/$p ] && left="$left $p"; done
    [ -z "$left" ] && break
    n=$((n+1)); sleep 0.02
done
if [ -z "$left" ]; then echo "orphans reaped"; else echo "zombies left:$left"; fi
exec sleep 1000
"#;

fn orphans_config(sb: &Sandbox) {
    sb.config(&sb.shell("orphans", ORPHANS, "ready = { log = \"^adopted\" }"));
}

/// Checks that sundown said it reaps (`how`), that the orphans were handed
/// to it, and that none of them was left a zombie.
fn orphans_adopted_and_reaped(sd: &Sundown, how: &str) {
    sd.wait_for(&format!("{how}: reaping orphaned processes"));
    sd.wait_ready(1);
    assert!(
        sd.stderr().contains("orphans | adopted 3"),
        "{}",
        sd.stderr()
    );
    let verdict = sd.wait_for_line("the orphans' fate", |l| {
        l.contains("orphans reaped") || l.contains("zombies left")
    });
    assert!(verdict.contains("orphans reaped"), "{verdict}");
}

/// The first child of `pid` (the process `unshare --fork` started), waited for.
fn first_child(pid: u32) -> Pid {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(p) = children.split_whitespace().next() {
            return Pid::from_raw(p.parse().expect("a pid"));
        }
        assert!(Instant::now() < deadline, "unshare never started its child");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `unshare` for a new PID namespace, or `None` (printed) where namespaces
/// cannot be made; CI runs as root, where they can, and requires it.
fn unshare() -> Option<Command> {
    let unshare = tool("unshare")?;
    let mut probe = Command::new(&unshare);
    let root = nix::unistd::Uid::effective().is_root();
    if !root {
        probe.args(["--user", "--map-root-user"]);
    }
    probe.args(["--pid", "--fork", "--mount-proc", "true"]);
    if !probe.status().is_ok_and(|s| s.success()) {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{REQUIRE_ENV} is set but `unshare --pid` does not work here"
        );
        eprintln!("skipped: cannot create a PID namespace here");
        return None;
    }
    let mut cmd = Command::new(unshare);
    if !root {
        cmd.args(["--user", "--map-root-user"]);
    }
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info");
    Some(cmd)
}

/// Runs the sandbox's config as PID 1 of a new PID namespace.
fn run_as_pid1(sb: &Sandbox) -> Option<(Sundown, Pid)> {
    let mut cmd = unshare()?;
    cmd.arg(BIN).args(sb.run_args());
    let sd = Sundown::spawn_command(cmd);
    let pid1 = first_child(sd.pid().as_raw() as u32);
    Some((sd, pid1))
}

#[test]
fn as_pid1_it_reaps_every_orphan_and_exits_with_the_graphs_code() {
    let sb = Sandbox::new();
    orphans_config(&sb);
    let Some((mut sd, pid1)) = run_as_pid1(&sb) else {
        return;
    };
    orphans_adopted_and_reaped(&sd, "running as PID 1");
    // unshare passes its child's exit code on; sundown's is the graph's.
    nix::sys::signal::kill(pid1, Signal::SIGTERM).expect("signal PID 1");
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    assert_eq!(sb.report().exit_code, 0);
}

#[test]
fn as_pid1_a_failed_graph_exits_1() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        sb.shell("up", "exec sleep 1000", "ready_after = \"0s\""),
        sb.shell(
            "broken",
            "sleep 0.2; exit 7",
            "ready_after = \"0s\"\ndepends_on = [\"up\"]"
        )
    ));
    let Some((mut sd, _)) = run_as_pid1(&sb) else {
        return;
    };
    assert_eq!(sd.exit_code(), 1, "{}", sd.stderr());
    let r = sb.report();
    assert_eq!(r.exit_code, 1);
    assert!(
        r.component("up")
            .is_some_and(|c| c.stop_requested.is_some())
    );
}

#[test]
fn a_subreaper_adopts_and_reaps_orphans_too() {
    let sb = Sandbox::new();
    orphans_config(&sb);
    let mut cmd = command();
    cmd.args(sb.run_args()).arg("--subreaper");
    let mut sd = Sundown::spawn_command(cmd);
    orphans_adopted_and_reaped(&sd, "running as a subreaper");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn without_a_subreaper_orphans_go_to_the_machines_init() {
    // The control for the two tests above: their `adopted 3` is sundown's doing.
    let sb = Sandbox::new();
    orphans_config(&sb);
    let mut sd = Sundown::spawn(&sb.run_args());
    sd.wait_ready(1);
    assert!(
        sd.stderr().contains("orphans | adopted 0"),
        "{}",
        sd.stderr()
    );
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn sigusr1_and_sigusr2_are_forwarded_to_every_main_process() {
    let sb = Sandbox::new();
    let log = sb.log().display().to_string();
    let script = |name: &str| {
        format!(
            "trap 'echo \"{name} got USR2\" >> {log}' USR2\n\
             trap 'echo \"{name} got USR1\" >> {log}' USR1\n\
             echo started\n\
             while :; do sleep 1000 & wait $!; done"
        )
    };
    sb.config(&format!(
        "{}{}",
        sb.shell("a", &script("a"), "ready = { log = \"started\" }"),
        sb.shell(
            "b",
            &script("b"),
            "ready = { log = \"started\" }\ndepends_on = [\"a\"]"
        )
    ));
    let mut sd = sb.run();
    sd.wait_ready(2);
    sd.signal(Signal::SIGUSR1);
    sd.wait_for("SIGUSR1 received: forwarded to 2 process(es)");
    sb.wait_for_log("a got USR1");
    sb.wait_for_log("b got USR1");
    sd.signal(Signal::SIGUSR2);
    sb.wait_for_log("a got USR2");
    sb.wait_for_log("b got USR2");
    // Forwarded signals are not a shutdown: sundown only stops on SIGTERM.
    assert!(!sd.stderr().contains("stopping"), "{}", sd.stderr());
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}

#[test]
fn a_notify_socket_hears_ready_then_stopping_and_children_do_not_inherit_it() {
    let sb = Sandbox::new();
    let path = sb.path("notify.sock");
    let listener = UnixDatagram::bind(&path).expect("bind the notify socket");
    listener
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    sb.config(&format!(
        "{}{}",
        sb.shell(
            "db",
            "echo \"notify=$${NOTIFY_SOCKET:-unset}\"; exec sleep 1000",
            "ready_after = \"50ms\""
        ),
        sb.shell(
            "web",
            "exec sleep 1000",
            "ready_after = \"50ms\"\ndepends_on = [\"db\"]"
        )
    ));
    let mut cmd = command();
    cmd.args(sb.run_args()).env("NOTIFY_SOCKET", &path);
    let mut sd = Sundown::spawn_command(cmd);
    let mut buf = [0u8; 256];
    let n = listener.recv(&mut buf).expect("a first notification");
    let first = String::from_utf8_lossy(&buf[..n]).to_string();
    assert_eq!(first, "READY=1\nSTATUS=all 2 component(s) ready");
    sd.wait_ready(2);
    assert!(sd.stderr().contains("db | notify=unset"), "{}", sd.stderr());
    sd.signal(Signal::SIGTERM);
    let n = listener.recv(&mut buf).expect("a second notification");
    let second = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(second.starts_with("STOPPING=1\n"), "{second:?}");
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
}
