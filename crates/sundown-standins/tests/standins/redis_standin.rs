//! The Redis stand-in (`kind = "redis"`) against real clients: the `redis`
//! crate, `redis-cli` (compared with a real `redis-server` when one is
//! installed), raw sockets for protocol abuse, and the engine for start,
//! stop and kill.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use sundown::{Component, Exit, Lifecycle, Running, Supervisor, Trigger};
use sundown_standins::redis::{AppendFsync, Redis, RedisSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::shared::{Rng, TIMEOUT, free_addr, tool};

pub(crate) fn spec(
    listen: SocketAddr,
    aof: Option<PathBuf>,
    appendfsync: AppendFsync,
) -> RedisSpec {
    RedisSpec {
        aof,
        appendfsync,
        ..RedisSpec::new(listen)
    }
}

/// Starts the stand-in inside the real engine and waits until it is ready.
pub(crate) async fn start(spec: RedisSpec) -> Running {
    Supervisor::from_toml_str("[components.redis]\nkind = \"sim\"\n")
        .expect("config")
        .replace("redis", Box::new(Redis::new(spec)))
        .expect("replace")
        .start()
        .await
        .expect("the stand-in starts")
}

/// Starts an in-memory stand-in on a free port.
pub(crate) async fn start_memory() -> (Running, SocketAddr) {
    let addr = free_addr();
    (start(spec(addr, None, AppendFsync::Always)).await, addr)
}

pub(crate) async fn client(addr: SocketAddr) -> MultiplexedConnection {
    // Blocking commands wait longer than the crate's default 500 ms.
    let config = AsyncConnectionConfig::new().set_response_timeout(None);
    redis::Client::open(format!("redis://{addr}/"))
        .expect("url")
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connect")
}

pub(crate) async fn q<T: redis::FromRedisValue>(
    con: &mut MultiplexedConnection,
    args: &[&str],
) -> T {
    try_q(con, args)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

pub(crate) async fn try_q<T: redis::FromRedisValue>(
    con: &mut MultiplexedConnection,
    args: &[&str],
) -> redis::RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query_async(con).await
}

/// Waits (bounded) until `n` clients are blocked, as `INFO` reports.
async fn wait_blocked(con: &mut MultiplexedConnection, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let info: String = q(con, &["INFO", "clients"]).await;
        if info.contains(&format!("blocked_clients:{n}\r\n")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never {n} blocked clients: {info}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A request as a RESP array of bulk strings.
pub(crate) fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n{a}\r\n", a.len()).bytes());
    }
    out
}

/// Reads until the server closes the connection (bounded).
pub(crate) async fn read_to_eof(sock: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(TIMEOUT, sock.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_and_expiry() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    assert_eq!(q::<String>(&mut con, &["PING"]).await, "PONG");
    assert_eq!(q::<String>(&mut con, &["ECHO", "hi"]).await, "hi");
    assert_eq!(q::<String>(&mut con, &["SELECT", "0"]).await, "OK");
    let err = try_q::<String>(&mut con, &["SELECT", "1"])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("DB index is out of range"),
        "{err}"
    );
    assert_eq!(q::<String>(&mut con, &["SET", "a", "1"]).await, "OK");
    assert_eq!(
        q::<Option<String>>(&mut con, &["GET", "a"])
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        q::<Option<String>>(&mut con, &["SET", "a", "2", "NX"]).await,
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut con, &["SET", "b", "2", "XX"]).await,
        None
    );
    assert_eq!(
        q::<Option<String>>(&mut con, &["SET", "a", "5", "GET"])
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(q::<i64>(&mut con, &["INCR", "a"]).await, 6);
    assert_eq!(q::<i64>(&mut con, &["INCRBY", "a", "-10"]).await, -4);
    assert_eq!(q::<i64>(&mut con, &["DECR", "n"]).await, -1);
    let err = try_q::<i64>(&mut con, &["INCRBY", "a", "x"])
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("value is not an integer or out of range"),
        "{err}"
    );
    q::<String>(&mut con, &["SET", "s", "abc"]).await;
    let err = try_q::<i64>(&mut con, &["INCR", "s"]).await.unwrap_err();
    assert!(err.to_string().contains("not an integer"), "{err}");
    assert_eq!(
        q::<i64>(&mut con, &["EXISTS", "a", "s", "nope", "a"]).await,
        3
    );
    assert_eq!(q::<i64>(&mut con, &["DEL", "s", "nope"]).await, 1);
    let err = try_q::<String>(&mut con, &["GET"]).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("wrong number of arguments for 'get' command"),
        "{err}"
    );

    // Expiry.
    assert_eq!(q::<i64>(&mut con, &["TTL", "a"]).await, -1);
    assert_eq!(q::<i64>(&mut con, &["TTL", "nope"]).await, -2);
    assert_eq!(q::<i64>(&mut con, &["EXPIRE", "a", "100"]).await, 1);
    let ttl: i64 = q(&mut con, &["TTL", "a"]).await;
    assert!((99..=100).contains(&ttl), "{ttl}");
    assert_eq!(q::<i64>(&mut con, &["PEXPIRE", "a", "100000"]).await, 1);
    let pttl: i64 = q(&mut con, &["PTTL", "a"]).await;
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(q::<i64>(&mut con, &["EXPIRE", "nope", "1"]).await, 0);
    q::<String>(&mut con, &["SET", "short", "v", "PX", "30"]).await;
    assert_eq!(
        q::<Option<String>>(&mut con, &["GET", "short"])
            .await
            .as_deref(),
        Some("v")
    );
    // Waiting for the clock is the point here: the key must be gone after its expiry.
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(q::<Option<String>>(&mut con, &["GET", "short"]).await, None);
    assert_eq!(q::<i64>(&mut con, &["PTTL", "short"]).await, -2);
    assert_eq!(q::<i64>(&mut con, &["EXPIRE", "a", "-1"]).await, 1);
    assert_eq!(q::<i64>(&mut con, &["EXISTS", "a"]).await, 0);

    // KEYS, DBSIZE, FLUSHALL.
    for k in ["user:1", "user:2", "user:10", "job:1"] {
        q::<String>(&mut con, &["SET", k, "x"]).await;
    }
    let mut keys: Vec<String> = q(&mut con, &["KEYS", "user:?"]).await;
    keys.sort();
    assert_eq!(keys, ["user:1", "user:2"]);
    let keys: Vec<String> = q(&mut con, &["KEYS", "user:[^1]*"]).await;
    assert_eq!(keys, ["user:2"]);
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]).await, 5);
    assert_eq!(q::<String>(&mut con, &["FLUSHALL"]).await, "OK");
    assert_eq!(q::<i64>(&mut con, &["DBSIZE"]).await, 0);

    let info: String = q(&mut con, &["INFO"]).await;
    for field in [
        "redis_version:",
        "uptime_in_seconds:",
        "connected_clients:1",
        "used_memory:",
        "aof_enabled:0",
        "role:master",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
    let id: i64 = q(&mut con, &["CLIENT", "ID"]).await;
    assert!(id > 0);
    assert_eq!(
        q::<String>(&mut con, &["CLIENT", "SETNAME", "me"]).await,
        "OK"
    );
    assert_eq!(q::<String>(&mut con, &["CLIENT", "GETNAME"]).await, "me");
    let err = try_q::<Vec<String>>(&mut con, &["HELLO", "3"])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("unsupported protocol version"),
        "{err}"
    );
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_hashes() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    assert_eq!(q::<i64>(&mut con, &["RPUSH", "l", "a", "b", "c"]).await, 3);
    assert_eq!(q::<i64>(&mut con, &["LPUSH", "l", "z"]).await, 4);
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]).await,
        ["z", "a", "b", "c"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "l", "-2", "100"]).await,
        ["b", "c"]
    );
    assert_eq!(q::<i64>(&mut con, &["LLEN", "l"]).await, 4);
    assert_eq!(
        q::<Option<String>>(&mut con, &["LPOP", "l"])
            .await
            .as_deref(),
        Some("z")
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["RPOP", "l", "2"]).await,
        ["c", "b"]
    );
    assert_eq!(
        q::<Option<Vec<String>>>(&mut con, &["RPOP", "nope", "2"]).await,
        None
    );
    q::<i64>(&mut con, &["RPUSH", "r", "x", "y", "x", "z", "x"]).await;
    assert_eq!(q::<i64>(&mut con, &["LREM", "r", "-2", "x"]).await, 2);
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "r", "0", "-1"]).await,
        ["x", "y", "z"]
    );
    assert_eq!(
        q::<String>(&mut con, &["LMOVE", "r", "l", "LEFT", "RIGHT"]).await,
        "x"
    );
    assert_eq!(q::<String>(&mut con, &["RPOPLPUSH", "r", "l"]).await, "z");
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]).await,
        ["z", "a", "x"]
    );
    assert_eq!(
        q::<Option<String>>(&mut con, &["LMOVE", "nope", "l", "LEFT", "LEFT"]).await,
        None
    );
    q::<String>(&mut con, &["SET", "s", "v"]).await;
    let err = try_q::<i64>(&mut con, &["LPUSH", "s", "x"])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("WRONGTYPE")
            && err
                .to_string()
                .contains("Operation against a key holding the wrong kind of value"),
        "{err}"
    );
    let err = try_q::<String>(&mut con, &["LMOVE", "l", "s", "LEFT", "LEFT"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    assert_eq!(
        q::<i64>(&mut con, &["LLEN", "l"]).await,
        3,
        "a failed move leaves the source alone"
    );

    assert_eq!(
        q::<i64>(&mut con, &["HSET", "h", "status", "queued", "n", "1"]).await,
        2
    );
    assert_eq!(
        q::<i64>(&mut con, &["HSET", "h", "status", "running"]).await,
        0
    );
    assert_eq!(
        q::<String>(&mut con, &["HGET", "h", "status"]).await,
        "running"
    );
    assert_eq!(
        q::<Option<String>>(&mut con, &["HGET", "h", "nope"]).await,
        None
    );
    assert_eq!(q::<i64>(&mut con, &["HEXISTS", "h", "n"]).await, 1);
    let all: HashMap<String, String> = q(&mut con, &["HGETALL", "h"]).await;
    assert_eq!(
        all,
        HashMap::from([
            ("status".into(), "running".into()),
            ("n".into(), "1".into())
        ])
    );
    assert_eq!(q::<i64>(&mut con, &["HDEL", "h", "n", "nope"]).await, 1);
    assert_eq!(q::<i64>(&mut con, &["HDEL", "h", "status"]).await, 1);
    assert_eq!(
        q::<i64>(&mut con, &["EXISTS", "h"]).await,
        0,
        "an emptied hash is gone"
    );
    let err = try_q::<i64>(&mut con, &["HSET", "l", "f", "v"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("WRONGTYPE"), "{err}");
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_runs_queued_commands_atomically() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    // The job pipeline's accept step.
    let id: i64 = q(&mut con, &["INCR", "jobs:next_id"]).await;
    let (hset, len): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("HSET")
        .arg(format!("jobs:job:{id}"))
        .arg("status")
        .arg("queued")
        .cmd("LPUSH")
        .arg("jobs")
        .arg(format!("{{\"id\":{id}}}"))
        .query_async(&mut con)
        .await
        .expect("EXEC");
    assert_eq!((hset, len), (1, 1));
    // An error at run time does not stop the others (as in Redis), and
    // queue-time errors abort the whole transaction.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"MULTI\r\nSET s v\r\nLPUSH s x\r\nLLEN jobs\r\nEXEC\r\n")
        .await
        .unwrap();
    let want = "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n:1\r\n";
    let mut got = vec![0; want.len()];
    raw.read_exact(&mut got).await.unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), want);
    raw.write_all(b"MULTI\r\nSET t 1\r\nGET\r\nEXEC\r\nEXISTS t\r\nDISCARD\r\nQUIT\r\n")
        .await
        .unwrap();
    let out = String::from_utf8(read_to_eof(&mut raw).await).unwrap();
    assert_eq!(
        out,
        "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n-EXECABORT Transaction discarded because of previous errors.\r\n:0\r\n-ERR DISCARD without MULTI\r\n+OK\r\n"
    );
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_pops_are_woken_by_pushes_first_come_first_served() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    let first = tokio::spawn(async move {
        let mut c = client(addr).await;
        q::<(String, String)>(&mut c, &["BRPOP", "other", "q", "0"]).await
    });
    wait_blocked(&mut con, 1).await;
    let second = tokio::spawn(async move {
        let mut c = client(addr).await;
        q::<(String, String)>(&mut c, &["BLPOP", "q", "0"]).await
    });
    wait_blocked(&mut con, 2).await;
    assert_eq!(q::<i64>(&mut con, &["LPUSH", "q", "one"]).await, 1);
    assert_eq!(first.await.unwrap(), ("q".to_string(), "one".to_string()));
    assert_eq!(
        q::<i64>(&mut con, &["LLEN", "q"]).await,
        0,
        "the waiter took it"
    );
    wait_blocked(&mut con, 1).await;
    q::<i64>(&mut con, &["RPUSH", "q", "two", "three"]).await;
    assert_eq!(second.await.unwrap(), ("q".to_string(), "two".to_string()));
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "q", "0", "-1"]).await,
        ["three"]
    );

    // A timeout answers nil; data already there answers at once.
    let start = Instant::now();
    assert_eq!(
        q::<Option<(String, String)>>(&mut con, &["BRPOP", "empty", "0.05"]).await,
        None
    );
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(
        q::<Option<(String, String)>>(&mut con, &["BLPOP", "q", "1"]).await,
        Some(("q".into(), "three".into()))
    );
    let err = try_q::<redis::Value>(&mut con, &["BLPOP", "q", "-1"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timeout is negative"), "{err}");
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blmove_hands_a_job_to_a_blocked_worker() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    let worker = tokio::spawn(async move {
        let mut c = client(addr).await;
        q::<String>(
            &mut c,
            &[
                "BLMOVE",
                "jobs",
                "jobs:processing:p:0",
                "RIGHT",
                "LEFT",
                "0",
            ],
        )
        .await
    });
    wait_blocked(&mut con, 1).await;
    q::<i64>(&mut con, &["LPUSH", "jobs", "j1", "j2"]).await;
    assert_eq!(worker.await.unwrap(), "j1");
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "jobs", "0", "-1"]).await,
        ["j2"]
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "jobs:processing:p:0", "0", "-1"]).await,
        ["j1"]
    );
    // Giving back, and the scan a restarted pool does.
    assert_eq!(
        q::<Vec<String>>(&mut con, &["KEYS", "jobs:processing:p:*"]).await,
        ["jobs:processing:p:0"]
    );
    assert_eq!(
        q::<String>(
            &mut con,
            &["LMOVE", "jobs:processing:p:0", "jobs", "RIGHT", "RIGHT"]
        )
        .await,
        "j1"
    );
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "jobs", "0", "-1"]).await,
        ["j2", "j1"]
    );
    // BRPOPLPUSH with data waiting, and BLMOVE timing out.
    assert_eq!(
        q::<String>(&mut con, &["BRPOPLPUSH", "jobs", "done", "0"]).await,
        "j1"
    );
    assert_eq!(
        q::<Option<String>>(
            &mut con,
            &["BLMOVE", "none", "done", "LEFT", "LEFT", "0.01"]
        )
        .await,
        None
    );
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_kill_takes_a_blocked_worker_off_the_queue_at_once() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    q::<String>(&mut con, &["CLIENT", "SETNAME", "control"]).await;
    let mut worker = client(addr).await;
    let id: i64 = q(&mut worker, &["CLIENT", "ID"]).await;
    let blocked = tokio::spawn(async move {
        try_q::<String>(
            &mut worker,
            &["BLMOVE", "jobs", "processing", "RIGHT", "LEFT", "0"],
        )
        .await
    });
    wait_blocked(&mut con, 1).await;
    let list: String = q(&mut con, &["CLIENT", "LIST"]).await;
    assert_eq!(list.lines().count(), 2, "{list}");
    assert!(
        list.contains(&format!("id={id} ")) && list.contains("name=control"),
        "{list}"
    );
    assert!(
        list.lines()
            .any(|l| l.contains(&format!("id={id} ")) && l.contains("flags=b")),
        "{list}"
    );

    assert_eq!(
        q::<i64>(&mut con, &["CLIENT", "KILL", "ID", &id.to_string()]).await,
        1
    );
    // Once KILL has answered, the killed worker is given nothing.
    q::<i64>(&mut con, &["LPUSH", "jobs", "j1"]).await;
    assert_eq!(
        q::<Vec<String>>(&mut con, &["LRANGE", "jobs", "0", "-1"]).await,
        ["j1"]
    );
    assert_eq!(q::<i64>(&mut con, &["LLEN", "processing"]).await, 0);
    assert!(
        blocked.await.unwrap().is_err(),
        "the killed connection is closed"
    );
    assert_eq!(
        q::<i64>(&mut con, &["CLIENT", "KILL", "ID", &id.to_string()]).await,
        0
    );
    let err = try_q::<String>(&mut con, &["CLIENT", "KILL", "127.0.0.1:1"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("No such client"), "{err}");
    assert_eq!(running.shutdown().await.exit_code, 0);
}

