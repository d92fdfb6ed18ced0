//! Ignored measurements of the Redis stand-in's limits, printing numbers
//! (RSS under clients that never read, stop latency during a replay and
//! with a large store) for the README and the closing notes:
//! `cargo test -p sundown-standins --test standins -- --ignored --nocapture measure_`.

use std::time::{Duration, Instant};

use sundown::{Component, Exit, Lifecycle};
use sundown_standins::redis::{Redis, RedisSpec};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::redis_limits::{aof_spec, runtime, write_aof};
use super::redis_standin::{client, q, resp, start_memory};
use crate::shared::free_addr;

/// Resident set size of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Samples the RSS for `secs` seconds; returns the peak, in MiB.
async fn peak_rss_mib(secs: u64) -> u64 {
    let end = Instant::now() + Duration::from_secs(secs);
    let mut peak = 0;
    while Instant::now() < end {
        peak = peak.max(rss_kib());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    peak / 1024
}

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A client that pipelines `GET k` of a 5 MB value 400 times and never
/// reads, then eight that each pipeline 200 `LRANGE` of a 1 MB list. Run
/// with `cargo test -p sundown-standins --test standins -- --ignored
/// --nocapture measure_rss`.
#[test]
#[ignore = "a measurement: prints the RSS under the attack"]
fn measure_rss_under_clients_that_never_read() {
    runtime().block_on(async {
        let (running, addr) = start_memory().await;
        let mut con = client(addr).await;
        let big = "x".repeat(5 * 1024 * 1024);
        let _: () = redis::cmd("SET")
            .arg("k")
            .arg(&big)
            .query_async(&mut con)
            .await
            .expect("SET");
        let item = "y".repeat(1024);
        for _ in 0..1024 {
            let _: i64 = q(&mut con, &["RPUSH", "l", &item]).await;
        }
        let base = rss_kib() / 1024;
        let mut socks = Vec::new();
        let mut get = TcpStream::connect(addr).await.expect("connect");
        get.write_all(&resp(&["GET", "k"]).repeat(400))
            .await
            .expect("write");
        socks.push(get);
        let get_peak = peak_rss_mib(3).await;
        for _ in 0..8 {
            let mut s = TcpStream::connect(addr).await.expect("connect");
            s.write_all(&resp(&["LRANGE", "l", "0", "-1"]).repeat(200))
                .await
                .expect("write");
            socks.push(s);
        }
        let lrange_peak = peak_rss_mib(3).await;
        let pong: String = q(&mut con, &["PING"]).await;
        println!(
            "RSS: {base} MiB before; peak {get_peak} MiB with one client pipelining 400 GET of 5 MB; \
             peak {lrange_peak} MiB with eight more pipelining 200 LRANGE of 1 MB; others served: {pong}"
        );
        drop(socks);
        running.shutdown().await;
    });
}

/// Runs the stand-in by hand on `path`; returns once it listens.
async fn run_until_listening(
    spec: RedisSpec,
) -> (
    tokio::task::JoinHandle<Exit>,
    tokio_util::sync::CancellationToken,
) {
    let addr = spec.listen;
    let (life, stop, _kill) = Lifecycle::detached("redis");
    let run = tokio::spawn(Box::new(Redis::new(spec)).run(life));
    while TcpStream::connect(addr).await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (run, stop)
}

/// Stops the stand-in 300 ms into replaying an AOF of `REDIS_AOF_COMMANDS`
/// commands (default 1M); prints how long the stop took to end the
/// component and the runtime, and whether the file was rewritten.
#[test]
#[ignore = "a measurement: prints the stop latency during a replay"]
fn measure_stop_during_a_large_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.aof");
    let n = count("REDIS_AOF_COMMANDS", 1_000_000);
    write_aof(&path, n);
    let size = std::fs::metadata(&path).expect("metadata").len();
    let rt = runtime();
    let (stopped, exit, to_exit) = rt.block_on(async {
        let (life, stop, _kill) = Lifecycle::detached("redis");
        let run = tokio::spawn(Box::new(Redis::new(aof_spec(free_addr(), &path))).run(life));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stopped = Instant::now();
        stop.cancel();
        let exit = run.await.expect("run");
        (stopped, exit, stopped.elapsed())
    });
    drop(rt);
    let to_runtime_end = stopped.elapsed();
    let after = std::fs::metadata(&path).expect("metadata").len();
    println!(
        "stop during the replay of {n} commands ({size} bytes): {exit:?} after {to_exit:?}; \
         runtime ended after {to_runtime_end:?}; file {size} -> {after} bytes"
    );
}

/// Loads `REDIS_AOF_COMMANDS` (default 1M) commands (half of them keys),
/// then stops; prints how long the stop took to end the component.
#[test]
#[ignore = "a measurement: prints the stop latency with a large store"]
fn measure_exit_with_a_large_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.aof");
    let n = count("REDIS_AOF_COMMANDS", 1_000_000);
    write_aof(&path, n);
    let rt = runtime();
    let (stopped, exit, to_exit) = rt.block_on(async {
        let (run, stop) = run_until_listening(aof_spec(free_addr(), &path)).await;
        let stopped = Instant::now();
        stop.cancel();
        let exit = run.await.expect("run");
        (stopped, exit, stopped.elapsed())
    });
    drop(rt);
    println!(
        "stop with {} keys loaded: {exit:?} after {to_exit:?}; runtime ended after {:?}",
        n / 2 + 1,
        stopped.elapsed()
    );
}
