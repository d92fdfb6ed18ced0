//! The PostgreSQL stand-in (`kind = "postgres"`) against real clients:
//! tokio-postgres, `psql`, and raw sockets for exact command tags,
//! transaction status and protocol abuse; and the engine for start, stop
//! and kill.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use sundown::{Outcome, Running, Supervisor, Trigger};
use sundown_standins::postgres::{DEFAULT_STATEMENT_TIMEOUT, Postgres, PostgresSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use crate::shared::{Rng, TIMEOUT, free_addr, tool};

const JOBS: &str = "CREATE TABLE IF NOT EXISTS jobs (id BIGINT PRIMARY KEY, payload TEXT NOT NULL, result TEXT NOT NULL, worker TEXT NOT NULL)";
const INSERT: &str = "INSERT INTO jobs (id, payload, result, worker) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING";

pub(crate) fn spec(
    listen: SocketAddr,
    data: Option<PathBuf>,
    password: Option<&str>,
) -> PostgresSpec {
    PostgresSpec {
        listen,
        data,
        user: "sundown".into(),
        password: password.map(str::to_string),
        statement_timeout: Some(DEFAULT_STATEMENT_TIMEOUT),
    }
}

/// Starts the stand-in inside the real engine (as component `db`, with
/// `extra` settings) and waits until it is ready.
pub(crate) async fn start_with(spec: PostgresSpec, extra: &str) -> Running {
    Supervisor::from_toml_str(&format!("[components.db]\nkind = \"sim\"\n{extra}"))
        .expect("config")
        .replace("db", Box::new(Postgres::new(spec)))
        .expect("replace")
        .start()
        .await
        .expect("the stand-in starts")
}

pub(crate) async fn start(spec: PostgresSpec) -> Running {
    start_with(spec, "").await
}

pub(crate) async fn start_memory() -> (Running, SocketAddr) {
    let addr = free_addr();
    (start(spec(addr, None, None)).await, addr)
}

pub(crate) type Driver = JoinHandle<Result<(), tokio_postgres::Error>>;

pub(crate) async fn try_connect(
    addr: SocketAddr,
    password: Option<&str>,
) -> Result<(Client, Driver), tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(addr.ip().to_string())
        .port(addr.port())
        .user("sundown")
        .dbname("sundown")
        .connect_timeout(TIMEOUT);
    if let Some(p) = password {
        config.password(p);
    }
    let (client, conn) = config.connect(NoTls).await?;
    Ok((client, tokio::spawn(conn)))
}

pub(crate) async fn connect(addr: SocketAddr) -> (Client, Driver) {
    try_connect(addr, None).await.expect("connect")
}

/// How a client's connection ended, bounded by [`TIMEOUT`].
pub(crate) async fn ended(driver: Driver) -> Result<(), tokio_postgres::Error> {
    tokio::time::timeout(TIMEOUT, driver)
        .await
        .expect("the connection ends")
        .expect("the driver task")
}

pub(crate) fn code(e: &tokio_postgres::Error) -> Option<&str> {
    e.code().map(SqlState::code)
}

pub(crate) fn message(e: &tokio_postgres::Error) -> String {
    e.as_db_error()
        .map(|d| d.message().to_string())
        .unwrap_or_default()
}