/// Commands whose replies must be byte for byte those of a real Redis 7
/// (nothing time- or order-dependent). `SELECT 1` is left out on purpose:
/// the stand-in has one database, so it answers like a Redis configured
/// with `databases 1`.
const SAME_AS_REDIS: &[&[&str]] = &[
    &["PING"],
    &["PING", "x"],
    &["ECHO", "hi"],
    &["SELECT", "0"],
    &["SELECT", "x"],
    &["SET", "k", "v"],
    &["GET", "k"],
    &["GET", "nokey"],
    &["SET", "k", "v2", "NX"],
    &["SET", "k", "v3", "XX", "GET"],
    &["SET", "n", "v", "XX"],
    &["SET", "k", "v", "EX", "0"],
    &["SET", "k", "v", "EX", "x"],
    &["SET", "k", "v", "NX", "XX"],
    &["SET", "k", "v", "FOO"],
    &["SET", "k", "v", "EX", "10", "PX", "10"],
    &["SET", "e", "v", "PX", "100000"],
    &["PTTL", "nokey"],
    &["TTL", "k"],
    &["PERSIST", "e"],
    &["PERSIST", "e"],
    &["EXPIRE", "k", "x"],
    &["EXPIRE", "k", "100", "foo"],
    &["EXPIRE", "k", "100", "NX", "XX"],
    &["EXPIRE", "k", "100", "GT"],
    &["EXPIRE", "k", "100", "NX"],
    &["EXPIRE", "k", "50", "GT"],
    &["EXPIRE", "k", "200", "GT"],
    &["EXPIRE", "nokey", "1"],
    &["EXPIRE", "k", "-1"],
    &["EXISTS", "k"],
    &["INCR", "c"],
    &["INCRBY", "c", "10"],
    &["DECR", "c"],
    &["DECRBY", "c", "5"],
    &["INCRBY", "c", "x"],
    &["SET", "s", "abc"],
    &["INCR", "s"],
    &["SET", "big", "9223372036854775807"],
    &["INCR", "big"],
    &["DECRBY", "c", "-9223372036854775808"],
    &["INCRBY", "c", "9223372036854775808"],
    &["SET", "z", "01"],
    &["INCR", "z"],
    &["APPEND", "s", "def"],
    &["STRLEN", "s"],
    &["STRLEN", "nokey"],
    &["MSET", "a", "1", "b", "2"],
    &["MSET", "a"],
    &["MGET", "a", "b", "nokey", "l"],
    &["SETNX", "a", "x"],
    &["SETNX", "new", "x"],
    &["SETEX", "sx", "0", "v"],
    &["SETEX", "sx", "10", "v"],
    &["PSETEX", "px", "x", "v"],
    &["RPUSH", "l", "a", "b", "c", "d"],
    &["LPUSH", "l", "z"],
    &["LRANGE", "l", "0", "-1"],
    &["LRANGE", "l", "1", "2"],
    &["LRANGE", "l", "-100", "100"],
    &["LRANGE", "l", "5", "1"],
    &["LRANGE", "l", "x", "1"],
    &["LRANGE", "nokey", "0", "-1"],
    &["LLEN", "l"],
    &["LLEN", "nokey"],
    &["LLEN", "s"],
    &["LINDEX", "l", "0"],
    &["LINDEX", "l", "-1"],
    &["LINDEX", "l", "99"],
    &["LPOP", "l"],
    &["RPOP", "l", "2"],
    &["LPOP", "l", "0"],
    &["LPOP", "nokey"],
    &["LPOP", "nokey", "2"],
    &["LPOP", "l", "-1"],
    &["LPOP", "l", "1", "2"],
    &["RPOP", "l", "x"],
    &["RPUSH", "r", "x", "y", "x", "z", "x"],
    &["LREM", "r", "-2", "x"],
    &["LREM", "r", "0", "nope"],
    &["LREM", "r", "x", "x"],
    &["LRANGE", "r", "0", "-1"],
    &["LMOVE", "r", "r2", "LEFT", "RIGHT"],
    &["LMOVE", "r", "r2", "UP", "RIGHT"],
    &["LMOVE", "nokey", "r2", "LEFT", "LEFT"],
    &["LMOVE", "r", "s", "LEFT", "LEFT"],
    &["LMOVE", "s", "r", "LEFT", "LEFT"],
    &["RPOPLPUSH", "r", "r2"],
    &["LRANGE", "r2", "0", "-1"],
    &["LPUSHX", "nokey", "a"],
    &["RPUSHX", "r2", "q"],
    &["BLPOP", "r2", "0"],
    &["BRPOP", "nokey", "r2", "1"],
    &["BLPOP", "r2", "x"],
    &["BLPOP", "r2", "-1"],
    &["BLMOVE", "r2", "r3", "LEFT", "RIGHT", "0"],
    &["BRPOPLPUSH", "r3", "r4", "0"],
    &["BLPOP", "s", "0"],
    &["HSET", "h", "a", "1", "b", "2"],
    &["HSET", "h", "a"],
    &["HSET", "h", "a", "3"],
    &["HGET", "h", "a"],
    &["HGET", "h", "x"],
    &["HMGET", "h", "a", "x"],
    &["HEXISTS", "h", "a"],
    &["HLEN", "h"],
    &["HSETNX", "h", "a", "9"],
    &["HSETNX", "h", "c", "9"],
    &["HINCRBY", "h", "n", "5"],
    &["HINCRBY", "h", "a", "x"],
    &["HSET", "h", "t", "x"],
    &["HINCRBY", "h", "t", "1"],
    &["HDEL", "h", "a", "x"],
    &["HDEL", "nokey", "a"],
    &["HGET", "l", "a"],
    &["HGETALL", "nokey"],
    &["HMSET", "h2", "f", "v"],
    &["TYPE", "h"],
    &["TYPE", "l"],
    &["TYPE", "s"],
    &["TYPE", "nokey"],
    &["DEL", "h", "h2", "nokey"],
    &["DBSIZE", "x"],
    &["KEYS"],
    &["MULTI"],
    &["SET", "t", "1"],
    &["INCR", "t"],
    &["LPUSH", "t", "x"],
    &["BLPOP", "empty", "0"],
    &["EXEC"],
    &["MULTI"],
    &["MULTI"],
    &["SET", "t"],
    &["EXEC"],
    &["EXEC"],
    &["DISCARD"],
    &["MULTI"],
    &["DISCARD"],
    &["CLIENT", "SETNAME", "a b"],
    &["CLIENT", "SETNAME", "nm"],
    &["CLIENT", "GETNAME"],
    &["CLIENT", "FOO"],
    &["CLIENT", "SETNAME"],
    &["HELLO", "4"],
    &["HELLO", "x"],
    &["COMMAND", "FOO"],
    &["CONFIG", "GET"],
    &["CONFIG", "GET", "appendfsync-nope"],
    &["SET", "kk", "v"],
    &["KEYS", "k?"],
    &["KEYS", "nomatch*"],
    &["EXISTS", "kk", "kk", "nokey"],
    &["SET", "l", "x", "GET"],
    &["LPUSH", "kk", "x"],
    &["EXPIRE", "kk", "100", "LT"],
    &["EXPIRE", "kk", "200", "LT"],
    &["EXPIRE", "kk", "50", "LT"],
    &["PEXPIREAT", "kk", "1"],
    &["GET", "kk"],
    &["foo", "a", "b"],
    &["FOO"],
    &["GET"],
    &["lpush", "k"],
    &["unlink", "nokey"],
    &["FLUSHALL", "x"],
    &["FLUSHALL"],
    &["DBSIZE"],
];

