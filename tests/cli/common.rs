//! Shared helpers for the integration tests that drive the built `sundown`
//! binary with real `process` components and real signals.
//!
//! Nothing here sleeps a fixed time to wait for readiness: the supervisor's
//! stderr is read line by line on a helper thread, and tests wait for the
//! line they need with a generous upper bound ([`TIMEOUT`]), so a slow
//! machine only makes a test slower, never flaky.

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sundown::ShutdownReport;
use sundown::status::StatusView;

use crate::shared::{REQUIRE_ENV, TIMEOUT, tool};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_sundown");

/// A generic service: logs `start NAME`, writes its pid to `DIR/NAME.pid`,
/// and on SIGTERM or SIGINT logs `stop-begin NAME`, takes `STOP_DELAY`
/// seconds, logs `stop-end NAME` and exits 0.
///
/// Arguments: NAME LOG DIR [STOP_DELAY]. The trap is installed before
/// `start` is logged, so once the log shows `start NAME` a stop is handled.
const SERVICE: &str = r#"#!/bin/sh
name=$1
log=$2
dir=$3
delay=${4:-0.1}
trap 'echo "stop-begin $name" >> "$log"; sleep "$delay"; echo "stop-end $name" >> "$log"; exit 0' TERM INT
echo $$ > "$dir/$name.pid"
echo "start $name" >> "$log"
while :; do sleep 1000 & wait $!; done
"#;

/// A service that ignores SIGTERM and has a grandchild: logs `start NAME`,
/// writes its own pid to `DIR/NAME.pid` and its background `sleep`'s pid to
/// `DIR/NAME.gc.pid`. Only SIGKILL ends it.
///
/// Arguments: NAME LOG DIR.
const STUBBORN: &str = r#"#!/bin/sh
name=$1
log=$2
dir=$3
trap '' TERM
sleep 1000 &
echo $! > "$dir/$name.gc.pid"
echo $$ > "$dir/$name.pid"
echo "start $name" >> "$log"
while :; do sleep 1; done
"#;

