//! `examples/real-services.toml` as shipped, on real `redis-server` and
//! PostgreSQL (mandatory in CI, skipped elsewhere when they are missing):
//! the probes gate the start order, a job goes through the pipeline, and
//! after SIGTERM the stack stops in reverse order with exit 0, Redis has
//! saved its data and PostgreSQL's own log says it shut down cleanly.
//!
//! The config is copied into a sandbox with free ports; nothing else in it
//! changes, so what is tested is what users run.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sundown::{Outcome, StopStep};

use crate::common::Sandbox;
use crate::shared::{REQUIRE_ENV, TIMEOUT, free_addr, pg_bin, tool};

/// The example, its ports swapped for free ones; each must be found.
fn config(sb: &Sandbox, redis: SocketAddr, postgres: SocketAddr, http: SocketAddr) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut text = std::fs::read_to_string(root.join("real-services.toml")).expect("the example");
    for (port, addr) in [("6390", redis), ("5440", postgres), ("8090", http)] {
        assert!(
            text.contains(port),
            "the example no longer uses port {port}"
        );
        text = text.replace(port, &addr.port().to_string());
    }
    sb.config(&text);
    std::fs::create_dir(sb.path("real-services")).expect("mkdir");
    std::fs::copy(
        root.join("real-services/postgres.sh"),
        sb.path("real-services/postgres.sh"),
    )
    .expect("copy postgres.sh");
    // The `postgres` user must reach its data directory inside the sandbox.
    std::fs::set_permissions(
        sb.dir(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod the sandbox");
}

/// One HTTP/1.1 request on a fresh connection; the response body.
fn http(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to the front end");
    s.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    s.write_all(request.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read the response");
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn redis_cli(addr: SocketAddr, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &addr.port().to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn the_real_services_example_starts_gated_by_probes_and_stops_cleanly() {
    let needed = ["redis-server", "redis-cli", "pg_isready"];
    if needed.iter().any(|t| tool(t).is_none()) || pg_bin("postgres").is_none() {
        return;
    }
    if !nix::unistd::Uid::effective().is_root() {
        // The example runs PostgreSQL as `postgres`, which takes root.
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "this test needs root, and {} makes skipping it a failure",
            REQUIRE_ENV
        );
        eprintln!("skipped: running PostgreSQL as `postgres` needs root");
        return;
    }
    let sb = Sandbox::new();
    let (redis, postgres, front) = (free_addr(), free_addr(), free_addr());
    config(&sb, redis, postgres, front);
    let mut sd = sb.run();
    sd.wait_ready(5);

    // Real work through the stack: a job in, done by a worker, in PostgreSQL.
    assert_eq!(
        redis_cli(redis, &["set", "canary", "sundown-was-here"]),
        "OK"
    );
    let body = r#"{"hello":"real services"}"#;
    let queued = http(
        front,
        &format!(
            "POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let id: u64 = queued
        .split("\"id\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("no job id in {queued:?}"));
    let deadline = Instant::now() + TIMEOUT;
    while !http(
        front,
        &format!("GET /jobs/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .contains("done")
    {
        assert!(
            Instant::now() < deadline,
            "job {id} was never done:\n{}",
            sd.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    sd.signal(Signal::SIGTERM);
    assert_eq!(sd.exit_code(), 0, "stderr:\n{}", sd.stderr());
    let err = sd.stderr();
    let r = sb.report();
    r.assert_respects_graph();

    // Probes gated the start: a dependent started only after what it needs
    // answered its probe.
    let ready = |n: &str| {
        r.component(n)
            .and_then(|c| c.ready_at)
            .unwrap_or_else(|| panic!("{n} was ready"))
    };
    let started = |n: &str| {
        r.component(n)
            .and_then(|c| c.start_requested)
            .expect("started")
    };
    assert!(started("workers") >= ready("postgres") && started("workers") >= ready("redis"));
    assert!(started("http") >= ready("redis"));
    assert!(started("postgres") >= ready("datadir") && started("redis") >= ready("datadir"));
    let redis_ready_line = err
        .lines()
        .position(|l| l.contains("Ready to accept connections"))
        .expect("redis said it was ready");
    let redis_ready = err
        .lines()
        .position(|l| l.ends_with("INFO redis: ready"))
        .expect("sundown saw it");
    assert!(
        redis_ready_line < redis_ready,
        "the log probe fired before Redis's line:\n{err}"
    );

    // Reverse order, each service stopped its own way.
    for (first, then) in [
        ("http", "redis"),
        ("workers", "redis"),
        ("workers", "postgres"),
    ] {
        r.assert_stopped_before(first, then);
    }
    for c in ["http", "workers", "redis", "postgres"] {
        assert_eq!(
            r.component(c).expect(c).outcome,
            Outcome::Stopped,
            "{c}: {}",
            r.to_json()
        );
    }
    // The one-shot completed before either service started, and was not stopped.
    let datadir = r.component("datadir").expect("datadir");
    assert_eq!(datadir.outcome, Outcome::Completed, "{}", r.to_json());
    assert_eq!(datadir.stop_requested, None);
    for c in ["redis", "postgres"] {
        assert!(
            r.component(c).expect(c).start_requested >= datadir.stopped_at,
            "{c} started before datadir completed"
        );
    }
    let redis = &r.component("redis").expect("redis").stop_steps;
    let redis_steps: Vec<StopStep> = redis.iter().map(|s| s.step).collect();
    assert_eq!(
        redis_steps,
        [StopStep::StopCommand, StopStep::StopCommandEnded],
        "SHUTDOWN alone stopped Redis: {redis:?}"
    );
    let pg_steps = &r.component("postgres").expect("postgres").stop_steps;
    assert_eq!(pg_steps.len(), 1, "{pg_steps:?}");
    assert!(
        pg_steps[0].detail.starts_with("SIGINT to process group"),
        "{pg_steps:?}"
    );

    // Redis saved its data on the way down.
    assert!(err.contains("DB saved on disk"), "{err}");
    let dump =
        std::fs::read(sb.path("real-services-data/redis/dump.rdb")).expect("Redis wrote dump.rdb");
    let has = |needle: &[u8]| dump.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(b"canary") && has(b"sundown-was-here"),
        "the canary is not in dump.rdb"
    );
    // PostgreSQL took the fast path and finished it: a shutdown checkpoint, then down.
    for line in [
        "received fast shutdown request",
        "checkpoint starting: shutdown",
        "database system is shut down",
    ] {
        assert!(
            err.contains(line),
            "PostgreSQL never logged `{line}`:\n{err}"
        );
    }
    // The readiness probe's connections while PostgreSQL starts are refused
    // with "FATAL: the database system is starting up": that is the probe
    // working. Any other FATAL is a real problem.
    let fatal: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("FATAL") && !l.contains("the database system is starting up"))
        .collect();
    assert!(fatal.is_empty(), "{fatal:#?}\n{err}");

    eprintln!(
        "real services: all ready {:.0} ms after the start; SIGTERM to all down {:.0} ms",
        r.all_ready_at.unwrap_or_default(),
        r.ended_at - r.shutdown_started_at.unwrap_or_default()
    );
}