/// One reply, read raw and rendered so that every RESP distinction shows
/// (`$-1` and `*-1` differ, an error's exact text counts).
fn read_reply(r: &mut impl std::io::BufRead) -> String {
    let mut line = String::new();
    r.read_line(&mut line).expect("read a reply");
    let line = line.trim_end_matches("\r\n");
    let n = || line[1..].parse::<i64>().expect("a length");
    match line.as_bytes().first() {
        Some(b'+' | b'-' | b':') => line.to_string(),
        Some(b'$') if n() < 0 => "$nil".into(),
        Some(b'$') => {
            let mut data = vec![0; n() as usize + 2];
            r.read_exact(&mut data).expect("read a bulk string");
            format!("${}", String::from_utf8_lossy(&data[..data.len() - 2]))
        }
        Some(b'*') if n() < 0 => "*nil".into(),
        Some(b'*') => {
            let items: Vec<String> = (0..n()).map(|_| read_reply(r)).collect();
            format!("[{}]", items.join(", "))
        }
        _ => panic!("not a reply: {line:?}"),
    }
}

/// Every reply to [`SAME_AS_REDIS`], in order, from a fresh database.
fn replies(port: u16) -> Vec<String> {
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(TIMEOUT)).expect("set a timeout");
    let mut writer = sock.try_clone().expect("clone the socket");
    let mut reader = std::io::BufReader::new(sock);
    std::iter::once(&["FLUSHALL"][..])
        .chain(SAME_AS_REDIS.iter().copied())
        .map(|args| {
            std::io::Write::write_all(&mut writer, &resp(args)).expect("send");
            format!("{} => {}", args.join(" "), read_reply(&mut reader))
        })
        .collect()
}

