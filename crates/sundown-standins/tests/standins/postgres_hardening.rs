//! The PostgreSQL stand-in against hostile or careless clients: nothing a
//! client sends reaches a file outside the database, passwords go over
//! SCRAM-SHA-256, and a runaway query ends (statement timeout, cancel
//! request, client gone, component stop). Each test is the attack first,
//! then what the client is told.

use std::time::{Duration, Instant};

use sundown::Outcome;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::postgres_standin::{
    Raw, code, connect, count, ended, frame, message, spec, start, start_with, startup_packet,
    try_connect,
};
use crate::shared::{TIMEOUT, free_addr};

/// Never ends on its own: counts an endless recursive sequence.
const RUNAWAY: &str =
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";

/// Long enough for a query sent just before to be running on the server.
const SETTLE: Duration = Duration::from_millis(300);

/// The SQLSTATE and message of a simple query's error.
async fn refused(c: &tokio_postgres::Client, sql: &str) -> (String, String) {
    let e = c.simple_query(sql).await.expect_err(sql);
    (code(&e).unwrap_or_default().to_string(), message(&e))
}

async fn scalar(c: &tokio_postgres::Client, sql: &str) -> String {
    let msgs = c.simple_query(sql).await.expect(sql);
    msgs.iter()
        .find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .expect("a value")
}

// ------------------------------------------------------------ files

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_reaches_no_file_outside_the_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let running = start(spec(addr, Some(dir.path().join("db.sqlite")), None)).await;
    let (c, _driver) = connect(addr).await;
    let pwned = dir.path().join("pwned.db");
    let vac = dir.path().join("vac.db");
    let attacks = [
        format!(
            "ATTACH DATABASE '{}' AS p; CREATE TABLE p.t (a); INSERT INTO p.t VALUES ('owned')",
            pwned.display()
        ),
        format!("ATTACH ('{}' || '') AS p", pwned.display()),
        format!("VACUUM INTO '{}'", vac.display()),
        format!("VACUUM main INTO '{}'", vac.display()),
        "PRAGMA journal_mode = DELETE".into(),
        "PRAGMA synchronous = OFF".into(),
        "PRAGMA writable_schema = ON".into(),
        "PRAGMA wal_checkpoint(TRUNCATE)".into(),
        "PRAGMA mmap_size = 1000000".into(),
        "PRAGMA locking_mode = EXCLUSIVE".into(),
        "DETACH DATABASE temp".into(),
        "SELECT load_extension('/tmp/evil.so')".into(),
    ];
    for sql in &attacks {
        let (state, msg) = refused(&c, sql).await;
        assert_eq!(state, "42501", "{sql}: {msg}");
        assert!(msg.starts_with("permission denied"), "{sql}: {msg}");
    }
    assert!(!pwned.exists(), "ATTACH created {}", pwned.display());
    assert!(!vac.exists(), "VACUUM INTO created {}", vac.display());

    // The session and the database go on as before.
    c.batch_execute("CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1)")
        .await
        .expect("ordinary statements");
    assert_eq!(count(&c, "t").await, 1);
    assert_eq!(scalar(&c, "PRAGMA journal_mode").await, "wal");
    assert_eq!(scalar(&c, "PRAGMA table_info(t)").await, "0");
    c.batch_execute("VACUUM").await.expect("a plain VACUUM");
    running.shutdown().await;
}

// ------------------------------------------------------------ passwords

/// The password never crosses the wire: the server asks for SCRAM-SHA-256
/// (AuthenticationSASL), not a cleartext password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_go_over_scram() {
    let addr = free_addr();
    let running = start(spec(addr, None, Some("s3cret"))).await;
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut s, &startup_packet("sundown"))
        .await
        .expect("startup");
    let mut raw = Raw { s, key: None };
    let (kind, body) = raw.read_msg().await.expect("an authentication request");
    assert_eq!(kind, b'R');
    assert_eq!(&body[..4], &10i32.to_be_bytes(), "AuthenticationSASL");
    assert_eq!(&body[4..], b"SCRAM-SHA-256\0\0");
    drop(raw);

    let (c, _driver) = try_connect(addr, Some("s3cret"))
        .await
        .expect("the right password");
    assert_eq!(scalar(&c, "SELECT 7").await, "7");
    for wrong in ["wrong", "", "s3cret "] {
        let e = try_connect(addr, Some(wrong)).await.expect_err("refused");
        assert_eq!(code(&e), Some("28P01"), "{wrong:?}: {e}");
    }
    let e = try_connect(addr, None).await.expect_err("no password");
    assert!(format!("{e:?}").contains("password missing"), "{e:?}");
    // Another user with the right password fails like a wrong password.
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(addr.port())
        .user("mallory")
        .password("s3cret");
    let e = config.connect(NoTls).await.err().expect("unknown user");
    assert_eq!(code(&e), Some("28P01"), "{e}");
    running.shutdown().await;

    // Without a password: trust, as before.
    let addr = free_addr();
    let running = start(spec(addr, None, None)).await;
    let (c, _driver) = try_connect(addr, None).await.expect("trust");
    assert_eq!(scalar(&c, "SELECT 1").await, "1");
    running.shutdown().await;
}

