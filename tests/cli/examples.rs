//! The teaching examples in `examples/`, run as real processes with real
//! signals, checked for the behaviour each one teaches (not just that it
//! ran). Nothing sleeps a fixed time: each example's stdout is read line by
//! line on a helper thread, and a test waits for the line it needs (the
//! readiness line `listening on ADDR`, say) with a generous [`TIMEOUT`].

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::shared::TIMEOUT;

const EXAMPLES: [&str; 6] = [
    "tcp_graceful",
    "stoppable_listener",
    "run_pattern",
    "http_shutdown",
    "ordered_shutdown",
    "wrong_order",
];

/// The path of a built example: `target/<profile>/examples/NAME`, next to
/// the `sundown` binary. `cargo test` builds examples, but `cargo test --test
/// examples` does not, and would then run stale or missing ones; so the
/// first call runs `cargo build --example ...` once (a no-op when fresh).
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let profile_dir = Path::new(env!("CARGO_BIN_EXE_sundown"))
        .parent()
        .expect("the binary has a directory");
    BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet"]);
        for example in EXAMPLES {
            cargo.args(["--example", example]);
        }
        // target/debug is the `dev` profile; any other directory is named after its profile.
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some(profile) => {
                cargo.args(["--profile", profile]);
            }
        }
        let status = cargo.status().expect("run cargo build --example");
        assert!(status.success(), "building the examples failed: {status}");
    });
    let path = profile_dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not there after the build",
        path.display()
    );
    path
}

/// A running example: its stdout arrives line by line over a channel, its
/// stderr accumulates in the background. Killed on drop, so a failing test
/// leaves nothing behind.
struct Running {
    name: &'static str,
    child: Child,
    lines: Receiver<String>,
    stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
    stderr_closed: Receiver<()>,
}

impl Running {
    fn start(name: &'static str, args: &[&str]) -> Running {
        let mut child = Command::new(example(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        let (closed, stderr_closed) = mpsc::channel();
        // Not joined but awaited with a timeout: a grandchild could hold the pipe open.
        thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock()
                    .expect("stderr buffer lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            let _ = closed.send(());
        });
        Running {
            name,
            child,
            lines,
            stdout: Vec::new(),
            stderr,
            stderr_closed,
        }
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    fn line(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: no line {prefix:?} within {TIMEOUT:?}\n{}",
                        self.name,
                        self.output()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "{}: exited before printing {prefix:?}\n{}",
                        self.name,
                        self.output()
                    )
                }
            }
        }
    }

    /// Waits for the exit (its stdout closing, then the status) and returns the exit code.
    fn exit_code(&mut self) -> i32 {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => self.stdout.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "{}: still running after {TIMEOUT:?}\n{}",
                        self.name,
                        self.output()
                    )
                }
            }
        }
        // Its last words are on stderr, which may lag behind stdout.
        let _ = self
            .stderr_closed
            .recv_timeout(deadline.saturating_duration_since(Instant::now()));
        let status = self.child.wait().expect("wait for the example");
        status.code().unwrap_or_else(|| {
            panic!(
                "{}: killed by a signal ({status})\n{}",
                self.name,
                self.output()
            )
        })
    }

    fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.child.id() as i32), sig).expect("send a signal to the example");
    }

    fn stdout_line(&self, prefix: &str) -> Option<&str> {
        self.stdout.iter().find_map(|l| l.strip_prefix(prefix))
    }

    fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr buffer lock").clone()
    }

    /// Everything seen so far, for failure messages.
    fn output(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr\n{}",
            self.stdout.join("\n"),
            self.stderr()
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Fails harmlessly when the process has already been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `GET path` now (so the request is on its way before the caller goes
/// on) and reads the whole response on a thread.
fn http_get(addr: &str, path: &str) -> JoinHandle<String> {
    let mut stream = TcpStream::connect(addr).expect("connect to the example");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("set a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    thread::spawn(move || {
        let mut response = Vec::new();
        // A forced exit resets the connection: what arrived before is the answer.
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
}

/// The number in a line like `... stopped 0.1 ms after cancel`.
fn millis_in(line: &str) -> f64 {
    let before = line
        .split(" ms")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no `N ms` in {line:?}"));
    before
        .parse()
        .unwrap_or_else(|e| panic!("{before:?} in {line:?}: {e}"))
}

// ------------------------------------------------------------------ tcp_graceful

#[test]
fn tcp_graceful_delivers_in_flight_replies_where_the_naive_server_loses_them() {
    let mut demo = Running::start("tcp_graceful", &["--demo"]);
    assert_eq!(demo.exit_code(), 0, "{}", demo.output());

    let graceful = demo
        .stdout_line("graceful: ")
        .unwrap_or_else(|| panic!("{}", demo.output()));
    assert!(
        graceful.starts_with("3/3 in-flight replies delivered, 1 idle connection closed"),
        "{}",
        demo.output()
    );
    let naive = demo
        .stdout_line("naive: ")
        .unwrap_or_else(|| panic!("{}", demo.output()));
    assert!(
        naive.starts_with("0/3 in-flight replies delivered"),
        "{}",
        demo.output()
    );
    // The listener was closed first: a connect during the drain is refused,
    // not accepted and then dropped.
    let late = demo
        .stdout_line("new client during shutdown: ")
        .unwrap_or_else(|| panic!("{}", demo.output()));
    assert!(late.contains("refused"), "{}", demo.output());
    // The idle connection was closed by the read deadline, while the slow
    // requests were still running (they take 1 s, the deadline is 500 ms).
    let position = |needle: &str| {
        demo.stdout
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?}\n{}", demo.output()))
    };
    assert!(position("during shutdown, closing it") < position("client 1: got reply"));
}

// ------------------------------------------------------------------ stoppable_listener

#[test]
fn stoppable_listener_stops_at_once_and_the_polling_loop_does_not() {
    let mut demo = Running::start("stoppable_listener", &["--demo"]);
    assert_eq!(demo.exit_code(), 0, "{}", demo.output());
    let select = millis_in(
        demo.stdout_line("accept loop stopped ")
            .unwrap_or_else(|| panic!("{}", demo.output())),
    );
    assert!(
        select < 100.0,
        "select! loop took {select} ms\n{}",
        demo.output()
    );
    // The contrast is real: the polling loop waits out most of its 1 s deadline.
    let polling = millis_in(
        demo.stdout_line("polling loop")
            .unwrap_or_else(|| panic!("{}", demo.output())),
    );
    assert!(
        polling > 500.0,
        "polling loop took {polling} ms\n{}",
        demo.output()
    );
}

// ------------------------------------------------------------------ run_pattern

#[test]
fn run_pattern_exits_0_after_sigterm_or_sigint() {
    for sig in [Signal::SIGTERM, Signal::SIGINT] {
        let mut server = Running::start("run_pattern", &["--addr", "127.0.0.1:0"]);
        let addr = server.line("listening on ");
        // It really serves (an echo) before we stop it.
        let mut conn = TcpStream::connect(&addr).unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        conn.write_all(b"hi\n").unwrap();
        let mut echoed = [0; 3];
        conn.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"hi\n");

        server.signal(sig);
        assert_eq!(server.exit_code(), 0, "{sig}\n{}", server.output());
    }
}

#[test]
fn run_pattern_exits_1_naming_the_address_when_it_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut server = Running::start("run_pattern", &["--addr", &addr]);
    assert_eq!(server.exit_code(), 1, "{}", server.output());
    let stderr = server.stderr();
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")) && stderr.contains("in use"),
        "{}",
        server.output()
    );
    assert!(
        server.stdout_line("listening on").is_none(),
        "{}",
        server.output()
    );
}