#[test]
fn replies_match_a_real_redis_server_byte_for_byte() {
    let Some(server) = tool("redis-server") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let real = rt.block_on(RealRedis::start(&server));
    let want = replies(real.port);
    drop(real);
    let (running, addr) = rt.block_on(start_memory());
    let got = replies(addr.port());
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want);
    }
    assert_eq!(got.len(), want.len());
    rt.block_on(running.shutdown());
}

fn cli(cli: &Path, port: u16, args: &[&str]) -> String {
    let out = Command::new(cli)
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// One reply of `redis-cli`, without the blank line it adds after errors.
fn cli_line(cli_bin: &Path, port: u16, args: &[&str]) -> String {
    cli(cli_bin, port, args).trim_end_matches('\n').to_string()
}

/// A real `redis-server` on a free port, killed on drop.
struct RealRedis {
    child: std::process::Child,
    port: u16,
}

impl RealRedis {
    async fn start(bin: &Path) -> RealRedis {
        let port = free_addr().port();
        let child = Command::new(bin)
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "redis-server never listened");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        RealRedis { child, port }
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cli_works_and_errors_read_like_redis() {
    let Some(redis_cli) = tool("redis-cli") else {
        return;
    };
    let (running, addr) = start_memory().await;
    let port = addr.port();
    assert_eq!(cli(&redis_cli, port, &["PING"]), "PONG\n");
    assert_eq!(cli(&redis_cli, port, &["SET", "k", "hello world"]), "OK\n");
    assert_eq!(cli(&redis_cli, port, &["GET", "k"]), "hello world\n");
    assert_eq!(cli(&redis_cli, port, &["RPUSH", "l", "a", "b"]), "2\n");
    assert_eq!(cli(&redis_cli, port, &["LRANGE", "l", "0", "-1"]), "a\nb\n");
    assert_eq!(cli(&redis_cli, port, &["GET", "nope"]), "\n");

    // Commands on stdin, the way scripts use redis-cli.
    let mut child = Command::new(&redis_cli)
        .args(["-p", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"INCR c\nINCR c\nHSET h f v\nHGET h f\n",
    )
    .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n2\n1\nv\n");

    // Inline commands, as typed into nc or telnet.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"PING\r\nSET x \"a b\"\r\nGET x\r\nECHO 'it''s'\r\nQUIT\r\n")
        .await
        .unwrap();
    let out = String::from_utf8(read_to_eof(&mut raw).await).unwrap();
    assert_eq!(
        out,
        "+PONG\r\n+OK\r\n$3\r\na b\r\n-ERR Protocol error: unbalanced quotes in request\r\n"
    );

    let errors: &[&[&str]] = &[
        &["foo", "a", "b"],
        &["FOO"],
        &["get"],
        &["set", "k"],
        &["lpush", "k", "v", "NX"],
        &["select", "x"],
        &["incr", "k"],
    ];
    let want: Vec<String> = match tool("redis-server") {
        Some(bin) => {
            let real = RealRedis::start(&bin).await;
            cli(&redis_cli, real.port, &["SET", "k", "v"]);
            errors
                .iter()
                .map(|args| cli_line(&redis_cli, real.port, args))
                .collect()
        }
        None => [
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' ",
            "ERR unknown command 'FOO', with args beginning with: ",
            "ERR wrong number of arguments for 'get' command",
            "ERR wrong number of arguments for 'set' command",
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "ERR value is not an integer or out of range",
            "ERR value is not an integer or out of range",
        ]
        .map(String::from)
        .to_vec(),
    };
    cli(&redis_cli, port, &["SET", "k", "v"]);
    let got: Vec<String> = errors
        .iter()
        .map(|args| cli_line(&redis_cli, port, args))
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        got[0],
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    );
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aof_brings_data_back_after_a_graceful_stop() {
    for fsync in [AppendFsync::Always, AppendFsync::Everysec] {
        let dir = tempfile::tempdir().unwrap();
        // Its directory does not exist yet: it is created.
        let path = dir.path().join("data").join("redis.aof");
        let addr = free_addr();
        let running = start(spec(addr, Some(path.clone()), fsync)).await;
        let mut con = client(addr).await;
        q::<String>(&mut con, &["SET", "s", "v", "EX", "1000"]).await;
        q::<String>(&mut con, &["SET", "gone", "v", "PX", "1"]).await;
        q::<i64>(&mut con, &["INCR", "n"]).await;
        q::<i64>(&mut con, &["RPUSH", "l", "a", "b", "c"]).await;
        q::<String>(&mut con, &["LMOVE", "l", "l2", "LEFT", "LEFT"]).await;
        q::<i64>(&mut con, &["HSET", "h", "f", "v"]).await;
        let (): () = redis::pipe()
            .atomic()
            .cmd("INCR")
            .arg("n")
            .cmd("DEL")
            .arg("nothing")
            .query_async(&mut con)
            .await
            .unwrap();
        let report = running.shutdown().await;
        assert_eq!(report.exit_code, 0);
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(
            text.contains("PXAT"),
            "SET EX is logged with an absolute time: {text}"
        );
        assert!(text.contains("MULTI") && text.contains("EXEC"), "{text}");

        let running = start(spec(addr, Some(path.clone()), fsync)).await;
        let mut con = client(addr).await;
        assert_eq!(q::<String>(&mut con, &["GET", "s"]).await, "v");
        let ttl: i64 = q(&mut con, &["TTL", "s"]).await;
        assert!((990..=1000).contains(&ttl), "{ttl}");
        assert_eq!(q::<Option<String>>(&mut con, &["GET", "gone"]).await, None);
        assert_eq!(q::<i64>(&mut con, &["GET", "n"]).await, 2);
        assert_eq!(
            q::<Vec<String>>(&mut con, &["LRANGE", "l", "0", "-1"]).await,
            ["b", "c"]
        );
        assert_eq!(
            q::<Vec<String>>(&mut con, &["LRANGE", "l2", "0", "-1"]).await,
            ["a"]
        );
        assert_eq!(q::<String>(&mut con, &["HGET", "h", "f"]).await, "v");
        let info: String = q(&mut con, &["INFO", "persistence"]).await;
        assert!(info.contains("aof_enabled:1"), "{info}");
        assert_eq!(running.shutdown().await.exit_code, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_appendfsync_always_every_acknowledged_write_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redis.aof");
    let addr = free_addr();
    let running = start(spec(addr, Some(path.clone()), AppendFsync::Always)).await;
    // Several connections writing at once: their writes share fsyncs.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            tokio::spawn(async move {
                let mut con = client(addr).await;
                for i in 0..50 {
                    q::<i64>(&mut con, &["RPUSH", &format!("w{w}"), &i.to_string()]).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    // The file as a crash would leave it right now: no stop, no final flush.
    let crashed = dir.path().join("crashed.aof");
    std::fs::copy(&path, &crashed).unwrap();
    // And the engine's kill: the component is told to die at once.
    running.handle().force(Trigger::Requested);
    let report = running.wait().await;
    assert_eq!(
        report.component("redis").unwrap().outcome.as_str(),
        "forced",
        "{report:?}"
    );

    for file in [crashed, path] {
        let addr = free_addr();
        let running = start(spec(addr, Some(file.clone()), AppendFsync::Always)).await;
        let mut con = client(addr).await;
        for w in 0..4 {
            let items: Vec<i64> = q(&mut con, &["LRANGE", &format!("w{w}"), "0", "-1"]).await;
            assert_eq!(items, (0..50).collect::<Vec<_>>(), "{}", file.display());
        }
        assert_eq!(running.shutdown().await.exit_code, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_last_command_is_cut_off_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redis.aof");
    let mut data = resp(&["SET", "a", "1"]);
    data.extend(resp(&["RPUSH", "l", "x"]));
    let whole = data.len() as u64;
    let torn = resp(&["SET", "b", "2"]);
    data.extend(&torn[..torn.len() - 3]);
    std::fs::write(&path, &data).unwrap();
    let addr = free_addr();
    let running = start(spec(addr, Some(path.clone()), AppendFsync::Always)).await;
    let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
    assert!(
        !text.contains("\r\nb\r\n"),
        "the torn command is gone: {text:?}"
    );
    assert_eq!(text.len() as u64, whole, "and the two whole ones are kept");
    let mut con = client(addr).await;
    assert_eq!(q::<String>(&mut con, &["GET", "a"]).await, "1");
    assert_eq!(q::<Option<String>>(&mut con, &["GET", "b"]).await, None);
    q::<String>(&mut con, &["SET", "c", "3"]).await;
    assert_eq!(running.shutdown().await.exit_code, 0);
    let running = start(spec(addr, Some(path.clone()), AppendFsync::Always)).await;
    let mut con = client(addr).await;
    assert_eq!(
        q::<Vec<Option<String>>>(&mut con, &["MGET", "a", "b", "c"]).await,
        [Some("1".into()), None, Some("3".into())]
    );
    assert_eq!(running.shutdown().await.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_file_is_a_start_failure_naming_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redis.aof");
    let mut data = resp(&["SET", "a", "1"]);
    let offset = data.len();
    data.extend(b"*2\r\n:1\r\n");
    data.extend(resp(&["SET", "b", "2"]));
    std::fs::write(&path, &data).unwrap();
    let failed = Supervisor::from_toml_str("[components.redis]\nkind = \"sim\"\n")
        .unwrap()
        .replace(
            "redis",
            Box::new(Redis::new(spec(
                free_addr(),
                Some(path.clone()),
                AppendFsync::Always,
            ))),
        )
        .unwrap()
        .start()
        .await
        .err()
        .expect("start fails");
    let error = failed.0.component("redis").unwrap().error.clone().unwrap();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains(&format!("byte offset {offset}")), "{error}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        data,
        "a corrupt file is left as it is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_blocked_clients_and_answers_commands_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("redis.aof");
    let addr = free_addr();
    let running = start(spec(addr, Some(path.clone()), AppendFsync::Always)).await;
    let mut con = client(addr).await;
    let mut blocked = TcpStream::connect(addr).await.unwrap();
    blocked
        .write_all(&resp(&["BRPOP", "q", "0"]))
        .await
        .unwrap();
    wait_blocked(&mut con, 1).await;

    // A long pipeline, under way when the stop arrives.
    let mut busy = TcpStream::connect(addr).await.unwrap();
    let batch: Vec<u8> = (0..5000).flat_map(|_| resp(&["INCR", "n"])).collect();
    busy.write_all(&batch).await.unwrap();
    let mut first = [0u8; 1];
    busy.read_exact(&mut first).await.unwrap();
    let stopping = tokio::spawn(running.shutdown());

    assert_eq!(
        read_to_eof(&mut blocked).await,
        b"",
        "a blocked client gets EOF, no reply"
    );
    let mut answers = first.to_vec();
    answers.extend(read_to_eof(&mut busy).await);
    let answers = String::from_utf8(answers).unwrap();
    let values: Vec<i64> = answers
        .split_terminator("\r\n")
        .map(|l| {
            l.strip_prefix(':')
                .unwrap_or_else(|| panic!("{l}"))
                .parse()
                .unwrap()
        })
        .collect();
    assert!(!values.is_empty());
    assert_eq!(
        values,
        (1..=values.len() as i64).collect::<Vec<_>>(),
        "every command run was answered, in order"
    );
    let report = stopping.await.unwrap();
    assert_eq!(report.exit_code, 0);
    assert_eq!(
        report.component("redis").unwrap().outcome.as_str(),
        "stopped",
        "{report:?}"
    );

    // Nothing answered was lost, nothing unanswered was applied.
    let running = start(spec(addr, Some(path), AppendFsync::Always)).await;
    let mut con = client(addr).await;
    assert_eq!(q::<i64>(&mut con, &["GET", "n"]).await, values.len() as i64);
    assert_eq!(running.shutdown().await.exit_code, 0);
}

fn fuzz_case(rng: &mut Rng) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"*",
        b"$",
        b"\r\n",
        b"-1",
        b"0",
        b"3",
        b"99999999999",
        b"PING",
        b"GET",
        b"SET",
        b"BLPOP",
        b"MULTI",
        b"EXEC",
        b"\"",
        b"'",
        b" ",
        b"\n",
        b"+",
        b":",
        b"\x00",
        b"\xff",
    ];
    let valid: Vec<u8> = [
        resp(&["SET", "k", "v"]),
        resp(&["RPUSH", "l", "a"]),
        resp(&["BLPOP", "l", "0.01"]),
        resp(&["MULTI"]),
        resp(&["INCR", "k"]),
        b"PING\r\n".to_vec(),
    ]
    .concat();
    match rng.below(4) {
        0 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
        1 => (0..rng.below(40))
            .flat_map(|_| PIECES[rng.below(PIECES.len())].to_vec())
            .collect(),
        2 => valid[..rng.below(valid.len())].to_vec(),
        _ => {
            let mut v = valid.clone();
            for _ in 0..=rng.below(3) {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            v
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_never_hurts_the_server_or_other_clients() {
    let (running, addr) = start_memory().await;
    let mut con = client(addr).await;
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for case in 0..300 {
        let bytes = fuzz_case(&mut rng);
        let mut sock = TcpStream::connect(addr).await.unwrap();
        sock.write_all(&bytes).await.unwrap();
        // EOF after the bytes: the server must finish with them and close.
        sock.shutdown().await.unwrap();
        let mut out = Vec::new();
        let read = tokio::time::timeout(TIMEOUT, sock.read_to_end(&mut out)).await;
        assert!(
            read.is_ok(),
            "case {case}: the server kept the connection open: {bytes:?}"
        );
        assert_eq!(
            q::<String>(&mut con, &["PING"]).await,
            "PONG",
            "case {case}"
        );
    }

    // Deep nesting is refused without recursion.
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(&b"*1\r\n".repeat(100_000)).await.unwrap();
    let out = read_to_eof(&mut sock).await;
    assert_eq!(out, b"-ERR Protocol error: expected '$', got '*'\r\n");

    // A bulk length over the cap is refused at once.
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"*1\r\n$999999999999\r\n").await.unwrap();
    assert_eq!(
        read_to_eof(&mut sock).await,
        b"-ERR Protocol error: invalid bulk length\r\n"
    );

    // One within the cap, mostly unsent, reserves nothing up front.
    let before = vm_size_kib();
    let mut huge = Vec::new();
    for _ in 0..8 {
        let mut sock = TcpStream::connect(addr).await.unwrap();
        sock.write_all(b"*2\r\n$3\r\nSET\r\n$536870912\r\nabc")
            .await
            .unwrap();
        huge.push(sock);
    }
    assert_eq!(q::<String>(&mut con, &["PING"]).await, "PONG");
    let grown_mib = vm_size_kib().saturating_sub(before) / 1024;
    assert!(
        grown_mib < 256,
        "8 huge declared bulks grew the address space by {grown_mib} MiB"
    );
    drop(huge);
    assert_eq!(running.shutdown().await.exit_code, 0);
}

fn vm_size_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_is_a_start_failure_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let (life, _stop, _kill): (Lifecycle, _, _) = Lifecycle::detached("redis");
    let exit = Box::new(Redis::new(spec(addr, None, AppendFsync::Always)))
        .run(life)
        .await;
    let Exit::Error(msg) = exit else {
        panic!("expected a failure, got {exit:?}")
    };
    assert!(msg.contains(&addr.to_string()), "{msg}");
    assert!(
        msg.to_lowercase().contains("address already in use"),
        "{msg}"
    );
}

/// User plus system CPU time of a process (`self` or a pid), in ms.
fn cpu_ms(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 14 and 15 (utime, stime), counted from the state (field 3), in
    // clock ticks of 10 ms.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) * 10
}

/// `redis-benchmark` against a real `redis-server` and the stand-in (memory,
/// AOF everysec, AOF always). Run with
/// `cargo test --release --test redis_standin -- --ignored --nocapture bench`.
#[test]
#[ignore = "a benchmark: prints numbers, takes a minute"]
fn bench_against_real_redis() {
    let (Some(bench), Some(server)) = (tool("redis-benchmark"), tool("redis-server")) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |port: u16| {
        let out = Command::new(&bench)
            .args([
                "-p",
                &port.to_string(),
                "-t",
                "set,get,lpush,rpop",
                "-P",
                "16",
                "-q",
                "-n",
                "200000",
            ])
            .output()
            .expect("run redis-benchmark");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // CPU time a server spent on the run: throughput on a shared machine
    // swings with its load, CPU per request much less.
    let measured = |pid: &str, port: u16| {
        let before = cpu_ms(pid);
        let out = run(port);
        format!("{out}server CPU: {} ms\n", cpu_ms(pid) - before)
    };
    // Alternating rounds, so a busy machine slows both alike.
    for round in 1..=3 {
        let real = rt.block_on(RealRedis::start(&server));
        let pid = real.child.id().to_string();
        println!(
            "round {round}, real redis-server:\n{}",
            measured(&pid, real.port)
        );
        drop(real);
        let addr = free_addr();
        let running = rt.block_on(start(spec(addr, None, AppendFsync::Always)));
        println!(
            "round {round}, stand-in, no AOF:\n{}",
            measured("self", addr.port())
        );
        rt.block_on(running.shutdown());
    }
    let dir = tempfile::tempdir().unwrap();
    for (label, file, fsync) in [
        ("stand-in, AOF everysec", "e.aof", AppendFsync::Everysec),
        ("stand-in, AOF always", "a.aof", AppendFsync::Always),
    ] {
        let addr = free_addr();
        let running = rt.block_on(start(spec(addr, Some(dir.path().join(file)), fsync)));
        println!("{label}:\n{}", measured("self", addr.port()));
        rt.block_on(running.shutdown());
    }
}
