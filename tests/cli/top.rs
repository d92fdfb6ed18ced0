//! `sundown top` in a pseudo-terminal against a live supervisor: a key
//! restarts a component (after the confirmation), `q` quits, and the
//! terminal is given back as it was. Without a terminal it refuses.

use std::io::{Read as _, Write as _};
use std::os::fd::OwnedFd;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::pty::{Winsize, openpty};
use nix::sys::signal::Signal;
use nix::sys::termios::{LocalFlags, tcgetattr};

use crate::common::{BIN, Sandbox, Sundown, text};
use crate::shared::TIMEOUT;

/// `sundown top` with a pseudo-terminal as its stdin, stdout and stderr.
struct Top {
    child: Child,
    master: std::fs::File,
    /// The terminal's side, kept to read its modes after `top` exits.
    slave: OwnedFd,
    /// Everything `top` wrote, escape sequences included.
    out: Arc<Mutex<Vec<u8>>>,
}

impl Top {
    fn spawn(sb: &Sandbox) -> Top {
        let size = Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(Some(&size), None).expect("a pseudo-terminal");
        let stdio = || Stdio::from(pty.slave.try_clone().expect("dup the terminal"));
        let child = std::process::Command::new(BIN)
            .args(["top", "--config"])
            .arg(sb.path("supervisor.toml"))
            .env("TERM", "xterm-256color")
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .spawn()
            .expect("spawn sundown top");
        let master = std::fs::File::from(pty.master);
        let out: Arc<Mutex<Vec<u8>>> = Arc::default();
        let mut reader = master.try_clone().expect("dup the master");
        let shared = Arc::clone(&out);
        // Ends with EIO once nothing holds the terminal's side open but us.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    return;
                }
                shared
                    .lock()
                    .expect("output lock")
                    .extend_from_slice(&buf[..n]);
            }
        });
        Top {
            child,
            master,
            slave: pty.slave,
            out,
        }
    }

    /// The screen as `top` left it, a line per row.
    fn screen(&self) -> String {
        screen(&text(&self.out.lock().expect("output lock")))
    }

    /// Waits (bounded) until `top` has drawn `what`.
    fn wait_for(&self, what: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.screen().contains(what) {
            assert!(
                Instant::now() < deadline,
                "`{what}` never drawn; so far:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn keys(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).expect("type");
    }

    fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for top") {
                return status.code().expect("exited, not killed");
            }
            assert!(Instant::now() < deadline, "top did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The screen after `out`, as far as `top` uses the terminal: ratatui
/// writes only the cells that changed, after moving the cursor (`ESC [ row
/// ; col H`), and clears the screen once; colours are ignored.
fn screen(out: &str) -> String {
    let (rows, cols) = (40, 120);
    let mut grid = vec![vec![' '; cols]; rows];
    let (mut row, mut col) = (0, 0);
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut params = String::new();
                let end = chars.by_ref().find(|&d| {
                    let done = d.is_ascii_alphabetic();
                    if !done {
                        params.push(d);
                    }
                    done
                });
                match (end, params.as_str()) {
                    (Some('H'), p) => {
                        let mut at = p.split(';').map(|n| n.parse::<usize>().unwrap_or(1));
                        row = at.next().unwrap_or(1).saturating_sub(1);
                        col = at.next().unwrap_or(1).saturating_sub(1);
                    }
                    (Some('J'), "2") => grid = vec![vec![' '; cols]; rows],
                    _ => {}
                }
            }
            '\r' => col = 0,
            '\n' => row += 1,
            c if !c.is_control() => {
                if let Some(cell) = grid.get_mut(row).and_then(|r| r.get_mut(col)) {
                    *cell = c;
                }
                col += 1;
            }
            _ => {}
        }
    }
    grid.iter()
        .map(|r| r.iter().collect::<String>().trim_end().to_string() + "\n")
        .collect()
}

fn restarts(sb: &Sandbox, name: &str) -> (u32, Option<String>) {
    let v = sb.status();
    let c = v
        .components
        .iter()
        .find(|c| c.name == name)
        .expect("listed");
    (c.restarts, c.last_exit.clone())
}

