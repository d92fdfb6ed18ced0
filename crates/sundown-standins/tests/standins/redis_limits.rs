//! The Redis stand-in's limits: a password, a bound on what a client that
//! does not read can make it hold, `max_memory`, and stopping while the
//! append-only file is replayed. The measurements of the same are in
//! `redis_measure`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use sundown::{Component, Exit, Lifecycle};
use sundown_standins::redis::{AppendFsync, Redis, RedisSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::redis_standin::{client, q, read_to_eof, resp, spec, start, start_memory, try_q};
use crate::shared::{TIMEOUT, free_addr};

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// An append-only file of `n` commands: `SET key:i value` and `INCR n`
/// alternating, so its rewrite is much shorter (a rewrite shows).
pub(crate) fn write_aof(path: &Path, n: usize) {
    let mut data = Vec::with_capacity(n * 40);
    for i in 0..n {
        if i % 2 == 0 {
            data.extend(resp(&["SET", &format!("key:{i}"), "value"]));
        } else {
            data.extend(resp(&["INCR", "n"]));
        }
    }
    std::fs::write(path, data).expect("write the AOF");
}

pub(crate) fn aof_spec(addr: SocketAddr, path: &Path) -> RedisSpec {
    spec(addr, Some(path.to_path_buf()), AppendFsync::Always)
}

/// A stop 100 ms into the replay of 200k commands: the component ends at
/// once, nothing of the replay outlives it (the runtime, which waits for its
/// blocking threads, ends at once too), the file is neither cut nor
/// rewritten, and the next start loads every key.
#[test]
fn a_stop_during_the_replay_ends_it_at_once_and_the_next_start_loads_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.aof");
    write_aof(&path, 200_000);
    let data = std::fs::read(&path).expect("read");
    let addr = free_addr();
    let rt = runtime();
    let stopped = rt.block_on(async {
        let (life, stop, _kill) = Lifecycle::detached("redis");
        let run = tokio::spawn(Box::new(Redis::new(aof_spec(addr, &path))).run(life));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the replay is still going on"
        );
        let stopped = Instant::now();
        stop.cancel();
        let exit = tokio::time::timeout(TIMEOUT, run)
            .await
            .expect("it ends")
            .expect("run");
        assert_eq!(exit, Exit::Code(0));
        assert!(
            stopped.elapsed() < Duration::from_millis(250),
            "the stop took {:?}",
            stopped.elapsed()
        );
        stopped
    });
    drop(rt);
    assert!(
        stopped.elapsed() < Duration::from_millis(500),
        "the replay went on for {:?} after the stop",
        stopped.elapsed()
    );
    assert!(
        std::fs::read(&path).expect("read") == data,
        "the file was changed"
    );

    runtime().block_on(async {
        let running = start(aof_spec(addr, &path)).await;
        let mut con = client(addr).await;
        assert_eq!(q::<i64>(&mut con, &["DBSIZE"]).await, 100_001);
        assert_eq!(q::<i64>(&mut con, &["GET", "n"]).await, 100_000);
        assert_eq!(q::<String>(&mut con, &["GET", "key:199998"]).await, "value");
        assert_eq!(running.shutdown().await.exit_code, 0);
    });
}