#[test]
fn run_pattern_exits_1_when_the_shutdown_overruns_its_deadline() {
    let mut server = Running::start(
        "run_pattern",
        &[
            "--addr",
            "127.0.0.1:0",
            "--slow-shutdown",
            "--shutdown-timeout",
            "200",
        ],
    );
    server.line("listening on ");
    server.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    assert_eq!(server.exit_code(), 1, "{}", server.output());
    let took = signalled.elapsed();
    // It waited for the deadline, and not much longer.
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "exited {took:?} after SIGTERM\n{}",
        server.output()
    );
    assert!(
        server.stderr().contains("did not finish within 200 ms"),
        "{}",
        server.output()
    );
}

#[test]
fn run_pattern_demo_shows_each_ending_with_its_exit_code() {
    let mut demo = Running::start("run_pattern", &["--demo"]);
    assert_eq!(demo.exit_code(), 0, "{}", demo.output());
    let line = |prefix: &str| {
        demo.stdout_line(prefix)
            .unwrap_or_else(|| panic!("no {prefix:?}\n{}", demo.output()))
            .to_owned()
    };
    assert_eq!(line("address in use: "), "exit 1");
    assert!(line("Ctrl-C after serving: ").starts_with("exit 0, "));
    let overran = line("shutdown over its deadline: ");
    let ms = millis_in(
        overran
            .strip_prefix("exit 1, ")
            .unwrap_or_else(|| panic!("{overran}")),
    );
    assert!((200.0..3000.0).contains(&ms), "{overran}");
    // The address-in-use copy said which address, as the lesson promises.
    assert!(
        demo.stdout
            .iter()
            .any(|l| l.contains("cannot listen on 127.0.0.1:") && l.contains("in use")),
        "{}",
        demo.output()
    );
}

// ------------------------------------------------------------------ http_shutdown

/// Starts the server, and a `GET /slow` that the server has begun handling.
fn http_with_slow_request(grace_ms: &str) -> (Running, JoinHandle<String>) {
    let mut server = Running::start(
        "http_shutdown",
        &["--addr", "127.0.0.1:0", "--grace", grace_ms],
    );
    let addr = server.line("listening on ");
    let response = http_get(&addr, "/slow");
    server.line("GET /slow: started");
    (server, response)
}