pub(crate) async fn count(c: &Client, table: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_and_extended_queries_with_typed_results() {
    let (running, addr) = start_memory().await;
    let (c, _driver) = connect(addr).await;
    c.batch_execute(JOBS).await.expect("create");
    c.batch_execute(JOBS)
        .await
        .expect("create again: IF NOT EXISTS");

    // Simple protocol: two statements, counts in their command tags.
    let msgs = c
        .simple_query(
            "INSERT INTO jobs VALUES (1, 'p1', 'r1', 'w1'), (2, 'p2', 'r2', 'w2'); \
             SELECT id, worker FROM jobs ORDER BY id",
        )
        .await
        .expect("simple query");
    let mut rows = Vec::new();
    let mut completes = Vec::new();
    for m in &msgs {
        match m {
            SimpleQueryMessage::Row(r) => rows.push((
                r.get(0).expect("id").to_string(),
                r.get(1).expect("worker").to_string(),
            )),
            SimpleQueryMessage::CommandComplete(n) => completes.push(*n),
            _ => {}
        }
    }
    assert_eq!(completes, [2, 2]);
    assert_eq!(rows, [("1".into(), "w1".into()), ("2".into(), "w2".into())]);

    // Extended protocol: untyped parameters, their types inferred.
    let row = c
        .query_one(
            "INSERT INTO jobs (id, payload, result, worker) VALUES ($1, $2, $3, $4) RETURNING id, worker",
            &[&3i64, &"p3", &"r3", &"w1"],
        )
        .await
        .expect("insert returning");
    assert_eq!(row.get::<_, i64>(0), 3);
    assert_eq!(row.get::<_, String>(1), "w1");
    let n = c
        .execute(INSERT, &[&3i64, &"again", &"again", &"w9"])
        .await
        .expect("insert on conflict");
    assert_eq!(n, 0, "ON CONFLICT DO NOTHING affects no row");

    // The pipeline's statement, typed by the client.
    let insert = c
        .prepare_typed(INSERT, &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT])
        .await
        .expect("prepare_typed");
    for id in 4..=6i64 {
        let n = c
            .execute(&insert, &[&id, &format!("p{id}"), &"r", &"w1"])
            .await
            .expect("execute prepared");
        assert_eq!(n, 1);
    }

    let rows = c
        .query(
            "SELECT id, payload FROM jobs WHERE worker = $1 ORDER BY id DESC LIMIT $2",
            &[&"w1", &3i64],
        )
        .await
        .expect("select");
    let got: Vec<(i64, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        [
            (6, "p6".to_string()),
            (5, "p5".to_string()),
            (4, "p4".to_string())
        ]
    );

    let n = c
        .execute(
            "UPDATE jobs SET result = $1 WHERE worker = $2",
            &[&"done", &"w1"],
        )
        .await
        .expect("update");
    assert_eq!(n, 5);
    let n = c
        .execute("DELETE FROM jobs WHERE id IN ($1, $2)", &[&2i64, &99i64])
        .await
        .expect("delete");
    assert_eq!(n, 1);
    assert_eq!(count(&c, "jobs").await, 5);
    let n: i64 = c
        .query_one(
            "SELECT count(*) AS n FROM jobs WHERE result = $1",
            &[&"done"],
        )
        .await
        .expect("count where")
        .get("n");
    assert_eq!(n, 5);

    // Nullable and other declared types, in binary (tokio-postgres' choice).
    c.batch_execute(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT, score REAL, weight DOUBLE PRECISION, ok BOOLEAN, raw BYTEA)",
    )
    .await
    .expect("create notes");
    c.execute(
        "INSERT INTO notes VALUES ($1, $2, $3, $4, $5, $6), (2, NULL, NULL, NULL, NULL, NULL)",
        &[&1i32, &"hello", &1.5f32, &2.25f64, &true, &vec![0u8, 255]],
    )
    .await
    .expect("insert notes");
    let rows = c
        .query(
            "SELECT id, body, score, weight, ok, raw FROM notes ORDER BY id",
            &[],
        )
        .await
        .expect("select notes");
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    assert_eq!(
        rows[0].get::<_, Option<String>>(1).as_deref(),
        Some("hello")
    );
    assert_eq!(rows[0].get::<_, Option<f32>>(2), Some(1.5));
    assert_eq!(rows[0].get::<_, Option<f64>>(3), Some(2.25));
    assert_eq!(rows[0].get::<_, Option<bool>>(4), Some(true));
    assert_eq!(rows[0].get::<_, Option<Vec<u8>>>(5), Some(vec![0, 255]));
    assert_eq!(rows[1].get::<_, Option<String>>(1), None);
    assert_eq!(rows[1].get::<_, Option<bool>>(4), None);

    // A `$n::type` cast types the parameter, as in PostgreSQL.
    let v: i64 = c
        .query_one("SELECT $1::int8 * 2", &[&21i64])
        .await
        .expect("cast parameter")
        .get(0);
    assert_eq!(v, 42);

    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_return_rows_in_batches() {
    let (running, addr) = start_memory().await;
    let (mut c, _driver) = connect(addr).await;
    c.batch_execute(
        "CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (1), (2), (3), (4), (5)",
    )
    .await
    .expect("setup");
    let tx = c.transaction().await.expect("begin");
    let stmt = tx
        .prepare("SELECT id FROM t ORDER BY id")
        .await
        .expect("prepare");
    let portal = tx.bind(&stmt, &[]).await.expect("bind");
    let mut batches = Vec::new();
    loop {
        let rows = tx.query_portal(&portal, 2).await.expect("fetch");
        if rows.is_empty() {
            break;
        }
        batches.push(rows.iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>());
    }
    assert_eq!(batches, [vec![1, 2], vec![3, 4], vec![5]]);
    tx.commit().await.expect("commit");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_rollbacks_as_seen_from_another_session() {
    let (running, addr) = start_memory().await;
    let (mut a, _da) = connect(addr).await;
    let (b, _db) = connect(addr).await;
    a.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        .await
        .expect("create");

    a.batch_execute("BEGIN").await.expect("begin");
    a.execute("INSERT INTO t VALUES ($1)", &[&1i64])
        .await
        .expect("insert");
    assert_eq!(count(&a, "t").await, 1, "a session sees its own writes");
    assert_eq!(
        count(&b, "t").await,
        0,
        "others do not see uncommitted rows"
    );
    a.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(count(&b, "t").await, 1, "committed rows are visible");

    let tx = a.transaction().await.expect("begin");
    tx.execute("INSERT INTO t VALUES ($1)", &[&2i64])
        .await
        .expect("insert");
    assert_eq!(count(&b, "t").await, 1);
    tx.rollback().await.expect("rollback");
    assert_eq!(count(&a, "t").await, 1, "rolled back");
    assert_eq!(count(&b, "t").await, 1);

    // A failed transaction refuses everything until it ends, and COMMIT
    // then rolls it back.
    a.batch_execute("BEGIN; INSERT INTO t VALUES (3)")
        .await
        .expect("begin");
    let e = a
        .execute("INSERT INTO t VALUES ($1)", &[&1i64])
        .await
        .expect_err("duplicate");
    assert_eq!(code(&e), Some("23505"), "{e}");
    let e = a.query("SELECT 1", &[]).await.expect_err("aborted");
    assert_eq!(code(&e), Some("25P02"), "{e}");
    a.batch_execute("COMMIT").await.expect("commit ends it");
    assert_eq!(count(&a, "t").await, 1, "row 3 was rolled back");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_keeps_the_session_usable() {
    let (running, addr) = start_memory().await;
    let (c, _driver) = connect(addr).await;
    c.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)")
        .await
        .expect("create");
    c.execute("INSERT INTO t VALUES ($1, $2)", &[&1i64, &"a"])
        .await
        .expect("insert");
    let cases: [(&str, &str); 5] = [
        ("SELEC 1", "42601"),
        ("SELECT * FROM nope", "42P01"),
        ("SELECT nope FROM t", "42703"),
        ("INSERT INTO t VALUES (1, 'b')", "23505"),
        ("INSERT INTO t VALUES (2, NULL)", "23502"),
    ];
    for (sql, want) in cases {
        let e = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(code(&e), Some(want), "simple {sql}: {e}");
        let e = c.execute(sql, &[]).await.expect_err(sql);
        assert_eq!(code(&e), Some(want), "extended {sql}: {e}");
        let one: i64 = c
            .query_one("SELECT 1", &[])
            .await
            .expect("still usable")
            .get(0);
        assert_eq!(one, 1);
    }
    let e = c
        .query("SELECT $1 + 1", &[&1i64])
        .await
        .expect_err("an untyped expression parameter is text");
    assert!(e.to_string().contains("serializ"), "{e}");
    assert_eq!(count(&c, "t").await, 1);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_authentication() {
    let addr = free_addr();
    let running = start(spec(addr, None, Some("s3cret"))).await;
    let (c, _driver) = try_connect(addr, Some("s3cret"))
        .await
        .expect("the right password");
    assert_eq!(
        c.query_one("SELECT 7", &[])
            .await
            .expect("query")
            .get::<_, i64>(0),
        7
    );
    let e = try_connect(addr, Some("wrong")).await.expect_err("refused");
    assert_eq!(code(&e), Some("28P01"), "{e}");
    assert!(
        message(&e).contains("password authentication failed for user \"sundown\""),
        "{e:?}"
    );
    let e = try_connect(addr, None)
        .await
        .expect_err("refused without a password");
    assert!(format!("{e:?}").contains("password missing"), "{e:?}");
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_authentication_knows_only_its_user() {
    let (running, addr) = start_memory().await;
    let (c, _driver) = try_connect(addr, Some("ignored")).await.expect("trust");
    c.simple_query("SELECT 1").await.expect("query");
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(addr.port()).user("mallory");
    let e = config.connect(NoTls).await.err().expect("unknown role");
    assert_eq!(code(&e), Some("28000"), "{e}");
    running.shutdown().await;
}

// ------------------------------------------------------------ raw protocol

/// A bare protocol client, for exact tags, statuses and malformed input.
pub(crate) struct Raw {
    pub(crate) s: TcpStream,
    /// The session's BackendKeyData: process id and secret.
    pub(crate) key: Option<Vec<u8>>,
}

pub(crate) fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![kind];
    f.extend(u32::try_from(body.len() + 4).expect("small").to_be_bytes());
    f.extend(body);
    f
}

pub(crate) fn startup_packet(user: &str) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in [("user", user), ("database", "sundown")] {
        body.extend(k.as_bytes());
        body.push(0);
        body.extend(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut p = u32::try_from(body.len() + 4)
        .expect("small")
        .to_be_bytes()
        .to_vec();
    p.extend(body);
    p
}

impl Raw {
    /// Connects and logs in (trust), returning after the first ReadyForQuery.
    pub(crate) async fn login(addr: SocketAddr) -> Raw {
        let mut raw = Raw {
            s: TcpStream::connect(addr).await.expect("connect"),
            key: None,
        };
        raw.s
            .write_all(&startup_packet("sundown"))
            .await
            .expect("startup");
        let msgs = raw.until_ready().await;
        assert!(
            msgs.iter().any(|(k, b)| *k == b'R' && b == &[0, 0, 0, 0]),
            "AuthenticationOk"
        );
        raw.key = msgs.into_iter().find(|(k, _)| *k == b'K').map(|(_, b)| b);
        raw
    }

    pub(crate) async fn read_msg(&mut self) -> Option<(u8, Vec<u8>)> {
        let mut head = [0u8; 5];
        tokio::time::timeout(TIMEOUT, self.s.read_exact(&mut head))
            .await
            .expect("a reply in time")
            .ok()?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len - 4];
        tokio::time::timeout(TIMEOUT, self.s.read_exact(&mut body))
            .await
            .expect("a reply in time")
            .ok()?;
        Some((head[0], body))
    }

    pub(crate) async fn until_ready(&mut self) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some(m) = self.read_msg().await {
            let done = m.0 == b'Z';
            out.push(m);
            if done {
                break;
            }
        }
        out
    }

    pub(crate) async fn query(&mut self, sql: &str) -> Vec<(u8, Vec<u8>)> {
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        self.s.write_all(&frame(b'Q', &body)).await.expect("send");
        self.until_ready().await
    }
}

pub(crate) fn tags(msgs: &[(u8, Vec<u8>)]) -> Vec<String> {
    msgs.iter()
        .filter_map(|(k, b)| match k {
            b'C' => Some(String::from_utf8_lossy(b.strip_suffix(&[0]).unwrap_or(b)).into_owned()),
            b'E' => Some(format!("error {}", sqlstate(b))),
            b'N' => Some(format!("notice {}", sqlstate(b))),
            b'I' => Some("empty".into()),
            _ => None,
        })
        .collect()
}

pub(crate) fn sqlstate(body: &[u8]) -> String {
    body.split(|&b| b == 0)
        .find_map(|f| f.strip_prefix(b"C"))
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .unwrap_or_default()
}

pub(crate) fn status(msgs: &[(u8, Vec<u8>)]) -> char {
    match msgs.last() {
        Some((b'Z', b)) if b.len() == 1 => char::from(b[0]),
        other => panic!("no ReadyForQuery at the end: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_tags_and_transaction_status() {
    let (running, addr) = start_memory().await;
    let mut r = Raw::login(addr).await;
    let steps: [(&str, &[&str], char); 12] = [
        (JOBS, &["CREATE TABLE"], 'I'),
        (
            "INSERT INTO jobs VALUES (1, 'a', 'r', 'w1'), (2, 'b', 'r', 'w1'), (3, 'c', 'r', 'w2')",
            &["INSERT 0 3"],
            'I',
        ),
        (
            "INSERT INTO jobs VALUES (1, 'a', 'r', 'w') ON CONFLICT (id) DO NOTHING",
            &["INSERT 0 0"],
            'I',
        ),
        ("SELECT * FROM jobs", &["SELECT 3"], 'I'),
        (
            "UPDATE jobs SET result = 'x' WHERE worker = 'w1'",
            &["UPDATE 2"],
            'I',
        ),
        ("BEGIN", &["BEGIN"], 'T'),
        ("DELETE FROM jobs WHERE id = 3", &["DELETE 1"], 'T'),
        ("SELEC", &["error 42601"], 'E'),
        ("SELECT 1", &["error 25P02"], 'E'),
        ("ROLLBACK", &["ROLLBACK"], 'I'),
        ("COMMIT", &["notice 25P01", "COMMIT"], 'I'),
        ("", &["empty"], 'I'),
    ];
    for (sql, want, st) in steps {
        let msgs = r.query(sql).await;
        assert_eq!(tags(&msgs), want, "{sql}");
        assert_eq!(status(&msgs), st, "{sql}");
    }
    let msgs = r.query("SELECT count(*) FROM jobs").await;
    let row = msgs.iter().find(|(k, _)| *k == b'D').expect("a row");
    assert_eq!(&row.1[6..], b"3", "the delete was rolled back");
    running.shutdown().await;
}

// ---------------------------------------------------------------- psql

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_creates_inserts_and_selects() {
    let Some(psql) = tool("psql") else { return };
    let (running, addr) = start_memory().await;
    let port = addr.port().to_string();
    let run = |sql: &str| {
        let mut cmd = tokio::process::Command::new(&psql);
        cmd.args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            "sundown",
            "-d",
            "sundown",
            "-Atc",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env_remove("PGPASSWORD")
        .env_remove("PGSERVICE");
        async move {
            let out = tokio::time::timeout(TIMEOUT, cmd.output())
                .await
                .expect("psql finishes")
                .expect("run psql");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    };
    let (ok, out, err) = run(JOBS).await;
    assert!(ok, "{out}{err}");
    let (ok, out, err) =
        run("INSERT INTO jobs VALUES (1, '{\"n\":1}', 'ok', 'w1'), (2, 'two', 'ok', 'w2')").await;
    assert!(ok, "{out}{err}");
    assert_eq!(out, "INSERT 0 2\n");
    let (ok, out, err) = run("SELECT id, payload, worker FROM jobs ORDER BY id DESC").await;
    assert!(ok, "{err}");
    assert_eq!(out, "2|two|w2\n1|{\"n\":1}|w1\n");
    let (ok, _, err) = run("SELECT * FROM nope").await;
    assert!(!ok);
    assert!(err.contains("no such table: nope"), "{err}");
    let (ok, _, err) = run("\\dt").await;
    assert!(!ok);
    assert!(err.contains("no pg_catalog"), "{err}");
    running.shutdown().await;
}

// ---------------------------------------------------------- durability

pub(crate) fn data_file(dir: &Path) -> PathBuf {
    dir.join("pg.sqlite")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_graceful_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let running = start(spec(addr, Some(data_file(dir.path())), None)).await;
    let (c, driver) = connect(addr).await;
    c.batch_execute(JOBS).await.expect("create");
    let insert = c
        .prepare_typed(INSERT, &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT])
        .await
        .expect("prepare");
    for id in 1..=50i64 {
        c.execute(&insert, &[&id, &"p", &"r", &"w"])
            .await
            .expect("insert");
    }
    let report = running.shutdown().await;
    let db = report.component("db").expect("db in the report");
    assert_eq!(db.outcome, Outcome::Stopped, "{db:?}");
    let e = ended(driver)
        .await
        .expect_err("the idle session was closed");
    assert_eq!(code(&e), Some("57P01"), "{e}");
    let wal = dir.path().join("pg.sqlite-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) == 0,
        "the WAL was checkpointed into the database"
    );

    let running = start(spec(addr, Some(data_file(dir.path())), None)).await;
    let (c, _driver) = connect(addr).await;
    assert_eq!(count(&c, "jobs").await, 50);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_keeps_commits_and_drops_open_transactions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let running = start_with(
        spec(addr, Some(data_file(dir.path())), None),
        "stop_timeout = \"300ms\"\n",
    )
    .await;
    let (a, _da) = connect(addr).await;
    a.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (1)")
        .await
        .expect("committed");
    let (b, db) = connect(addr).await;
    b.batch_execute("BEGIN; INSERT INTO t VALUES (2)")
        .await
        .expect("open transaction");
    // The open transaction holds the stop past its timeout: the engine kills.
    let report = running.shutdown().await;
    let comp = report.component("db").expect("db in the report");
    assert_eq!(comp.outcome, Outcome::TimedOutKilled, "{comp:?}");
    assert_eq!(comp.signal.as_deref(), Some("SIGKILL"), "{comp:?}");
    assert!(
        ended(db).await.is_err(),
        "the killed session's connection is closed"
    );

    let running = start(spec(addr, Some(data_file(dir.path())), None)).await;
    let (c, _driver) = connect(addr).await;
    let ids: Vec<i64> = c
        .query("SELECT id FROM t ORDER BY id", &[])
        .await
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        ids,
        [1],
        "the committed row is there, the uncommitted one is not"
    );
    running.shutdown().await;
}

/// Concurrent autocommit writers on a data file take turns (SQLite has one
/// writer at a time) and share fsyncs; none fails, every row is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_all_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let running = start(spec(addr, Some(data_file(dir.path())), None)).await;
    let (c, _driver) = connect(addr).await;
    c.batch_execute(JOBS).await.expect("create");
    let mut tasks = Vec::new();
    for k in 0..6i64 {
        tasks.push(tokio::spawn(async move {
            let (c, _driver) = connect(addr).await;
            for i in 0..40i64 {
                let n = c
                    .execute(INSERT, &[&(k * 100 + i), &"p", &"r", &format!("w{k}")])
                    .await
                    .expect("insert");
                assert_eq!(n, 1);
            }
        }));
    }
    // A reader meanwhile never waits for the writers.
    let mut last = 0;
    for t in tasks {
        let seen = count(&c, "jobs").await;
        assert!(seen >= last, "committed rows do not disappear");
        last = seen;
        t.await.expect("writer");
    }
    assert_eq!(count(&c, "jobs").await, 240);
    running.shutdown().await;
}

// ---------------------------------------------------------------- stop

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_refuses_newcomers_closes_idle_sessions_and_lets_transactions_finish() {
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = free_addr();
    let running = start(spec(addr, Some(data_file(dir.path())), None)).await;
    let (busy, busy_driver) = connect(addr).await;
    let (idle, idle_driver) = connect(addr).await;
    busy.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY)")
        .await
        .expect("create");
    busy.batch_execute("BEGIN; INSERT INTO t VALUES (1)")
        .await
        .expect("open transaction");

    running.handle().shutdown(Trigger::Requested);
    // The idle session is told and closed: the stop has begun.
    let e = ended(idle_driver).await.expect_err("closed");
    assert_eq!(code(&e), Some("57P01"), "{e}");
    drop(idle);
    let e = try_connect(addr, None)
        .await
        .expect_err("refused during the stop");
    assert_eq!(code(&e), Some("57P03"), "{e}");
    assert!(message(&e).contains("shutting down"), "{e:?}");

    // The transaction may go on and commit; then the session is closed.
    busy.execute("INSERT INTO t VALUES ($1)", &[&2i64])
        .await
        .expect("still in the transaction");
    busy.batch_execute("COMMIT")
        .await
        .expect("commit during the stop");
    let e = ended(busy_driver)
        .await
        .expect_err("closed after its transaction");
    assert_eq!(code(&e), Some("57P01"), "{e}");

    let report = running.wait().await;
    let db = report.component("db").expect("db in the report");
    assert_eq!(db.outcome, Outcome::Stopped, "{db:?}");
    assert_eq!(db.exit_status, Some(0), "the component's exit is Code(0)");
    assert_eq!(report.exit_code, 0);

    let running = start(spec(addr, Some(data_file(dir.path())), None)).await;
    let (c, _driver) = connect(addr).await;
    assert_eq!(
        count(&c, "t").await,
        2,
        "the transaction committed during the stop"
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_is_a_start_failure_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let failed = Supervisor::from_toml_str("[components.db]\nkind = \"sim\"\n")
        .expect("config")
        .replace("db", Box::new(Postgres::new(spec(addr, None, None))))
        .expect("replace")
        .start()
        .await
        .err()
        .expect("start fails");
    let error = failed
        .0
        .component("db")
        .expect("db")
        .error
        .clone()
        .expect("an error");
    assert!(error.contains(&addr.to_string()), "{error}");
    assert!(
        error.to_lowercase().contains("address already in use"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_that_cannot_be_made_is_a_start_failure_naming_it() {
    // A missing directory is made (issue 20); one under a file cannot be.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("missing"), b"").expect("a file in the way");
    let path = dir.path().join("missing").join("pg.sqlite");
    let failed = Supervisor::from_toml_str("[components.db]\nkind = \"sim\"\n")
        .expect("config")
        .replace(
            "db",
            Box::new(Postgres::new(spec(free_addr(), Some(path.clone()), None))),
        )
        .expect("replace")
        .start()
        .await
        .err()
        .expect("start fails");
    let error = failed
        .0
        .component("db")
        .expect("db")
        .error
        .clone()
        .expect("an error");
    assert!(
        error.contains(&dir.path().join("missing").display().to_string()),
        "{error}"
    );
    assert!(error.contains("cannot create directory"), "{error}");
}

// ---------------------------------------------------------------- fuzz

static SERVER_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics on the threads the stand-in runs on (runtime workers and
/// session threads), keeping the default report.
fn watch_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current()
                .name()
                .unwrap_or_default()
                .to_string();
            if name.starts_with("tokio-runtime-worker") || name.starts_with("pg-session") {
                SERVER_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

/// Sends `data` on a fresh connection, closes the write side and reads
/// whatever comes back until the server closes (bounded).
async fn throw(addr: SocketAddr, data: &[u8]) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let _ = s.write_all(data).await;
    let _ = s.shutdown().await;
    let mut sink = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, s.read_to_end(&mut sink)).await;
    assert!(read.is_ok(), "the server closes a connection it cannot use");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_do_not_disturb_other_clients() {
    watch_panics();
    let (running, addr) = start_memory().await;
    let (good, _driver) = connect(addr).await;
    good.batch_execute("CREATE TABLE t (id BIGINT PRIMARY KEY); INSERT INTO t VALUES (1), (2)")
        .await
        .expect("setup");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let kinds = b"QPBDECSHXpdcfF?\0";
    for i in 0..300 {
        let mut data = Vec::new();
        match i % 4 {
            // Garbage from the first byte.
            0 => data = rng.some_bytes(64),
            // A startup packet cut short, or with a bad length.
            1 => {
                let p = startup_packet("sundown");
                data.extend(&p[..rng.below(p.len())]);
                if rng.below(2) == 0 {
                    let n = data.len().min(4);
                    let noise = rng.bytes(n);
                    data[..n].copy_from_slice(&noise);
                }
            }
            // A good login, then frames with random bodies (maybe truncated).
            2 => {
                data.extend(startup_packet("sundown"));
                for _ in 0..rng.below(5) + 1 {
                    let body = rng.some_bytes(40);
                    let f = frame(kinds[rng.below(kinds.len())], &body);
                    let cut = if rng.below(4) == 0 {
                        rng.below(f.len())
                    } else {
                        f.len()
                    };
                    data.extend(&f[..cut]);
                }
            }
            // A good login, then plain garbage.
            _ => {
                data.extend(startup_packet("sundown"));
                data.extend(rng.some_bytes(100));
            }
        }
        throw(addr, &data).await;
        if i % 50 == 0 {
            assert_eq!(
                count(&good, "t").await,
                2,
                "the well-behaved client still works"
            );
        }
    }
    // Well-formed but hostile extended-protocol messages.
    let mut r = Raw::login(addr).await;
    let mut batch = Vec::new();
    batch.extend(frame(b'P', b"\0SELECT $1, $2\0\0\x01\0\0\0\x14"));
    // Two parameter formats for two parameters, three result formats for two columns.
    batch.extend(frame(
        b'B',
        b"\0\0\0\x02\0\0\0\x01\0\x02\0\0\0\x011\0\0\0\x08\0\0\0\0\0\0\0\x02\0\x03\0\0\0\0\0\0",
    ));
    batch.extend(frame(b'E', b"\0\0\0\0\0"));
    batch.extend(frame(b'D', b"X\0"));
    batch.extend(frame(b'S', b""));
    r.s.write_all(&batch).await.expect("send");
    let msgs = r.until_ready().await;
    assert_eq!(
        tags(&msgs),
        ["error 08P01"],
        "a bad Bind is refused, the rest skipped to Sync"
    );
    let msgs = r.query("SELECT count(*) FROM t").await;
    assert_eq!(status(&msgs), 'I');

    assert_eq!(count(&good, "t").await, 2);
    let (fresh, _d) = connect(addr).await;
    assert_eq!(count(&fresh, "t").await, 2, "new clients still get in");
    assert_eq!(
        SERVER_PANICS.load(Ordering::SeqCst),
        0,
        "no panic in the stand-in"
    );
    running.shutdown().await;
}

// ---------------------------------------------------------------- bench

/// INSERTs per second from 8 concurrent autocommit clients, on a file
/// (every commit an fsync) and in memory. Run with
/// `cargo test --release --test postgres_standin -- --ignored --nocapture bench`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore]
async fn bench_concurrent_inserts() {
    let dir = tempfile::tempdir().expect("tempdir");
    for data in [Some(data_file(dir.path())), None] {
        let label = if data.is_some() {
            "file (fsync before each commit is acknowledged)"
        } else {
            "memory"
        };
        let addr = free_addr();
        let running = start(spec(addr, data, None)).await;
        let (c, _d) = connect(addr).await;
        c.batch_execute(JOBS).await.expect("create");
        let per_client = 400i64;
        let clients = 8i64;
        let started = Instant::now();
        let mut tasks = Vec::new();
        for k in 0..clients {
            tasks.push(tokio::spawn(async move {
                let (c, _d) = connect(addr).await;
                let insert = c
                    .prepare_typed(INSERT, &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT])
                    .await
                    .expect("prepare");
                for i in 0..per_client {
                    c.execute(&insert, &[&(k * per_client + i), &"{\"n\":1}", &"ok", &"w"])
                        .await
                        .expect("insert");
                }
            }));
        }
        for t in tasks {
            t.await.expect("client");
        }
        let elapsed = started.elapsed();
        let n = clients * per_client;
        assert_eq!(count(&c, "jobs").await, n);
        println!(
            "{label}: {n} INSERTs from {clients} clients in {elapsed:.2?}: {:.0}/s",
            n as f64 / elapsed.as_secs_f64()
        );
        running.shutdown().await;
    }
}