/// A temporary directory holding the scripts, the config, the shared log
/// and the report of one test.
pub(crate) struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// A fresh directory with the service scripts written into it.
    pub(crate) fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("sundown-it-")
            .tempdir()
            .expect("create a temp dir");
        let sandbox = Sandbox { dir };
        sandbox.write("service.sh", SERVICE);
        sandbox.write("stubborn.sh", STUBBORN);
        sandbox
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file into the directory and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write a sandbox file");
        path
    }

    /// Writes `supervisor.toml` and returns its path.
    pub(crate) fn config(&self, toml: &str) -> PathBuf {
        self.write("supervisor.toml", toml)
    }

    /// The shared log every script appends to.
    pub(crate) fn log(&self) -> PathBuf {
        self.path("log")
    }

    /// Where `run --report` writes the report.
    pub(crate) fn report_path(&self) -> PathBuf {
        self.path("report.json")
    }

    /// The lines of the shared log so far (empty when nothing wrote yet).
    pub(crate) fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.log())
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits (bounded by [`TIMEOUT`]) until the shared log has this exact line.
    pub(crate) fn wait_for_log(&self, line: &str) {
        self.wait_for_log_count(line, 1);
    }

    /// Waits (bounded by [`TIMEOUT`]) until the shared log has this exact
    /// line `n` times: a process started again has logged its start.
    pub(crate) fn wait_for_log_count(&self, line: &str, n: usize) {
        let deadline = Instant::now() + TIMEOUT;
        while self.log_lines().iter().filter(|l| *l == line).count() < n {
            assert!(
                Instant::now() < deadline,
                "`{line}` never appeared {n} time(s) in the log; log so far:\n{}",
                self.log_lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Reads and parses the report written by `run --report`.
    pub(crate) fn report(&self) -> ShutdownReport {
        let text = std::fs::read_to_string(self.report_path()).expect("the report was written");
        ShutdownReport::from_json(&text).expect("the report parses")
    }

    /// Reads a pid file written by a script, waiting (bounded) for it to appear.
    pub(crate) fn pid_file(&self, name: &str) -> i32 {
        let path = self.path(name);
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(pid) = text.trim().parse()
            {
                return pid;
            }
            assert!(
                Instant::now() < deadline,
                "{} never written",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// A `[components.NAME]` table running the generic service script.
    ///
    /// `extra` is appended verbatim (e.g. `depends_on = ["db"]`).
    pub(crate) fn service(&self, name: &str, extra: &str) -> String {
        self.service_with_delay(name, "0.1", extra)
    }

    /// Like [`Sandbox::service`], with the time the service takes to stop, in seconds.
    pub(crate) fn service_with_delay(&self, name: &str, stop_delay: &str, extra: &str) -> String {
        let argv = [
            "/bin/sh".to_string(),
            self.path("service.sh").display().to_string(),
            name.to_string(),
            self.log().display().to_string(),
            self.dir().display().to_string(),
            stop_delay.to_string(),
        ];
        format!(
            "[components.{name}]\ncommand = {}\n{extra}\n",
            toml_array(&argv)
        )
    }

    /// A `[components.NAME]` table running the SIGTERM-ignoring script.
    pub(crate) fn stubborn(&self, name: &str, extra: &str) -> String {
        let argv = [
            "/bin/sh".to_string(),
            self.path("stubborn.sh").display().to_string(),
            name.to_string(),
            self.log().display().to_string(),
            self.dir().display().to_string(),
        ];
        format!(
            "[components.{name}]\ncommand = {}\n{extra}\n",
            toml_array(&argv)
        )
    }

    /// A `[components.NAME]` table running `/bin/sh -c SCRIPT`.
    pub(crate) fn shell(&self, name: &str, script: &str, extra: &str) -> String {
        let argv = ["/bin/sh".to_string(), "-c".to_string(), script.to_string()];
        format!(
            "[components.{name}]\ncommand = {}\n{extra}\n",
            toml_array(&argv)
        )
    }

    /// Starts `sundown run` on this sandbox's `supervisor.toml`, writing the report.
    pub(crate) fn run(&self) -> Sundown {
        Sundown::spawn(&self.run_args())
    }

    /// The arguments of [`Sandbox::run`], for running it some other way.
    pub(crate) fn run_args(&self) -> Vec<std::ffi::OsString> {
        vec![
            "run".into(),
            "--config".into(),
            self.path("supervisor.toml").into(),
            "--report".into(),
            self.report_path().into(),
        ]
    }

    /// Runs a client command (`status`, `stop db`, …) to completion against
    /// the supervisor running this sandbox's `supervisor.toml`.
    pub(crate) fn client(&self, args: &[&str]) -> Output {
        let config = self.path("supervisor.toml");
        let mut all: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        all.extend(["--config".as_ref(), config.as_os_str()]);
        cli(&all)
    }

    /// `status --json` of the supervisor running this sandbox's config,
    /// which must answer.
    pub(crate) fn status(&self) -> StatusView {
        let out = self.client(&["status", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status parses")
    }
}

/// Output of a program as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A TOML basic string.
pub(crate) fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A TOML array of basic strings.
pub(crate) fn toml_array(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

/// Removes ANSI escape sequences, in case the log is colored anyway.
pub(crate) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    eof: bool,
}

/// A running `sundown` whose stderr is collected line by line.
pub(crate) struct Sundown {
    child: Child,
    stderr: Arc<(Mutex<Lines>, Condvar)>,
    status: Option<ExitStatus>,
}

/// A command for the binary with a predictable log: no colors, level `info`.
pub(crate) fn command() -> Command {
    let mut cmd = Command::new(BIN);
    // Without XDG_RUNTIME_DIR the control socket is next to the config, in
    // the test's own directory.
    cmd.env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null());
    cmd
}

/// The binary run as `user` through `setpriv` (group `nogroup`, no
/// supplementary groups), with [`command`]'s environment; `None`, printed,
/// unless the tests run as root. CI runs them as root, so under
/// [`REQUIRE_ENV`] anything else is a failure.
pub(crate) fn command_as(user: &str) -> Option<Command> {
    if !nix::unistd::Uid::effective().is_root() {
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{REQUIRE_ENV} is set, so CI runs this as root"
        );
        eprintln!("skipped: needs root to run sundown as another user");
        return None;
    }
    let mut cmd = Command::new(tool("setpriv")?);
    cmd.args(["--reuid", user, "--regid", "nogroup", "--clear-groups"])
        .arg(BIN)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null());
    Some(cmd)
}

/// Runs the binary to completion (bounded by [`TIMEOUT`] through the caller's patience) and returns its output.
pub(crate) fn cli<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    command()
        .args(args)
        .output()
        .expect("run the sundown binary")
}

impl Sundown {
    /// Spawns the binary with these arguments, stderr piped and read on a thread.
    pub(crate) fn spawn<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Sundown {
        let mut cmd = command();
        cmd.args(args);
        Sundown::spawn_command(cmd)
    }

    /// Spawns a prepared command (the binary under another program, or with
    /// its own environment), stderr piped and read on a thread.
    pub(crate) fn spawn_command(mut cmd: Command) -> Sundown {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the sundown binary");
        let pipe = child.stderr.take().expect("stderr is piped");
        let stderr: Arc<(Mutex<Lines>, Condvar)> = Arc::default();
        let shared = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(pipe);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n = reader.read_until(b'\n', &mut buf).unwrap_or(0);
                let (lock, cvar) = &*shared;
                let mut state = lock.lock().expect("stderr lock");
                if n == 0 {
                    state.eof = true;
                    cvar.notify_all();
                    return;
                }
                let line = String::from_utf8_lossy(&buf);
                state
                    .lines
                    .push(strip_ansi(line.trim_end_matches(['\n', '\r'])));
                cvar.notify_all();
            }
        });
        Sundown {
            child,
            stderr,
            status: None,
        }
    }

    /// The supervisor's process id.
    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits in i32"))
    }

    /// Sends a signal to the supervisor (only to it, not to its children).
    pub(crate) fn signal(&self, sig: Signal) {
        kill(self.pid(), sig).expect("signal the supervisor");
    }

    /// Everything the supervisor wrote to stderr so far.
    pub(crate) fn stderr(&self) -> String {
        let (lock, _) = &*self.stderr;
        lock.lock().expect("stderr lock").lines.join("\n")
    }

    /// Every stderr line so far.
    pub(crate) fn stderr_lines(&self) -> Vec<String> {
        let (lock, _) = &*self.stderr;
        lock.lock().expect("stderr lock").lines.clone()
    }

    /// Waits (bounded by [`TIMEOUT`]) for a stderr line matching `pred`, and returns it.
    ///
    /// Panics with the whole stderr when the line never comes or stderr closes first.
    pub(crate) fn wait_for_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.wait_for_lines(what, |lines| lines.iter().find(|l| pred(l)).cloned())
    }

    /// Waits for the `n`th stderr line containing `needle`, and returns it.
    pub(crate) fn wait_for_nth(&self, needle: &str, n: usize) -> String {
        self.wait_for_lines(&format!("`{needle}` #{n}"), |lines| {
            lines
                .iter()
                .filter(|l| l.contains(needle))
                .nth(n - 1)
                .cloned()
        })
    }

    /// Waits (bounded by [`TIMEOUT`]) until `found` picks a line out of
    /// everything stderr said so far, and returns it.
    pub(crate) fn wait_for_lines(
        &self,
        what: &str,
        found: impl Fn(&[String]) -> Option<String>,
    ) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let (lock, cvar) = &*self.stderr;
        let mut state = lock.lock().expect("stderr lock");
        loop {
            if let Some(line) = found(&state.lines) {
                return line;
            }
            let now = Instant::now();
            if state.eof || now >= deadline {
                let why = if state.eof {
                    "stderr closed"
                } else {
                    "timed out"
                };
                let so_far = state.lines.join("\n");
                // Unlock first: a poisoned lock would make the reader thread
                // panic too and bury this message under its backtrace.
                drop(state);
                panic!("waiting for {what}: {why}; stderr so far:\n{so_far}");
            }
            state = cvar
                .wait_timeout(state, deadline - now)
                .expect("stderr lock")
                .0;
        }
    }

    /// Waits for a stderr line containing `needle`.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        self.wait_for_line(&format!("`{needle}`"), |l| l.contains(needle))
    }

    /// Waits until every component is ready (`all N component(s) ready`).
    /// (The supervisor's own line, not a child's forwarded output: the
    /// child may be a sundown too.)
    pub(crate) fn wait_ready(&self, n: usize) {
        let needle = format!("all {n} component(s) ready");
        self.wait_for_line(&needle, |l| {
            l.split_once(" INFO ")
                .is_some_and(|(_, message)| message.starts_with(&needle))
        });
    }

    /// Waits at most `limit` for the supervisor to exit; panics (after
    /// killing it) when it does not. Returns the exit status.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for sundown") {
                self.status = Some(status);
                // Let the reader thread see the end of stderr.
                let (lock, cvar) = &*self.stderr;
                let state = lock.lock().expect("stderr lock");
                let _ = cvar
                    .wait_timeout_while(state, Duration::from_secs(5), |s| !s.eof)
                    .expect("stderr lock");
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "sundown did not exit within {limit:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits (bounded) for the exit and returns the exit code, panicking on a signal.
    pub(crate) fn exit_code(&mut self) -> i32 {
        let status = self.wait_exit(TIMEOUT);
        match status.code() {
            Some(code) => code,
            None => panic!(
                "sundown was killed by signal {:?}; stderr:\n{}",
                status.signal(),
                self.stderr()
            ),
        }
    }
}