/// Sends raw requests on one connection and reads `n` reply lines.
async fn ask(sock: &mut TcpStream, req: &[u8]) -> String {
    sock.write_all(req).await.expect("write");
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(TIMEOUT, sock.read(&mut buf))
        .await
        .expect("a reply")
        .expect("read");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_password_only_auth_hello_and_quit_run_before_it_is_given() {
    let addr = free_addr();
    let running = start(RedisSpec {
        password: Some("s3cret".into()),
        ..RedisSpec::new(addr)
    })
    .await;

    // The redis crate, with the password in the URL, and without.
    let url = format!("redis://:s3cret@{addr}/");
    let mut con = redis::Client::open(url)
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("connect with the password");
    assert_eq!(q::<String>(&mut con, &["SET", "a", "1"]).await, "OK");
    assert_eq!(q::<i64>(&mut con, &["GET", "a"]).await, 1);
    let mut anonymous = client(addr).await;
    let err = try_q::<String>(&mut anonymous, &["GET", "a"])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NOAUTH"), "{err}");
    let wrong = redis::Client::open(format!("redis://:nope@{addr}/"))
        .expect("url")
        .get_multiplexed_async_connection()
        .await;
    let Err(err) = wrong else {
        panic!("a wrong password is accepted")
    };
    let err = err.to_string();
    assert!(err.contains("AuthenticationFailed"), "{err}");

    // Raw RESP: what Redis answers, step by step.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let noauth = "-NOAUTH Authentication required.\r\n";
    assert_eq!(ask(&mut s, &resp(&["PING"])).await, noauth);
    assert_eq!(ask(&mut s, &resp(&["SET", "a", "2"])).await, noauth);
    assert_eq!(ask(&mut s, &resp(&["MULTI"])).await, noauth);
    assert!(
        ask(&mut s, &resp(&["NOSUCH"]))
            .await
            .starts_with("-ERR unknown command 'NOSUCH'")
    );
    let wrongpass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
    assert_eq!(ask(&mut s, &resp(&["AUTH", "s3cre"])).await, wrongpass);
    assert_eq!(ask(&mut s, &resp(&["AUTH", "s3cret!"])).await, wrongpass);
    assert_eq!(
        ask(&mut s, &resp(&["AUTH", "admin", "s3cret"])).await,
        wrongpass
    );
    assert_eq!(
        ask(&mut s, &resp(&["AUTH", "a", "b", "c"])).await,
        "-ERR syntax error\r\n"
    );
    assert!(
        ask(&mut s, &resp(&["HELLO", "2"]))
            .await
            .starts_with("-NOAUTH HELLO must be called with the client already authenticated")
    );
    assert_eq!(
        ask(&mut s, &resp(&["HELLO", "2", "AUTH", "default", "x"])).await,
        wrongpass
    );
    assert_eq!(ask(&mut s, &resp(&["GET", "a"])).await, noauth);
    let hello = ask(
        &mut s,
        &resp(&["HELLO", "2", "AUTH", "default", "s3cret", "SETNAME", "w1"]),
    )
    .await;
    assert!(hello.starts_with("*14\r\n$6\r\nserver\r\n"), "{hello}");
    assert_eq!(ask(&mut s, &resp(&["GET", "a"])).await, "$1\r\n1\r\n");
    assert_eq!(
        ask(&mut s, &resp(&["CLIENT", "GETNAME"])).await,
        "$2\r\nw1\r\n"
    );

    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(ask(&mut s, &resp(&["AUTH", "s3cret"])).await, "+OK\r\n");
    assert_eq!(ask(&mut s, &resp(&["PING"])).await, "+PONG\r\n");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(
        ask(&mut s, &resp(&["AUTH", "default", "s3cret"])).await,
        "+OK\r\n"
    );
    assert_eq!(ask(&mut s, &resp(&["PING"])).await, "+PONG\r\n");
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(&resp(&["QUIT"])).await.expect("write");
    assert_eq!(read_to_eof(&mut s).await, b"+OK\r\n");

    // Before the password, nothing big is buffered (Redis's limits for
    // such clients: 10 arguments, 16 KB each), and the connection closes.
    let big = "x".repeat(17 * 1024);
    for (req, why) in [
        (resp(&["SET", "k", &big]), "unauthenticated bulk length"),
        (
            resp(&["DEL", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]),
            "unauthenticated multibulk length",
        ),
    ] {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(&req).await.expect("write");
        let reply = String::from_utf8_lossy(&read_to_eof(&mut s).await).into_owned();
        assert_eq!(reply, format!("-ERR Protocol error: {why}\r\n"));
    }
    // After it, the same request is fine, even pipelined right behind AUTH.
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = resp(&["AUTH", "s3cret"]);
    req.extend(resp(&["SET", "k", &big]));
    let mut replies = ask(&mut s, &req).await;
    if replies == "+OK\r\n" {
        // The two replies may come in two writes.
        replies += &ask(&mut s, b"").await;
    }
    assert_eq!(replies, "+OK\r\n+OK\r\n");
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_password_auth_answers_as_redis_does() {
    let (running, addr) = start_memory().await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert!(
        ask(&mut s, &resp(&["AUTH", "x"]))
            .await
            .starts_with("-ERR AUTH <password> called without any password configured")
    );
    assert_eq!(
        ask(&mut s, &resp(&["AUTH", "default", "x"])).await,
        "+OK\r\n"
    );
    assert_eq!(ask(&mut s, &resp(&["PING"])).await, "+PONG\r\n");
    assert_eq!(running.shutdown().await.exit_code, 0);
}

/// The `omem` of each client in a `CLIENT LIST`.
fn omems(list: &str) -> Vec<usize> {
    list.lines()
        .filter_map(|l| l.split(' ').find_map(|f| f.strip_prefix("omem=")))
        .map(|v| v.parse().expect("omem is a number"))
        .collect()
}

/// A client pipelines 100 `GET`s of a 1 MB value and never reads: past
/// the 8 MB `client_output_limit` its connection is closed, and the others
/// are served. One that pipelines 6 and reads them late gets them whole,
/// and meanwhile holds no more than the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_is_disconnected_past_the_output_limit() {
    let addr = free_addr();
    let limit = 8 << 20;
    let running = start(RedisSpec {
        client_output_limit: limit as u64,
        ..RedisSpec::new(addr)
    })
    .await;
    let mut con = client(addr).await;
    let value = "v".repeat(1 << 20);
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg(&value)
        .query_async(&mut con)
        .await
        .expect("SET");

    let mut slow = TcpStream::connect(addr).await.expect("connect");
    slow.write_all(&resp(&["GET", "k"]).repeat(6))
        .await
        .expect("write");
    let mut flood = TcpStream::connect(addr).await.expect("connect");
    flood
        .write_all(&resp(&["GET", "k"]).repeat(100))
        .await
        .expect("write");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let list: String = q(&mut con, &["CLIENT", "LIST"]).await;
        let held = omems(&list);
        assert!(held.iter().all(|&m| m <= limit), "{list}");
        if list.lines().count() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the flooding client is still connected: {list}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(q::<usize>(&mut con, &["STRLEN", "k"]).await, 1 << 20);

    let mut got = Vec::new();
    let reply = format!("$1048576\r\n{value}\r\n");
    while got.len() < 6 * reply.len() {
        let mut buf = vec![0u8; 1 << 16];
        let n = tokio::time::timeout(TIMEOUT, slow.read(&mut buf))
            .await
            .expect("replies")
            .expect("read");
        assert!(n > 0, "closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == reply.repeat(6).into_bytes(), "six whole replies");
    assert_eq!(running.shutdown().await.exit_code, 0);
}

/// Past `max_memory`, what would add data is refused with Redis's `-OOM`;
/// reads, pops and deletions still run, and free room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_memory_writes_that_grow_are_refused_and_deletes_still_work() {
    let addr = free_addr();
    let running = start(RedisSpec {
        max_memory: Some(10_000),
        ..RedisSpec::new(addr)
    })
    .await;
    let mut con = client(addr).await;
    let value = "v".repeat(1000);
    let mut stored = 0;
    let err = loop {
        match try_q::<String>(&mut con, &["SET", &format!("k{stored}"), &value]).await {
            Ok(_) => stored += 1,
            Err(e) => break e,
        }
        assert!(stored < 100, "never refused");
    };
    assert_eq!(err.code(), Some("OOM"), "{err}");
    assert!(
        err.to_string()
            .contains("command not allowed when used memory > 'maxmemory'."),
        "{err}"
    );
    assert!((10..=11).contains(&stored), "{stored} values of 1 kB fit");
    let info: String = q(&mut con, &["INFO", "memory"]).await;
    assert!(info.contains("\r\nmaxmemory:10000\r\n"), "{info}");
    let used: usize = info
        .split("\r\n")
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.parse().ok())
        .expect("used_memory");
    assert!(used > 10_000 && used < 12_000, "{info}");
    for cmd in [
        &["RPUSH", "l", "x"][..],
        &["HSET", "h", "f", "v"],
        &["INCR", "n"],
        &["APPEND", "k0", "x"],
    ] {
        let err = try_q::<i64>(&mut con, cmd).await.unwrap_err();
        assert_eq!(err.code(), Some("OOM"), "{cmd:?}: {err}");
    }
    assert_eq!(q::<String>(&mut con, &["GET", "k0"]).await, value);
    assert_eq!(q::<i64>(&mut con, &["EXPIRE", "k0", "100"]).await, 1);
    let mut s = TcpStream::connect(addr).await.expect("connect");
    assert_eq!(ask(&mut s, &resp(&["MULTI"])).await, "+OK\r\n");
    assert!(
        ask(&mut s, &resp(&["SET", "x", "1"]))
            .await
            .starts_with("-OOM ")
    );
    assert!(
        ask(&mut s, &resp(&["EXEC"]))
            .await
            .starts_with("-EXECABORT")
    );

    assert_eq!(q::<i64>(&mut con, &["DEL", "k0", "k1"]).await, 2);
    assert_eq!(q::<String>(&mut con, &["SET", "again", "1"]).await, "OK");
    assert_eq!(
        q::<Vec<String>>(&mut con, &["CONFIG", "GET", "maxmemory"]).await,
        ["maxmemory", "10000"]
    );
    assert_eq!(running.shutdown().await.exit_code, 0);
}