#[test]
fn http_shutdown_lets_the_in_flight_request_finish_then_exits_0() {
    let (mut server, response) = http_with_slow_request("10000");
    server.signal(Signal::SIGTERM);
    server.line("shutting down");

    let response = response.join().unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200 OK") && response.ends_with("slow reply\n"),
        "response: {response:?}\n{}",
        server.output()
    );
    assert_eq!(server.exit_code(), 0, "{}", server.output());
    assert!(
        server.stdout_line("GET /slow: done").is_some(),
        "{}",
        server.output()
    );
}

#[test]
fn http_shutdown_second_signal_forces_exit_4_at_once() {
    let (mut server, response) = http_with_slow_request("10000");
    server.signal(Signal::SIGTERM);
    // Only once the first signal is handled: two signals sent back to back
    // can be delivered as one.
    server.line("shutting down");
    server.signal(Signal::SIGTERM);
    let forced = Instant::now();
    assert_eq!(server.exit_code(), 4, "{}", server.output());
    // /slow has up to 2 s left: the exit did not wait for it.
    let took = forced.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "exited {took:?} after the second signal"
    );
    assert!(
        server.stderr().contains("second signal"),
        "{}",
        server.output()
    );
    let response = response.join().unwrap();
    assert!(!response.contains("200 OK"), "response: {response:?}");
}

#[test]
fn http_shutdown_exits_1_when_the_grace_period_runs_out() {
    let (mut server, _response) = http_with_slow_request("300");
    server.signal(Signal::SIGTERM);
    let signalled = Instant::now();
    assert_eq!(server.exit_code(), 1, "{}", server.output());
    let took = signalled.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
        "exited {took:?} after SIGTERM\n{}",
        server.output()
    );
    assert!(
        server.stderr().contains("300 ms grace"),
        "{}",
        server.output()
    );
}

#[test]
fn http_shutdown_exits_1_naming_the_address_when_it_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut server = Running::start("http_shutdown", &["--addr", &addr]);
    assert_eq!(server.exit_code(), 1, "{}", server.output());
    assert!(
        server
            .stderr()
            .contains(&format!("cannot listen on {addr}")),
        "{}",
        server.output()
    );
}

/// Runs one of the pipeline lessons for `ms` of traffic and returns its stdout.
fn pipeline_lesson(name: &str, ms: &str) -> String {
    let out = Command::new(example(name))
        .args(["--run-for", ms])
        .output()
        .expect("run the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `accepted A, committed C, still queued Q, lost L, refused R` as numbers.
fn job_counts(stdout: &str) -> [u64; 5] {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("jobs: "))
        .unwrap_or_else(|| panic!("no jobs line in:\n{stdout}"));
    let numbers: Vec<u64> = line
        .split(", ")
        .map(|part| {
            part.rsplit(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("bad count {part:?}"))
        })
        .collect();
    numbers
        .try_into()
        .unwrap_or_else(|n| panic!("expected 5 counts, got {n:?}"))
}

#[test]
fn ordered_shutdown_loses_no_accepted_job() {
    let stdout = pipeline_lesson("ordered_shutdown", "400");
    let [accepted, committed, queued, lost, refused] = job_counts(&stdout);
    assert!(
        accepted > 10,
        "too little traffic to mean anything:\n{stdout}"
    );
    assert_eq!((lost, refused), (0, 0), "{stdout}");
    assert_eq!(
        accepted,
        committed + queued,
        "every job accounted for:\n{stdout}"
    );
    // The teardown rows come out in dependency order.
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("phase "))
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(rows[..2], ["http", "workers"], "{stdout}");
}

#[test]
fn wrong_order_loses_jobs_the_right_order_keeps() {
    let stdout = pipeline_lesson("wrong_order", "400");
    let [accepted, committed, queued, lost, _refused] = job_counts(&stdout);
    assert!(lost > 0, "the lesson must show loss:\n{stdout}");
    assert_eq!(accepted, committed + queued + lost, "{stdout}");
    assert!(stdout.contains("accepted job(s) lost"), "{stdout}");
}

#[test]
fn http_shutdown_demo_shows_the_three_endings() {
    let mut demo = Running::start("http_shutdown", &["--demo"]);
    assert_eq!(demo.exit_code(), 0, "{}", demo.output());
    let line = |prefix: &str| {
        demo.stdout_line(prefix)
            .unwrap_or_else(|| panic!("no {prefix:?}\n{}", demo.output()))
            .to_owned()
    };
    assert!(
        line("one signal: ").starts_with("the client got its reply; exit 0, "),
        "{}",
        demo.output()
    );
    assert!(
        line("two signals: ").starts_with("the client got no reply; exit 4, "),
        "{}",
        demo.output()
    );
    let grace = line("one signal, 500 ms grace: ");
    assert!(
        grace.starts_with("the client got no reply; exit 1, "),
        "{}",
        demo.output()
    );
    let ms = millis_in(&grace["the client got no reply; exit 1, ".len()..]);
    assert!((500.0..3000.0).contains(&ms), "{grace}");
}