impl Drop for Sundown {
    fn drop(&mut self) {
        if self.status.is_none() && matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether a process is alive: `/proc/PID` exists and it is not a zombie
/// (a zombie is dead; nobody may reap it when init does not).
pub(crate) fn is_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            // The state follows the parenthesised command name, which may contain spaces.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z" | "X"))
        }
    }
}

/// Waits (bounded by `limit`) for a process to be dead; returns whether it is.
pub(crate) fn wait_dead(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while is_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// Position of an exact line in the log; panics naming the log when absent.
pub(crate) fn position(log: &[String], line: &str) -> usize {
    log.iter()
        .position(|l| l == line)
        .unwrap_or_else(|| panic!("`{line}` is not in the log:\n{}", log.join("\n")))
}

/// Asserts that `dependent` finished stopping before `dependency` began to.
pub(crate) fn assert_stop_end_before_begin(log: &[String], dependent: &str, dependency: &str) {
    let end = position(log, &format!("stop-end {dependent}"));
    let begin = position(log, &format!("stop-begin {dependency}"));
    assert!(
        end < begin,
        "`{dependent}` must be down before `{dependency}` begins to stop; log:\n{}",
        log.join("\n")
    );
}

/// Asserts that `dependency` started before `dependent`.
pub(crate) fn assert_started_before(log: &[String], dependency: &str, dependent: &str) {
    let a = position(log, &format!("start {dependency}"));
    let b = position(log, &format!("start {dependent}"));
    assert!(
        a < b,
        "`{dependency}` must start before `{dependent}`; log:\n{}",
        log.join("\n")
    );
}