#[test]
fn top_restarts_the_selected_component_after_a_yes_and_gives_the_terminal_back() {
    let sb = Sandbox::new();
    sb.config(&format!(
        "{}{}",
        // A stop slow enough that the shutdown is seen under any load.
        sb.service_with_delay("db", "0.5", "ready_after = \"100ms\""),
        sb.service("api", "depends_on = [\"db\"]")
    ));
    let mut sd: Sundown = sb.run();
    sd.wait_ready(2);
    sb.wait_for_log("start api");
    assert_eq!(restarts(&sb, "api").0, 0);

    let mut top = Top::spawn(&sb);
    // db is listed first (api depends on it), and selected.
    top.wait_for("log: db (follows)");
    top.keys("j");
    top.wait_for("log: api (follows)");
    top.keys("r");
    top.wait_for("restart api?");
    top.wait_for("stopping (dependents first): api");
    top.keys("y");
    // The supervisor's own plan, once it accepted.
    top.wait_for("restart api: stopping (dependents first): api; starting (in order): api");
    top.wait_for("restart api: done");
    sb.wait_for_log_count("start api", 2);
    let deadline = Instant::now() + TIMEOUT;
    while restarts(&sb, "api").0 == 0 {
        assert!(Instant::now() < deadline, "api never restarted");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (n, last_exit) = restarts(&sb, "api");
    assert_eq!(n, 1, "{}", top.screen());
    assert_eq!(
        last_exit.as_deref(),
        Some("by request (sundown restart api)"),
        "the status says why api ended"
    );
    assert_eq!(restarts(&sb, "db").0, 0, "its dependency ran on");

    top.keys("q");
    assert_eq!(top.wait_exit(), 0, "{}", top.screen());
    let raw = text(&top.out.lock().expect("output lock"));
    assert!(
        raw.contains("\x1b[?1049h"),
        "the alternate screen was entered"
    );
    assert!(raw.contains("\x1b[?1049l"), "and left: {raw:?}");
    let modes = tcgetattr(&top.slave).expect("the terminal's modes");
    assert!(
        modes
            .local_flags
            .contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "raw mode is off again: {:?}",
        modes.local_flags
    );

    // A signal ends it too, the terminal given back.
    let mut top = Top::spawn(&sb);
    top.wait_for("log: db (follows)");
    signal(top.child.id(), Signal::SIGTERM);
    assert_eq!(top.wait_exit(), 128 + 15);
    assert!(text(&top.out.lock().expect("output lock")).contains("\x1b[?1049l"));
    let modes = tcgetattr(&top.slave).expect("the terminal's modes");
    assert!(modes.local_flags.contains(LocalFlags::ICANON));

    // It stays until the supervisor is gone, then says how the run ended,
    // as the supervisor itself told it. Meanwhile it holds two of the
    // control socket's connections for long (the log and the end's word),
    // the status read a moment each time.
    let mut top = Top::spawn(&sb);
    top.wait_for("log: db (follows)");
    let socket = sb.path(".sundown.supervisor.sock");
    let seen: Vec<usize> = (0..60)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(25));
            connections(&socket)
        })
        .collect();
    assert_eq!(seen.iter().min(), Some(&2), "connections seen: {seen:?}");
    assert!(seen.iter().all(|&n| n <= 3), "connections seen: {seen:?}");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "{}", sd.stderr());
    top.wait_for("sundown exited with code 0 (clean)");
    top.keys("q");
    assert_eq!(top.wait_exit(), 0, "{}", top.screen());
}

#[test]
fn top_shows_the_exit_code_of_a_second_signal_and_an_unknown_end_after_a_kill() {
    let sb = Sandbox::new();
    // db ignores SIGTERM, so the shutdown waits on it until the second signal.
    sb.config(&sb.stubborn("db", "stop_timeout = \"30s\""));
    let mut sd: Sundown = sb.run();
    sd.wait_ready(1);
    sb.wait_for_log("start db");
    let mut top = Top::spawn(&sb);
    top.wait_for("log: db (follows)");
    sd.signal(Signal::SIGTERM);
    top.wait_for("waiting on db");
    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 4, "{}", sd.stderr());
    top.wait_for("sundown exited with code 4 (second signal)");
    top.keys("q");
    assert_eq!(top.wait_exit(), 0, "{}", top.screen());

    // Killed, it cannot say: top says it does not know.
    sb.config("[components.a]\nkind = \"sim\"\n");
    let mut sd: Sundown = sb.run();
    sd.wait_ready(1);
    let mut top = Top::spawn(&sb);
    top.wait_for("log: a (follows)");
    sd.signal(Signal::SIGKILL);
    sd.wait_exit(TIMEOUT);
    top.wait_for("how sundown ended is unknown");
    assert!(
        !top.screen().contains("exited with code"),
        "{}",
        top.screen()
    );
    top.keys("q");
    assert_eq!(top.wait_exit(), 0, "{}", top.screen());
}

/// The connections the supervisor has accepted on `socket` and not closed
/// yet. In `/proc/net/unix` they carry the path the listener was bound
/// at (`.sundown-bind-PID/s` beside it, before it was moved into place),
/// connected (state 03).
fn connections(socket: &std::path::Path) -> usize {
    let table = std::fs::read_to_string("/proc/net/unix").expect("/proc/net/unix");
    let dir = socket.parent().expect("a directory");
    let bound = format!("{}/.sundown-bind-", dir.display());
    table
        .lines()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields.get(5) == Some(&"03") && fields.get(7).is_some_and(|p| p.starts_with(&bound))
        })
        .count()
}

fn signal(pid: u32, sig: Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid"));
    nix::sys::signal::kill(pid, sig).expect("signal top");
}

#[test]
fn top_refuses_without_a_terminal() {
    let sb = Sandbox::new();
    sb.config(&sb.service("db", ""));
    let out = sb.client(&["top"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("sundown top needs a terminal"),
        "{}",
        text(&out.stderr)
    );
}