// ------------------------------------------------------------ runaway queries

fn with_timeout(
    spec: sundown_standins::postgres::PostgresSpec,
    limit: Option<Duration>,
) -> sundown_standins::postgres::PostgresSpec {
    sundown_standins::postgres::PostgresSpec {
        statement_timeout: limit,
        ..spec
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statement_timeout_ends_a_runaway_query() {
    let addr = free_addr();
    let limit = Duration::from_millis(200);
    let running = start(with_timeout(spec(addr, None, None), Some(limit))).await;
    let (c, _driver) = connect(addr).await;
    assert_eq!(scalar(&c, "SHOW statement_timeout").await, "200ms");

    let t = Instant::now();
    let (state, msg) = refused(&c, RUNAWAY).await;
    let took = t.elapsed();
    eprintln!("a 200ms statement_timeout ended the query after {took:?}");
    assert_eq!(
        (state.as_str(), msg.as_str()),
        ("57014", "canceling statement due to statement timeout")
    );
    assert!(took >= limit && took < TIMEOUT, "{took:?}");
    assert_eq!(scalar(&c, "SELECT 1").await, "1", "the session goes on");

    // The extended protocol: Parse runs a query once to type its columns.
    let e = c.query(RUNAWAY, &[]).await.expect_err("timed out");
    assert_eq!(code(&e), Some("57014"), "{e}");
    assert_eq!(message(&e), "canceling statement due to statement timeout");

    // Inside a transaction block: the block is aborted, as in PostgreSQL.
    c.batch_execute("CREATE TABLE t (a INTEGER)")
        .await
        .expect("create");
    let e = c
        .batch_execute(&format!("BEGIN; INSERT INTO t VALUES (1); {RUNAWAY}"))
        .await
        .expect_err("timed out");
    assert_eq!(code(&e), Some("57014"), "{e}");
    assert_eq!(refused(&c, "SELECT 1").await.0, "25P02");
    c.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(count(&c, "t").await, 0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_sets_its_own_statement_timeout() {
    let addr = free_addr();
    let running = start(with_timeout(spec(addr, None, None), None)).await;
    let (c, _driver) = connect(addr).await;
    assert_eq!(scalar(&c, "SHOW statement_timeout").await, "0", "no limit");
    for (set, shown) in [
        ("SET statement_timeout = '5s'", "5s"),
        ("SET statement_timeout TO 1500", "1500ms"),
        ("SET SESSION statement_timeout = '2min'", "2min"),
        ("RESET statement_timeout", "0"),
        ("SET statement_timeout = 150", "150ms"),
    ] {
        c.batch_execute(set).await.expect(set);
        assert_eq!(scalar(&c, "SHOW statement_timeout").await, shown, "{set}");
    }
    let (state, msg) = refused(&c, RUNAWAY).await;
    assert_eq!(
        (state.as_str(), msg.as_str()),
        ("57014", "canceling statement due to statement timeout")
    );
    let (state, msg) = refused(&c, "SET statement_timeout = 'soon'").await;
    assert_eq!(state, "22023", "{msg}");
    assert_eq!(
        scalar(&c, "SHOW statement_timeout").await,
        "150ms",
        "unchanged"
    );

    // SET LOCAL lasts until the end of the transaction.
    c.batch_execute("BEGIN; SET LOCAL statement_timeout = '1h'")
        .await
        .expect("set local");
    assert_eq!(scalar(&c, "SHOW statement_timeout").await, "1h");
    c.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(scalar(&c, "SHOW statement_timeout").await, "150ms");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_stops_the_running_query() {
    let addr = free_addr();
    let running = start(spec(addr, None, None)).await;
    let (c, _driver) = connect(addr).await;
    let token = c.cancel_token();
    let cancel = async {
        tokio::time::sleep(SETTLE).await;
        let sent = Instant::now();
        token
            .cancel_query(NoTls)
            .await
            .expect("cancel request sent");
        sent
    };
    let query = async {
        let r = c.simple_query(RUNAWAY).await;
        (r, Instant::now())
    };
    let ((r, ended_at), sent) =
        tokio::time::timeout(TIMEOUT, async { tokio::join!(query, cancel) })
            .await
            .expect("the cancel ends the query");
    let e = r.expect_err("cancelled");
    assert_eq!(code(&e), Some("57014"), "{e}");
    assert_eq!(message(&e), "canceling statement due to user request");
    eprintln!(
        "cancel took effect {:?} after the request was sent",
        ended_at.saturating_duration_since(sent)
    );
    assert_eq!(scalar(&c, "SELECT 1").await, "1", "the session goes on");
    running.shutdown().await;
}

/// A cancel request needs the session's secret: the process id alone, or
/// the secret derived from it, cancels nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_request_with_a_guessed_secret_is_ignored() {
    let addr = free_addr();
    let running = start(spec(addr, None, None)).await;
    let mut r = Raw::login(addr).await;
    let key = r.key.clone().expect("BackendKeyData");
    let pid = i32::from_be_bytes(key[..4].try_into().expect("pid"));
    let secret = i32::from_be_bytes(key[4..8].try_into().expect("secret"));
    assert_ne!(
        secret,
        pid.rotate_left(13),
        "the secret is not derived from the pid"
    );
    r.query("SET statement_timeout = '2s'").await;
    let mut body = RUNAWAY.as_bytes().to_vec();
    body.push(0);
    tokio::io::AsyncWriteExt::write_all(&mut r.s, &frame(b'Q', &body))
        .await
        .expect("send");
    tokio::time::sleep(SETTLE).await;
    for guess in [pid.rotate_left(13), secret ^ 1, 0] {
        let mut req = 16i32.to_be_bytes().to_vec();
        req.extend(80_877_102i32.to_be_bytes());
        req.extend(pid.to_be_bytes());
        req.extend(guess.to_be_bytes());
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        tokio::io::AsyncWriteExt::write_all(&mut s, &req)
            .await
            .expect("cancel request");
    }
    let msgs = r.until_ready().await;
    let err = msgs
        .iter()
        .find(|(k, _)| *k == b'E')
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("an error");
    assert!(err.contains("statement timeout"), "{err}");
    running.shutdown().await;
}

/// The client of a runaway query inside a transaction goes away: the query
/// is interrupted, the transaction rolled back, and its write lock freed
/// (else another writer would give up after the 5 s busy timeout, 55P03).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_whose_client_is_gone_is_interrupted() {
    let addr = free_addr();
    let running = start(spec(addr, None, None)).await;
    let (b, _db) = connect(addr).await;
    b.batch_execute("CREATE TABLE t (a INTEGER)")
        .await
        .expect("create");
    let (a, da) = connect(addr).await;
    let q = tokio::spawn(async move {
        a.simple_query(&format!("BEGIN; INSERT INTO t VALUES (1); {RUNAWAY}"))
            .await
    });
    tokio::time::sleep(SETTLE).await;
    q.abort();
    da.abort();
    let gone = Instant::now();
    tokio::time::timeout(TIMEOUT, b.batch_execute("INSERT INTO t VALUES (2)"))
        .await
        .expect("in time")
        .expect("the runaway's lock is gone");
    eprintln!(
        "another writer got the lock {:?} after the client went",
        gone.elapsed()
    );
    assert_eq!(
        count(&b, "t").await,
        1,
        "the gone client's insert rolled back"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_interrupts_running_queries() {
    let addr = free_addr();
    let running = start_with(spec(addr, None, None), "stop_timeout = \"10s\"\n").await;
    let (c, driver) = connect(addr).await;
    let q = tokio::spawn(async move {
        let r = c.simple_query(RUNAWAY).await;
        (r, c)
    });
    tokio::time::sleep(SETTLE).await;
    let t = Instant::now();
    let report = running.shutdown().await;
    let took = t.elapsed();
    eprintln!("stop with a runaway query took {took:?}");
    let db = report.component("db").expect("db in the report");
    assert_eq!(db.outcome, Outcome::Stopped, "{db:?}");
    assert_eq!(db.exit_status, Some(0), "{db:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (r, _c) = q.await.expect("query task");
    let e = r.expect_err("interrupted");
    assert!(matches!(code(&e), Some("57014" | "57P01")), "{e}");
    let _ = ended(driver).await;
}
